"""Views of VM extras: NICs with secondary IPs, instance groups, user data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.services.instance_details import NicDetail
from nativeapi.views import View, domain_path, nic

if TYPE_CHECKING:
    from engine.models.vm_extras import NicSecondaryIp
    from engine.services.vm_extras import NicView, Owned


def nic_with_ips(v: NicView) -> View:
    """A ``NicResponse`` with its ``secondaryip`` list."""
    assert v.nic.instance_uuid is not None
    out = nic(NicDetail(v.nic, v.network), v.nic.instance_uuid)
    out["secondaryip"] = [{"id": s.uuid, "ipaddress": s.ip_address} for s in v.secondary]
    return out


def secondary_ip(s: NicSecondaryIp) -> View:
    """A ``NicSecondaryIpResponse``."""
    return {"id": s.uuid, "ipaddress": s.ip_address, "nicid": s.nic_uuid,
            "networkid": s.network_uuid, "virtualmachineid": s.instance_uuid}


def _owner(o: Owned) -> View:
    return {"account": o.account.name, "domainid": o.domain.uuid, "domain": o.domain.name,
            "domainpath": domain_path(o.domain)}


def instance_group(o: Owned) -> View:
    """An ``InstanceGroupResponse``."""
    return {"id": o.row.uuid, "name": o.row.name, "created": o.row.created_at, **_owner(o),
            "hasannotations": False}


def user_data(o: Owned) -> View:
    """A ``UserDataResponse`` (``userdata`` is the stored base64 text)."""
    row = o.row
    return {"id": row.uuid, "name": row.name, "accountid": o.account.uuid, **_owner(o),
            "userdata": getattr(row, "content", None), "params": getattr(row, "params", "") or None,
            "hasannotations": False}
