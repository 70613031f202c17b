"""EBS snapshots: create, describe, copy, delete, and who may create volumes
from them (the createVolumePermission attribute)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from awsapi import ids
from awsapi import views_storage as views
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.images import permission_criterion
from awsapi.actions.volumes import paging, require_found, tag_specs
from awsapi.errors_wire import Ec2Error
from awsapi.filters import SNAPSHOT_FILTERS, criteria
from awsapi.ids import Kind
from awsapi.permissions import ACCOUNT_NUMBER, Dialect, permission_edit
from engine.errors import PermissionDenied
from engine.querying import Criterion
from engine.services.snapshot_permissions import SharingChange, SharingOp, SnapshotSharing

T = TypeVar("T")
_REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]")
# Owner aliases of snapshots this cloud never has.
_ALIASES = frozenset({"amazon", "aws-marketplace", "aws-backup"})


def _owners(ctx: RequestContext, p: Params) -> Criterion | None:
    """``OwnerIds`` as one criterion on the owner's account number."""
    owners = p.get("OwnerIds") or []
    if not owners:
        return None
    numbers: list[str] = []
    for owner in owners:
        if owner == "self":
            numbers.append(ctx.principal.account_number)
        elif ACCOUNT_NUMBER.fullmatch(owner):
            numbers.append(owner)
        elif owner in _ALIASES:
            numbers.append("\x00" + owner)
        else:
            raise Ec2Error("InvalidUserID.Malformed", f'Invalid user id: "{owner}"')
    return Criterion("owner_number", tuple(numbers), False)


@action("CreateSnapshot")
def create_snapshot(ctx: RequestContext, p: Params) -> Result:
    svc = ctx.services.snapshots
    snap, _ = svc.create(ctx.principal, ids.parse(p["VolumeId"], Kind.VOLUME),
                         description=p.get("Description") or "",
                         tags=tag_specs(p, "snapshot"), command="CreateSnapshot")
    return views.snapshot(svc.get(ctx.principal, snap.uuid))


@action("DescribeSnapshots", readonly=True)
def describe_snapshots(ctx: RequestContext, p: Params) -> Result:
    wire_ids = p.get("SnapshotIds") or []
    sids = [ids.parse(s, Kind.SNAPSHOT) for s in wire_ids]
    crit = list(criteria(p.get("Filters"), SNAPSHOT_FILTERS))
    owners = _owners(ctx, p)
    if owners is not None:
        crit.append(owners)
    restorable = permission_criterion(ctx, p.get("RestorableByUserIds") or [],
                                      "restore_permission")
    if restorable is not None:
        crit.append(restorable)
    if sids:
        crit.append(Criterion("sid", tuple(sids), False))
    # As on AWS: the caller's own, and those public or shared with its account.
    page = ctx.services.snapshots.list(ctx.principal, tuple(crit),
                                       paging(p, maximum=1000), count=False, shared=True)
    if sids and owners is None and restorable is None and not p.get("Filters") and not p.get("NextToken"):
        require_found(wire_ids, sids, {d.snapshot.sid for d in page.items}, Kind.SNAPSHOT,
                      "snapshot")
    return {"Snapshots": [views.snapshot(d) for d in page.items],
            "NextToken": page.next_token}


@action("DeleteSnapshot")
def delete_snapshot(ctx: RequestContext, p: Params) -> Result:
    # An image's backing snapshot stays while the image is registered (AWS's rule).
    ctx.services.snapshots.delete(ctx.principal, ids.parse(p["SnapshotId"], Kind.SNAPSHOT),
                                  command="DeleteSnapshot", keep_template_sources=True)
    return {}


def _same_region(ctx: RequestContext, p: Params) -> None:
    """SourceRegion/DestinationRegion (botocore fills in the latter) must name this
    region. Another region (of this cloud, or named like an AWS region) is refused
    as unsupported; anything else is not a region at all."""
    for param in ("SourceRegion", "DestinationRegion"):
        region = p.get(param)
        if not region or region == ctx.region:
            continue
        if not _REGION.fullmatch(region) and not ctx.services.catalog.regions((region,)):
            raise Ec2Error("InvalidParameterValue", f"Invalid region: {region}")
        raise Ec2Error("UnsupportedOperation",
                       f"Copying snapshots between regions is not supported "
                       f"({param} {region}).")


@action("CopySnapshot")
def copy_snapshot(ctx: RequestContext, p: Params) -> Result:
    """A real copy of the snapshot's data, owned by the caller (pending -> completed)."""
    source = ids.parse(p["SourceSnapshotId"], Kind.SNAPSHOT)
    _same_region(ctx, p)
    if p.get("Encrypted") or p.get("KmsKeyId"):
        raise Ec2Error("UnsupportedOperation", "Encrypted snapshots are not supported.")
    tags = tag_specs(p, "snapshot")
    snap, _ = ctx.services.snapshots.copy(ctx.principal, source,
                                          description=p.get("Description"), tags=tags,
                                          command="CopySnapshot")
    return {"SnapshotId": ids.render(Kind.SNAPSHOT, snap.sid),
            "Tags": [{"Key": k, "Value": v} for k, v in tags] or None}


