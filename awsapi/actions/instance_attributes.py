"""Instance details: status checks, attributes, console output."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Final

from awsapi import ids, views_catalog
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.images import paging
from awsapi.devices import ROOT_DEVICES
from awsapi.errors_wire import Ec2Error
from awsapi.filters import INSTANCE_STATUS_FILTERS, criteria
from awsapi.ids import Kind
from awsapi.views import STATE_BY_NAME
from engine.errors import IncorrectState, NotFound, ResourceKind
from engine.querying import Criterion
from engine.services.instance_details import InstanceDetail, InstanceQuery
from engine.services.instances import InstanceChange
from engine.services.vm_extras import VmExtrasService


# ------------------------------------------------------------------- status
@action("DescribeInstanceStatus", readonly=True)
def describe_instance_status(ctx: RequestContext, p: Params) -> Result:
    instance_ids = list(p.get("InstanceIds") or ())
    if instance_ids and p.get("MaxResults") is not None:
        raise Ec2Error("InvalidParameterCombination",
                       "The parameter instancesSet cannot be used with the parameter maxResults")
    include_all = bool(p.get("IncludeAllInstances"))
    crit = list(criteria(p.get("Filters"), INSTANCE_STATUS_FILTERS))
    if not include_all:
        crit.append(Criterion("state", STATE_BY_NAME["running"], False))
    sids = tuple(ids.parse(i, Kind.INSTANCE) for i in instance_ids)
    if sids:
        crit.append(Criterion("sid", sids, False))
    svc = ctx.services.instances
    page = svc.list(ctx.principal, InstanceQuery(
        criteria=tuple(crit), paging=paging(p, minimum=5, maximum=1000),
        include_expunged=include_all))
    if sids and not set(sids) <= {d.instance.sid for d in page.items}:
        # Some were filtered out or do not exist; only the latter is an error.
        known = svc.list(ctx.principal, InstanceQuery(
            criteria=(Criterion("sid", sids, False),), include_expunged=True))
        _require_all(instance_ids, sids, known.items)
    return {"InstanceStatuses": [views_catalog.instance_status(d) for d in page.items],
            "NextToken": page.next_token}


def _require_all(wire_ids: Sequence[str], sids: Sequence[str],
                 found: Sequence[InstanceDetail]) -> None:
    have = {d.instance.sid for d in found}
    missing = [w for w, s in zip(wire_ids, sids, strict=True) if s not in have]
    if missing:
        noun = "ID" if len(missing) == 1 else "IDs"
        verb = "does" if len(missing) == 1 else "do"
        raise Ec2Error(Kind.INSTANCE.not_found_code,
                       f"The instance {noun} '{', '.join(missing)}' {verb} not exist")


# --------------------------------------------------------------- attributes
def _instance(ctx: RequestContext, p: Params) -> InstanceDetail:
    return ctx.services.instances.get(ctx.principal, sid=ids.parse(p["InstanceId"], Kind.INSTANCE))


@action("DescribeInstanceAttribute", readonly=True)
def describe_instance_attribute(ctx: RequestContext, p: Params) -> Result:
    attribute = p.get("Attribute") or ""
    if attribute not in views_catalog.ATTRIBUTE_MEMBER:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({attribute}) for parameter attribute is invalid. "
                       "Unknown attribute.")
    return views_catalog.instance_attribute(_instance(ctx, p), attribute)


# Members of ModifyInstanceAttribute that change something, and the Attribute
# names that may instead carry the new value in Value.
MODIFIABLE: Final[dict[str, str]] = {
    "instanceType": "InstanceType", "userData": "UserData",
    "disableApiTermination": "DisableApiTermination", "groupSet": "Groups",
    "sourceDestCheck": "SourceDestCheck", "ebsOptimized": "EbsOptimized",
    "enaSupport": "EnaSupport", "disableApiStop": "DisableApiStop",
    "instanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior",
    "kernel": "Kernel", "ramdisk": "Ramdisk", "sriovNetSupport": "SriovNetSupport",
    "blockDeviceMapping": "BlockDeviceMappings",
}
_BOOLEAN = frozenset({"DisableApiTermination", "SourceDestCheck", "EbsOptimized", "EnaSupport",
                      "DisableApiStop"})
_NEEDS_STOPPED = frozenset({"InstanceType", "UserData"})


def _requested(p: Params) -> tuple[str, Any]:
    """The one (member, value) change the request asks for."""
    changes: dict[str, Any] = {}
    for member in MODIFIABLE.values():
        given = p.get(member)
        if given is None:
            continue
        if isinstance(given, dict):
            if given.get("Value") is None:
                raise Ec2Error("MissingParameter",
                               f"The request must contain the parameter {member}.Value")
            given = given["Value"]
        changes[member] = given
    attribute = p.get("Attribute")
    if attribute:
        named = MODIFIABLE.get(attribute)
        if named is None:
            raise Ec2Error("InvalidParameterValue",
                           f"Value ({attribute}) for parameter attribute is invalid. "
                           "This attribute cannot be modified.")
        member = named
        value: Any = p.get("Value")
        if value is None:
            raise Ec2Error("MissingParameter", "The request must contain the parameter value")
        if member in _BOOLEAN:
            if value.lower() not in ("true", "false"):
                raise Ec2Error("InvalidParameterValue",
                               f"Value ({value}) for parameter value is invalid.")
            value = value.lower() == "true"
        elif member == "Groups":
            value = [value]
        changes[member] = value
    if len(changes) > 1:
        raise Ec2Error("InvalidParameterCombination",
                       "Only one attribute can be modified at a time")
    if not changes:
        raise Ec2Error("MissingParameter", "The request must contain the parameter attribute")
    return next(iter(changes.items()))


def _change(ctx: RequestContext, member: str, value: Any) -> InstanceChange:
    """The engine change for one requested attribute (fixed ones must keep their value)."""
    if member == "InstanceType":
        try:
            offering = ctx.services.catalog.service_offering(name=str(value))
        except NotFound:
            raise Ec2Error("InvalidInstanceAttributeValue",
                           f"Value ({value}) for parameter instanceType is invalid.") from None
        return InstanceChange(offering_uuid=offering.uuid)
    if member == "UserData":
        # The parser decoded the blob; the string form (Attribute=userData) is base64 already.
        text = base64.b64encode(value).decode() if isinstance(value, bytes) else str(value)
        return InstanceChange(user_data_b64=text)
    if member == "DisableApiTermination":
        return InstanceChange(disable_api_termination=bool(value))
    if member == "Groups":
        sids = [ids.parse(g, Kind.SECURITY_GROUP) for g in value]
        return InstanceChange(security_group_uuids=tuple(
            ctx.services.security_groups.resolve(ctx.principal, sids=sids, names=[])))
    fixed = views_catalog.FIXED_ATTRIBUTES.get(member)
    if fixed is None or fixed != value:
        raise Ec2Error("UnsupportedOperation",
                       f"Changing {member} is not supported by this cloud.")
    return InstanceChange()  # no change, but the state is still checked


def shutdown_action(value: Any) -> str:
    """The engine's guest shutdown action for an InstanceInitiatedShutdownBehavior."""
    for action_name, behavior in views_catalog.SHUTDOWN_BEHAVIOR.items():
        if value == behavior:
            return action_name
    raise Ec2Error("InvalidInstanceAttributeValue",
                   f"Value ({value}) for parameter instanceInitiatedShutdownBehavior "
                   "is invalid.")


