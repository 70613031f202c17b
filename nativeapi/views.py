"""Engine objects -> CloudStack response dicts.

Keys and JSON types follow ``nativeapi/spec/commands.json`` (``responsefields``).
Values may be datetimes, enums or None: the renderer formats dates as
``yyyy-MM-dd'T'HH:mm:ssZ``, unwraps enums and drops None, as Gson does.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from engine.errors import ResourceKind
from engine.services.addresses import AddressDetail
from engine.services.catalog import TemplateDetail
from engine.services.instance_details import InstanceDetail, NicDetail
from engine.states import AllocationState, JobStatus, TemplateState, VmState
from nativeapi.spec import load_commands

if TYPE_CHECKING:
    from engine.models import (
        Account,
        DiskOffering,
        Domain,
        Job,
        OsType,
        Region,
        SecurityGroup,
        ServiceOffering,
        Tag,
        Zone,
    )


View = dict[str, Any]

# CloudStack's ApiCommandResourceType / ResourceTag.ResourceObjectType names.
RESOURCE_TYPE: Final[Mapping[ResourceKind, str]] = {
    ResourceKind.INSTANCE: "UserVm",
    ResourceKind.VOLUME: "Volume",
    ResourceKind.SNAPSHOT: "Snapshot",
    ResourceKind.TEMPLATE: "Template",
    ResourceKind.NETWORK: "Network",
    ResourceKind.PUBLIC_IP: "PublicIpAddress",
    ResourceKind.SECURITY_GROUP: "SecurityGroup",
    ResourceKind.KEY_PAIR: "SSHKeyPair",
    ResourceKind.ZONE: "Zone",
    ResourceKind.HOST: "Host",
    ResourceKind.ACCOUNT: "Account",
    ResourceKind.DOMAIN: "Domain",
    ResourceKind.USER: "User",
}
JOB_INSTANCE_TYPE: Final[Mapping[ResourceKind, str]] = {
    **RESOURCE_TYPE,
    ResourceKind.INSTANCE: "VirtualMachine",
    ResourceKind.PUBLIC_IP: "IpAddress",
    ResourceKind.STORAGE_POOL: "StoragePool",
    ResourceKind.PORT_FORWARDING_RULE: "FirewallRule",
    ResourceKind.FIREWALL_RULE: "FirewallRule",
    ResourceKind.LOAD_BALANCER_RULE: "FirewallRule",
    ResourceKind.IP_FORWARDING_RULE: "FirewallRule",
}

# JobInfo.Status ordinals.
JOB_STATUS: Final[Mapping[JobStatus, int]] = {
    JobStatus.QUEUED: 0,
    JobStatus.RUNNING: 0,
    JobStatus.SUCCEEDED: 1,
    JobStatus.FAILED: 2,
    JobStatus.CANCELLED: 3,
}


def vm_state(state: VmState) -> str:
    """The CloudStack state string of an engine VM state."""
    # QUIRK(cloudstack): VirtualMachine.State has no "Expunged"; an expunged VM keeps
    # state Expunging and gets a removed date (libcloud's state map has no other name).
    return VmState.EXPUNGING.value if state is VmState.EXPUNGED else state.value


def domain_path(domain: Domain) -> str:
    """``/`` -> ``ROOT``, ``/a/b/`` -> ``ROOT/a/b``."""
    inner = domain.path.strip("/")
    return f"ROOT/{inner}" if inner else "ROOT"


@cache
def command_class(name: str) -> str:
    """The Java class CloudStack names in ``cmd`` (our command name when unknown)."""
    source = str(load_commands().get(name, {}).get("source", ""))
    if "/java/" not in source:
        return name
    return source.split("/java/", 1)[1].removesuffix(".java").replace("/", ".")


# --- catalog --------------------------------------------------------------------------


def region(r: Region, number: int) -> View:
    return {
        "id": number,
        "name": r.name,
        "endpoint": r.endpoint,
        "gslbserviceenabled": True,
        "portableipserviceenabled": False,
    }


def zone(z: Zone) -> View:
    return {
        "id": z.uuid,
        "name": z.name,
        "description": z.description,
        "dns1": z.dns1,
        "internaldns1": z.internal_dns1,
        "guestcidraddress": z.guest_cidr,
        "networktype": z.network_type,
        "securitygroupsenabled": z.security_groups_enabled,
        "allocationstate": z.allocation_state,
        "dhcpprovider": "VirtualRouter",
        "localstorageenabled": False,
        "tags": [],
        "hasannotations": False,
        "isnsxenabled": False,
        "ismultiarch": False,
        "routedmodeenabled": False,
    }


def zone_available(z: Zone) -> bool:
    return z.allocation_state is AllocationState.ENABLED


def service_offering(o: ServiceOffering) -> View:
    return {
        "id": o.uuid,
        "name": o.name,
        "displaytext": o.display_text or o.name,
        "cpunumber": o.cpus,
        "cpuspeed": o.cpu_mhz,
        "memory": o.memory_mib,
        "created": o.created_at,
        "state": "Active" if o.active else "Inactive",
        "storagetype": "shared",
        "provisioningtype": "thin",
        "offerha": False,
        "limitcpuuse": False,
        "isvolatile": False,
        "issystem": o.is_system,
        "defaultuse": False,
        "iscustomized": False,
        "rootdisksize": o.root_disk_gib or None,
        "networkrate": o.network_mbps or None,
        "hosttags": o.host_tags or None,
        "storagetags": o.storage_tags or None,
        "dynamicscalingenabled": True,
        "diskofferingstrictness": False,
        "encryptroot": False,
        "hasannotations": False,
    }


def disk_offering(o: DiskOffering) -> View:
    return {
        "id": o.uuid,
        "name": o.name,
        "displaytext": o.display_text or o.name,
        "disksize": o.size_gib,
        "iscustomized": o.customized,
        "created": o.created_at,
        "state": "Active" if o.active else "Inactive",
        "storagetype": "shared",
        "provisioningtype": "thin",
        "tags": o.storage_tags or None,
        "displayoffering": True,
        "encrypt": False,
        "disksizestrictness": False,
        "cacheMode": "none",
        "hasannotations": False,
    }


def os_type(o: OsType) -> View:
    return {
        "id": o.uuid,
        "name": o.name,
        "description": o.name,
        "oscategoryname": o.category,
        "isuserdefined": False,
        "fordisplay": True,
    }


def _template_status(state: TemplateState, percent: int, error_text: str) -> str:
    if state is TemplateState.READY:
        return "Download Complete"
    if state is TemplateState.DOWNLOADING:
        return f"{percent}% Downloaded"
    return error_text or "Error"


def template_rows(d: TemplateDetail, zone_uuid: str | None = None) -> list[View]:
    """One row per zone the template is in (only ``zone_uuid``'s when given)."""
    t = d.template
    base: View = {
        "id": t.uuid,
        "name": t.name,
        "displaytext": t.display_text or t.name,
        "created": t.created_at,
        "ispublic": t.is_public,
        "isfeatured": t.is_featured,
        "crossZones": False,
        "passwordenabled": t.password_enabled,
        "sshkeyenabled": False,
        "bootable": True,
        "isextractable": t.is_extractable,
        "isdynamicallyscalable": False,
        "format": t.format,
        "hypervisor": t.hypervisor,
        "templatetype": t.template_type,
        "ostypeid": d.os_type.uuid,
        "ostypename": d.os_type.name,
        "account": d.owner.name,
        "accountid": d.owner.uuid,
        "domainid": d.owner.domain_uuid,
        "size": t.size_bytes,
        "checksum": t.checksum or None,
        "arch": t.arch,
        "requireshvm": True,
        "deployasis": False,
        "directdownload": False,
        "tags": [],
        "hasannotations": False,
    }
    details = {**json.loads(t.boot_spec or "{}"), **json.loads(t.details or "{}")}
    if details:
        base["details"] = details
    if d.user_data is not None:
        base.update(userdataid=d.user_data.user_data.uuid, userdataname=d.user_data.user_data.name,
                    userdatapolicy=d.user_data.policy.value.upper(),
                    userdataparams=d.user_data.user_data.params or None)
    rows = []
    for z, placement in d.zones:
        if zone_uuid is not None and z.uuid != zone_uuid:
            continue
        rows.append(
            {
                **base,
                "zoneid": z.uuid,
                "zonename": z.name,
                "isready": placement.state is TemplateState.READY,
                "status": _template_status(
                    placement.state, placement.download_percent, placement.error_text
                ),
            }
        )
    return rows


# --- virtual machines -----------------------------------------------------------------


def tags(rows: Sequence[Tag], account: Account, domain: Domain) -> list[View]:
    return [
        {
            "key": t.key,
            "value": t.value,
            "resourcetype": RESOURCE_TYPE.get(t.resource_kind, t.resource_kind.value),
            "resourceid": t.resource_uuid,
            "account": account.name,
            "domainid": domain.uuid,
            "domain": domain.name,
            "domainpath": domain_path(domain),
        }
        for t in rows
    ]


def _netmask(cidr: str) -> str | None:
    try:
        return str(ipaddress.ip_network(cidr, strict=False).netmask)
    except ValueError:
        return None


def nic(n: NicDetail, vm_uuid: str) -> View:
    net = n.network
    out: View = {
        "id": n.nic.uuid,
        "networkid": net.uuid,
        "networkname": net.name,
        "ipaddress": n.nic.ip_address,
        "netmask": _netmask(net.cidr),
        "gateway": net.gateway,
        "macaddress": n.nic.mac_address,
        "isdefault": n.nic.is_default,
        "traffictype": "Guest",
        "type": net.network_type,
        "deviceid": str(n.nic.device_id),
        "virtualmachineid": vm_uuid,
        "secondaryip": [],
        "extradhcpoption": [],
    }
    if net.vlan:
        out["broadcasturi"] = f"vlan://{net.vlan}"
        out["isolationuri"] = f"vlan://{net.vlan}"
    if n.public_ip is not None:
        out["publicip"] = n.public_ip.address
        out["publicipid"] = n.public_ip.uuid
    return out


def security_group(g: SecurityGroup, account: Account, domain: Domain) -> View:
    return {
        "id": g.uuid,
        "name": g.name,
        "description": g.description,
        "account": account.name,
        "domainid": domain.uuid,
        "domain": domain.name,
        "tags": [],
    }


def virtual_machine(d: InstanceDetail, *, show_admin: bool) -> View:
    """A ``UserVmResponse``. Host and hypervisor-domain names only for root admins."""
    i = d.instance
    primary = d.primary_nic
    public = primary.public_ip if primary is not None else None
    out: View = {
        "id": i.uuid,
        "name": i.name,
        "displayname": i.display_name or i.name,
        "account": d.account.name,
        "userid": i.user_uuid,
        "domainid": d.domain.uuid,
        "domain": d.domain.name,
        "domainpath": domain_path(d.domain),
        "created": i.created_at,
        "lastupdated": i.updated_at,
        "state": vm_state(i.state),
        "haenable": False,
        "group": i.group_name or None,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "templateid": d.template.uuid,
        "templatename": d.template.name,
        "templatedisplaytext": d.template.display_text or d.template.name,
        "templatetype": d.template.template_type,
        "templateformat": d.template.format,
        "passwordenabled": d.template.password_enabled,
        "serviceofferingid": d.offering.uuid,
        "serviceofferingname": d.offering.name,
        "cpunumber": i.cpus,
        "cpuspeed": i.cpu_mhz,
        "memory": i.memory_mib,
        "guestosid": d.template.os_type_uuid,
        "ostypeid": d.template.os_type_uuid,
        "rootdeviceid": 0,
        "rootdevicetype": "ROOT",
        "hypervisor": i.hypervisor,
        "arch": d.template.arch,
        "keypairs": i.key_pair_name,
        "publicip": public.address if public is not None else None,
        "publicipid": public.uuid if public is not None else None,
        "nic": [nic(n, i.uuid) for n in d.nics],
        "securitygroup": [security_group(g, d.account, d.domain) for g in d.security_groups],
        "affinitygroup": [],
        "tags": tags(d.tags, d.account, d.domain),
        "displayvm": True,
        "isdynamicallyscalable": False,
        "deleteprotection": i.disable_api_termination,
        "vmtype": "User",
        "hasannotations": False,
    }
    if show_admin:
        out["instancename"] = i.instance_name
        if d.host is not None:
            out["hostid"] = d.host.uuid
            out["hostname"] = d.host.name
    return out


def virtual_machine_gone(uuid: str) -> View:
    """What a job result shows for a VM that can no longer be read."""
    return {"id": uuid, "state": VmState.EXPUNGING.value}


def public_ip(d: AddressDetail) -> View:
    """A ``IPAddressResponse`` (listPublicIpAddresses item)."""
    ip = d.ip
    vm = d.instance
    static_nat = vm is not None and not ip.is_source_nat
    return {
        "id": ip.uuid,
        "ipaddress": ip.address,
        "allocated": ip.allocated_at,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "issourcenat": ip.is_source_nat,
        "isstaticnat": static_nat,
        "issystem": False,
        "account": d.account.name,
        "domainid": d.domain.uuid,
        "domain": d.domain.name,
        "domainpath": domain_path(d.domain),
        "forvirtualnetwork": True,
        "vlanid": ip.vlan_range_uuid,
        "virtualmachineid": vm.uuid if vm is not None else None,
        "virtualmachinename": vm.name if vm is not None else None,
        "virtualmachinedisplayname": (vm.display_name or vm.name) if vm is not None else None,
        "virtualmachinetype": "UserVm" if vm is not None else None,
        "vmipaddress": d.nic.ip_address if d.nic is not None else None,
        "associatednetworkid": ip.network_uuid,
        "networkid": ip.network_uuid,
        "state": ip.state,
        "purpose": "StaticNat" if static_nat else None,
        "isportable": False,
        "fordisplay": True,
        "hasrules": False,
        "tags": tags(d.tags, d.account, d.domain),
    }


# --- jobs -----------------------------------------------------------------------------


def async_job(
    job: Job,
    *,
    owner: tuple[Account, Domain] | None,
    jobresult: Mapping[str, Any] | None,
    resultcode: int = 0,
) -> View:
    """An ``AsyncJobResponse``. ``jobresultcode`` is always present (exoscale cs reads it)."""
    out: View = {
        "jobid": job.uuid,
        "jobstatus": JOB_STATUS[job.status],
        "jobprocstatus": 0,
        "jobresultcode": resultcode,
        "cmd": command_class(job.command) if job.command else job.kind,
        "userid": job.user_uuid,
        "created": job.created_at,
        "completed": job.completed_at,
    }
    if owner is not None:
        account, domain = owner
        out.update(
            accountid=account.uuid,
            account=account.name,
            domainid=domain.uuid,
            domainpath=domain_path(domain),
        )
    if job.resource_kind is not None:
        out["jobinstancetype"] = JOB_INSTANCE_TYPE.get(job.resource_kind, "None")
        out["jobinstanceid"] = job.resource_uuid
    if jobresult is not None:
        out["jobresulttype"] = "object"
        out["jobresult"] = dict(jobresult)
    return out
