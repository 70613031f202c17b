"""Instances: run, describe, start, stop, reboot, terminate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from awsapi import ids, views
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.images import paging
from awsapi.actions.metadata_options import options_view
from awsapi.actions.networking_vpcs import launch_network_options
from awsapi.actions.placement_groups import placement_group_uuids
from awsapi.errors_wire import Ec2Error
from awsapi.filters import INSTANCE_FILTERS, criteria
from awsapi.ids import Kind
from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from engine.services.instance_details import InstanceDetail, InstanceQuery
from engine.services.instance_metadata import for_unit
from engine.services.instances import LaunchRequest

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


def _root_size(p: Params, root_device: str) -> int | None:
    for bdm in p.get("BlockDeviceMappings") or ():
        ebs = bdm.get("Ebs") or {}
        if bdm.get("DeviceName") in (root_device, "/dev/sda1", "/dev/xvda") and ebs.get("VolumeSize"):
            return int(ebs["VolumeSize"])
    return None


@action("RunInstances")
def run_instances(ctx: RequestContext, p: Params) -> Result:
    svc = ctx.services
    if not p.get("ImageId"):
        # QUIRK(ec2): ImageId is optional in the model (launch templates); without one
        # AWS answers MissingParameter.
        raise Ec2Error("MissingParameter", "The request must contain the parameter ImageId")
    template = svc.catalog.template_row(ctx.principal, sid=ids.parse(p["ImageId"], Kind.IMAGE))
    offering = svc.catalog.service_offering(name=p.get("InstanceType") or DEFAULT_INSTANCE_TYPE)
    zone_name = (p.get("Placement") or {}).get("AvailabilityZone")
    zone_uuid = svc.catalog.zone(name=zone_name).uuid if zone_name else None
    groups = svc.security_groups.resolve(
        ctx.principal,
        sids=[ids.parse(g, Kind.SECURITY_GROUP) for g in p.get("SecurityGroupIds") or ()],
        names=list(p.get("SecurityGroups") or ()))
    subnet, public_ip = launch_network_options(p)
    launch = svc.instances.launch(ctx.principal, LaunchRequest(
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
        root_size_gib=_root_size(p, template.root_device_name),
        tags=_tag_spec(p, "instance"),
        volume_tags=_tag_spec(p, "volume"),
        command="RunInstances",
        affinity_group_uuids=placement_group_uuids(ctx, p.get("Placement") or {}),
        public_ip=public_ip,
    ))
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
        criteria=tuple(crit), paging=paging(p), include_expunged=True))
    if sids:
        _require_all(instance_ids, sids, page.items)
    reservations = _reservations(page.items)
    _show_metadata_options(ctx, page.items, reservations)
    return {"Reservations": reservations, "NextToken": page.next_token}


def _show_metadata_options(ctx: RequestContext, items: Sequence[InstanceDetail],
                           reservations: list[dict[str, Any]]) -> None:
    """Each instance's stored metadata options (ModifyInstanceMetadataOptions)."""
    options = for_unit(ctx.services).access([d.instance.uuid for d in items])
    by_id = {ids.render(Kind.INSTANCE, d.instance.sid): options[d.instance.uuid] for d in items}
    for reservation in reservations:
        for inst in reservation["Instances"]:
            inst["MetadataOptions"] = options_view(by_id[inst["InstanceId"]])


def _reservations(items: Sequence[InstanceDetail]) -> list[dict[str, Any]]:
    groups: dict[str, list[InstanceDetail]] = {}
    for d in items:
        groups.setdefault(d.instance.reservation_sid, []).append(d)
    return [views.reservation(sid, members[0].account.number, members)
            for sid, members in groups.items()]


def _require_all(wire_ids: Sequence[str], sids: Sequence[str],
                 found: Sequence[InstanceDetail]) -> None:
    have = {d.instance.sid for d in found}
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
    _require_all(instance_ids, sids, page.items)
    by_sid = {d.instance.sid: d for d in page.items}
    return [by_sid[s] for s in sids]


def _transition(ctx: RequestContext, p: Params, op: str) -> list[dict[str, Any]]:
    details = _resolve(ctx, p["InstanceIds"])
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
        out.append({"InstanceId": ids.render(Kind.INSTANCE, d.instance.sid),
                    "PreviousState": views.state(previous),
                    "CurrentState": views.state(inst.state)})
    return out


@action("StartInstances")
def start_instances(ctx: RequestContext, p: Params) -> Result:
    return {"StartingInstances": _transition(ctx, p, "start")}


@action("StopInstances")
def stop_instances(ctx: RequestContext, p: Params) -> Result:
    return {"StoppingInstances": _transition(ctx, p, "stop")}


@action("TerminateInstances")
def terminate_instances(ctx: RequestContext, p: Params) -> Result:
    return {"TerminatingInstances": _transition(ctx, p, "terminate")}


@action("RebootInstances")
def reboot_instances(ctx: RequestContext, p: Params) -> Result:
    for d in _resolve(ctx, p["InstanceIds"]):
        ctx.services.instances.reboot(ctx.principal, d.instance.uuid, command="RebootInstances")
    return {}