@action("CreateSnapshots")
def create_snapshots(ctx: RequestContext, p: Params) -> Result:
    """One snapshot per volume attached to the instance, in one transaction."""
    spec = p["InstanceSpecification"]
    if p.get("OutpostArn"):
        raise Ec2Error("UnsupportedOperation", "Outposts are not supported.")
    copy = p.get("CopyTagsFromSource")
    if copy not in (None, "volume"):
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({copy}) for parameter CopyTagsFromSource is invalid.")
    svc = ctx.services.snapshots
    made = svc.create_for_instance(
        ctx.principal, ids.parse(spec["InstanceId"], Kind.INSTANCE),
        description=p.get("Description") or "",
        exclude_root=bool(spec.get("ExcludeBootVolume")),
        exclude_volumes=[ids.parse(v, Kind.VOLUME) for v in spec.get("ExcludeDataVolumeIds") or ()],
        tags=tag_specs(p, "snapshot"), copy_volume_tags=copy == "volume",
        command="CreateSnapshots")
    return {"Snapshots": [views.snapshot_info(svc.get(ctx.principal, snap.uuid))
                          for snap, _ in made]}


# ------------------------------------------------------------------ attributes
_ATTRIBUTES = ("createVolumePermission", "productCodes")


def _attribute(name: str | None, known: tuple[str, ...] = _ATTRIBUTES) -> str:
    if name not in known:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({name}) for parameter attribute is invalid. "
                       f"Unknown attribute.")
    return name  # type: ignore[return-value]


def _owner_only(ctx: RequestContext, snapshot_id: str, call: Callable[[], T]) -> T:
    """Run ``call``; a snapshot shared with the caller but not its own is refused
    as AWS does (AuthFailure)."""
    try:
        return call()
    except PermissionDenied as exc:
        raise Ec2Error("AuthFailure", f"Not authorized for snapshot:{snapshot_id}") from exc


def _permissions(sharing: SnapshotSharing) -> list[dict[str, str]]:
    out: list[dict[str, str]] = [{"Group": "all"}] if sharing.snapshot.is_public else []
    return out + [{"UserId": a.number} for a in sharing.accounts]


@action("DescribeSnapshotAttribute", readonly=True)
def describe_snapshot_attribute(ctx: RequestContext, p: Params) -> Result:
    attr = _attribute(p.get("Attribute"))
    snapshot_id = p["SnapshotId"]
    sid = ids.parse(snapshot_id, Kind.SNAPSHOT)
    sharing = _owner_only(ctx, snapshot_id, lambda: ctx.services.snapshots.permissions.get(
        ctx.principal, sid))
    if attr == "productCodes":
        return {"SnapshotId": snapshot_id, "ProductCodes": []}
    return {"SnapshotId": snapshot_id, "CreateVolumePermissions": _permissions(sharing)}


_VOLUME_PERMISSION = Dialect(
    member="CreateVolumePermission", groups="GroupNames",
    bad_user=lambda user: Ec2Error("InvalidUserID.Malformed", f'Invalid user id: "{user}"'),
    nothing=lambda: Ec2Error("MissingParameter",
                             "The request must contain the parameter createVolumePermission"))


def _volume_permission_change(p: Params) -> SharingChange:
    """ModifySnapshotAttribute's change, in either form (awsapi.permissions)."""
    edit = permission_edit(p, _VOLUME_PERMISSION)
    return SharingChange(SharingOp.ADD if edit.add else SharingOp.REMOVE, edit.users,
                         is_public=edit.public)


@action("ModifySnapshotAttribute")
def modify_snapshot_attribute(ctx: RequestContext, p: Params) -> Result:
    attr = _attribute(p.get("Attribute") or "createVolumePermission")
    if attr != "createVolumePermission":
        raise Ec2Error("InvalidParameterValue",
                       "Value (productCodes) for parameter attribute is invalid. "
                       "Product codes cannot be changed.")
    snapshot_id = p["SnapshotId"]
    sid = ids.parse(snapshot_id, Kind.SNAPSHOT)
    change = _volume_permission_change(p)
    _owner_only(ctx, snapshot_id, lambda: ctx.services.snapshots.permissions.change(
        ctx.principal, sid, change))
    return {}


@action("ResetSnapshotAttribute")
def reset_snapshot_attribute(ctx: RequestContext, p: Params) -> Result:
    _attribute(p.get("Attribute"), ("createVolumePermission",))
    snapshot_id = p["SnapshotId"]
    sid = ids.parse(snapshot_id, Kind.SNAPSHOT)
    _owner_only(ctx, snapshot_id, lambda: ctx.services.snapshots.permissions.change(
        ctx.principal, sid, SharingChange(SharingOp.RESET)))
    return {}
