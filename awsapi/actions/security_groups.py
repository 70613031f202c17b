"""Security groups and their rules.

A group belongs to a VPC of its account, or to none: those apply on every
default guest network, and EC2 shows the first default VPC as theirs. Each
VPC has a ``default`` group made with it; each account's ``default`` group of
the default VPC exists from the first security-group call on. Both have AWS's
default rules (all traffic out to anywhere, all traffic in from the group's
own members). Names (``GroupName``, ``SourceSecurityGroupName``) name groups of
the default VPC, as in AWS; rules may only name groups of the same VPC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from awsapi import ids, views_security
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.images import paging
from awsapi.actions.tags import spec_tags
from awsapi.errors_wire import Ec2Error
from awsapi.filters import SECURITY_GROUP_FILTERS, SECURITY_GROUP_RULE_FILTERS, criteria
from awsapi.ids import Kind
from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from engine.services.security_groups import DEFAULT_GROUP, GroupDetail, RuleSpec
from engine.states import RuleDirection

_LEGACY = ("IpProtocol", "FromPort", "ToPort", "CidrIp", "SourceSecurityGroupName",
           "SourceSecurityGroupOwnerId")

# What a VPC group's name and description, and a rule's description, may hold.
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                     " ._-:/()#,@[]+=&;{}!$*")


def _check_text(value: str, parameter: str, what: str) -> None:
    """InvalidParameterValue unless ``value`` is at most 255 characters of AWS's set."""
    if not value.isascii():
        raise Ec2Error("InvalidParameterValue",
                       f"Value ({value}) for parameter {parameter} is invalid. "
                       "Character sets beyond ASCII are not supported.")
    if len(value) > 255 or not set(value) <= _ALLOWED:
        raise Ec2Error("InvalidParameterValue",
                       f"Invalid {what}. Valid {what.split()[-1]}s are strings less than 256 "
                       "characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*")


def _ensure_default(ctx: RequestContext) -> None:
    ctx.services.security_groups.ensure_default(ctx.principal, open_egress=True,
                                                self_ingress=True)


def _default_vpc_id(ctx: RequestContext) -> str | None:
    """The VPC shown for groups of no VPC: the oldest default one."""
    sids = ctx.services.security_groups.default_vpc_sids()
    return ids.render(Kind.VPC, sids[0]) if sids else None


def _vpc_id(d: GroupDetail, default_vpc: str | None) -> str | None:
    return ids.render(Kind.VPC, d.vpc_sid) if d.vpc_sid else default_vpc


def _group(ctx: RequestContext, group_id: str | None, name: str | None) -> GroupDetail:
    """The group named by id, else by name in the caller's account."""
    svc = ctx.services.security_groups
    if group_id:
        return svc.get(ctx.principal, sid=ids.parse(group_id, Kind.SECURITY_GROUP))
    if name:
        if name == DEFAULT_GROUP:
            _ensure_default(ctx)
        return svc.get(ctx.principal, name=name)
    raise Ec2Error("MissingParameter", "The request must contain the parameter groupName or groupId")


# --------------------------------------------------------------------- groups
@action("CreateSecurityGroup")
def create_security_group(ctx: RequestContext, p: Params) -> Result:
    name, description = p["GroupName"], p["Description"]
    if not description.strip():
        raise Ec2Error("MissingParameter", "The request must contain the parameter GroupDescription")
    _check_text(name, "GroupName", "security group name")
    _check_text(description, "GroupDescription", "security group description")
    if name == DEFAULT_GROUP:
        raise Ec2Error("InvalidParameterValue", "Cannot use reserved security group name: default")
    if name.lower().startswith("sg-"):
        raise Ec2Error("InvalidParameterValue", "Group names may not be in the format sg-*.")
    vpc = p.get("VpcId")
    vpc_sid = ids.parse(vpc, Kind.VPC) if vpc is not None else None  # InvalidVpcID.Malformed
    _ensure_default(ctx)
    tags = spec_tags(p, "security-group")
    group = ctx.services.security_groups.create(ctx.principal, name, description,
                                                open_egress=True, tags=tags, vpc_ident=vpc_sid)
    owner = ctx.principal.account_number
    return {"GroupId": ids.render(Kind.SECURITY_GROUP, group.sid),
            "Tags": views_security.given_tags(tags),
            "SecurityGroupArn": views_security.group_arn(ctx.region, owner, group)}


