"""EBS volumes: create, describe, attach, detach, modify, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from awsapi import ids
from awsapi import views_storage as views
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.devices import device_slot
from awsapi.errors_wire import Ec2Error
from awsapi.filters import (
    VOLUME_FILTERS,
    VOLUME_MODIFICATION_FILTERS,
    VOLUME_STATUS_FILTERS,
    FilterSpec,
    criteria,
)
from awsapi.ids import Kind
from awsapi.views import zone_id
from engine.errors import ConflictingParameters, IncorrectState, InvalidParameter, ResourceKind
from engine.querying import Criterion, Paging
from engine.services.volumes import Performance, VolumeRequest

if TYPE_CHECKING:
    from engine.services.volumes import VolumeDetail


# ------------------------------------------------------------------ helpers
def paging(p: Params, *, minimum: int = 5, maximum: int = 500) -> Paging:
    """MaxResults/NextToken; below ``minimum`` is refused, above ``maximum`` clamped
    (AWS's documented behaviour for the volume and snapshot listings)."""
    limit = p.get("MaxResults")
    if limit is not None and limit < minimum:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ( {limit} ) for parameter maxResults is invalid. "
                       f"Expecting a value greater than {minimum - 1}.")
    return Paging(limit=None if limit is None else min(limit, maximum),
                  token=p.get("NextToken"))


def tag_specs(p: Params, resource_type: str) -> tuple[tuple[str, str], ...]:
    """Tags of ``TagSpecifications`` for ``resource_type`` (the only type allowed)."""
    out: list[tuple[str, str]] = []
    for spec in p.get("TagSpecifications") or ():
        kind = spec.get("ResourceType")
        if kind != resource_type:
            raise Ec2Error("InvalidParameterValue",
                           f"'{kind}' is not a valid taggable resource type for this operation.")
        out.extend((t.get("Key", ""), t.get("Value", "")) for t in spec.get("Tags") or ())
    return tuple(out)


def require_found(wire_ids: Sequence[str], sids: Sequence[str], found: set[str], kind: Kind,
                  noun: str) -> None:
    """EC2's NotFound error naming every id of ``wire_ids`` missing from ``found``
    (AWS ends the volume and snapshot messages with a period, the others not)."""
    missing = [w for w, s in zip(wire_ids, sids, strict=True) if s not in found]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        verb = "do not" if len(missing) > 1 else "does not"
        stop = "." if kind in (Kind.VOLUME, Kind.SNAPSHOT) else ""
        raise Ec2Error(kind.not_found_code,
                       f"The {noun}{plural} '{', '.join(missing)}' {verb} exist{stop}")


# AWS's provisioned IOPS per type: (minimum, maximum, maximum IOPS per GiB).
_IOPS_RULES = {"gp3": (3000, 16000, 500), "io1": (100, 64000, 50), "io2": (100, 256000, 1000)}
_THROUGHPUT_RANGE = (125, 1000)  # gp3, MiB/s
_THROUGHPUT_PER_IOPS = 0.25
_GP3_DEFAULTS = Performance(iops=3000, throughput=125)


def _check_size(volume_type: str, size_gib: int | None) -> None:
    low, high = views.SIZE_RANGE[volume_type]
    if size_gib is not None and not low <= size_gib <= high:
        raise Ec2Error("InvalidParameterValue",
                       f"Volume of {size_gib}GiB is too {'small' if size_gib < low else 'large'}"
                       f" for {volume_type}; minimum is {low}GiB, maximum is {high}GiB.")


