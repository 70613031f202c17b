"""VPC networking, read side: DescribeVpcs, DescribeSubnets, DescribeInternetGateways.

Every guest network the caller can use is a VPC with one subnet of the same
id and CIDR (see :mod:`awsapi.views_network`). Named ids must all exist unless
filters narrow the set (AWS's rule): a malformed id is the kind's
``*.Malformed`` code, an unknown one its ``*.NotFound`` code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from awsapi import ids, views_network
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.images import paging
from awsapi.actions.volumes import require_found
from awsapi.filters import (
    INTERNET_GATEWAY_FILTERS,
    SUBNET_FILTERS,
    VPC_FILTERS,
    FilterSpec,
    criteria,
)
from awsapi.ids import Kind
from engine.querying import Criterion

if TYPE_CHECKING:
    from engine.services.inventory_network import VisibleNetwork

View = Callable[["VisibleNetwork", str], dict[str, Any]]


def _describe(ctx: RequestContext, p: Params, *, kind: Kind, ids_member: str, noun: str,
              table: Mapping[str, FilterSpec], view: View, result_key: str,
              extra: tuple[Criterion, ...] = ()) -> Result:
    wire_ids: list[str] = list(p.get(ids_member) or ())
    sids = [ids.parse(w, kind) for w in wire_ids]
    crit = [*criteria(p.get("Filters"), table), *extra]
    if sids:
        crit.append(Criterion("sid", tuple(sids), False))
    inventory = ctx.services.inventory
    page = inventory.networks_visible(ctx.principal, crit, paging(p))
    if sids and not p.get("Filters"):
        found = {d.network.sid for d in page.items}
        rest = tuple(s for s in sids if s not in found)
        if rest and page.next_token:  # named ids on later pages are not missing
            found |= {d.network.sid for d in inventory.networks_visible(
                ctx.principal, [*extra, Criterion("sid", rest, False)]).items}
        require_found(wire_ids, sids, found, kind, noun)
    out: Result = {result_key: [view(d, ctx.principal.account_number) for d in page.items]}
    if page.next_token:
        out["NextToken"] = page.next_token
    return out


@action("DescribeVpcs", readonly=True)
def describe_vpcs(ctx: RequestContext, p: Params) -> Result:
    return _describe(ctx, p, kind=Kind.VPC, ids_member="VpcIds", noun="vpc ID",
                     table=VPC_FILTERS, view=views_network.vpc, result_key="Vpcs")


@action("DescribeSubnets", readonly=True)
def describe_subnets(ctx: RequestContext, p: Params) -> Result:
    return _describe(ctx, p, kind=Kind.SUBNET, ids_member="SubnetIds", noun="subnet ID",
                     table=SUBNET_FILTERS, view=views_network.subnet, result_key="Subnets")


@action("DescribeInternetGateways", readonly=True)
def describe_internet_gateways(ctx: RequestContext, p: Params) -> Result:
    """One attached gateway per default VPC (a zone's default shared network)."""
    return _describe(ctx, p, kind=Kind.INTERNET_GATEWAY, ids_member="InternetGatewayIds",
                     noun="internet gateway ID", table=INTERNET_GATEWAY_FILTERS,
                     view=views_network.internet_gateway, result_key="InternetGateways",
                     extra=(Criterion("is_default", ("1",), False),))
