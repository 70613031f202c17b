"""Engine objects -> CloudStack response dicts for administration commands.

Infrastructure (pods, clusters, hosts, storage, IP ranges, capacity),
configuration, and identity (domains, accounts, users, keys, login). Keys and
JSON types follow ``nativeapi/spec/commands.json``; the renderer drops None.
"""

from __future__ import annotations

import ipaddress
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from engine.services.accounts import AccountDetail, DomainDetail, LoginSession, UserDetail
from engine.services.inventory import (
    CapacityKind,
    CapacityRow,
    ClusterDetail,
    HostDetail,
    PodDetail,
    PoolDetail,
    StoreDetail,
    VlanRangeDetail,
)
from engine.states import Role
from nativeapi.views import domain_path

if TYPE_CHECKING:
    from engine.models import User
    from engine.settings import SettingSpec

View = dict[str, Any]
VERSION: Final = "4.22.0.0"

# --- roles ----------------------------------------------------------------------------

_ROLE_NS: Final = uuidlib.UUID("5b1f4f8e-4a41-4c57-9a55-0d6a3c6f7c10")


@dataclass(frozen=True)
class RoleInfo:
    """How CloudStack shows an engine role: account type, role type and name."""

    role: Role
    account_type: int
    role_type: str
    name: str

    @property
    def id(self) -> str:
        """A stable uuid per role (the engine has no roles table)."""
        return str(uuidlib.uuid5(_ROLE_NS, self.role.value))


ROLES: Final[Mapping[Role, RoleInfo]] = {
    r.role: r for r in (
        RoleInfo(Role.ADMIN, 1, "Admin", "Root Admin"),
        RoleInfo(Role.DOMAIN_ADMIN, 2, "DomainAdmin", "Domain Admin"),
        RoleInfo(Role.USER, 0, "User", "User"),
    )
}
ROLE_BY_TYPE: Final[Mapping[int, Role]] = {r.account_type: r.role for r in ROLES.values()}
ROLE_BY_ID: Final[Mapping[str, Role]] = {r.id: r.role for r in ROLES.values()}


def _percent(used: float, total: float) -> str:
    """CloudStack's ``#.##`` formatting of ``used/total`` as a percentage."""
    value = used * 100.0 / total if total else 0.0
    return f"{value:.2f}".rstrip("0").rstrip(".")


# --- infrastructure -------------------------------------------------------------------


def pod(d: PodDetail) -> View:
    p = d.pod
    ranges = [{"startip": p.start_ip, "endip": p.end_ip, "gateway": p.gateway,
               "forsystemvms": "0", "vlanid": "vlan://untagged"}] if p.start_ip else []
    return {
        "id": p.uuid,
        "name": p.name,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "gateway": p.gateway or None,
        "netmask": p.netmask or None,
        "startip": [r["startip"] for r in ranges],
        "endip": [r["endip"] for r in ranges],
        "forsystemvms": [r["forsystemvms"] for r in ranges],
        "vlanid": [r["vlanid"] for r in ranges],
        "ipranges": ranges,
        "allocationstate": p.allocation_state,
        "hasannotations": False,
    }


def cluster(d: ClusterDetail) -> View:
    c = d.cluster
    return {
        "id": c.uuid,
        "name": c.name,
        "podid": d.pod.uuid,
        "podname": d.pod.name,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "hypervisortype": c.hypervisor,
        "clustertype": "CloudManaged",
        "allocationstate": c.allocation_state,
        "managedstate": "Managed",
        "cpuovercommitratio": str(d.cpu_factor),
        "memoryovercommitratio": str(d.memory_factor),
        "arch": "x86_64",
        "hasannotations": False,
    }