def _performance(volume_type: str, size_gib: int | None, iops: int | None,
                 throughput: int | None, p: Params) -> Performance:
    """AWS's IOPS and throughput rules for a type; the values to record.

    ``iops``/``throughput`` are the wanted values (given or defaulted); ``p``
    tells which were given, for the errors AWS gives about parameters that the
    type does not take."""
    if p.get("Iops") is not None and volume_type not in _IOPS_RULES:
        raise Ec2Error("InvalidParameterCombination",
                       f"The parameter iops is not supported for {volume_type} volumes.")
    if p.get("Throughput") is not None and volume_type != "gp3":
        raise Ec2Error("InvalidParameterCombination",
                       f"The parameter throughput is not supported for {volume_type} volumes.")
    if volume_type not in _IOPS_RULES:
        return Performance()
    low, high, per_gib = _IOPS_RULES[volume_type]
    if iops is None:
        raise Ec2Error("MissingParameter", "The request must contain the parameter iops")
    if not low <= iops <= high:
        raise Ec2Error("InvalidParameterValue",
                       f"Volume iops of {iops} is too {'low' if iops < low else 'high'}; "
                       f"minimum is {low}, maximum is {high}.")
    if size_gib and iops > per_gib * size_gib and not (volume_type == "gp3" and iops == low):
        raise Ec2Error("InvalidParameterValue",
                       f"Iops to volume size ratio of {iops / size_gib:f} is too high; "
                       f"maximum is {per_gib:f}.")
    if volume_type != "gp3":
        return Performance(iops=iops)
    assert throughput is not None
    t_low, t_high = _THROUGHPUT_RANGE
    if not t_low <= throughput <= t_high:
        raise Ec2Error("InvalidParameterValue",
                       f"Volume throughput of {throughput} is too "
                       f"{'low' if throughput < t_low else 'high'}; minimum is {t_low}, "
                       f"maximum is {t_high}.")
    if throughput > _THROUGHPUT_PER_IOPS * iops:
        raise Ec2Error("InvalidParameterValue",
                       f"Throughput (MiBps) to iops ratio of {throughput / iops:f} is too high; "
                       f"maximum is {_THROUGHPUT_PER_IOPS:f} MiBps per iops.")
    return Performance(iops=iops, throughput=throughput)


def _wanted(volume_type: str, p: Params, current: VolumeDetail | None = None) -> Performance:
    """The IOPS/throughput a create or modify asks for: the given values, else
    the volume's own while its type stays, else the type's defaults (AWS: 3000
    IOPS for gp3/io1/io2 targets, 125 MiB/s for gp3)."""
    same = current is not None and current.volume.volume_type == volume_type
    iops = p.get("Iops")
    if iops is None and same and current is not None:
        iops = current.volume.iops
    if iops is None and volume_type in _IOPS_RULES and (volume_type == "gp3" or current):
        iops = _GP3_DEFAULTS.iops
    throughput = p.get("Throughput")
    if throughput is None and same and current is not None:
        throughput = current.volume.throughput
    if throughput is None and volume_type == "gp3":
        throughput = _GP3_DEFAULTS.throughput
    return Performance(iops=iops, throughput=throughput)


def _unsupported_options(p: Params) -> None:
    if p.get("Encrypted") or p.get("KmsKeyId"):
        raise Ec2Error("UnsupportedOperation", "Encrypted volumes are not supported.")
    if p.get("MultiAttachEnabled"):
        raise Ec2Error("UnsupportedOperation", "Multi-Attach is not supported.")


def _zone_name(ctx: RequestContext, p: Params) -> str:
    name = p.get("AvailabilityZone")
    if name:
        return str(name)
    wanted = p.get("AvailabilityZoneId")
    if not wanted:
        raise Ec2Error("MissingParameter",
                       "The request must contain the parameter AvailabilityZone")
    for zone, region in ctx.services.catalog.zones():
        if zone_id(zone, region) == wanted:
            return zone.name
    raise Ec2Error("InvalidParameterValue", f"Invalid availability zone id: [{wanted}]")


def _listing(ctx: RequestContext, p: Params,
             table: Mapping[str, FilterSpec]) -> tuple[list[VolumeDetail], str | None]:
    """Volumes named by ``VolumeIds`` and ``Filters``; every named id must exist."""
    wire_ids = p.get("VolumeIds") or []
    sids = [ids.parse(v, Kind.VOLUME) for v in wire_ids]
    crit = list(criteria(p.get("Filters"), table))
    if sids:
        crit.append(Criterion("sid", tuple(sids), False))
    page = ctx.services.volumes.list(ctx.principal, tuple(crit), paging(p), count=False)
    found = {d.volume.sid for d in page.items}
    if sids and not p.get("Filters") and not set(sids) <= found:
        # Ids on other pages are not missing: look the rest up before complaining.
        rest = tuple(s for s in sids if s not in found)
        found |= {d.volume.sid for d in ctx.services.volumes.list(
            ctx.principal, (Criterion("sid", rest, False),), count=False).items}
        require_found(wire_ids, sids, found, Kind.VOLUME, "volume")
    return page.items, page.next_token