@action("DeleteSecurityGroup")
def delete_security_group(ctx: RequestContext, p: Params) -> Result:
    """The default group is CannotDelete; a group in use is DependencyViolation."""
    d = _group(ctx, p.get("GroupId"), p.get("GroupName"))
    ctx.services.security_groups.delete(ctx.principal, d.group.uuid)
    return {"Return": True, "GroupId": ids.render(Kind.SECURITY_GROUP, d.group.sid)}


@action("DescribeSecurityGroups")
def describe_security_groups(ctx: RequestContext, p: Params) -> Result:
    """GroupNames are looked up in the caller's account; ids or names that match
    nothing are InvalidGroup.NotFound when no filter or page limit applies."""
    _ensure_default(ctx)
    filters: list[Mapping[str, Any]] = list(p.get("Filters") or ())
    crit = list(criteria(filters, SECURITY_GROUP_FILTERS))
    group_ids: Sequence[str] = p.get("GroupIds") or []
    names: Sequence[str] = p.get("GroupNames") or []
    sids = [ids.parse(g, Kind.SECURITY_GROUP) for g in group_ids]
    if sids:
        crit.append(Criterion("sid", tuple(sids), False))
    if names:  # names name the caller's groups of the default VPC
        crit += [Criterion("name", tuple(names), False),
                 Criterion("account_uuid", (ctx.principal.account_uuid,), False),
                 Criterion("vpc_uuid", ("",), False)]
    page = ctx.services.security_groups.list(ctx.principal, crit, paging(p))
    if not filters and p.get("MaxResults") is None:
        have = {d.group.sid for d in page.items} | {d.group.name for d in page.items}
        missing = [g for g, s in zip(group_ids, sids, strict=True) if s not in have]
        missing += [n for n in names if n not in have]
        if missing:
            raise Ec2Error(Kind.SECURITY_GROUP.not_found_code,
                           f"The security group '{missing[0]}' does not exist")
    default_vpc = _default_vpc_id(ctx)
    return {"SecurityGroups": [views_security.security_group(
                d, region=ctx.region, vpc_id=_vpc_id(d, default_vpc)) for d in page.items],
            "NextToken": page.next_token}


# ---------------------------------------------------------------------- rules
def _protocol(value: str | None) -> str:
    proto = views_security.PROTOCOL_IN.get((value or "").lower())
    if proto is None:
        raise Ec2Error("InvalidParameterValue",
                       f"Invalid value '{value}' for IP protocol. Unknown protocol.")
    return proto


def _cidr(value: str | None) -> str:
    """A rule's CIDR block as given; one without a prefix length (``1.2.3.4``)
    is malformed, as AWS has it (the engine would read it as a /32)."""
    cidr = value or ""
    if cidr and "/" not in cidr:
        raise Ec2Error("InvalidParameterValue", f"CIDR block {cidr} is malformed")
    return cidr


def _peer(ctx: RequestContext, pair: Mapping[str, Any], target: GroupDetail) -> str:
    """The uuid of a UserIdGroupPair's group (by id, else by name in the
    caller's account), which must be of ``target``'s VPC."""
    if not pair.get("GroupId") and not pair.get("GroupName"):
        raise Ec2Error("MissingParameter",
                       "The request must contain the parameter groupId or groupName")
    peer = _group(ctx, pair.get("GroupId"), pair.get("GroupName"))
    if peer.group.vpc_uuid != target.group.vpc_uuid:
        raise Ec2Error(Kind.SECURITY_GROUP.not_found_code,
                       "You have specified two resources that belong to different networks.")
    return peer.group.uuid


def _legacy_permission(p: Params) -> dict[str, Any]:
    """The one permission of the flat IpProtocol/FromPort/ToPort/CidrIp form."""
    source = p.get("SourceSecurityGroupName")
    perm: dict[str, Any] = {"IpProtocol": p.get("IpProtocol") or ("-1" if source else None),
                            "FromPort": p.get("FromPort"), "ToPort": p.get("ToPort")}
    if p.get("CidrIp"):
        perm["IpRanges"] = [{"CidrIp": p["CidrIp"]}]
    if source:
        perm["UserIdGroupPairs"] = [{"GroupName": source,
                                     "UserId": p.get("SourceSecurityGroupOwnerId")}]
    return perm


