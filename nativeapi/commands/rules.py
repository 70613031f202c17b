"""Port forwarding, firewall and egress firewall rules.

The engine applies a rule within the request; the async commands get an
already finished job keyed by the rule (async-create commands also return the
rule's id at once, as CloudStack does from ``create()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import ResourceKind
from engine.services.rules import FirewallRequest, PortForwardingRequest, RuleDetail
from nativeapi import views_networks
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    finished,
    job_result,
    page_slice,
    paging,
)
from nativeapi.commands.ownership import list_all, owner_uuid
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job

_UPDATE_PF_META: dict[str, Any] = {
    "style": "async", "responsekey": "updateportforwardingruleresponse",
    "itemkey": "portforwardingrule", "responseclass": "FirewallRuleResponse",
    "required": {"id": "uuid"},
    "optional": {"privateport": "integer", "privateendport": "integer",
                 "virtualmachineid": "uuid", "vmguestip": "string", "customid": "string",
                 "fordisplay": "boolean"},
    "description": "Updates a port forwarding rule. Only the private port and the virtual "
                   "machine can be updated.",
}


def _listing(ctx: CsContext, p: CsParams, rows: list[dict[str, Any]]) -> Listing:
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


def _keyword(p: CsParams, rows: list[RuleDetail]) -> list[RuleDetail]:
    keyword = (p.get("keyword") or "").lower()
    if not keyword:
        return rows
    return [d for d in rows if keyword in d.rule.protocol.lower()
            or (d.ip is not None and keyword in d.ip.address)]


def _rule_job(ctx: CsContext, job: Job, egress: bool | None) -> dict[str, Any] | None:
    if not job.resource_uuid:
        return None
    rules = ctx.services.rules
    if job.resource_kind is ResourceKind.PORT_FORWARDING_RULE:
        found = rules.port_forwarding_rules(ctx.principal, uuid=job.resource_uuid)
        return views_networks.port_forwarding_rule(found[0]) if found else None
    if job.resource_kind is ResourceKind.FIREWALL_RULE:
        for direction in (False, True) if egress is None else (egress,):
            hit = rules.firewall_rules(ctx.principal, egress=direction, uuid=job.resource_uuid)
            if hit:
                return views_networks.firewall_rule(hit[0])
    return None


@job_result("portforwardingrule")
def port_forwarding_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """The rule a createPortForwardingRule/updatePortForwardingRule job made."""
    return _rule_job(ctx, job, None)


@job_result("firewallrule")
def firewall_job_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """The rule a createFirewallRule/createEgressFirewallRule job made."""
    return _rule_job(ctx, job, None)


# --- port forwarding ------------------------------------------------------------------


@command("createPortForwardingRule", is_async=True, creates="portforwardingrule")
def create_port_forwarding_rule(ctx: CsContext, p: CsParams) -> Submitted:
    detail = ctx.services.rules.create_port_forwarding(ctx.principal, PortForwardingRequest(
        ip_uuid=p.uuid("ipaddressid", required=True) or "",
        instance_uuid=p.uuid("virtualmachineid", required=True) or "",
        protocol=p.require("protocol"),
        public_start=p.integer("publicport", required=True) or 0,
        private_start=p.integer("privateport", required=True) or 0,
        public_end=p.integer("publicendport"), private_end=p.integer("privateendport"),
        cidrs=tuple(p.list("cidrlist")), network_uuid=p.uuid("networkid"),
        guest_ip=p.get("vmguestip") or None,
        open_firewall=bool(p.boolean("openfirewall", True)),
        for_display=bool(p.boolean("fordisplay", True))))
    return Submitted(finished(ctx, ResourceKind.PORT_FORWARDING_RULE, detail.rule.uuid),
                     object_uuid=detail.rule.uuid)


@command("updatePortForwardingRule", meta=_UPDATE_PF_META, is_async=True)
def update_port_forwarding_rule(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    ctx.services.rules.update_port_forwarding(
        ctx.principal, uuid, private_start=p.integer("privateport"),
        private_end=p.integer("privateendport"), instance_uuid=p.uuid("virtualmachineid"),
        guest_ip=p.get("vmguestip") or None, for_display=p.boolean("fordisplay"))
    return Submitted(finished(ctx, ResourceKind.PORT_FORWARDING_RULE, uuid))


@command("deletePortForwardingRule", is_async=True)
def delete_port_forwarding_rule(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    ctx.services.rules.delete_port_forwarding(ctx.principal, uuid)
    return Submitted(finished(ctx, ResourceKind.PORT_FORWARDING_RULE, uuid))


@command("listPortForwardingRules")
def list_port_forwarding_rules(ctx: CsContext, p: CsParams) -> Listing:
    paging(ctx, p)
    found = ctx.services.rules.port_forwarding_rules(
        ctx.principal, uuid=p.uuid("id"), ip_uuid=p.uuid("ipaddressid"),
        network_uuid=p.uuid("networkid"), account_uuid=owner_uuid(ctx, p),
        list_all=list_all(p))
    display = p.boolean("fordisplay")
    rows = [views_networks.port_forwarding_rule(d) for d in _keyword(p, found)
            if display is None or d.rule.for_display == display]
    return _listing(ctx, p, rows)


# --- firewall -------------------------------------------------------------------------


def _firewall_request(p: CsParams, **where: str | None) -> FirewallRequest:
    return FirewallRequest(
        protocol=p.require("protocol"), start_port=p.integer("startport"),
        end_port=p.integer("endport"), icmp_type=p.integer("icmptype"),
        icmp_code=p.integer("icmpcode"), cidrs=tuple(p.list("cidrlist")),
        dest_cidrs=tuple(p.list("destcidrlist")),
        for_display=bool(p.boolean("fordisplay", True)), **where)  # type: ignore[arg-type]


@command("createFirewallRule", is_async=True, creates="firewallrule")
def create_firewall_rule(ctx: CsContext, p: CsParams) -> Submitted:
    detail = ctx.services.rules.create_firewall(ctx.principal, _firewall_request(
        p, ip_uuid=p.uuid("ipaddressid", required=True)))
    return Submitted(finished(ctx, ResourceKind.FIREWALL_RULE, detail.rule.uuid),
                     object_uuid=detail.rule.uuid)


@command("createEgressFirewallRule", is_async=True, creates="firewallrule")
def create_egress_firewall_rule(ctx: CsContext, p: CsParams) -> Submitted:
    detail = ctx.services.rules.create_firewall(ctx.principal, _firewall_request(
        p, network_uuid=p.uuid("networkid", required=True)))
    return Submitted(finished(ctx, ResourceKind.FIREWALL_RULE, detail.rule.uuid),
                     object_uuid=detail.rule.uuid)


def _delete_firewall(ctx: CsContext, p: CsParams, *, egress: bool) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    ctx.services.rules.delete_firewall(ctx.principal, uuid, egress=egress)
    return Submitted(finished(ctx, ResourceKind.FIREWALL_RULE, uuid))


@command("deleteFirewallRule", is_async=True)
def delete_firewall_rule(ctx: CsContext, p: CsParams) -> Submitted:
    return _delete_firewall(ctx, p, egress=False)


@command("deleteEgressFirewallRule", is_async=True)
def delete_egress_firewall_rule(ctx: CsContext, p: CsParams) -> Submitted:
    return _delete_firewall(ctx, p, egress=True)


def _list_firewall(ctx: CsContext, p: CsParams, *, egress: bool) -> Listing:
    paging(ctx, p)
    found = ctx.services.rules.firewall_rules(
        ctx.principal, egress=egress, uuid=p.uuid("id"), ip_uuid=p.uuid("ipaddressid"),
        network_uuid=p.uuid("networkid"), account_uuid=owner_uuid(ctx, p),
        list_all=list_all(p))
    display = p.boolean("fordisplay")
    rows = [views_networks.firewall_rule(d) for d in _keyword(p, found)
            if display is None or d.rule.for_display == display]
    return _listing(ctx, p, rows)


@command("listFirewallRules")
def list_firewall_rules(ctx: CsContext, p: CsParams) -> Listing:
    return _list_firewall(ctx, p, egress=False)


@command("listEgressFirewallRules")
def list_egress_firewall_rules(ctx: CsContext, p: CsParams) -> Listing:
    return _list_firewall(ctx, p, egress=True)

