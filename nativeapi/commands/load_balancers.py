"""Load balancer rules (and their member instances) and IP forwarding rules.

The engine applies a rule within the request; the async commands get an
already finished job keyed by the rule (async-create commands also return the
rule's id at once, as CloudStack does from ``create()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import ResourceKind
from engine.services.ip_forwarding import IpForwardingDetail, IpForwardingRequest
from engine.services.load_balancers import (
    LoadBalancerDetail,
    LoadBalancerQuery,
    LoadBalancerRequest,
)
from nativeapi import views
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    finished,
    invalid_value,
    job_result,
    page_slice,
    paging,
    tag_criteria_pairs,
)
from nativeapi.commands.ownership import list_all, owner_uuid
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command
from nativeapi.spec import load_commands

if TYPE_CHECKING:
    from engine.models import Job

View = dict[str, Any]

_LIST_INSTANCES_META: dict[str, Any] = {
    "style": "sync", "responsekey": "listloadbalancerruleinstancesresponse",
    "itemkey": "loadbalancerruleinstance", "responseclass": "UserVmResponse",
    "listshaped": True, "required": {"id": "uuid"},
    "optional": {"applied": "boolean", "lbvmips": "boolean", "keyword": "string",
                 "page": "integer", "pagesize": "integer"},
    "responsefields": load_commands()["listVirtualMachines"]["responsefields"],
    "description": "List all virtual machine instances that are assigned to a load "
                   "balancer rule.",
}


# --- views ----------------------------------------------------------------------------


def load_balancer_rule(d: LoadBalancerDetail) -> View:
    r = d.rule
    return {
        "id": r.uuid,
        "name": r.name,
        "description": r.description or None,
        "publicipid": r.public_ip_uuid,
        "publicip": d.ip.address,
        # QUIRK(cloudstack): a balancer's ports are JSON strings, like a forwarding rule's.
        "publicport": str(r.public_port),
        "privateport": str(r.private_port),
        "algorithm": r.algorithm,
        "networkid": r.network_uuid,
        # CloudStack keeps a balancer's source CIDRs space-separated.
        "cidrlist": r.cidr_list.replace(",", " ") or None,
        "account": d.account.name,
        "domainid": d.domain.uuid,
        "domain": d.domain.name,
        "domainpath": views.domain_path(d.domain),
        "state": r.state,
        "zoneid": d.zone.uuid,
        "zonename": d.zone.name,
        "protocol": r.protocol,
        "tags": [],
        "fordisplay": r.for_display,
    }


def ip_forwarding_rule(d: IpForwardingDetail) -> View:
    r, inst = d.rule, d.instance
    return {
        "id": r.uuid,
        # QUIRK(cloudstack): the ports are JSON strings; private ports equal public ones.
        "privateport": str(r.start_port),
        "privateendport": str(r.end_port),
        "protocol": r.protocol,
        "publicport": str(r.start_port),
        "publicendport": str(r.end_port),
        "virtualmachineid": inst.uuid if inst else None,
        "virtualmachinename": inst.name if inst else None,
        "virtualmachinedisplayname": (inst.display_name or inst.name) if inst else None,
        "ipaddressid": r.public_ip_uuid,
        "ipaddress": d.ip.address,
        "state": r.state,
        "tags": [],
        "vmguestip": d.nic.ip_address if d.nic else None,
        "networkid": r.network_uuid,
        "fordisplay": r.for_display,
    }


@job_result("loadbalancerrule")
def load_balancer_job_result(ctx: CsContext, job: Job) -> View | None:
    """The rule a createLoadBalancerRule job made."""
    if job.resource_kind is not ResourceKind.LOAD_BALANCER_RULE or not job.resource_uuid:
        return None
    found = ctx.services.load_balancers.rules(ctx.principal,
                                              LoadBalancerQuery(uuid=job.resource_uuid))
    return load_balancer_rule(found[0]) if found else None


@job_result("ipforwardingrule")
def ip_forwarding_job_result(ctx: CsContext, job: Job) -> View | None:
    """The rule a createIpForwardingRule job made."""
    if job.resource_kind is not ResourceKind.IP_FORWARDING_RULE or not job.resource_uuid:
        return None
    found = ctx.services.ip_forwarding.rules(ctx.principal, uuid=job.resource_uuid)
    return ip_forwarding_rule(found[0]) if found else None


# --- load balancer rules ----------------------------------------------------------------


@command("createLoadBalancerRule", is_async=True, creates="loadbalancerrule")
def create_load_balancer_rule(ctx: CsContext, p: CsParams) -> Submitted:
    detail = ctx.services.load_balancers.create(ctx.principal, LoadBalancerRequest(
        name=p.require("name"), algorithm=p.require("algorithm"),
        public_port=p.integer("publicport", required=True) or 0,
        private_port=p.integer("privateport", required=True) or 0,
        ip_uuid=p.uuid("publicipid"), network_uuid=p.uuid("networkid"),
        protocol=p.get("protocol") or None, cidrs=tuple(p.list("cidrlist")),
        open_firewall=bool(p.boolean("openfirewall", True)),
        description=p.get("description") or "",
        for_display=bool(p.boolean("fordisplay", True))))
    return Submitted(finished(ctx, ResourceKind.LOAD_BALANCER_RULE, detail.rule.uuid),
                     object_uuid=detail.rule.uuid)


@command("deleteLoadBalancerRule", is_async=True)
def delete_load_balancer_rule(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    ctx.services.load_balancers.delete(ctx.principal, uuid)
    return Submitted(finished(ctx, ResourceKind.LOAD_BALANCER_RULE, uuid))


@command("listLoadBalancerRules")
def list_load_balancer_rules(ctx: CsContext, p: CsParams) -> Listing:
    pg = paging(ctx, p)
    found = ctx.services.load_balancers.rules(ctx.principal, LoadBalancerQuery(
        uuid=p.uuid("id"), name=p.get("name") or None, keyword=p.get("keyword") or None,
        ip_uuid=p.uuid("publicipid"), instance_uuid=p.uuid("virtualmachineid"),
        zone_uuid=p.uuid("zoneid"), network_uuid=p.uuid("networkid"),
        account_uuid=owner_uuid(ctx, p), for_display=p.boolean("fordisplay"),
        tags=tuple(tag_criteria_pairs(p)), list_all=list_all(p)))
    rows = [load_balancer_rule(d) for d in found]
    return Listing(page_slice(rows, pg), len(rows))


def _members(p: CsParams) -> tuple[list[str], list[tuple[str, str | None]]]:
    """``virtualmachineids`` and the (vmid, vmip) pairs of ``vmidipmap``."""
    pairs: list[tuple[str, str | None]] = []
    for entry in p.map("vmidipmap"):
        low = {k.lower(): v for k, v in entry.items()}
        if low.get("vmid"):
            pairs.append((low["vmid"], low.get("vmip") or None))
    return p.uuid_list("virtualmachineids"), pairs


@command("assignToLoadBalancerRule", is_async=True)
def assign_to_load_balancer_rule(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    instances, pairs = _members(p)
    ctx.services.load_balancers.assign(ctx.principal, uuid, instances, pairs)
    return Submitted(finished(ctx, ResourceKind.LOAD_BALANCER_RULE, uuid))


@command("removeFromLoadBalancerRule", is_async=True)
def remove_from_load_balancer_rule(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    instances, pairs = _members(p)
    ctx.services.load_balancers.remove(ctx.principal, uuid, instances, pairs)
    return Submitted(finished(ctx, ResourceKind.LOAD_BALANCER_RULE, uuid))


@command("listLoadBalancerRuleInstances", meta=_LIST_INSTANCES_META)
def list_load_balancer_rule_instances(ctx: CsContext, p: CsParams) -> Listing:
    pg = paging(ctx, p)
    found = ctx.services.load_balancers.members(
        ctx.principal, p.uuid("id", required=True) or "",
        applied=bool(p.boolean("applied", True)))
    keyword = (p.get("keyword") or "").lower()
    # The command's response view is always the restricted (non-admin) one.
    rows = [views.virtual_machine(d, show_admin=False) for d in found
            if not keyword or keyword in d.instance.name.lower()]
    return Listing(page_slice(rows, pg), len(rows))


# --- IP forwarding rules ----------------------------------------------------------------


@command("createIpForwardingRule", is_async=True, creates="ipforwardingrule")
def create_ip_forwarding_rule(ctx: CsContext, p: CsParams) -> Submitted:
    if p.list("cidrlist"):
        raise invalid_value("Parameter cidrList is deprecated; if you need to open firewall "
                            "rule for the specific cidr, please refer to createFirewallRule "
                            "command")
    detail = ctx.services.ip_forwarding.create(ctx.principal, IpForwardingRequest(
        ip_uuid=p.uuid("ipaddressid", required=True) or "", protocol=p.require("protocol"),
        start_port=p.integer("startport", required=True) or 0, end_port=p.integer("endport"),
        open_firewall=bool(p.boolean("openfirewall", True))))
    return Submitted(finished(ctx, ResourceKind.IP_FORWARDING_RULE, detail.rule.uuid),
                     object_uuid=detail.rule.uuid)


@command("deleteIpForwardingRule", is_async=True)
def delete_ip_forwarding_rule(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    ctx.services.ip_forwarding.delete(ctx.principal, uuid)
    return Submitted(finished(ctx, ResourceKind.IP_FORWARDING_RULE, uuid))


@command("listIpForwardingRules")
def list_ip_forwarding_rules(ctx: CsContext, p: CsParams) -> Listing:
    pg = paging(ctx, p)
    found = ctx.services.ip_forwarding.rules(
        ctx.principal, uuid=p.uuid("id"), ip_uuid=p.uuid("ipaddressid"),
        instance_uuid=p.uuid("virtualmachineid"), account_uuid=owner_uuid(ctx, p),
        list_all=list_all(p))
    rows = [ip_forwarding_rule(d) for d in found]
    return Listing(page_slice(rows, pg), len(rows))