def host(d: HostDetail) -> View:
    """A ``HostResponse``: ``cpuallocated`` etc. are "x%" strings, sizes are ints."""
    h = d.host
    cpu_total = h.cpu_cores * h.cpu_mhz
    return {
        "id": h.uuid,
        "name": h.name,
        "state": h.state,
        "resourcestate": h.resource_state,
        "type": "Routing",
        "ipaddress": urlsplit(h.url).hostname,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "podid": d.pod.uuid,
        "podname": d.pod.name,
        "clusterid": d.cluster.uuid,
        "clustername": d.cluster.name,
        "clustertype": "CloudManaged",
        "hypervisor": h.hypervisor,
        "hypervisorversion": h.hypervisor_version or None,
        "version": VERSION,
        "arch": h.arch,
        "cpusockets": 1,
        "cpunumber": h.cpu_cores,
        "cpuspeed": h.cpu_mhz,
        "cpuallocated": _percent(h.cpu_allocated_mhz, cpu_total) + "%",
        "cpuallocatedvalue": h.cpu_allocated_mhz,
        "cpuallocatedpercentage": _percent(h.cpu_allocated_mhz, cpu_total) + "%",
        "cpuallocatedwithoverprovisioning":
            _percent(h.cpu_allocated_mhz, cpu_total * d.cpu_factor) + "%",
        "cpuwithoverprovisioning": str(float(cpu_total * d.cpu_factor)),
        "cpuused": "0%",
        "memorytotal": h.memory_bytes,
        "memorywithoverprovisioning": str(float(h.memory_bytes * d.memory_factor)),
        "memoryallocated": h.memory_allocated_bytes,
        "memoryallocatedbytes": h.memory_allocated_bytes,
        "memoryallocatedpercentage": _percent(h.memory_allocated_bytes, h.memory_bytes) + "%",
        "memoryused": 0,
        "disksizetotal": h.local_storage_bytes,
        "disksizeallocated": 0,
        "hosttags": h.host_tags or None,
        "capabilities": "hvm",
        "islocalstorageactive": False,
        "hahost": False,
        "events": "AgentConnected; Ping; ShutdownRequested; HostDown; PingTimeout; "
                  "AgentDisconnected; ManagementServerDown; StartAgentRebalance; Remove",
        "created": h.created_at,
        "lastpinged": h.last_seen_at,
        "removed": h.removed_at,
        "managementserverid": h.owner_server_uuid,
        "ueficapability": False,
        "encryptionsupported": False,
        "instanceconversionsupported": False,
        "hasannotations": False,
    }


def storage_pool(d: PoolDetail) -> View:
    s = d.pool
    parts = urlsplit(s.url)
    return {
        "id": s.uuid,
        "name": s.name,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "podid": d.pod.uuid if d.pod else None,
        "podname": d.pod.name if d.pod else None,
        "clusterid": d.cluster.uuid if d.cluster else None,
        "clustername": d.cluster.name if d.cluster else None,
        "ipaddress": parts.hostname,
        "path": parts.path or None,
        "created": s.created_at,
        "type": s.pool_type,
        "scope": s.scope,
        "state": s.state,
        "hypervisor": s.hypervisor,
        "capacitybytes": s.capacity_bytes,
        "disksizetotal": s.capacity_bytes,
        "disksizeallocated": s.allocated_bytes,
        "disksizeused": s.used_bytes,
        "tags": s.tags or None,
        "istagarule": False,
        "overprovisionfactor": str(d.factor),
        "provider": "DefaultPrimary",
        "managed": False,
        "hasannotations": False,
    }


def image_store(d: StoreDetail) -> View:
    s = d.store
    return {
        "id": s.uuid,
        "name": s.name,
        "url": s.url,
        "protocol": s.protocol,
        "providername": s.provider,
        "scope": "ZONE" if d.zone else "REGION",
        "zoneid": d.zone.uuid if d.zone else None,
        "zonename": d.zone.name if d.zone else None,
        "readonly": False,
        "disksizetotal": s.capacity_bytes or None,
        "disksizeused": s.used_bytes if s.capacity_bytes else None,
        "hasannotations": False,
    }


def vlan_uri(vlan: str) -> str:
    """``50`` -> ``vlan://50``; ``untagged`` -> ``vlan://untagged``."""
    return vlan if "://" in vlan else f"vlan://{vlan or 'untagged'}"


def vlan_range(d: VlanRangeDetail) -> View:
    r = d.vlan_range
    network = ipaddress.IPv4Network(f"{r.gateway}/{r.netmask}", strict=False)
    return {
        "id": r.uuid,
        "forvirtualnetwork": r.for_virtual_network,
        "zoneid": d.zone.uuid,
        "vlan": vlan_uri(r.vlan),
        "podid": d.pod.uuid if d.pod else None,
        "podname": d.pod.name if d.pod else None,
        "description": f"{r.start_ip}-{r.end_ip}",
        "gateway": r.gateway,
        "netmask": r.netmask,
        "cidr": str(network),
        "startip": r.start_ip,
        "endip": r.end_ip,
        "account": d.account.name if d.account else None,
        "domainid": d.domain.uuid if d.domain else None,
        "domain": d.domain.name if d.domain else None,
        "domainpath": domain_path(d.domain) if d.domain else None,
        "forsystemvms": False,
    }


# CloudStack's Capacity.CAPACITY_TYPE_* codes and the names listCapacity shows.
CAPACITY_TYPES: Final[Mapping[CapacityKind, tuple[int, str]]] = {
    CapacityKind.MEMORY: (0, "MEMORY"),
    CapacityKind.CPU: (1, "CPU"),
    CapacityKind.STORAGE_USED: (2, "STORAGE"),
    CapacityKind.STORAGE_ALLOCATED: (3, "STORAGE_ALLOCATED"),
    CapacityKind.PUBLIC_IP: (4, "VIRTUAL_NETWORK_PUBLIC_IP"),
    CapacityKind.PRIVATE_IP: (5, "PRIVATE_IP"),
    CapacityKind.SECONDARY_STORAGE: (6, "SECONDARY_STORAGE"),
}


