"""Instance details: status checks, attributes, console output."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC
from typing import Any, Final

from awsapi import ids, views_catalog
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.images import paging
from awsapi.errors_wire import Ec2Error
from awsapi.filters import INSTANCE_STATUS_FILTERS, criteria
from awsapi.ids import Kind
from awsapi.views import STATE_BY_NAME
from engine.errors import IncorrectState, NotFound, ResourceKind
from engine.querying import Criterion
from engine.services.instance_details import InstanceDetail, InstanceQuery
from engine.services.instances import InstanceChange


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
    if member == "InstanceInitiatedShutdownBehavior" and value not in ("stop", "terminate"):
        raise Ec2Error("InvalidInstanceAttributeValue",
                       f"Value ({value}) for parameter instanceInitiatedShutdownBehavior "
                       "is invalid.")
    fixed = views_catalog.FIXED_ATTRIBUTES.get(member)
    if fixed is None or fixed != value:
        raise Ec2Error("UnsupportedOperation",
                       f"Changing {member} is not supported by this cloud.")
    return InstanceChange()  # no change, but the state is still checked


@action("ModifyInstanceAttribute")
def modify_instance_attribute(ctx: RequestContext, p: Params) -> Result:
    detail = _instance(ctx, p)
    member, value = _requested(p)
    change = _change(ctx, member, value)
    try:
        ctx.services.instances.modify(ctx.principal, detail.instance.uuid, change,
                                      command="ModifyInstanceAttribute")
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

