"""Volume snapshots: createSnapshot, listSnapshots, deleteSnapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from nativeapi import views_resources as views
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    job_result,
    paging,
    tag_criteria_pairs,
)
from nativeapi.commands.ownership import list_all, owner_criteria
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job


@job_result("snapshot")
def snapshot_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """The snapshot a finished snapshot job took (an id only once it is gone)."""
    if job.resource_kind is not ResourceKind.SNAPSHOT or not job.resource_uuid:
        return None
    try:
        return views.snapshot(ctx.services.snapshots.get(ctx.principal, job.resource_uuid))
    except NotFound:
        return {"id": job.resource_uuid, "state": "Destroyed"}


@command("createSnapshot", is_async=True, creates="snapshot")
def create_snapshot(ctx: CsContext, p: CsParams) -> Submitted:
    snap, job = ctx.services.snapshots.create(
        ctx.principal, p.uuid("volumeid", required=True) or "", p.get("name") or None,
        tags=tuple(tag_criteria_pairs(p)), command=ctx.command.name)
    return Submitted(job, object_uuid=snap.uuid)


def _criteria(ctx: CsContext, p: CsParams) -> list[Criterion]:
    crit: list[Criterion] = []
    uuids = [u for u in [p.uuid("id"), *p.uuid_list("ids")] if u]
    if uuids:
        crit.append(Criterion("uuid", tuple(uuids), False))
    for param, field in (("zoneid", "zone_uuid"), ("volumeid", "volume_uuid")):
        value = p.uuid(param)
        if value:
            crit.append(Criterion(field, (value,), False))
    if p.get("name"):
        crit.append(Criterion("name", (p.require("name"),), False))
    if p.get("keyword"):
        crit.append(Criterion("name", (f"*{p.require('keyword')}*",)))
    kind = (p.get("snapshottype") or p.get("intervaltype") or "").upper()
    if kind and kind != "MANUAL":
        crit.append(Criterion("uuid", ("",), False))  # only manual snapshots exist
    crit.extend(Criterion(f"tag:{k}", (v,), False) for k, v in tag_criteria_pairs(p))
    crit.extend(owner_criteria(ctx, p))
    return crit


@command("listSnapshots")
def list_snapshots(ctx: CsContext, p: CsParams) -> Listing:
    page = ctx.services.snapshots.list(ctx.principal, tuple(_criteria(ctx, p)), paging(ctx, p),
                                       list_all=list_all(p), count=True)
    snap_id = p.uuid("id")
    if not page.items and snap_id:
        ctx.services.snapshots.get(ctx.principal, snap_id)  # an unknown id is a 431, not {}
    items = [views.snapshot(d) for d in page.items]
    return Listing(items, page.total if page.total is not None else len(items))


@command("deleteSnapshot", is_async=True)
def delete_snapshot(ctx: CsContext, p: CsParams) -> Submitted:
    return Submitted(ctx.services.snapshots.delete(
        ctx.principal, p.uuid("id", required=True) or "", command=ctx.command.name))
