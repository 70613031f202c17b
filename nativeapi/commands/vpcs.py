"""VPCs over the engine's network containers, and the constant VPC offering table.

createVPC and deleteVPC are async; their work is done within the request (the
job is already finished). Only real containers are VPCs here: a guest network
that belongs to none is not listed, nor is a region's default container (the
zones' default networks, which CloudStack shows as plain shared networks).
A VPC is made for one zone (createVPC's zoneid) and listVPCs filters by it.

Tiers: createNetwork with vpcid makes one (:func:`create_tier`: an Enabled
Isolated offering, gateway and netmask inside the VPC's CIDR, overlapping no
other tier, in the VPC's zone); listNetworks shows each tier's vpcid and
filters by vpcid/forvpc (:func:`vpc_rows`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from nativeapi import views_infra_more, views_networks
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
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command
from nativeapi.views_infra_more import DEFAULT_VPC_OFFERING, VPC_OFFERINGS

if TYPE_CHECKING:
    from engine.models import Job
    from engine.services.vpcs import VpcDetail


def _views(ctx: CsContext, details: Sequence[VpcDetail]) -> list[dict[str, Any]]:
    vpcs = ctx.services.vpcs
    domains = vpcs.owner_domains(d.account.uuid for d in details if d.account is not None)
    return [views_infra_more.vpc(d, vpcs.container_zone(d.uuid),
                                 domains.get(d.account.uuid) if d.account else None)
            for d in details]


def _containers(ctx: CsContext, uuid: str | None = None) -> list[VpcDetail]:
    crit = [Criterion("uuid", (uuid,), False)] if uuid else []
    return [d for d in ctx.services.vpcs.list_vpcs(ctx.principal, crit).items
            if d.vpc is not None and not d.vpc.is_default]


def _contains(value: str, wanted: str | None) -> bool:
    return not wanted or wanted.lower() in value.lower()


@command("listVPCs")
def list_vpcs(ctx: CsContext, p: CsParams) -> Listing:
    pg = paging(ctx, p)
    offering = p.uuid("vpcofferingid")
    state = p.get("state")
    if (offering and offering != DEFAULT_VPC_OFFERING.uuid) \
            or (state and state.lower() != "enabled") or p.boolean("restartrequired"):
        return Listing([], 0)
    tags = tag_criteria_pairs(p)
    found = [d for d in _containers(ctx, p.uuid("id"))
             if (not p.get("cidr") or d.cidr == p.get("cidr"))
             and all(any(t.key == k and t.value == v for t in d.tags) for k, v in tags)]
    rows = [v for v in _views(ctx, found)
            if (not p.uuid("zoneid") or v["zoneid"] == p.uuid("zoneid"))
            and (not p.get("name") or v["name"] == p.get("name"))
            and (not p.get("displaytext") or v["displaytext"] == p.get("displaytext"))
            and _contains(v["name"], p.get("keyword"))]
    return Listing(page_slice(rows, pg), len(rows))


@command("createVPC", is_async=True, creates="vpc")
def create_vpc(ctx: CsContext, p: CsParams) -> Submitted:
    if p.uuid("vpcofferingid", required=True) != DEFAULT_VPC_OFFERING.uuid:
        raise invalid_value(f"Unable to find vpc offering by id {p.get('vpcofferingid')}")
    zone_uuid = p.uuid("zoneid", required=True) or ""
    name = p.require("name")
    detail = ctx.services.vpcs.create_vpc(ctx.principal, p.require("cidr"), name=name,
                                          display_text=p.get("displaytext") or name,
                                          zone_uuid=zone_uuid)
    return Submitted(finished(ctx, ResourceKind.VPC, detail.uuid), detail.uuid)


@job_result("createVPC")
def _created(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    found = _containers(ctx, job.resource_uuid or "")
    return _views(ctx, found)[0] if found else None


@command("deleteVPC", is_async=True)
def delete_vpc(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = p.uuid("id", required=True) or ""
    found = _containers(ctx, uuid)
    if not found:
        raise NotFound(ResourceKind.VPC, uuid)
    ctx.services.vpcs.delete_vpc(ctx.principal, found[0].sid)
    return Submitted(finished(ctx, ResourceKind.VPC, uuid))


@command("listVPCOfferings")
def list_vpc_offerings(ctx: CsContext, p: CsParams) -> Listing:
    pg = paging(ctx, p)
    state, default = p.get("state"), p.boolean("isdefault")
    services = {s.lower() for s in p.list("supportedservices")}
    rows = [views_infra_more.vpc_offering(o) for o in VPC_OFFERINGS
            if (not p.uuid("id") or o.uuid == p.uuid("id"))
            and (not p.get("name") or o.name == p.get("name"))
            and (not p.get("displaytext") or o.display_text == p.get("displaytext"))
            and (default is None or o.is_default == default)
            and (not state or state.lower() == "enabled")
            and services <= {s.lower() for s in o.services}
            and _contains(o.name, p.get("keyword"))]
    return Listing(page_slice(rows, pg), len(rows))


# --- tiers (createNetwork / listNetworks with vpcid) ----------------------------------


def create_tier(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    """createNetwork with ``vpcid``: a tier of that VPC, rendered as a network."""
    vpc_uuid = p.uuid("vpcid", required=True) or ""
    found = _containers(ctx, vpc_uuid)
    if not found:
        raise NotFound(ResourceKind.VPC, vpc_uuid)
    container = found[0]
    offering = ctx.services.network_offerings.get(p.uuid("networkofferingid", required=True)
                                                  or "")
    if offering.state != "Enabled":
        raise invalid_value(f"Can't use network offering id={offering.uuid} as its state "
                            "is not Enabled")
    if offering.guest_ip_type != "Isolated":
        raise invalid_value("Only networks of type Isolated can be part of a VPC")
    gateway, netmask = p.get("gateway"), p.get("netmask")
    if not gateway or not netmask:
        raise invalid_value("Gateway/netmask are required when creating a network for a VPC")
    try:
        cidr = str(ipaddress.IPv4Network(f"{gateway}/{netmask}", strict=False))
    except ValueError:
        raise invalid_value(f"Invalid gateway {gateway} or netmask {netmask}") from None
    zone_uuid = p.uuid("zoneid", required=True) or ""
    if zone_uuid != ctx.services.vpcs.container_zone(container.uuid).uuid:
        raise invalid_value("The network's zone must be the zone of its VPC")
    name = p.require("name")
    tier = ctx.services.vpcs.create_tier(
        ctx.principal, container.sid, cidr, zone_uuid=zone_uuid, name=name,
        display_text=p.get("displaytext") or name, gateway=gateway,
        offering_uuid=offering.uuid)
    made = ctx.services.guest_networks.get(ctx.principal, tier.network.uuid, for_change=False)
    out = views_networks.network(made, show_admin=ctx.is_admin)
    out["vpcid"] = container.uuid
    return out


def vpc_rows(ctx: CsContext, p: CsParams, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """listNetworks rows with each VPC tier's ``vpcid`` set, narrowed by the
    ``vpcid`` and ``forvpc`` parameters (default containers' tiers count as
    no VPC's)."""
    if not rows:
        return rows
    tiers = ctx.services.vpcs.list_tiers(ctx.principal, [
        Criterion("uuid", tuple(r["id"] for r in rows), False)]).items
    default = {d.uuid for d in ctx.services.vpcs.list_vpcs(ctx.principal, [
        Criterion("is_default", ("true",), False)]).items}
    owner = {t.network.uuid: t.tier.vpc_uuid for t in tiers
             if t.tier is not None and t.tier.vpc_uuid not in default}
    for r in rows:
        if r["id"] in owner:
            r["vpcid"] = owner[r["id"]]
    wanted, for_vpc = p.uuid("vpcid"), p.boolean("forvpc")
    return [r for r in rows
            if (not wanted or r.get("vpcid") == wanted)
            and (for_vpc is None or bool(r.get("vpcid")) == for_vpc)]