# ------------------------------------------------------------------ actions
@action("CreateVolume")
def create_volume(ctx: RequestContext, p: Params) -> Result:
    _unsupported_options(p)
    volume_type = p.get("VolumeType") or views.DEFAULT_VOLUME_TYPE
    snapshot = p.get("SnapshotId")
    if p.get("Size") is None and not snapshot:
        raise Ec2Error("MissingParameter", "The request must contain the parameter size "
                       "or snapshotId")
    _check_size(volume_type, p.get("Size"))
    wanted = _wanted(volume_type, p)
    performance = _performance(volume_type, p.get("Size"), wanted.iops, wanted.throughput, p)
    zone = ctx.services.catalog.zone(name=_zone_name(ctx, p))
    token = p.get("ClientToken")
    if token is not None and len(token) > 64:
        raise Ec2Error("InvalidParameterValue",
                       "Value for parameter clientToken is invalid: "
                       "it is longer than 64 characters.")
    try:
        v, _ = ctx.services.volumes.create(ctx.principal, VolumeRequest(
            zone_uuid=zone.uuid, size_gib=p.get("Size"),
            snapshot_uuid=ids.parse(snapshot, Kind.SNAPSHOT) if snapshot else None,
            volume_type=volume_type, tags=tag_specs(p, "volume"), performance=performance,
            client_token=token or None), command="CreateVolume")
    except ConflictingParameters as exc:
        if exc.names != ("client_token",):
            raise
        raise Ec2Error("IdempotentParameterMismatch",
                       "Arguments on this idempotent request are inconsistent with arguments "
                       f"used in previous request(s) with client token '{token}'.") from exc
    out = views.volume(ctx.services.volumes.get(ctx.principal, v.uuid))
    out.pop("Attachments")
    return out


@action("DescribeVolumes", readonly=True)
def describe_volumes(ctx: RequestContext, p: Params) -> Result:
    if p.get("VolumeIds") and p.get("MaxResults") is not None:
        raise Ec2Error("InvalidParameterCombination",
                       "The parameter volumeSet cannot be used with the parameter maxResults")
    items, token = _listing(ctx, p, VOLUME_FILTERS)
    return {"Volumes": [views.volume(d) for d in items], "NextToken": token}


@action("DeleteVolume")
def delete_volume(ctx: RequestContext, p: Params) -> Result:
    ctx.services.volumes.delete(ctx.principal, ids.parse(p["VolumeId"], Kind.VOLUME),
                                command="DeleteVolume")
    return {}


@action("AttachVolume")
def attach_volume(ctx: RequestContext, p: Params) -> Result:
    device = p["Device"]
    volume_sid = ids.parse(p["VolumeId"], Kind.VOLUME)
    instance_sid = ids.parse(p["InstanceId"], Kind.INSTANCE)
    if device_slot(device) == 0:  # a root device name: every instance's root is there
        ctx.services.instances.get(ctx.principal, sid=instance_sid)  # NotFound first
        ctx.services.volumes.get(ctx.principal, volume_sid)
        raise Ec2Error("InvalidParameterValue", f"Attachment point {device} is already in use")
    slot = views.require_device_slot(device)
    try:
        ctx.services.volumes.attach(ctx.principal, volume_sid, instance_sid, slot,
                                    command="AttachVolume")
    except IncorrectState as exc:
        if exc.kind is not ResourceKind.INSTANCE:
            raise
        # QUIRK(ec2): AttachVolume answers IncorrectState (not IncorrectInstanceState)
        # for an instance that is neither running nor stopped.
        raise Ec2Error("IncorrectState",
                       f"Instance '{p['InstanceId']}' is not 'running' or 'stopped'.") from exc
    except InvalidParameter as exc:
        if exc.name != "device_id":
            raise
        raise Ec2Error("InvalidParameterValue",
                       f"Attachment point {device} is already in use") from exc
    return {"VolumeId": p["VolumeId"], "InstanceId": p["InstanceId"], "Device": device,
            "State": "attaching", "AttachTime": datetime.now(UTC)}


