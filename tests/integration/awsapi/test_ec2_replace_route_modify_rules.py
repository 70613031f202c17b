"""ReplaceRoute (a route to another internet gateway) and
ModifySecurityGroupRules (a rule changed in place, keeping its id)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import error_code, fresh_account_client


@pytest.fixture(scope="module")
def client(server: Any) -> Iterator[Any]:
    yield from fresh_account_client(server, "rr")


def _routes(client: Any, rtb: str) -> dict[str, str]:
    table = client.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]
    return {r["DestinationCidrBlock"]: r["GatewayId"] for r in table["Routes"]}


def test_replace_route(client: Any) -> None:
    vpc = client.create_vpc(CidrBlock=f"10.{random.randint(0, 255)}.0.0/16")["Vpc"]
    vid = vpc["VpcId"]
    other_vpc = client.create_vpc(CidrBlock="192.168.0.0/16")["Vpc"]["VpcId"]
    rtb = client.create_route_table(VpcId=vid)["RouteTable"]["RouteTableId"]
    first = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=first, VpcId=vid)
    client.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=first)
    second = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    with pytest.raises(ClientError) as err:
        client.replace_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                             GatewayId=second)  # attached elsewhere (nowhere)
    assert error_code(err) == "InvalidParameterValue"
    client.attach_internet_gateway(InternetGatewayId=second, VpcId=other_vpc)
    with pytest.raises(ClientError) as err:
        client.replace_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                             GatewayId=second)
    assert error_code(err) == "InvalidParameterValue"
    client.detach_internet_gateway(InternetGatewayId=first, VpcId=vid)
    client.detach_internet_gateway(InternetGatewayId=second, VpcId=other_vpc)
    client.attach_internet_gateway(InternetGatewayId=second, VpcId=vid)
    client.replace_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=second)
    assert _routes(client, rtb)["0.0.0.0/0"] == second
    with pytest.raises(ClientError) as err:
        client.replace_route(RouteTableId=rtb, DestinationCidrBlock="1.0.0.0/8",
                             GatewayId=second)
    assert error_code(err) == "InvalidRoute.NotFound"
    with pytest.raises(ClientError) as err:
        client.replace_route(RouteTableId=rtb, DestinationCidrBlock=vpc["CidrBlock"],
                             GatewayId=second)
    assert error_code(err) == "InvalidParameterValue"
    assert _routes(client, rtb)[vpc["CidrBlock"]] == "local"
    with pytest.raises(ClientError) as err:
        client.replace_route(RouteTableId="rtb-0123456789abcdef0",
                             DestinationCidrBlock="0.0.0.0/0", GatewayId=second)
    assert error_code(err) == "InvalidRouteTableID.NotFound"
    with pytest.raises(ClientError) as err:
        client.replace_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                             NatGatewayId="nat-0123456789abcdef0")
    assert error_code(err) == "InvalidParameterValue"


def _rules(client: Any, gid: str) -> dict[str, dict[str, Any]]:
    got = client.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]
    return {r["SecurityGroupRuleId"]: r for r in got}


def test_modify_security_group_rules(client: Any) -> None:
    gid = client.create_security_group(GroupName=f"mod-{uuid.uuid4().hex[:8]}",
                                       Description="modify rules")["GroupId"]
    added = client.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])["SecurityGroupRules"]
    ssh = next(r["SecurityGroupRuleId"] for r in added if r["FromPort"] == 22)
    out = client.modify_security_group_rules(GroupId=gid, SecurityGroupRules=[{
        "SecurityGroupRuleId": ssh,
        "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 2222, "ToPort": 2223,
                              "CidrIpv4": "192.168.0.0/16", "Description": "moved"}}])
    assert out["Return"] is True
    rule = _rules(client, gid)[ssh]
    assert (rule["FromPort"], rule["ToPort"], rule["CidrIpv4"]) == (2222, 2223, "192.168.0.0/16")
    assert rule["Description"] == "moved" and rule["IsEgress"] is False
    # the same as another rule: a duplicate, and nothing changes
    with pytest.raises(ClientError) as err:
        client.modify_security_group_rules(GroupId=gid, SecurityGroupRules=[{
            "SecurityGroupRuleId": ssh,
            "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                  "CidrIpv4": "10.0.0.0/8"}}])
    assert error_code(err) == "InvalidPermission.Duplicate"
    assert _rules(client, gid)[ssh]["FromPort"] == 2222
    # referencing a group
    client.modify_security_group_rules(GroupId=gid, SecurityGroupRules=[{
        "SecurityGroupRuleId": ssh,
        "SecurityGroupRule": {"IpProtocol": "-1", "ReferencedGroupId": gid}}])
    rule = _rules(client, gid)[ssh]
    assert rule["IpProtocol"] == "-1"
    assert rule["ReferencedGroupInfo"]["GroupId"] == gid
    with pytest.raises(ClientError) as err:
        client.modify_security_group_rules(GroupId=gid, SecurityGroupRules=[{
            "SecurityGroupRuleId": "sgr-0123456789abcdef0",
            "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1,
                                  "CidrIpv4": "10.0.0.0/8"}}])
    assert error_code(err) == "InvalidSecurityGroupRuleId.NotFound"
    assert "sgr-0123456789abcdef0" in str(err.value)
    with pytest.raises(ClientError) as err:
        client.modify_security_group_rules(GroupId=gid, SecurityGroupRules=[{
            "SecurityGroupRuleId": ssh,
            "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1,
                                  "CidrIpv4": "10.0.0.0/8", "CidrIpv6": "2001:db8::/32"}}])
    assert error_code(err) == "InvalidParameterCombination"