def _specs(ctx: RequestContext, p: Params, target: GroupDetail) -> list[RuleSpec]:
    perms: list[Mapping[str, Any]] = list(p.get("IpPermissions") or ())
    legacy = any(p.get(k) is not None for k in _LEGACY)
    if perms and legacy:
        raise Ec2Error("InvalidParameterCombination",
                       "The parameter 'ipPermissions' cannot be used with the parameters "
                       "'ipProtocol', 'fromPort', 'toPort', 'cidrIp' or 'sourceSecurityGroupName'")
    if legacy:
        perms = [_legacy_permission(p)]
    if not perms:
        raise Ec2Error("MissingParameter",
                       "Either 'ipPermissions' or 'ipProtocol' must be specified")
    specs: list[RuleSpec] = []
    for perm in perms:
        proto = _protocol(perm.get("IpProtocol"))
        lo, hi = (None, None) if proto == "all" else (perm.get("FromPort"), perm.get("ToPort"))
        if perm.get("PrefixListIds"):
            raise Ec2Error("InvalidParameterValue", "Prefix lists are not supported")
        before = len(specs)
        for r in [*(perm.get("IpRanges") or ()), *(perm.get("Ipv6Ranges") or ()),
                  *(perm.get("UserIdGroupPairs") or ())]:
            _check_text(r.get("Description") or "", "Description", "rule description")
        for r in perm.get("IpRanges") or ():
            specs.append(RuleSpec(proto, lo, hi, cidr=_cidr(r.get("CidrIp")),
                                  description=r.get("Description") or ""))
        for r in perm.get("Ipv6Ranges") or ():
            specs.append(RuleSpec(proto, lo, hi, cidr=_cidr(r.get("CidrIpv6")),
                                  description=r.get("Description") or ""))
        for pair in perm.get("UserIdGroupPairs") or ():
            specs.append(RuleSpec(proto, lo, hi, source_group_uuid=_peer(ctx, pair, target),
                                  description=pair.get("Description") or ""))
        if len(specs) == before:
            raise Ec2Error("MissingParameter", "The request must contain the parameter "
                           "ipRanges, ipv6Ranges or groups for each permission")
    return specs


def _authorize(ctx: RequestContext, p: Params, way: RuleDirection) -> Result:
    d = _group(ctx, p.get("GroupId"), p.get("GroupName"))
    svc = ctx.services.security_groups
    rules = svc.authorize(ctx.principal, d.group.uuid, way, _specs(ctx, p, d),
                          tags=spec_tags(p, "security-group-rule"))
    page = svc.list_rules(ctx.principal, (Criterion("uuid", tuple(r.uuid for r in rules),
                                                    False),))
    return {"Return": True,
            "SecurityGroupRules": [views_security.security_group_rule(r, region=ctx.region)
                                   for r in page.items]}


def _revoke(ctx: RequestContext, p: Params, way: RuleDirection) -> Result:
    """Rules named by permission that the group lacks are InvalidPermission.NotFound;
    rule ids that match nothing are InvalidSecurityGroupRuleId.NotFound."""
    d = _group(ctx, p.get("GroupId"), p.get("GroupName"))
    rule_sids = [ids.parse(r, Kind.SECURITY_GROUP_RULE)
                 for r in p.get("SecurityGroupRuleIds") or ()]
    by_spec = bool(p.get("IpPermissions")) or any(p.get(k) is not None for k in _LEGACY)
    specs = _specs(ctx, p, d) if by_spec or not rule_sids else []
    try:
        removed = ctx.services.security_groups.revoke(ctx.principal, d.group.uuid, way,
                                                      rules=specs, rule_ids=rule_sids)
    except NotFound as exc:
        if exc.kind is not ResourceKind.SECURITY_RULE:
            raise
        if exc.ident in rule_sids:
            raise NotFound(exc.kind, ids.render(Kind.SECURITY_GROUP_RULE, str(exc.ident))) \
                from exc
        raise Ec2Error("InvalidPermission.NotFound",
                       "The specified rule does not exist in this security group.") from exc
    return {"Return": True,
            "RevokedSecurityGroupRules": [views_security.revoked_rule(r, d) for r in removed]}


@action("AuthorizeSecurityGroupIngress")
def authorize_security_group_ingress(ctx: RequestContext, p: Params) -> Result:
    """A rule the group has already is InvalidPermission.Duplicate; all or none are added."""
    return _authorize(ctx, p, RuleDirection.INGRESS)


@action("AuthorizeSecurityGroupEgress")
def authorize_security_group_egress(ctx: RequestContext, p: Params) -> Result:
    return _authorize(ctx, p, RuleDirection.EGRESS)