@action("DetachVolume")
def detach_volume(ctx: RequestContext, p: Params) -> Result:
    sid = ids.parse(p["VolumeId"], Kind.VOLUME)
    instance = p.get("InstanceId")
    detail = ctx.services.volumes.get(ctx.principal, sid)
    if detail.instance is None:
        raise Ec2Error("IncorrectState",
                       f"Volume '{p['VolumeId']}' is in the '{views.volume_state(detail)}' "
                       "state.")
    if p.get("Device") and views.device_slot(p["Device"]) != detail.volume.device_id:
        raise Ec2Error("InvalidAttachment.NotFound",
                       f"The volume '{p['VolumeId']}' is not attached at {p['Device']}.")
    out = views.attachment(detail, state="detaching")
    try:
        ctx.services.volumes.detach(
            ctx.principal, sid, force=bool(p.get("Force")), command="DetachVolume",
            instance_uuid=ids.parse(instance, Kind.INSTANCE) if instance else None)
    except InvalidParameter as exc:
        if exc.name != "instance":
            raise
        raise Ec2Error("InvalidAttachment.NotFound",
                       f"The volume '{p['VolumeId']}' is not attached to "
                       f"instance '{instance}'.") from exc
    return out


@action("ModifyVolume")
def modify_volume(ctx: RequestContext, p: Params) -> Result:
    sid = ids.parse(p["VolumeId"], Kind.VOLUME)
    _unsupported_options(p)
    if all(p.get(k) is None for k in ("Size", "VolumeType", "Iops", "Throughput")):
        raise Ec2Error("MissingParameter", "The request must contain at least one of the "
                       "parameters size, volumeType, iops or throughput")
    current = ctx.services.volumes.get(ctx.principal, sid)
    volume_type = p.get("VolumeType") or current.volume.volume_type
    size = p.get("Size")
    if size is not None and size < current.size_gib:
        raise Ec2Error("InvalidParameterValue",
                       f"New size cannot be smaller than existing size ({current.size_gib}).")
    target_size = size if size is not None else current.size_gib
    _check_size(volume_type, target_size)
    wanted = _wanted(volume_type, p, current)
    performance = _performance(volume_type, target_size, wanted.iops, wanted.throughput, p)
    grows = size is not None and size != current.size_gib
    v = current.volume
    now = Performance(views.iops(v.volume_type, current.size_gib, v.iops)
                      if v.volume_type in _IOPS_RULES else None,
                      views.throughput(v.volume_type, v.throughput))
    if not grows and volume_type == v.volume_type and performance == now:
        raise Ec2Error("InvalidParameterValue",
                       "New size, volume type, IOPS or throughput must differ from the "
                       "current ones.")
    change, _ = ctx.services.volumes.modify(
        ctx.principal, sid, size_gib=size if grows else None, volume_type=volume_type,
        performance=performance, command="ModifyVolume")
    return {"VolumeModification": views.modification(change)}


@action("DescribeVolumesModifications", readonly=True)
def describe_volumes_modifications(ctx: RequestContext, p: Params) -> Result:
    wire_ids = p.get("VolumeIds") or []
    sids = [ids.parse(v, Kind.VOLUME) for v in wire_ids]
    crit = list(criteria(p.get("Filters"), VOLUME_MODIFICATION_FILTERS))
    if sids:
        crit.append(Criterion("volume_sid", tuple(sids), False))
    page = ctx.services.volumes.modifications(ctx.principal, tuple(crit), paging(p))
    if sids and not p.get("Filters"):
        found = {m.volume_sid for m in page.items}
        if set(sids) - found and not p.get("NextToken"):
            volumes = ctx.services.volumes.list(
                ctx.principal, (Criterion("sid", tuple(sids), False),), count=False)
            require_found(wire_ids, sids, {d.volume.sid for d in volumes.items},
                          Kind.VOLUME, "volume")
            missing = next(w for w, s in zip(wire_ids, sids, strict=True) if s not in found)
            raise Ec2Error("InvalidVolumeModification.NotFound",
                           f"Modification for volume '{missing}' does not exist.")
    return {"VolumesModifications": [views.modification(m) for m in page.items],
            "NextToken": page.next_token}


@action("DescribeVolumeStatus", readonly=True)
def describe_volume_status(ctx: RequestContext, p: Params) -> Result:
    items, token = _listing(ctx, p, VOLUME_STATUS_FILTERS)
    return {"VolumeStatuses": [views.volume_status(d) for d in items], "NextToken": token}


@action("DescribeVolumeAttribute", readonly=True)
def describe_volume_attribute(ctx: RequestContext, p: Params) -> Result:
    detail = ctx.services.volumes.get(ctx.principal, ids.parse(p["VolumeId"], Kind.VOLUME))
    out: Result = {"VolumeId": ids.render(Kind.VOLUME, detail.volume.sid)}
    if p["Attribute"] == "autoEnableIO":
        out["AutoEnableIO"] = {"Value": False}
    else:
        out["ProductCodes"] = []
    return out
