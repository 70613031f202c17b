"""Engine values -> CloudStack dicts for catalog lists and account administration.

OS categories, hypervisors and their capabilities, resource limits and roles.
The engine keeps no rows for categories, capabilities or roles, so their ids are
stable name-derived uuids. Keys and JSON types follow ``nativeapi/spec/commands.json``.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass
from typing import Any, Final

from nativeapi.views_admin import RoleInfo

View = dict[str, Any]

_NS: Final = uuidlib.UUID("0c7d3f52-9d2e-4b8e-8f53-2a4f1de1c0a7")


def stable_id(kind: str, name: str) -> str:
    """A uuid that is the same for ``(kind, name)`` on every server."""
    return str(uuidlib.uuid5(_NS, f"{kind}:{name.lower()}"))


def os_category(name: str) -> View:
    return {"id": stable_id("oscategory", name), "name": name, "isfeatured": False}


# CloudStack's names for the engine's hypervisor types.
HYPERVISOR_NAMES: Final[dict[str, str]] = {
    "kvm": "KVM",
    "simulator": "Simulator",
    "vmware": "VMware",
    "xenserver": "XenServer",
}


def hypervisor_name(engine_name: str) -> str:
    return HYPERVISOR_NAMES.get(engine_name.lower(), engine_name)


def hypervisor(name: str) -> View:
    return {"name": hypervisor_name(name)}


@dataclass(frozen=True)
class Capability:
    """One ``hypervisor_capabilities`` row as CloudStack seeds it ("default" version)."""

    hypervisor: str
    max_guests: int
    max_data_volumes: int
    security_groups: bool
    storage_motion: bool
    vm_snapshots: bool
    max_hosts_per_cluster: int | None = None


CAPABILITIES: Final[tuple[Capability, ...]] = (
    Capability("KVM", 50, 24, True, True, False, None),
    Capability("Simulator", 50, 6, True, True, True, None),
    Capability("VMware", 128, 13, False, True, True, 32),
    Capability("XenServer", 50, 6, True, True, True, 16),
)


def capability(c: Capability) -> View:
    return {
        "id": stable_id("hypervisorcapability", c.hypervisor),
        "hypervisor": c.hypervisor,
        "hypervisorversion": "default",
        "maxguestslimit": c.max_guests,
        "maxdatavolumeslimit": c.max_data_volumes,
        "maxhostspercluster": c.max_hosts_per_cluster,
        "securitygroupenabled": c.security_groups,
        "storagemotionenabled": c.storage_motion,
        "vmsnapshotenabled": c.vm_snapshots,
    }


# CloudStack's Resource.ResourceType ordinals and names.
RESOURCE_TYPES: Final[tuple[str, ...]] = (
    "user_vm", "public_ip", "volume", "snapshot", "template", "project", "network", "vpc",
    "cpu", "memory", "primary_storage", "secondary_storage",
)


def resource_limit(resource_type: int, maximum: int, *, account: str | None,
                   domain_uuid: str, domain_name: str, domain_path: str) -> View:
    return {
        "account": account,
        "domainid": domain_uuid,
        "domain": domain_name,
        "domainpath": domain_path,
        "resourcetype": str(resource_type),
        "resourcetypename": RESOURCE_TYPES[resource_type],
        "max": maximum,
    }


def role(r: RoleInfo) -> View:
    return {
        "id": r.id,
        "name": r.name,
        "type": r.role_type,
        "description": f"Default {r.name.lower()} role",
        "isdefault": True,
        "ispublic": True,
        "state": "ENABLED",
    }