def _apply(ctx: RequestContext, detail: InstanceDetail, member: str, value: Any) -> None:
    """Make the one change: guest settings through the VM extras service,
    everything else through the instance service."""
    uuid = detail.instance.uuid
    if member == "SourceDestCheck":
        VmExtrasService(ctx.services.session).set_guest_settings(
            ctx.principal, uuid, source_dest_check=bool(value))
    elif member == "InstanceInitiatedShutdownBehavior":
        VmExtrasService(ctx.services.session).set_guest_settings(
            ctx.principal, uuid, shutdown_action=shutdown_action(value))
    else:
        ctx.services.instances.modify(ctx.principal, uuid, _change(ctx, member, value),
                                      command="ModifyInstanceAttribute")


@action("ModifyInstanceAttribute")
def modify_instance_attribute(ctx: RequestContext, p: Params) -> Result:
    detail = _instance(ctx, p)
    member, value = _requested(p)
    try:
        _apply(ctx, detail, member, value)
    except (IncorrectState, NotFound) as exc:
        if isinstance(exc, NotFound) and exc.kind is not ResourceKind.INSTANCE:
            raise
        # A terminated instance is still listed (NotFound to the engine): AWS says state.
        wire_id = p["InstanceId"]
        text = (f"The instance '{wire_id}' is not in the 'stopped' state."
                if member in _NEEDS_STOPPED else
                f"The instance '{wire_id}' is not in a state from which it can be modified.")
        raise Ec2Error("IncorrectInstanceState", text) from exc
    return {}