def capacity(row: CapacityRow) -> View:
    code, name = CAPACITY_TYPES[row.kind]
    return {
        "type": code,
        "name": name,
        "zoneid": row.zone.uuid,
        "zonename": row.zone.name,
        "podid": row.pod.uuid if row.pod else None,
        "podname": row.pod.name if row.pod else None,
        "clusterid": row.cluster.uuid if row.cluster else None,
        "clustername": row.cluster.name if row.cluster else None,
        "capacityused": row.used,
        "capacityallocated": row.used,
        "capacitytotal": row.total,
        "percentused": _percent(row.used, row.total),
    }


# --- configuration --------------------------------------------------------------------

_CONFIG_TYPES: Final = {float: "Float", int: "Integer", str: "String", bool: "Boolean"}


def configuration(spec: SettingSpec, value: str, number: int) -> View:
    return {
        "id": number,
        "name": spec.name,
        "value": value,
        "defaultvalue": spec.default,
        "category": spec.category,
        "description": spec.description,
        "displaytext": spec.description,
        "scope": "Global",
        "isdynamic": True,
        "component": "management-server",
        "group": "Miscellaneous",
        "subgroup": "Others",
        "type": _CONFIG_TYPES.get(spec.kind, "String"),
        "options": ",".join(spec.choices) or None,
    }


# --- identity -------------------------------------------------------------------------


def domain(d: DomainDetail) -> View:
    x = d.domain
    return {
        "id": x.uuid,
        "name": x.name,
        "level": x.level,
        "parentdomainid": d.parent.uuid if d.parent else None,
        "parentdomainname": d.parent.name if d.parent else None,
        "haschild": d.has_child,
        "path": domain_path(x),
        "state": "Active",
        "created": x.created_at,
        "hasannotations": False,
    }


def user(d: UserDetail, *, show_keys: bool) -> View:
    """A ``UserResponse``; the API key only for the user itself or its admins."""
    u, role = d.user, ROLES[d.account.role]
    return {
        "id": u.uuid,
        "username": u.username,
        "firstname": u.first_name or None,
        "lastname": u.last_name or None,
        "email": u.email or None,
        "created": u.created_at,
        "state": u.state,
        "account": d.account.name,
        "accountid": d.account.uuid,
        "accounttype": role.account_type,
        "usersource": "native",
        "roleid": role.id,
        "roletype": role.role_type,
        "rolename": role.name,
        "domainid": d.domain.uuid,
        "domain": d.domain.name,
        "apikey": u.api_key if show_keys else None,
        "isdefault": d.account.name == "admin" and u.username == "admin",
        "iscallerchilddomain": False,
        "is2faenabled": False,
        "is2famandated": False,
    }


def _limit(value: int) -> str:
    return "Unlimited" if value < 0 else str(value)


def account(d: AccountDetail, *, vm_limit: int, ip_limit: int, show_keys: bool) -> View:
    a, role = d.account, ROLES[d.account.role]
    return {
        "id": a.uuid,
        "name": a.name,
        "accounttype": role.account_type,
        "roleid": role.id,
        "roletype": role.role_type,
        "rolename": role.name,
        "domainid": d.domain.uuid,
        "domain": d.domain.name,
        "domainpath": domain_path(d.domain),
        "state": a.state,
        "created": a.created_at,
        "isdefault": a.name == "admin" and d.domain.path == "/",
        "iscleanuprequired": False,
        "vmtotal": d.vm_total,
        "vmrunning": d.vm_running,
        "vmstopped": d.vm_stopped,
        "vmlimit": _limit(vm_limit),
        "vmavailable": _limit(vm_limit - d.vm_total if vm_limit >= 0 else -1),
        "iptotal": d.ip_total,
        "iplimit": _limit(ip_limit),
        "ipavailable": _limit(ip_limit - d.ip_total if ip_limit >= 0 else -1),
        "user": [user(UserDetail(u, a, d.domain), show_keys=show_keys) for u in d.users],
        "groups": [],
    }


def user_keys(u: User) -> View:
    return {"apikey": u.api_key, "secretkey": u.secret_key}


def login(s: LoginSession, server_uuid: str | None) -> View:
    """The flat ``loginresponse``: ``type``/``registered``/2FA flags are strings."""
    role = ROLES[s.account.role]
    return {
        "username": s.user.username,
        "userid": s.user.uuid,
        "domainid": s.principal.domain_uuid,
        "timeout": s.timeout,
        "account": s.account.name,
        "firstname": s.user.first_name or None,
        "lastname": s.user.last_name or None,
        "type": str(role.account_type),
        "timezone": "UTC",
        "timezoneoffset": "0.0",
        "registered": "false",
        "sessionkey": s.key,
        "is2faenabled": "false",
        "is2faverified": "true",
        "managementserverid": server_uuid,
    }
