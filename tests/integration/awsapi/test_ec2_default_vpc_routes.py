"""The default VPC's internet gateway and main route table, and every VPC's
main route table, as AWS shows them, through boto3; the engine makes them once
however often (and from however many servers) the default VPC is linked."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _default_vpc(ec2: Any) -> dict[str, Any]:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(vpcs) == 1
    return vpcs[0]  # type: ignore[no-any-return]


def _main_tables(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    return ec2.describe_route_tables(Filters=[  # type: ignore[no-any-return]
        {"Name": "association.main", "Values": ["true"]},
        {"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]


def _gateways(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    return ec2.describe_internet_gateways(Filters=[  # type: ignore[no-any-return]
        {"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]


def test_default_vpc_has_an_attached_gateway_and_a_main_route_table(ec2: Any) -> None:
    vpc = _default_vpc(ec2)
    gws = _gateways(ec2, vpc["VpcId"])
    assert len(gws) == 1
    igw = gws[0]
    assert igw["InternetGatewayId"].startswith("igw-")
    assert igw["Attachments"] == [{"State": "available", "VpcId": vpc["VpcId"]}]
    tables = _main_tables(ec2, vpc["VpcId"])
    assert len(tables) == 1
    table = tables[0]
    assert table["VpcId"] == vpc["VpcId"] and table["OwnerId"] == vpc["OwnerId"]
    assert [(a["Main"], "SubnetId" in a) for a in table["Associations"]] == [(True, False)]
    routes = {r["DestinationCidrBlock"]: r for r in table["Routes"]}
    assert routes == {
        "172.31.0.0/16": {"DestinationCidrBlock": "172.31.0.0/16", "GatewayId": "local",
                          "Origin": "CreateRouteTable", "State": "active"},
        "0.0.0.0/0": {"DestinationCidrBlock": "0.0.0.0/0",
                      "GatewayId": igw["InternetGatewayId"], "Origin": "CreateRoute",
                      "State": "active"},
    }
    # Found by the route's gateway and by id too.
    by_gw = ec2.describe_route_tables(Filters=[
        {"Name": "route.gateway-id", "Values": [igw["InternetGatewayId"]]}])["RouteTables"]
    assert table["RouteTableId"] in [t["RouteTableId"] for t in by_gw]
    assert ec2.describe_route_tables(RouteTableIds=[table["RouteTableId"]])[
        "RouteTables"] == [table]
    assert ec2.describe_internet_gateways(InternetGatewayIds=[igw["InternetGatewayId"]])[
        "InternetGateways"] == [igw]
    # Default subnets are implicitly associated with the main table: no association of
    # their own.
    for subnet in ec2.describe_subnets(Filters=[
            {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]:
        assert ec2.describe_route_tables(Filters=[
            {"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}])[
            "RouteTables"] == []


def test_every_account_sees_the_same_default_routing_and_cannot_change_it(
        server: Any, ec2: Any) -> None:
    client = server.ec2(*server.new_user(f"dr-{uuid.uuid4().hex[:8]}"))
    vpc = _default_vpc(client)
    mine = _main_tables(client, vpc["VpcId"])
    admin = _main_tables(ec2, vpc["VpcId"])
    assert [t["RouteTableId"] for t in mine] == [t["RouteTableId"] for t in admin]
    igw = _gateways(client, vpc["VpcId"])[0]["InternetGatewayId"]
    assert igw == _gateways(ec2, vpc["VpcId"])[0]["InternetGatewayId"]
    rtb = mine[0]["RouteTableId"]
    for call, kw, code in (
        (client.detach_internet_gateway, {"InternetGatewayId": igw, "VpcId": vpc["VpcId"]},
         "InvalidInternetGatewayID.NotFound"),
        (client.delete_internet_gateway, {"InternetGatewayId": igw},
         "InvalidInternetGatewayID.NotFound"),
        (client.delete_route, {"RouteTableId": rtb, "DestinationCidrBlock": "0.0.0.0/0"},
         "InvalidRouteTableID.NotFound"),
        (client.delete_route_table, {"RouteTableId": rtb}, "InvalidRouteTableID.NotFound"),
        (client.create_tags, {"Resources": [igw, rtb], "Tags": [{"Key": "k", "Value": "v"}]},
         "InvalidInternetGatewayID.NotFound"),
    ):
        with pytest.raises(ClientError) as err:
            call(**kw)
        assert _code(err) == code, call
    own = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    with pytest.raises(ClientError) as err:  # not the user's VPC to attach to
        client.attach_internet_gateway(InternetGatewayId=own, VpcId=vpc["VpcId"])
    assert _code(err) == "InvalidVpcID.NotFound"
    client.delete_internet_gateway(InternetGatewayId=own)
    assert _main_tables(client, vpc["VpcId"]) == mine


def test_created_vpcs_have_their_own_main_route_table(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.91.0.0/16")["Vpc"]["VpcId"]
    tables = _main_tables(ec2, vpc)
    assert len(tables) == 1
    assert tables[0]["Routes"] == [{"DestinationCidrBlock": "10.91.0.0/16",
                                    "GatewayId": "local", "Origin": "CreateRouteTable",
                                    "State": "active"}]
    assert _gateways(ec2, vpc) == []
    ec2.delete_vpc(VpcId=vpc)


def test_linking_is_idempotent(server: Any) -> None:
    """Linking the default networks again (as making another default network
    does) makes no second gateway, main table or route."""
    from sqlalchemy import func, select

    from engine.models import Gateway, Network, Route, RouteTable
    from engine.services.default_vpcs import default_vpc, link_default_network

    def counts(session: Any, vpc_uuid: str) -> tuple[int, int, int]:
        tables = select(RouteTable.uuid).where(RouteTable.vpc_uuid == vpc_uuid)
        return (session.scalar(select(func.count()).select_from(Gateway).where(
                    Gateway.vpc_uuid == vpc_uuid)),
                session.scalar(select(func.count()).select_from(RouteTable).where(
                    RouteTable.vpc_uuid == vpc_uuid, RouteTable.is_main.is_(True))),
                session.scalar(select(func.count()).select_from(Route).where(
                    Route.route_table_uuid.in_(tables))))

    with server.runtime.unit() as services:
        s = services.session
        net = s.scalar(select(Network).where(Network.is_default.is_(True),
                                             Network.removed_at.is_(None)))
        vpc = link_default_network(s, net)
        before = counts(s, vpc.uuid)
        again = link_default_network(s, net)
        assert again.uuid == vpc.uuid and counts(s, vpc.uuid) == before == (1, 1, 2)
        zone_region = default_vpc(s, vpc.region_uuid)
        assert zone_region is not None and zone_region.uuid == vpc.uuid
