"""Recurring snapshots: createSnapshotPolicy, listSnapshotPolicies,
updateSnapshotPolicy, deleteSnapshotPolicies.

``intervaltype`` is sent as a name (HOURLY, DAILY, WEEKLY, MONTHLY) and shown
as its number (0-3), as CloudStack's SnapshotPolicyResponse does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import InvalidParameter
from engine.services.snapshot_policies import PolicyRequest
from nativeapi.commands import CsContext, Listing, Success, invalid_value, paging
from nativeapi.commands.ownership import list_all
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.services.snapshot_policies import PolicyDetail

_POLICY_FIELDS = {"id": "str", "volumeid": "str", "volumename": "str", "schedule": "str",
                  "intervaltype": "int", "maxsnaps": "int", "timezone": "str",
                  "fordisplay": "bool"}
_UPDATE_META = {
    "style": "sync", "responsekey": "updatesnapshotpolicyresponse", "itemkey": "snapshotpolicy",
    "responseclass": "SnapshotPolicyResponse", "required": {"id": "uuid"},
    "optional": {"customid": "string", "fordisplay": "boolean"}, "adminonly": [],
    "listshaped": False, "responsefields": _POLICY_FIELDS,
    "description": "Updates the snapshot policy.",
}
_DELETE_META = {
    "style": "sync", "responsekey": "deletesnapshotpoliciesresponse", "itemkey": "success",
    "responseclass": "SuccessResponse", "required": {},
    "optional": {"id": "uuid", "ids": "list"}, "adminonly": [], "listshaped": False,
    "responsefields": {"success": "bool", "displaytext": "str"},
    "description": "Deletes snapshot policies for the account.",
}


def policy_view(d: PolicyDetail) -> dict[str, Any]:
    p = d.policy
    return {"id": p.uuid, "volumeid": d.volume.uuid, "volumename": d.volume.name,
            "schedule": p.schedule, "intervaltype": d.interval.code, "maxsnaps": p.max_snaps,
            "timezone": p.timezone, "fordisplay": p.for_display}


@command("createSnapshotPolicy")
def create_snapshot_policy(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    volume = p.uuid("volumeid", required=True) or ""
    interval = p.require("intervaltype")
    schedule = p.require("schedule")
    req = PolicyRequest(volume_uuid=volume, interval=interval, schedule=schedule,
                        timezone=p.require("timezone"),
                        max_snaps=p.integer("maxsnaps", required=True) or 0,
                        for_display=bool(p.boolean("fordisplay", True)))
    try:
        detail = ctx.services.snapshot_policies.create(ctx.principal, req)
    except InvalidParameter as exc:
        raise invalid_value(_refusal(exc, req)) from exc
    return policy_view(detail)


def _refusal(exc: InvalidParameter, req: PolicyRequest) -> str:
    """CloudStack's text for each createSnapshotPolicy refusal."""
    if exc.name == "volumeid":
        return (f"VolumeId: {req.volume_uuid} is not in Ready state but "
                f"{exc.reason.rsplit(' ', 1)[-1]}. Cannot take snapshot.")
    if exc.name == "intervaltype":
        return f"Unsupported interval type {req.interval}"
    if exc.name == "schedule":
        return f"Invalid schedule: {req.schedule} for interval type: {req.interval}"
    if exc.name == "maxsnaps" and req.max_snaps <= 0:
        return "maxSnaps should be greater than 0"
    if exc.name == "maxsnaps":
        limit = exc.reason.rsplit(" ", 1)[-1]
        return f"maxSnaps exceeds limit: {limit} for interval type: {req.interval}"
    return exc.message


@command("listSnapshotPolicies")
def list_snapshot_policies(ctx: CsContext, p: CsParams) -> Listing:
    page = ctx.services.snapshot_policies.list(
        ctx.principal, uuid=p.uuid("id"), volume_uuid=p.uuid("volumeid"),
        for_display=p.boolean("fordisplay", None), paging=paging(ctx, p),
        list_all=list_all(p))
    items = [policy_view(d) for d in page.items]
    return Listing(items, page.total if page.total is not None else len(items))


@command("updateSnapshotPolicy", meta=_UPDATE_META)
def update_snapshot_policy(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    detail = ctx.services.snapshot_policies.update(
        ctx.principal, p.uuid("id", required=True) or "",
        for_display=p.boolean("fordisplay", None))
    return policy_view(detail)


@command("deleteSnapshotPolicies", meta=_DELETE_META)
def delete_snapshot_policies(ctx: CsContext, p: CsParams) -> Success:
    ids = [u for u in [p.uuid("id"), *p.uuid_list("ids")] if u]
    if not ids:
        raise invalid_value("No policy id (or list of ids) specified.")
    ctx.services.snapshot_policies.delete(ctx.principal, ids)
    return Success()
