"""Instances: run, describe, start, stop, reboot, terminate."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from awsapi import ids, views, views_storage
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.images import paging
from awsapi.actions.instance_attributes import apply_launch_guest_settings, launch_guest_settings
from awsapi.actions.metadata_options import options_view
from awsapi.actions.networking_vpcs import launch_network_options
from awsapi.actions.placement_groups import placement_group_uuids
from awsapi.actions.volumes import _check_size, _performance, _wanted
from awsapi.devices import ROOT_DEVICES, device_slot
from awsapi.errors_wire import Ec2Error
from awsapi.filters import INSTANCE_FILTERS, criteria
from awsapi.ids import Kind
from engine.errors import (
    ConflictingParameters,
    IncorrectState,
    InvalidParameter,
    NotFound,
    ResourceKind,
)
from engine.querying import Criterion
from engine.services.instance_details import InstanceDetail, InstanceQuery
from engine.services.instance_metadata import AccessOptions
from engine.services.instance_summary import InstanceSummary
from engine.services.instances import LaunchRequest
from engine.services.volumes_launch import DataVolumeSpec
from engine.states import VmState

# QUIRK(ec2): AWS's documented default type is m1.small, which has no offering here.
DEFAULT_INSTANCE_TYPE = "t2.micro"


def _tag_spec(p: Params, resource_type: str) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for spec in p.get("TagSpecifications") or ():
        kind = spec.get("ResourceType")
        if kind not in ("instance", "volume", "network-interface", "spot-instances-request"):
            raise Ec2Error("InvalidParameterValue",
                           f"'{kind}' is not a valid taggable resource type for this operation.")
        if kind == resource_type:
            out.extend((t.get("Key", ""), t.get("Value", "")) for t in spec.get("Tags") or ())
    return tuple(out)


def _bad_mapping(text: str) -> Ec2Error:
    return Ec2Error("InvalidBlockDeviceMapping", text)


_EPHEMERAL = re.compile(r"ephemeral\d+")


@dataclass(frozen=True)
class _Root:
    """What ``BlockDeviceMappings`` ask of the root volume (None: the defaults)."""

    size_gib: int | None = None
    volume_type: str | None = None
    delete_on_termination: bool = True


def _block_devices(p: Params, root_device: str) -> tuple[_Root, tuple[DataVolumeSpec, ...]]:
    """The root volume's size (GiB, None: the image's), type and
    DeleteOnTermination, and the data volumes that ``BlockDeviceMappings`` ask
    for. NoDevice and instance-store (ephemeralN) mappings are accepted and
    make nothing; Encrypted is ignored."""
    root = _Root()
    data: list[DataVolumeSpec] = []
    seen: set[str] = set()
    for bdm in p.get("BlockDeviceMappings") or ():
        name = bdm.get("DeviceName") or ""
        device = name if name.startswith("/dev/") else f"/dev/{name}"
        if device in seen:
            raise _bad_mapping(f"The device '{name}' is used in more than one "
                               "block-device mapping")
        seen.add(device)
        ebs = bdm.get("Ebs")
        virtual = bdm.get("VirtualName")
        if "NoDevice" in bdm or (virtual and ebs is None):
            if virtual and not _EPHEMERAL.fullmatch(virtual):
                raise _bad_mapping(f"Invalid virtual name {virtual}")
            continue
        if ebs is None:
            raise _bad_mapping(f"The block device mapping for '{name}' has no Ebs, "
                               "NoDevice or VirtualName")
        if device == root_device or device in ROOT_DEVICES:
            root = _root_volume(ebs)
            continue
        data.append(_data_volume(name, device, ebs))
    return root, tuple(data)


def _root_volume(ebs: Params) -> _Root:
    volume_type = ebs.get("VolumeType")
    if volume_type is not None and volume_type not in views_storage.SIZE_RANGE:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({volume_type}) for parameter volumeType is invalid.")
    size = int(ebs["VolumeSize"]) if ebs.get("VolumeSize") else None
    if volume_type is not None:
        _check_size(volume_type, size)
    return _Root(size, volume_type, ebs.get("DeleteOnTermination", True) is not False)


def _data_volume(name: str, device: str, ebs: Params) -> DataVolumeSpec:
    slot = device_slot(device)
    if not slot:
        raise _bad_mapping(f"Invalid device name {name}")
    volume_type = ebs.get("VolumeType") or views_storage.DEFAULT_VOLUME_TYPE
    if volume_type not in views_storage.SIZE_RANGE:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({volume_type}) for parameter volumeType is invalid.")
    size, snapshot = ebs.get("VolumeSize"), ebs.get("SnapshotId")
    if size is None and not snapshot:
        raise _bad_mapping(f"The block device mapping for '{name}' needs a volume size "
                           "or a snapshot id")
    _check_size(volume_type, size)
    wanted = _wanted(volume_type, ebs)
    performance = _performance(volume_type, size, wanted.iops, wanted.throughput, ebs)
    return DataVolumeSpec(
        device_id=slot, size_gib=size,
        snapshot_uuid=ids.parse(snapshot, Kind.SNAPSHOT) if snapshot else None,
        volume_type=volume_type, iops=performance.iops, throughput=performance.throughput,
        delete_on_termination=ebs.get("DeleteOnTermination", True) is not False)


@action("RunInstances")
def run_instances(ctx: RequestContext, p: Params) -> Result:
    svc = ctx.services
    if not p.get("ImageId"):
        # QUIRK(ec2): ImageId is optional in the model (launch templates); without one
        # AWS answers MissingParameter.
        raise Ec2Error("MissingParameter", "The request must contain the parameter ImageId")
    template = svc.catalog.template_record(ctx.principal, sid=ids.parse(p["ImageId"], Kind.IMAGE))
    offering = svc.catalog.offering_record(name=p.get("InstanceType") or DEFAULT_INSTANCE_TYPE)
    zone_name = (p.get("Placement") or {}).get("AvailabilityZone")
    zone_uuid = svc.catalog.zone(name=zone_name).uuid if zone_name else None
    groups = svc.security_groups.resolve(
        ctx.principal,
        sids=[ids.parse(g, Kind.SECURITY_GROUP) for g in p.get("SecurityGroupIds") or ()],
        names=list(p.get("SecurityGroups") or ()))
    subnet, public_ip = launch_network_options(p)
    root, data_volumes = _block_devices(p, template.root_device_name)
    guest = launch_guest_settings(p, template.root_device_name, offering.memory_mib)
    request = LaunchRequest(
        template_uuid=template.uuid,
        offering_uuid=offering.uuid,
        zone_uuid=zone_uuid,
        min_count=p["MinCount"],
        max_count=p["MaxCount"],
        key_name=p.get("KeyName"),
        user_data_b64=p.get("UserData"),
        security_group_uuids=tuple(groups),
        network_uuid=ids.parse(subnet, Kind.SUBNET) if subnet else None,
        private_ip=p.get("PrivateIpAddress"),
        client_token=p.get("ClientToken"),
        disable_api_termination=bool(p.get("DisableApiTermination")),
        root_size_gib=root.size_gib,
        root_volume_type=root.volume_type,
        root_delete_on_termination=root.delete_on_termination,
        data_volumes=data_volumes,
        tags=_tag_spec(p, "instance"),
        volume_tags=_tag_spec(p, "volume"),
        nic_tags=_tag_spec(p, "network-interface"),
        command="RunInstances",
        affinity_group_uuids=placement_group_uuids(ctx, p.get("Placement") or {}),
        public_ip=public_ip,
    )
    try:
        launch = svc.instances.launch(ctx.principal, request, template=template,
                                      offering=offering)
    except ConflictingParameters as exc:
        if exc.names == ("private_ip", "max_count"):
            raise Ec2Error("InvalidParameterCombination",
                           "A private address can be given for one instance only: "
                           "PrivateIpAddress cannot be used with a MaxCount above 1") from exc
        if exc.names != ("client_token",):
            raise
        raise Ec2Error("IdempotentParameterMismatch",
                       f"Arguments on this idempotent request are inconsistent with arguments "
                       f"used in previous request(s) with client token "
                       f"'{p.get('ClientToken')}'.") from exc
    except InvalidParameter as exc:
        if not exc.name.startswith("block_device."):
            raise
        raise _bad_mapping(exc.message) from exc
    apply_launch_guest_settings(ctx, [d.instance.uuid for d in launch.instances], guest)
    return views.reservation(launch.reservation_sid, ctx.principal.account_number,
                             launch.instances)


@action("DescribeInstances", readonly=True)
def describe_instances(ctx: RequestContext, p: Params) -> Result:
    instance_ids = p.get("InstanceIds") or []
    if instance_ids and p.get("MaxResults") is not None:
        raise Ec2Error("InvalidParameterCombination",
                       "The parameter instancesSet cannot be used with the parameter maxResults")
    crit = list(criteria(p.get("Filters"), INSTANCE_FILTERS))
    sids = [ids.parse(i, Kind.INSTANCE) for i in instance_ids]
    if sids:
        crit.append(Criterion("sid", tuple(sids), False))
    page = ctx.services.instances.list(ctx.principal, InstanceQuery(
        criteria=tuple(crit), paging=paging(p), include_expunged=True, summaries=True))
    if sids:
        _require_all(instance_ids, sids, {s.sid for s in page.items})
    return {"Reservations": _reservations(page.items), "NextToken": page.next_token}


def _reservations(items: Sequence[InstanceSummary]) -> list[dict[str, Any]]:
    """Instances grouped by reservation, in order of first appearance, each
    showing its stored metadata options (ModifyInstanceMetadataOptions)."""
    groups: dict[str, list[InstanceSummary]] = {}
    for s in items:
        groups.setdefault(s.reservation_sid, []).append(s)
    out = []
    default = options_view(AccessOptions())
    shown: dict[AccessOptions, dict[str, Any]] = {}  # equal options share one view
    for sid, members in groups.items():
        reservation = views.reservation(sid, members[0].account_number, members)
        for s, inst in zip(members, reservation["Instances"], strict=True):
            wanted = s.metadata_access
            if wanted is None:
                inst["MetadataOptions"] = default
                continue
            view = shown.get(wanted)
            if view is None:
                view = shown[wanted] = options_view(wanted)
            inst["MetadataOptions"] = view
        out.append(reservation)
    return out


def _require_all(wire_ids: Sequence[str], sids: Sequence[str], have: set[str]) -> None:
    """Raise the not-found error naming the ids whose sids are not in ``have``."""
    missing = [w for w, s in zip(wire_ids, sids, strict=True) if s not in have]
    if missing:
        noun = "ID" if len(missing) == 1 else "IDs"
        raise Ec2Error(Kind.INSTANCE.not_found_code,
                       f"The instance {noun} '{', '.join(missing)}' do"
                       f"{'es' if len(missing) == 1 else ''} not exist")


def _resolve(ctx: RequestContext, instance_ids: Sequence[str]) -> list[InstanceDetail]:
    sids = [ids.parse(i, Kind.INSTANCE) for i in instance_ids]
    page = ctx.services.instances.list(ctx.principal, InstanceQuery(
        criteria=(Criterion("sid", tuple(sids), False),), include_expunged=True))
    _require_all(instance_ids, sids, {d.instance.sid for d in page.items})
    by_sid = {d.instance.sid: d for d in page.items}
    return [by_sid[s] for s in sids]


# What each operation does to an instance, as its IncorrectInstanceState text says.
_DONE: Final = {"start": "started", "stop": "stopped", "reboot": "rebooted",
                "terminate": "terminated"}
# Terminated (or being terminated): still listed, but it can no longer be
# started, stopped or rebooted.
_ENDED: Final = frozenset({VmState.EXPUNGING, VmState.EXPUNGED, VmState.DESTROYED,
                           VmState.ERROR})


def _incorrect_state(d: InstanceDetail, op: str) -> Ec2Error:
    return Ec2Error("IncorrectInstanceState",
                    f"The instance '{ids.render(Kind.INSTANCE, d.instance.sid)}' is not in a "
                    f"state from which it can be {_DONE[op]}.")


def _transition(ctx: RequestContext, p: Params, op: str) -> list[dict[str, Any]]:
    details = _resolve(ctx, p["InstanceIds"])
    if op != "terminate":
        for d in details:
            if d.instance.state in _ENDED:
                raise _incorrect_state(d, op)
    out = []
    svc = ctx.services.instances
    for d in details:
        previous = d.instance.state
        uuid = d.instance.uuid
        try:
            if op == "start":
                inst, _ = svc.start(ctx.principal, uuid, command="StartInstances")
            elif op == "stop":
                inst, _ = svc.stop(ctx.principal, uuid, force=bool(p.get("Force")),
                                   command="StopInstances")
            else:
                inst, _ = svc.destroy(ctx.principal, uuid, expunge=True,
                                      command="TerminateInstances", honour_protection=True)
        except NotFound as exc:
            raise NotFound(ResourceKind.INSTANCE, d.instance.sid) from exc
        except IncorrectState as exc:
            if exc.kind is not ResourceKind.INSTANCE:
                raise
            raise _incorrect_state(d, op) from exc
        out.append({"InstanceId": ids.render(Kind.INSTANCE, d.instance.sid),
                    "PreviousState": views.state(previous),
                    "CurrentState": views.state(inst.state)})
    return out


@action("StartInstances")
def start_instances(ctx: RequestContext, p: Params) -> Result:
    return {"StartingInstances": _transition(ctx, p, "start")}


@action("StopInstances")
def stop_instances(ctx: RequestContext, p: Params) -> Result:
    if p.get("Hibernate"):
        # Only instances launched with hibernation configured hibernate (a stop here).
        first = next((d for d in _resolve(ctx, p["InstanceIds"])
                      if not d.instance.hibernation_enabled), None)
        if first is not None:
            raise Ec2Error("UnsupportedHibernationConfiguration",
                           "The instance can't be hibernated because it was not configured at "
                           f"launch for hibernation: "
                           f"{ids.render(Kind.INSTANCE, first.instance.sid)}")
    return {"StoppingInstances": _transition(ctx, p, "stop")}


@action("TerminateInstances")
def terminate_instances(ctx: RequestContext, p: Params) -> Result:
    return {"TerminatingInstances": _transition(ctx, p, "terminate")}


@action("RebootInstances")
def reboot_instances(ctx: RequestContext, p: Params) -> Result:
    details = _resolve(ctx, p["InstanceIds"])
    for d in details:
        if d.instance.state in _ENDED:
            raise _incorrect_state(d, "reboot")
    for d in details:
        try:
            ctx.services.instances.reboot(ctx.principal, d.instance.uuid,
                                          command="RebootInstances")
        except NotFound as exc:
            raise NotFound(ResourceKind.INSTANCE, d.instance.sid) from exc
        except IncorrectState as exc:
            if exc.kind is not ResourceKind.INSTANCE:
                raise
            raise _incorrect_state(d, "reboot") from exc
    return {}
