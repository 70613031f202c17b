"""VPCs over the engine's network containers, and the constant VPC offering table.

createVPC and deleteVPC are async; their work is done within the request (the
job is already finished). Only real containers are VPCs here: a guest network
that belongs to none is not listed. Tiers (createNetwork with vpcid) are not
offered through this API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from nativeapi import views_infra_more
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
            if d.vpc is not None]


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
                                          display_text=p.get("displaytext") or name)
    ctx.services.vpcs.container_zone(detail.uuid, zone_uuid)  # NotFound: no such zone here
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
