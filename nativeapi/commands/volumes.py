"""Volumes: create, list, attach, detach, resize, delete.

Sizes on the wire are GB in requests and bytes in responses. The async
commands' jobs are keyed by the volume, so queryAsyncJobResult shows
``{"volume": {...}}`` as it is when asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from engine.services.volumes import VolumeRequest
from nativeapi import views_resources as views
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    Success,
    finished,
    invalid_value,
    job_result,
    paging,
    tag_criteria_pairs,
)
from nativeapi.commands.ownership import list_all, owner_criteria
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job



@job_result("volume")
def volume_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """The volume a finished volume job worked on (an id only once it is gone)."""
    if job.resource_kind is not ResourceKind.VOLUME or not job.resource_uuid:
        return None
    try:
        detail = ctx.services.volumes.get(ctx.principal, job.resource_uuid)
    except NotFound:
        return {"id": job.resource_uuid, "state": "Expunged"}
    return views.volume(detail, show_admin=ctx.is_admin)


@command("createVolume", is_async=True, creates="volume")
def create_volume(ctx: CsContext, p: CsParams) -> Submitted:
    offering = p.uuid("diskofferingid")
    snapshot = p.uuid("snapshotid")
    size = p.long("size")
    if offering is None and snapshot is None and size is None:
        raise invalid_value("Either disk Offering Id or snapshot Id must be passed whilst "
                            "creating volume")
    if snapshot is None and p.uuid("zoneid") is None:
        raise p.missing("zoneid")
    volume, job = ctx.services.volumes.create(ctx.principal, VolumeRequest(
        zone_uuid=p.uuid("zoneid"), size_gib=size, disk_offering_uuid=offering,
        snapshot_uuid=snapshot, name=p.get("name") or None), command=ctx.command.name)
    vm = p.uuid("virtualmachineid")
    if vm is not None and job is None:
        job = ctx.services.volumes.attach(ctx.principal, volume.uuid, vm,
                                          command=ctx.command.name)
    elif vm is not None:
        raise invalid_value("A volume created from a snapshot cannot be attached at once")
    return Submitted(job if job is not None else finished(ctx, ResourceKind.VOLUME, volume.uuid),
                     object_uuid=volume.uuid)


_TYPES = {"root": "ROOT", "datadisk": "DATADISK"}


def _criteria(ctx: CsContext, p: CsParams) -> list[Criterion]:
    crit: list[Criterion] = []
    uuids = [u for u in [p.uuid("id"), *p.uuid_list("ids")] if u]
    if uuids:
        crit.append(Criterion("uuid", tuple(uuids), False))
    for param, field in (("zoneid", "zone_uuid"), ("virtualmachineid", "instance_uuid"),
                         ("diskofferingid", "disk_offering_uuid")):
        value = p.uuid(param)
        if value:
            crit.append(Criterion(field, (value,), False))
    if ctx.is_admin and p.uuid("storageid"):
        crit.append(Criterion("pool_uuid", (p.uuid("storageid") or "",), False))
    if p.get("name"):
        crit.append(Criterion("name", (p.require("name"),), False))
    if p.get("keyword"):
        crit.append(Criterion("name", (f"*{p.require('keyword')}*",)))
    if p.get("type"):
        crit.append(Criterion("kind", (_TYPES.get(p.require("type").lower(), "?"),), False))
    if p.get("state"):
        crit.append(Criterion("state", (p.require("state").capitalize(),), False))
    crit.extend(Criterion(f"tag:{k}", (v,), False) for k, v in tag_criteria_pairs(p))
    crit.extend(owner_criteria(ctx, p))
    return crit


@command("listVolumes")
def list_volumes(ctx: CsContext, p: CsParams) -> Listing:
    page = ctx.services.volumes.list(ctx.principal, tuple(_criteria(ctx, p)), paging(ctx, p),
                                     list_all=list_all(p), count=True)
    vol_id = p.uuid("id")
    if not page.items and vol_id:
        ctx.services.volumes.get(ctx.principal, vol_id)  # an unknown id is a 431, not {}
    items = [views.volume(d, show_admin=ctx.is_admin) for d in page.items]
    return Listing(items, page.total if page.total is not None else len(items))


@command("attachVolume", is_async=True)
def attach_volume(ctx: CsContext, p: CsParams) -> Submitted:
    device = p.long("deviceid")
    return Submitted(ctx.services.volumes.attach(
        ctx.principal, p.uuid("id", required=True) or "",
        p.uuid("virtualmachineid", required=True) or "", device, command=ctx.command.name))


@command("detachVolume", is_async=True)
def detach_volume(ctx: CsContext, p: CsParams) -> Submitted:
    volume = p.uuid("id")
    vm, device = p.uuid("virtualmachineid"), p.long("deviceid")
    if volume is None:
        if vm is None or device is None:
            raise invalid_value("Please provide either a volume id, or a tuple(device id, "
                                "instance id)")
        found = ctx.services.volumes.list(ctx.principal, (
            Criterion("instance_uuid", (vm,), False),
            Criterion("device_id", (str(device),), False)), count=False)
        if not found.items:
            raise invalid_value(f"Unable to find volume with device id {device} on the "
                                "virtual machine")
        volume = found.items[0].volume.uuid
    elif vm is not None or device is not None:
        raise invalid_value("Please provide either a volume id, or a tuple(device id, "
                            "instance id)")
    return Submitted(ctx.services.volumes.detach(ctx.principal, volume or "",
                                                 command=ctx.command.name))


@command("resizeVolume", is_async=True)
def resize_volume(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    size = p.long("size")
    offering_uuid = p.uuid("diskofferingid")
    if size is None and offering_uuid is not None:
        offering = next((o for o in ctx.services.catalog.disk_offerings()
                         if o.uuid == offering_uuid), None)
        if offering is None:
            raise p.entity_not_found("diskofferingid")
        if not offering.customized:
            size = offering.size_gib
    if size is None:
        raise invalid_value("New size or a disk offering with a fixed size must be specified")
    return Submitted(ctx.services.volumes.resize(ctx.principal, uuid, size,
                                                 command=ctx.command.name))


@command("deleteVolume")
def delete_volume(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.volumes.delete(ctx.principal, p.uuid("id", required=True) or "",
                                command=ctx.command.name)
    return Success()
