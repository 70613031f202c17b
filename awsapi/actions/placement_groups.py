"""Placement groups: create, describe, delete; RunInstances puts instances in one.

A placement group is an engine affinity group: ``spread`` keeps its instances on
distinct hosts (host anti-affinity), ``cluster`` keeps them on one host (host
affinity). ``partition`` has no host-level equivalent here and is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from awsapi import ids
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.errors_wire import Ec2Error
from awsapi.filters import PLACEMENT_GROUP_FILTERS, criteria
from awsapi.ids import Kind
from engine.errors import NotFound
from engine.querying import Criterion
from engine.services.affinity import AFFINITY, ANTI_AFFINITY, AffinityDetail

POLICY_BY_STRATEGY = {"spread": ANTI_AFFINITY, "cluster": AFFINITY}
STRATEGY_BY_POLICY = {v: k for k, v in POLICY_BY_STRATEGY.items()}


def _view(d: AffinityDetail, region: str, account_number: str) -> dict[str, object]:
    g = d.group
    group_id = ids.render(Kind.PLACEMENT_GROUP, g.sid)
    view: dict[str, object] = {
        "GroupName": g.name,
        "State": "available",
        "Strategy": STRATEGY_BY_POLICY.get(g.policy, g.policy),
        "GroupId": group_id,
        "GroupArn": f"arn:aws:ec2:{region}:{account_number}:placement-group/{g.name}",
        "Tags": [],
    }
    if g.policy == ANTI_AFFINITY:
        view["SpreadLevel"] = "host"
    return view


def _unknown(name: str) -> Ec2Error:
    return Ec2Error(Kind.PLACEMENT_GROUP.not_found_code, f"The Placement Group '{name}' is unknown.")


@action("CreatePlacementGroup")
def create_placement_group(ctx: RequestContext, p: Params) -> Result:
    name = p.get("GroupName")
    if not name:
        raise Ec2Error("MissingParameter", "The request must contain the parameter groupName")
    strategy = p.get("Strategy") or "cluster"
    if strategy not in POLICY_BY_STRATEGY:
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({strategy}) for parameter strategy is invalid. "
                       "Only 'spread' and 'cluster' placement groups are supported here.")
    if p.get("TagSpecifications"):
        raise Ec2Error("InvalidParameterValue", "Placement groups cannot be tagged here yet.")
    if p.get("SpreadLevel") not in (None, "host"):
        raise Ec2Error("InvalidParameterValue", "SpreadLevel must be host")
    group = ctx.services.affinity.create(ctx.principal, name, POLICY_BY_STRATEGY[strategy])
    [detail] = ctx.services.affinity.details([group])
    return {"PlacementGroup": _view(detail, ctx.region, ctx.principal.account_number)}


@action("DescribePlacementGroups", readonly=True)
def describe_placement_groups(ctx: RequestContext, p: Params) -> Result:
    """GroupNames are looked up in the caller's account; a name or id matching
    nothing is InvalidPlacementGroup.Unknown."""
    crit = list(criteria(p.get("Filters"), PLACEMENT_GROUP_FILTERS))
    names: Sequence[str] = p.get("GroupNames") or []
    group_ids: Sequence[str] = p.get("GroupIds") or []
    sids = [ids.parse(g, Kind.PLACEMENT_GROUP) for g in group_ids]
    crit.append(Criterion("account_uuid", (ctx.principal.account_uuid,), False))
    if names:
        crit.append(Criterion("name", tuple(names), False))
    if sids:
        crit.append(Criterion("sid", tuple(sids), False))
    page = ctx.services.affinity.list(ctx.principal, crit, list_all=False)
    found_names = {d.group.name for d in page.items}
    found_sids = {d.group.sid for d in page.items}
    for name in names:
        if name not in found_names:
            raise _unknown(name)
    for group_id, sid in zip(group_ids, sids, strict=True):
        if sid not in found_sids:
            raise Ec2Error(Kind.PLACEMENT_GROUP.not_found_code,
                           f"The Placement Group ID '{group_id}' is unknown.")
    return {"PlacementGroups": [_view(d, ctx.region, ctx.principal.account_number)
                                for d in page.items]}


@action("DeletePlacementGroup")
def delete_placement_group(ctx: RequestContext, p: Params) -> Result:
    name = p.get("GroupName")
    if not name:
        raise Ec2Error("MissingParameter", "The request must contain the parameter groupName")
    try:
        detail = ctx.services.affinity.get(ctx.principal, name=name)
    except NotFound:
        raise _unknown(name) from None
    ctx.services.affinity.delete(ctx.principal, detail.group.uuid)
    return {}


def placement_group_uuids(ctx: RequestContext, placement: dict[str, object]) -> tuple[str, ...]:
    """The affinity group RunInstances' ``Placement.GroupName``/``GroupId`` names."""
    name, group_id = placement.get("GroupName"), placement.get("GroupId")
    if not name and not group_id:
        return ()
    if name and group_id:
        raise Ec2Error("InvalidParameterCombination",
                       "Only one of GroupName and GroupId can be given")
    try:
        if group_id:
            detail = ctx.services.affinity.get(
                ctx.principal, sid=ids.parse(str(group_id), Kind.PLACEMENT_GROUP))
        else:
            detail = ctx.services.affinity.get(ctx.principal, name=str(name))
    except NotFound:
        raise Ec2Error("InvalidPlacementGroup.Unknown",
                       f"The Placement Group '{name or group_id}' is unknown.") from None
    return (detail.group.uuid,)