# ------------------------------------------------------------------ console
@action("GetConsoleOutput", readonly=True)
def get_console_output(ctx: RequestContext, p: Params) -> Result:
    out = ctx.services.instances.console_output(
        ctx.principal, sid=ids.parse(p["InstanceId"], Kind.INSTANCE))
    return {"InstanceId": p["InstanceId"],
            "Output": base64.b64encode(out.text).decode() if out.text else None,
            "Timestamp": out.taken_at.replace(tzinfo=UTC)}



# ------------------------------------------------- RunInstances guest settings
# Hibernation prerequisites AWS documents that a request can break here.
HIBERNATION_MAX_MEMORY_MIB: Final = 150 * 1024


@dataclass(frozen=True)
class LaunchGuestSettings:
    """What RunInstances asks of the guest beyond the launch itself."""

    shutdown_action: str | None = None  # None: the default (stop)
    hibernation: bool = False

    @property
    def is_default(self) -> bool:
        return self.shutdown_action in (None, "stop") and not self.hibernation


def launch_guest_settings(p: Params, root_device_name: str,
                          memory_mib: int) -> LaunchGuestSettings:
    """InstanceInitiatedShutdownBehavior and HibernationOptions of a RunInstances
    request, checked before anything is made.

    Hibernation needs an encrypted EBS root volume (asked for with
    ``Encrypted`` in the root's block-device mapping: nothing is encrypted
    by default here), at most 150 GiB of memory, and a root volume, when its
    size is given, large enough to hold the memory; otherwise
    UnsupportedHibernationConfiguration, as AWS answers.
    """
    behavior = p.get("InstanceInitiatedShutdownBehavior")
    action_name = shutdown_action(behavior) if behavior is not None else None
    hibernation = bool((p.get("HibernationOptions") or {}).get("Configured"))
    if hibernation:
        root = _root_ebs(p, root_device_name)
        if memory_mib > HIBERNATION_MAX_MEMORY_MIB:
            raise _unsupported_hibernation("the instance type has more than 150 GiB of memory")
        if not root.get("Encrypted"):
            raise _unsupported_hibernation("the root volume must be encrypted")
        size = root.get("VolumeSize")
        if size and int(size) * 1024 < memory_mib:
            raise _unsupported_hibernation(
                "the root volume must be large enough to hold the instance's memory")
    return LaunchGuestSettings(action_name, hibernation)


def apply_launch_guest_settings(ctx: RequestContext, instance_uuids: Sequence[str],
                                settings: LaunchGuestSettings) -> None:
    """Record ``settings`` on the just launched instances (nothing for the defaults)."""
    if settings.is_default:
        return
    extras = VmExtrasService(ctx.services.session)
    for uuid in instance_uuids:
        extras.set_guest_settings(ctx.principal, uuid, shutdown_action=settings.shutdown_action,
                                  hibernation=settings.hibernation or None)


def _root_ebs(p: Params, root_device_name: str) -> dict[str, Any]:
    for bdm in p.get("BlockDeviceMappings") or ():
        name = bdm.get("DeviceName") or ""
        device = name if name.startswith("/dev/") else f"/dev/{name}"
        if (device == root_device_name or device in ROOT_DEVICES) and bdm.get("Ebs") is not None:
            return dict(bdm["Ebs"])
    return {}


def _unsupported_hibernation(why: str) -> Ec2Error:
    return Ec2Error("UnsupportedHibernationConfiguration",
                    "The instance could not be launched because one or more parameter values "
                    f"do not meet the prerequisites for enabling hibernation: {why}.")