@action("RevokeSecurityGroupIngress")
def revoke_security_group_ingress(ctx: RequestContext, p: Params) -> Result:
    return _revoke(ctx, p, RuleDirection.INGRESS)


@action("RevokeSecurityGroupEgress")
def revoke_security_group_egress(ctx: RequestContext, p: Params) -> Result:
    return _revoke(ctx, p, RuleDirection.EGRESS)


@action("DescribeSecurityGroupRules")
def describe_security_group_rules(ctx: RequestContext, p: Params) -> Result:
    _ensure_default(ctx)
    crit = list(criteria(p.get("Filters"), SECURITY_GROUP_RULE_FILTERS))
    rule_ids: Sequence[str] = p.get("SecurityGroupRuleIds") or []
    sids = [ids.parse(r, Kind.SECURITY_GROUP_RULE) for r in rule_ids]
    if sids:
        crit.append(Criterion("sid", tuple(sids), False))
    page = ctx.services.security_groups.list_rules(ctx.principal, crit, paging(p))
    if sids and not p.get("Filters") and p.get("MaxResults") is None:
        have = {r.rule.sid for r in page.items}
        missing = [w for w, s in zip(rule_ids, sids, strict=True) if s not in have]
        if missing:
            raise Ec2Error(Kind.SECURITY_GROUP_RULE.not_found_code,
                           f"The security group rule ID '{missing[0]}' does not exist")
    return {"SecurityGroupRules": [views_security.security_group_rule(r, region=ctx.region)
                                   for r in page.items],
            "NextToken": page.next_token}


def _rule_request(ctx: RequestContext, req: Mapping[str, Any], target: GroupDetail) -> RuleSpec:
    """A SecurityGroupRuleRequest as a RuleSpec (one CIDR or referenced group)."""
    proto = _protocol(req.get("IpProtocol"))
    lo, hi = (None, None) if proto == "all" else (req.get("FromPort"), req.get("ToPort"))
    if req.get("PrefixListId"):
        raise Ec2Error("InvalidParameterValue", "Prefix lists are not supported")
    description = req.get("Description") or ""
    _check_text(description, "Description", "rule description")
    peers = [k for k in ("CidrIpv4", "CidrIpv6", "ReferencedGroupId") if req.get(k)]
    if len(peers) != 1:
        raise Ec2Error("InvalidParameterCombination" if peers else "MissingParameter",
                       "A rule needs exactly one of the parameters CidrIpv4, CidrIpv6, "
                       "ReferencedGroupId")
    if peers[0] == "ReferencedGroupId":
        source = _peer(ctx, {"GroupId": req["ReferencedGroupId"]}, target)
        return RuleSpec(proto, lo, hi, source_group_uuid=source, description=description)
    return RuleSpec(proto, lo, hi, cidr=_cidr(req[peers[0]]), description=description)


@action("ModifySecurityGroupRules")
def modify_security_group_rules(ctx: RequestContext, p: Params) -> Result:
    """Each named rule of the group gets the new spec in place (same id and
    direction); all or none. A rule not in the group is
    InvalidSecurityGroupRuleId.NotFound."""
    d = _group(ctx, p.get("GroupId"), None)
    changes: list[tuple[str, RuleSpec]] = []
    for item in p.get("SecurityGroupRules") or ():
        if not item.get("SecurityGroupRuleId") or item.get("SecurityGroupRule") is None:
            raise Ec2Error("MissingParameter", "The request must contain the parameters "
                           "SecurityGroupRuleId and SecurityGroupRule")
        sid = ids.parse(item["SecurityGroupRuleId"], Kind.SECURITY_GROUP_RULE)
        changes.append((sid, _rule_request(ctx, item["SecurityGroupRule"], d)))
    if not changes:
        raise Ec2Error("MissingParameter",
                       "The request must contain the parameter SecurityGroupRules")
    try:
        ctx.services.security_groups.modify_rules(ctx.principal, d.group.uuid, changes)
    except NotFound as exc:
        if exc.kind is not ResourceKind.SECURITY_RULE:
            raise
        raise Ec2Error(Kind.SECURITY_GROUP_RULE.not_found_code,
                       f"The security group rule ID "
                       f"'{ids.render(Kind.SECURITY_GROUP_RULE, str(exc.ident))}' does not "
                       f"exist") from exc
    return {"Return": True}
