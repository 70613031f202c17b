"""CloudStack views of VPCs, the VPC offering table and simulator settings.

The VPC offering is a constant (nimbostack has one kind of VPC); its id is
stable across servers and restarts so clients may keep it.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from nativeapi.views import domain_path

if TYPE_CHECKING:
    from engine.models import Domain, Zone
    from engine.services.vpcs import VpcDetail

View = dict[str, Any]

# The services a VPC offers, each with the provider CloudStack's default offering names.
VPC_SERVICES: Final[tuple[str, ...]] = (
    "Dhcp", "Dns", "UserData", "SourceNat", "StaticNat", "PortForwarding", "Lb",
    "NetworkACL", "Vpn")
VPC_PROVIDER: Final = "VpcVirtualRouter"
# When the constant offering "was created" (shown as its ``created``).
_EPOCH: Final = datetime(2024, 1, 1)


@dataclass(frozen=True)
class VpcOffering:
    uuid: str
    name: str
    display_text: str
    is_default: bool
    services: tuple[str, ...]


DEFAULT_VPC_OFFERING: Final = VpcOffering(
    uuid=str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "nimbostack:vpc-offering:default")),
    name="Default VPC offering", display_text="Default VPC offering", is_default=True,
    services=VPC_SERVICES)
VPC_OFFERINGS: Final[tuple[VpcOffering, ...]] = (DEFAULT_VPC_OFFERING,)


def _services(names: Sequence[str]) -> list[View]:
    return [{"name": n, "provider": [{"name": VPC_PROVIDER}]} for n in names]


def vpc_offering(o: VpcOffering) -> View:
    return {
        "id": o.uuid,
        "name": o.name,
        "displaytext": o.display_text,
        "isdefault": o.is_default,
        "state": "Enabled",
        "created": _EPOCH,
        "service": _services(o.services),
        "distributedvpcrouter": False,
        "fornsx": False,
        "networkmode": "NATTED",
        "internetprotocol": "IPv4",
        "specifyasnumber": False,
    }


def vpc(d: VpcDetail, zone: Zone, domain: Domain | None) -> View:
    """A ``VpcResponse`` for a container (``d.vpc`` set) shown in ``zone``."""
    v = d.vpc
    assert v is not None
    out: View = {
        "id": v.uuid,
        "name": v.name or v.sid,
        "displaytext": v.display_text or v.name or v.sid,
        "state": "Enabled",
        "zoneid": zone.uuid,
        "zonename": zone.name,
        "cidr": v.cidr,
        "vpcofferingid": DEFAULT_VPC_OFFERING.uuid,
        "vpcofferingname": DEFAULT_VPC_OFFERING.name,
        "created": v.created_at,
        "service": _services(DEFAULT_VPC_OFFERING.services),
        "restartrequired": False,
        "fordisplay": True,
        "distributedvpcrouter": False,
        "regionlevelvpc": False,
        "redundantvpcrouter": False,
        "tags": [{"key": t.key, "value": t.value, "resourcetype": "Vpc", "resourceid": v.uuid}
                 for t in d.tags],
        "hasannotations": False,
    }
    if d.account is not None:
        out["account"] = d.account.name
    if domain is not None:
        out.update(domainid=domain.uuid, domain=domain.name, domainpath=domain_path(domain))
    return out


def simulator_setting(name: str, count: int | None) -> View:
    """A ``MockResponse``: the simulated command that was configured. CloudStack
    also shows the database ids of the scope; nimbostack keeps no mock rows."""
    out: View = {"name": name}
    if count is not None:
        out["count"] = count
    return out
