"""Security groups: create, delete, list; authorize and revoke ingress/egress rules.

CloudStack groups start with no rules. An authorize command adds one rule per
CIDR in ``cidrlist`` and per ``usersecuritygrouplist[i].account/group`` entry;
its job result is the group with only the rules it added.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from engine.services.jobs import result_of
from engine.services.security_groups import RuleSpec
from engine.states import RuleDirection
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
from nativeapi.commands.ownership import list_all, owner_criteria, owner_uuid
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job


@job_result("securitygroup")
def rules_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """The group of an authorize job, showing the rules that job added."""
    if job.resource_kind is not ResourceKind.SECURITY_GROUP or not job.resource_uuid:
        return None
    try:
        detail = ctx.services.security_groups.get(ctx.principal, uuid=job.resource_uuid)
    except NotFound:
        return {"id": job.resource_uuid}
    return views.security_group_full(detail, result_of(job).get("rule_uuids", []))


@command("createSecurityGroup")
def create_security_group(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    group = ctx.services.security_groups.create(
        ctx.principal, p.require("name"), p.get("description") or "", open_egress=False,
        account_uuid=owner_uuid(ctx, p))
    return views.security_group_full(
        ctx.services.security_groups.get(ctx.principal, uuid=group.uuid))


def _group_uuid(ctx: CsContext, p: CsParams, id_param: str, name_param: str) -> str:
    """The group named by ``id_param`` or by ``name_param`` (+ account/domainid)."""
    uuid, name = p.uuid(id_param), p.get(name_param)
    if uuid and name:
        raise invalid_value(f"Only one of {id_param} and {name_param} can be specified")
    if uuid:
        return uuid
    if not name:
        raise invalid_value(f"Either {id_param} or {name_param} is required")
    return ctx.services.security_groups.get(ctx.principal, name=name,
                                            account_uuid=owner_uuid(ctx, p)).group.uuid


@command("deleteSecurityGroup")
def delete_security_group(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.security_groups.delete(ctx.principal, _group_uuid(ctx, p, "id", "name"))
    return Success()


@command("listSecurityGroups")
def list_security_groups(ctx: CsContext, p: CsParams) -> Listing:
    crit: list[Criterion] = []
    for param, field in (("id", "uuid"), ("virtualmachineid", "instance_uuid")):
        value = p.uuid(param)
        if value:
            crit.append(Criterion(field, (value,), False))
    if p.get("securitygroupname"):
        crit.append(Criterion("name", (p.require("securitygroupname"),), False))
    if p.get("keyword"):
        crit.append(Criterion("name", (f"*{p.require('keyword')}*",)))
    crit.extend(Criterion(f"tag:{k}", (v,), False) for k, v in tag_criteria_pairs(p))
    crit.extend(owner_criteria(ctx, p))
    page = ctx.services.security_groups.list(ctx.principal, crit, paging(ctx, p),
                                             list_all=list_all(p), count=True)
    group_id = p.uuid("id")
    if not page.items and group_id:
        ctx.services.security_groups.get(ctx.principal, uuid=group_id)  # unknown id: 431
    items = [views.security_group_full(d) for d in page.items]
    return Listing(items, page.total if page.total is not None else len(items))


# --- rules -----------------------------------------------------------------------------


# Protocol numbers the engine knows by name (IANA).
_PROTOCOL_NUMBERS = {"1": "icmp", "6": "tcp", "17": "udp"}


def _ports(p: CsParams, protocol: str) -> tuple[int | None, int | None]:
    if protocol == "icmp":
        return p.integer("icmptype", -1), p.integer("icmpcode", -1)
    if protocol in ("tcp", "udp"):
        start = p.integer("startport")
        return start, p.integer("endport", start)
    return None, None


def _peers(ctx: CsContext, p: CsParams) -> list[str]:
    """Uuids of the groups in ``usersecuritygrouplist[i].account/group``."""
    out = []
    for entry in p.map("usersecuritygrouplist"):
        low = {k.lower(): v for k, v in entry.items()}
        if not low.get("group") or not low.get("account"):
            raise invalid_value("usersecuritygrouplist entries need both account and group")
        account = low["account"]
        owner = (ctx.principal.account_uuid if account == ctx.principal.account_name else
                 ctx.services.accounts.account_by_name(ctx.principal, account).uuid)
        out.append(ctx.services.security_groups.get(ctx.principal, name=low["group"],
                                                    account_uuid=owner).group.uuid)
    return out


def _authorize(ctx: CsContext, p: CsParams, direction: RuleDirection) -> Submitted:
    group = _group_uuid(ctx, p, "securitygroupid", "securitygroupname")
    protocol = (p.get("protocol") or "all").lower()
    protocol = _PROTOCOL_NUMBERS.get(protocol, protocol)
    lo, hi = _ports(p, protocol)
    cidrs, peers = p.list("cidrlist"), _peers(ctx, p)
    if not cidrs and not peers:
        raise invalid_value("At least one cidr or at least one security group needs to be "
                            "specified")
    specs = [RuleSpec(protocol, lo, hi, cidr=c.strip()) for c in cidrs]
    specs += [RuleSpec(protocol, lo, hi, source_group_uuid=g) for g in peers]
    rules = ctx.services.security_groups.authorize(ctx.principal, group, direction, specs)
    job = ctx.services.jobs.completed(ctx.principal, ResourceKind.SECURITY_GROUP, group,
                                      command=ctx.command.name,
                                      result={"rule_uuids": [r.uuid for r in rules]})
    return Submitted(job)


@command("authorizeSecurityGroupIngress", is_async=True)
def authorize_security_group_ingress(ctx: CsContext, p: CsParams) -> Submitted:
    return _authorize(ctx, p, RuleDirection.INGRESS)


@command("authorizeSecurityGroupEgress", is_async=True)
def authorize_security_group_egress(ctx: CsContext, p: CsParams) -> Submitted:
    return _authorize(ctx, p, RuleDirection.EGRESS)


def _revoke(ctx: CsContext, p: CsParams, direction: RuleDirection) -> Submitted:
    [rule] = ctx.services.security_groups.revoke(
        ctx.principal, None, direction, rule_ids=[p.uuid("id", required=True) or ""])
    return Submitted(finished(ctx, ResourceKind.SECURITY_GROUP, rule.group_uuid))


@command("revokeSecurityGroupIngress", is_async=True)
def revoke_security_group_ingress(ctx: CsContext, p: CsParams) -> Submitted:
    return _revoke(ctx, p, RuleDirection.INGRESS)


@command("revokeSecurityGroupEgress", is_async=True)
def revoke_security_group_egress(ctx: CsContext, p: CsParams) -> Submitted:
    return _revoke(ctx, p, RuleDirection.EGRESS)
