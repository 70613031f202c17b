"""VPC networking, read side: DescribeVpcs, DescribeSubnets,
DescribeInternetGateways, DescribeRouteTables, DescribeNetworkInterfaces.

Containers are VPCs, their tiers subnets (see :mod:`awsapi.views_network`).
Named ids must all exist unless filters narrow the set (AWS's rule): a
malformed id is the kind's ``*.Malformed`` code, an unknown one its
``*.NotFound`` code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from awsapi import ids, views_network
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.images import paging
from awsapi.actions.volumes import require_found
from awsapi.filters import (
    INTERNET_GATEWAY_FILTERS,
    NETWORK_INTERFACE_FILTERS,
    ROUTE_TABLE_FILTERS,
    SUBNET_FILTERS,
    VPC_FILTERS,
    FilterSpec,
    criteria,
)
from awsapi.filters_base import wildcard_match
from awsapi.ids import Kind
from engine.querying import Criterion, ListResult, Paging

Lister = Callable[[list[Criterion], Paging | None], ListResult]
View = Callable[[Any, str], dict[str, Any]]


def _describe(ctx: RequestContext, p: Params, *, kind: Kind, ids_member: str, noun: str,
              table: Mapping[str, FilterSpec], lister: Lister, view: View,
              result_key: str) -> Result:
    wire_ids: list[str] = list(p.get(ids_member) or ())
    sids = [ids.parse(w, kind) for w in wire_ids]
    crit = list(criteria(p.get("Filters"), table))
    if sids:
        crit.append(Criterion("sid", tuple(sids), False))
    page = lister(crit, paging(p))
    if sids and not p.get("Filters"):
        found = {_sid(d) for d in page.items}
        rest = tuple(s for s in sids if s not in found)
        if rest and page.next_token:  # named ids on later pages are not missing
            found |= {_sid(d) for d in lister([Criterion("sid", rest, False)], None).items}
        require_found(wire_ids, sids, found, kind, noun)
    out: Result = {result_key: [view(d, ctx.principal.account_number) for d in page.items]}
    if page.next_token:
        out["NextToken"] = page.next_token
    return out


def _sid(d: Any) -> str:
    """The sid of any listed detail (tiers and tables keep it on their row)."""
    for attr in ("sid", "nic", "network", "table"):
        v = getattr(d, attr, None)
        if isinstance(v, str):
            return v
        if v is not None:
            return str(v.sid)
    raise AttributeError("sid")


def _dhcp_filters_pass(ctx: RequestContext, p: Params) -> bool:
    """Whether the ``dhcp-options-id`` filters (taken out of ``p``) let the
    caller's VPCs through: they all use the caller's one DHCP options set
    (:func:`awsapi.views_network.dhcp_options_id`)."""
    filters = list(p.get("Filters") or ())
    ours = [f for f in filters if f.get("Name") == "dhcp-options-id"]
    if not ours:
        return True
    p["Filters"] = [f for f in filters if f.get("Name") != "dhcp-options-id"] or None
    options_id = views_network.dhcp_options_id(ctx.principal.account_number)
    return all(any(wildcard_match(options_id, v) for v in f.get("Values") or ())
               for f in ours)


@action("DescribeVpcs", readonly=True)
def describe_vpcs(ctx: RequestContext, p: Params) -> Result:
    if not _dhcp_filters_pass(ctx, p):
        p = {**p, "Filters": [{"Name": "vpc-id", "Values": ["vpc-none"]}]}  # matches none
    return _describe(ctx, p, kind=Kind.VPC, ids_member="VpcIds", noun="vpc ID",
                     table=VPC_FILTERS, view=views_network.vpc, result_key="Vpcs",
                     lister=lambda c, pg: ctx.services.vpcs.list_vpcs(ctx.principal, c, pg))


@action("DescribeSubnets", readonly=True)
def describe_subnets(ctx: RequestContext, p: Params) -> Result:
    return _describe(ctx, p, kind=Kind.SUBNET, ids_member="SubnetIds", noun="subnet ID",
                     table=SUBNET_FILTERS, view=views_network.subnet, result_key="Subnets",
                     lister=lambda c, pg: ctx.services.vpcs.list_tiers(ctx.principal, c, pg))


@action("DescribeInternetGateways", readonly=True)
def describe_internet_gateways(ctx: RequestContext, p: Params) -> Result:
    """Created gateways plus one attached gateway per default VPC."""
    return _describe(ctx, p, kind=Kind.INTERNET_GATEWAY, ids_member="InternetGatewayIds",
                     noun="internetGateway ID", table=INTERNET_GATEWAY_FILTERS,
                     view=views_network.internet_gateway, result_key="InternetGateways",
                     lister=lambda c, pg: ctx.services.routing.list_gateways(
                         ctx.principal, c, pg))


@action("DescribeRouteTables", readonly=True)
def describe_route_tables(ctx: RequestContext, p: Params) -> Result:
    return _describe(ctx, p, kind=Kind.ROUTE_TABLE, ids_member="RouteTableIds",
                     noun="routeTable ID", table=ROUTE_TABLE_FILTERS,
                     view=views_network.route_table, result_key="RouteTables",
                     lister=lambda c, pg: ctx.services.routing.list_route_tables(
                         ctx.principal, c, pg))


@action("DescribeNetworkInterfaces", readonly=True)
def describe_network_interfaces(ctx: RequestContext, p: Params) -> Result:
    """The instances' interfaces (one per instance, its primary NIC)."""
    return _describe(ctx, p, kind=Kind.NETWORK_INTERFACE, ids_member="NetworkInterfaceIds",
                     noun="networkInterface ID", table=NETWORK_INTERFACE_FILTERS,
                     view=views_network.network_interface, result_key="NetworkInterfaces",
                     lister=lambda c, pg: ctx.services.interfaces.list(ctx.principal, c, pg))
