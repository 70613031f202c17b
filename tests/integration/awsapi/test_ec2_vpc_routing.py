"""Internet gateways, route tables and routes of created VPCs, and tags on
VPC resources, through boto3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import new_subnet, scratch_vpc


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def client(server: Any) -> Any:
    return server.ec2(*server.new_user(f"rtb-{uuid.uuid4().hex[:8]}"))


@pytest.fixture
def vpc(client: Any) -> Iterator[dict[str, Any]]:
    yield from scratch_vpc(client)


_subnet = new_subnet


# ------------------------------------------------------------ internet gateways
def test_internet_gateway_lifecycle(client: Any, vpc: dict[str, Any]) -> None:
    igw = client.create_internet_gateway(TagSpecifications=[
        {"ResourceType": "internet-gateway", "Tags": [{"Key": "k", "Value": "v"}]}])
    gw = igw["InternetGateway"]
    gid = gw["InternetGatewayId"]
    assert gid.startswith("igw-") and gw["Attachments"] == []
    assert gw["Tags"] == [{"Key": "k", "Value": "v"}]
    with pytest.raises(ClientError) as err:
        client.detach_internet_gateway(InternetGatewayId=gid, VpcId=vpc["VpcId"])
    assert _code(err) == "Gateway.NotAttached"
    client.attach_internet_gateway(InternetGatewayId=gid, VpcId=vpc["VpcId"])
    got = client.describe_internet_gateways(InternetGatewayIds=[gid])["InternetGateways"][0]
    assert got["Attachments"] == [{"State": "available", "VpcId": vpc["VpcId"]}]
    found = client.describe_internet_gateways(Filters=[
        {"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]},
        {"Name": "attachment.state", "Values": ["available"]}])["InternetGateways"]
    assert [g["InternetGatewayId"] for g in found] == [gid]
    with pytest.raises(ClientError) as err:
        client.attach_internet_gateway(InternetGatewayId=gid, VpcId=vpc["VpcId"])
    assert _code(err) == "Resource.AlreadyAssociated"
    second = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    with pytest.raises(ClientError) as err:
        client.attach_internet_gateway(InternetGatewayId=second, VpcId=vpc["VpcId"])
    assert _code(err) == "Resource.AlreadyAssociated"
    client.delete_internet_gateway(InternetGatewayId=second)
    with pytest.raises(ClientError) as err:
        client.delete_internet_gateway(InternetGatewayId=gid)
    assert _code(err) == "DependencyViolation"
    with pytest.raises(ClientError) as err:
        client.delete_vpc(VpcId=vpc["VpcId"])
    assert _code(err) == "DependencyViolation"
    client.detach_internet_gateway(InternetGatewayId=gid, VpcId=vpc["VpcId"])
    client.delete_internet_gateway(InternetGatewayId=gid)
    with pytest.raises(ClientError) as err:
        client.describe_internet_gateways(InternetGatewayIds=[gid])
    assert _code(err) == "InvalidInternetGatewayID.NotFound"
    with pytest.raises(ClientError) as err:
        client.delete_internet_gateway(InternetGatewayId="igw-bad")
    assert _code(err) == "InvalidInternetGatewayId.Malformed"


# ---------------------------------------------------------------- route tables
def test_main_route_table_has_the_local_route(client: Any, vpc: dict[str, Any]) -> None:
    tables = client.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["RouteTables"]
    assert len(tables) == 1
    main = tables[0]
    assert main["VpcId"] == vpc["VpcId"] and main["RouteTableId"].startswith("rtb-")
    assert main["Routes"] == [{"DestinationCidrBlock": vpc["CidrBlock"], "GatewayId": "local",
                               "Origin": "CreateRouteTable", "State": "active"}]
    assert [a["Main"] for a in main["Associations"]] == [True]
    assert main["Associations"][0]["RouteTableAssociationId"].startswith("rtbassoc-")
    by_main = client.describe_route_tables(Filters=[
        {"Name": "association.main", "Values": ["true"]},
        {"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["RouteTables"]
    assert [t["RouteTableId"] for t in by_main] == [main["RouteTableId"]]
    with pytest.raises(ClientError) as err:
        client.delete_route_table(RouteTableId=main["RouteTableId"])
    assert _code(err) == "DependencyViolation"
    with pytest.raises(ClientError) as err:
        client.disassociate_route_table(
            AssociationId=main["Associations"][0]["RouteTableAssociationId"])
    assert _code(err) == "InvalidParameterValue"


def test_route_table_association_and_routes(client: Any, vpc: dict[str, Any]) -> None:
    subnet_id = _subnet(client, vpc)
    table = client.create_route_table(VpcId=vpc["VpcId"], TagSpecifications=[
        {"ResourceType": "route-table", "Tags": [{"Key": "role", "Value": "public"}]}])
    rtb = table["RouteTable"]["RouteTableId"]
    assert table["RouteTable"]["Tags"] == [{"Key": "role", "Value": "public"}]
    assoc = client.associate_route_table(RouteTableId=rtb, SubnetId=subnet_id)
    assoc_id = assoc["AssociationId"]
    assert assoc_id.startswith("rtbassoc-") and assoc["AssociationState"]["State"] == "associated"
    with pytest.raises(ClientError) as err:
        client.associate_route_table(RouteTableId=rtb, SubnetId=subnet_id)
    assert _code(err) == "Resource.AlreadyAssociated"
    gid = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    with pytest.raises(ClientError) as err:  # not attached to this VPC yet
        client.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=gid)
    assert _code(err) == "InvalidParameterValue"
    client.attach_internet_gateway(InternetGatewayId=gid, VpcId=vpc["VpcId"])
    assert client.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                               GatewayId=gid)["Return"] is True
    with pytest.raises(ClientError) as err:
        client.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=gid)
    assert _code(err) == "RouteAlreadyExists"
    got = client.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": gid, "Origin": "CreateRoute",
            "State": "active"} in got["Routes"]
    assert [(a["SubnetId"], a["Main"]) for a in got["Associations"]] == [(subnet_id, False)]
    for name, value in (("route.gateway-id", gid), ("association.subnet-id", subnet_id),
                        ("association.route-table-association-id", assoc_id),
                        ("route.destination-cidr-block", "0.0.0.0/0"),
                        ("tag:role", "public")):
        found = client.describe_route_tables(Filters=[  # the default VPC routes 0.0.0.0/0 too
            {"Name": name, "Values": [value]},
            {"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["RouteTables"]
        assert [t["RouteTableId"] for t in found] == [rtb], name
    client.detach_internet_gateway(InternetGatewayId=gid, VpcId=vpc["VpcId"])
    blackhole = client.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]
    assert [r["State"] for r in blackhole if r["GatewayId"] == gid] == ["blackhole"]
    client.delete_internet_gateway(InternetGatewayId=gid)
    with pytest.raises(ClientError) as err:
        client.delete_route(RouteTableId=rtb, DestinationCidrBlock=vpc["CidrBlock"])
    assert _code(err) == "InvalidParameterValue"
    client.delete_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0")
    with pytest.raises(ClientError) as err:
        client.delete_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0")
    assert _code(err) == "InvalidRoute.NotFound"
    with pytest.raises(ClientError) as err:
        client.delete_route_table(RouteTableId=rtb)
    assert _code(err) == "DependencyViolation"
    with pytest.raises(ClientError) as err:
        client.delete_vpc(VpcId=vpc["VpcId"])
    assert _code(err) == "DependencyViolation"
    client.disassociate_route_table(AssociationId=assoc_id)
    with pytest.raises(ClientError) as err:
        client.disassociate_route_table(AssociationId=assoc_id)
    assert _code(err) == "InvalidAssociationID.NotFound"
    client.delete_route_table(RouteTableId=rtb)
    with pytest.raises(ClientError) as err:
        client.describe_route_tables(RouteTableIds=[rtb])
    assert _code(err) == "InvalidRouteTableID.NotFound"


def test_subnet_of_another_vpc_cannot_be_associated(client: Any, vpc: dict[str, Any]) -> None:
    other = client.create_vpc(CidrBlock="172.16.0.0/16")["Vpc"]["VpcId"]
    try:
        rtb = client.create_route_table(VpcId=other)["RouteTable"]["RouteTableId"]
        with pytest.raises(ClientError) as err:
            client.associate_route_table(RouteTableId=rtb, SubnetId=_subnet(client, vpc))
        assert _code(err) == "InvalidParameterValue"
        client.delete_route_table(RouteTableId=rtb)
    finally:
        client.delete_vpc(VpcId=other)


def test_route_table_paging(client: Any, vpc: dict[str, Any]) -> None:
    made = {client.create_route_table(VpcId=vpc["VpcId"])["RouteTable"]["RouteTableId"]
            for _ in range(6)}
    seen: list[str] = []
    kwargs: dict[str, Any] = {"MaxResults": 5,
                              "Filters": [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]}
    while True:
        page = client.describe_route_tables(**kwargs)
        seen += [t["RouteTableId"] for t in page["RouteTables"]]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    assert len(seen) == len(set(seen)) == 7 and made < set(seen)


# ------------------------------------------------------------------------ tags
def test_tags_on_vpc_resources(client: Any, vpc: dict[str, Any]) -> None:
    subnet_id = _subnet(client, vpc, 2)
    gid = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    rtb = client.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["RouteTables"][0]["RouteTableId"]
    value = uuid.uuid4().hex
    resources = [vpc["VpcId"], subnet_id, gid, rtb]
    try:
        client.create_tags(Resources=resources, Tags=[{"Key": "team", "Value": value}])
        tags = client.describe_tags(Filters=[{"Name": "value", "Values": [value]}])["Tags"]
        assert {(t["ResourceId"], t["ResourceType"]) for t in tags} == {
            (vpc["VpcId"], "vpc"), (subnet_id, "subnet"), (gid, "internet-gateway"),
            (rtb, "route-table")}
        assert [v["VpcId"] for v in client.describe_vpcs(
            Filters=[{"Name": "tag:team", "Values": [value]}])["Vpcs"]] == [vpc["VpcId"]]
        assert [g["InternetGatewayId"] for g in client.describe_internet_gateways(
            Filters=[{"Name": "tag-value", "Values": [value]}])["InternetGateways"]] == [gid]
        typed = client.describe_tags(Filters=[{"Name": "resource-type", "Values": ["subnet"]},
                                              {"Name": "value", "Values": [value]}])["Tags"]
        assert [t["ResourceId"] for t in typed] == [subnet_id]
        client.delete_tags(Resources=[vpc["VpcId"]], Tags=[{"Key": "team"}])
        assert not client.describe_vpcs(
            Filters=[{"Name": "tag:team", "Values": [value]}])["Vpcs"]
        with pytest.raises(ClientError) as err:
            client.create_tags(Resources=["vpc-0123456789abcdef0"],
                               Tags=[{"Key": "a", "Value": "b"}])
        assert _code(err) == "InvalidVpcID.NotFound"
    finally:
        client.delete_internet_gateway(InternetGatewayId=gid)
