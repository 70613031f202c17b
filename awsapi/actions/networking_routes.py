"""VPC networking, write side for internet gateways and route tables:
CreateInternetGateway, AttachInternetGateway, DetachInternetGateway,
DeleteInternetGateway, CreateRouteTable, DeleteRouteTable, AssociateRouteTable,
DisassociateRouteTable, CreateRoute, ReplaceRoute, DeleteRoute.

Routes go through internet gateways only; other targets (NAT gateways,
instances, peering ...) are InvalidParameterValue.
"""

from __future__ import annotations

from awsapi import ids, views_network
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.networking_vpcs import _required, required_id
from awsapi.actions.tags import spec_tags
from awsapi.errors_wire import Ec2Error
from awsapi.ids import Kind

OTHER_TARGETS = ("NatGatewayId", "InstanceId", "NetworkInterfaceId", "VpcPeeringConnectionId",
                 "TransitGatewayId", "LocalGatewayId", "CarrierGatewayId",
                 "EgressOnlyInternetGatewayId", "VpcEndpointId", "CoreNetworkArn",
                 "OdbNetworkArn")


def _gateway_and_vpc(p: Params) -> tuple[str, str]:
    return (required_id(p, "InternetGatewayId", Kind.INTERNET_GATEWAY),
            required_id(p, "VpcId", Kind.VPC))


@action("CreateInternetGateway")
def create_internet_gateway(ctx: RequestContext, p: Params) -> Result:
    detail = ctx.services.routing.create_gateway(ctx.principal,
                                                 spec_tags(p, "internet-gateway"))
    return {"InternetGateway": views_network.internet_gateway(
        detail, ctx.principal.account_number)}


@action("AttachInternetGateway")
def attach_internet_gateway(ctx: RequestContext, p: Params) -> Result:
    ctx.services.routing.attach_gateway(ctx.principal, *_gateway_and_vpc(p))
    return {}


@action("DetachInternetGateway")
def detach_internet_gateway(ctx: RequestContext, p: Params) -> Result:
    ctx.services.routing.detach_gateway(ctx.principal, *_gateway_and_vpc(p))
    return {}


@action("DeleteInternetGateway")
def delete_internet_gateway(ctx: RequestContext, p: Params) -> Result:
    ctx.services.routing.delete_gateway(
        ctx.principal, required_id(p, "InternetGatewayId", Kind.INTERNET_GATEWAY))
    return {}


@action("CreateRouteTable")
def create_route_table(ctx: RequestContext, p: Params) -> Result:
    detail = ctx.services.routing.create_route_table(
        ctx.principal, required_id(p, "VpcId", Kind.VPC), spec_tags(p, "route-table"))
    out: Result = {"RouteTable": views_network.route_table(detail, ctx.principal.account_number)}
    if p.get("ClientToken"):
        out["ClientToken"] = p["ClientToken"]
    return out


@action("DeleteRouteTable")
def delete_route_table(ctx: RequestContext, p: Params) -> Result:
    ctx.services.routing.delete_route_table(
        ctx.principal, required_id(p, "RouteTableId", Kind.ROUTE_TABLE))
    return {}


@action("AssociateRouteTable")
def associate_route_table(ctx: RequestContext, p: Params) -> Result:
    if p.get("GatewayId"):
        raise Ec2Error("InvalidParameterValue",
                       "Associating a route table with a gateway is not supported")
    link_sid = ctx.services.routing.associate(
        ctx.principal, required_id(p, "RouteTableId", Kind.ROUTE_TABLE),
        required_id(p, "SubnetId", Kind.SUBNET))
    return {"AssociationId": ids.render(Kind.ROUTE_TABLE_ASSOCIATION, link_sid),
            "AssociationState": {"State": "associated"}}


@action("DisassociateRouteTable")
def disassociate_route_table(ctx: RequestContext, p: Params) -> Result:
    ctx.services.routing.disassociate(
        ctx.principal,
        required_id(p, "AssociationId", Kind.ROUTE_TABLE_ASSOCIATION))
    return {}


def _destination(p: Params) -> str:
    if p.get("DestinationIpv6CidrBlock") or p.get("DestinationPrefixListId"):
        raise Ec2Error("InvalidParameterValue",
                       "Only IPv4 destination CIDR blocks are supported")
    return str(_required(p, "DestinationCidrBlock"))


def _gateway_target(p: Params) -> str:
    """The sid of the route's target, which must be an internet gateway."""
    other = next((t for t in OTHER_TARGETS if p.get(t)), None)
    if other is not None:
        raise Ec2Error("InvalidParameterValue", f"Route targets of type {other} are not supported")
    gateway = p.get("GatewayId")
    if not gateway:
        raise Ec2Error("InvalidParameterCombination", "No route target specified.")
    return ids.parse(gateway, Kind.INTERNET_GATEWAY)


@action("CreateRoute")
def create_route(ctx: RequestContext, p: Params) -> Result:
    table = required_id(p, "RouteTableId", Kind.ROUTE_TABLE)
    destination = _destination(p)
    ctx.services.routing.add_route(ctx.principal, table, destination, _gateway_target(p))
    return {"Return": True}


@action("ReplaceRoute")
def replace_route(ctx: RequestContext, p: Params) -> Result:
    """The route to the destination must exist (InvalidRoute.NotFound); the
    local route keeps its target."""
    table = required_id(p, "RouteTableId", Kind.ROUTE_TABLE)
    destination = _destination(p)
    if p.get("LocalTarget"):
        raise Ec2Error("InvalidParameterValue", "Route targets of type LocalTarget are not "
                       "supported")
    ctx.services.routing.replace_route(ctx.principal, table, destination, _gateway_target(p))
    return {}


@action("DeleteRoute")
def delete_route(ctx: RequestContext, p: Params) -> Result:
    ctx.services.routing.remove_route(
        ctx.principal, required_id(p, "RouteTableId", Kind.ROUTE_TABLE),
        _destination(p))
    return {}
