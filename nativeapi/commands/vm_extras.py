"""VM extras: listNics, secondary IPs on NICs, instance groups, stored user data.

All work happens in the request; the async ones (addIpToNic, removeIpFromNic)
answer with an already finished job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.services.vm_extras import VmExtrasService
from nativeapi import views_vm_extras as views
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    Success,
    finished,
    invalid_value,
    job_result,
    page_slice,
    paging,
)
from nativeapi.commands.ownership import list_all, owner_uuid
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job


def _svc(ctx: CsContext) -> VmExtrasService:
    return VmExtrasService(ctx.services.session)


# ---------------------------------------------------------------------- NICs
@command("listNics")
def list_nics(ctx: CsContext, p: CsParams) -> Listing:
    rows = _svc(ctx).nics(ctx.principal, p.uuid("virtualmachineid", required=True) or "",
                          nic_uuid=p.uuid("nicid"), network_uuid=p.uuid("networkid"))
    return Listing([views.nic_with_ips(r) for r in page_slice(rows, paging(ctx, p))], len(rows))


@job_result("nicsecondaryip")
def secondary_ip_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    if job.resource_kind is not ResourceKind.NIC or not job.resource_uuid:
        return None
    try:
        return views.secondary_ip(_svc(ctx).secondary_ip(ctx.principal, job.resource_uuid))
    except NotFound:
        return None


@command("addIpToNic", is_async=True)
def add_ip_to_nic(ctx: CsContext, p: CsParams) -> Submitted:
    row = _svc(ctx).add_ip(ctx.principal, p.uuid("nicid", required=True) or "",
                           p.get("ipaddress") or None)
    return Submitted(finished(ctx, ResourceKind.NIC, row.uuid), object_uuid=row.uuid)


@command("removeIpFromNic", is_async=True)
def remove_ip_from_nic(ctx: CsContext, p: CsParams) -> Submitted:
    row = _svc(ctx).remove_ip(ctx.principal, p.uuid("id", required=True) or "")
    return Submitted(finished(ctx, ResourceKind.NIC, row.nic_uuid))


# ----------------------------------------------------------- instance groups
@command("createInstanceGroup")
def create_instance_group(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    return views.instance_group(_svc(ctx).create_group(
        ctx.principal, p.require("name"), account_uuid=owner_uuid(ctx, p)))


@command("listInstanceGroups")
def list_instance_groups(ctx: CsContext, p: CsParams) -> Listing:
    rows = _svc(ctx).groups(ctx.principal, all_accounts=list_all(p),
                            account_uuid=owner_uuid(ctx, p), uuid=p.uuid("id"),
                            name=p.get("name") or None, keyword=p.get("keyword") or None)
    return Listing([views.instance_group(r) for r in page_slice(rows, paging(ctx, p))],
                   len(rows))


# ----------------------------------------------------------------- user data
@command("registerUserData")
def register_user_data(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    return views.user_data(_svc(ctx).register_user_data(
        ctx.principal, p.require("name"), p.require("userdata"), params=p.get("params") or "",
        account_uuid=owner_uuid(ctx, p)))


@command("listUserData")
def list_user_data(ctx: CsContext, p: CsParams) -> Listing:
    rows = _svc(ctx).user_data(ctx.principal, all_accounts=list_all(p),
                               account_uuid=owner_uuid(ctx, p), uuid=p.uuid("id"),
                               name=p.get("name") or None, keyword=p.get("keyword") or None)
    return Listing([views.user_data(r) for r in page_slice(rows, paging(ctx, p))], len(rows))


@command("deleteUserData")
def delete_user_data(ctx: CsContext, p: CsParams) -> Success:
    _svc(ctx).delete_user_data(ctx.principal, p.uuid("id", required=True) or "")
    return Success()


# ------------------------------------------------------------------- volumes
@command("updateVolume", is_async=True)
def update_volume(ctx: CsContext, p: CsParams) -> Submitted:
    """``name`` (and ``displayvolume=true``, which changes nothing: every volume
    is shown). The storage-side fields (path, storageid, state, chaininfo),
    ``displayvolume=false`` and ``deleteprotection`` are not supported yet."""
    uuid = p.uuid("id", required=True) or ""
    for unsupported in ("path", "storageid", "state", "chaininfo", "deleteprotection"):
        if p.get(unsupported):
            raise invalid_value(f"Updating {unsupported} of a volume is not supported")
    if p.boolean("displayvolume", True) is False:
        raise invalid_value("Hiding a volume (displayvolume=false) is not supported")
    if p.get("name"):
        _svc(ctx).rename_volume(ctx.principal, uuid, p.require("name"))
    else:
        ctx.services.volumes.get(ctx.principal, uuid)
    return Submitted(finished(ctx, ResourceKind.VOLUME, uuid))
