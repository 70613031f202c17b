"""DescribeVpcs / DescribeSubnets / DescribeInternetGateways over guest networks,
and RunInstances into a subnet, through boto3 and awscli."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.awscli import aws


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


@dataclass(frozen=True)
class Tenant:
    keys: tuple[str, str]
    number: str
    network_sid: str  # the tenant's own isolated network
    cidr: str
    tag_value: str


@pytest.fixture(scope="module")
def tenant(server: Any) -> Tenant:
    """A fresh account owning one tagged isolated network in the first zone."""
    from engine.errors import ResourceKind
    from engine.services.inventory_network import NetworkRequest
    from engine.services.sessions import principal_of
    from engine.services.tags import apply_tags
    from engine.states import Role

    name = f"net-{uuid.uuid4().hex[:8]}"
    tag_value = uuid.uuid4().hex
    with server.runtime.unit() as services:
        account, user = services.accounts.create_account(name, Role.USER)
        principal = principal_of(services.session, user)
        zone, _ = services.catalog.zones()[0]
        third = int(uuid.uuid4().hex[:2], 16)
        cidr = f"10.{third}.7.0/24"
        detail = services.inventory.add_guest_network(
            principal, NetworkRequest(zone_uuid=zone.uuid, name=name, cidr=cidr))
        apply_tags(services.session, principal, ResourceKind.NETWORK,
                   [detail.network.uuid], [("Name", tag_value)])
        return Tenant((user.api_key, user.secret_key), account.number, detail.network.sid,
                      cidr, tag_value)


def _default_subnets(ec2: Any) -> list[dict[str, Any]]:
    return ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]


# ----------------------------------------------------------------- DescribeVpcs
def test_default_vpc_is_found_by_is_default_filter(ec2: Any) -> None:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert vpcs, "the bootstrap zone has a default network"
    vpc = vpcs[0]
    assert vpc["VpcId"].startswith("vpc-") and len(vpc["VpcId"]) == 21
    assert vpc["IsDefault"] is True
    assert vpc["State"] == "available"
    assert vpc["DhcpOptionsId"].startswith("dopt-")
    assert vpc["InstanceTenancy"] == "default"
    ipaddress.IPv4Network(vpc["CidrBlock"])
    assoc = vpc["CidrBlockAssociationSet"]
    assert assoc[0]["CidrBlock"] == vpc["CidrBlock"]
    assert assoc[0]["CidrBlockState"]["State"] == "associated"
    assert len(vpc["OwnerId"]) == 12


def test_shared_default_vpc_is_owned_by_each_caller(server: Any, tenant: Tenant) -> None:
    client = server.ec2(*tenant.keys)
    vpcs = client.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert vpcs and all(v["OwnerId"] == tenant.number for v in vpcs)
    mine = client.describe_vpcs(Filters=[{"Name": "owner-id", "Values": [tenant.number]}])
    ids = {v["VpcId"] for v in mine["Vpcs"]}
    assert f"vpc-{tenant.network_sid}" in ids and vpcs[0]["VpcId"] in ids


def test_describe_vpcs_by_id_and_filters(server: Any, tenant: Tenant) -> None:
    client = server.ec2(*tenant.keys)
    vpc_id = f"vpc-{tenant.network_sid}"
    got = client.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert [v["VpcId"] for v in got] == [vpc_id]
    assert got[0]["IsDefault"] is False and got[0]["CidrBlock"] == tenant.cidr
    assert got[0]["Tags"] == [{"Key": "Name", "Value": tenant.tag_value}]
    assert got[0]["OwnerId"] == tenant.number
    for name, value in (("cidr", tenant.cidr),
                        ("cidr-block-association.cidr-block", tenant.cidr),
                        ("tag:Name", tenant.tag_value), ("state", "available"),
                        ("vpc-id", vpc_id), ("is-default", "false")):
        found = client.describe_vpcs(Filters=[{"Name": name, "Values": [value]}])["Vpcs"]
        assert vpc_id in {v["VpcId"] for v in found}, name
    assert client.describe_vpcs(
        VpcIds=[vpc_id], Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"] == []
    assert client.describe_vpcs(
        Filters=[{"Name": "state", "Values": ["pending"]}])["Vpcs"] == []


def test_other_accounts_do_not_see_an_isolated_vpc(server: Any, tenant: Tenant) -> None:
    other = server.ec2(*server.new_user(f"other-{uuid.uuid4().hex[:8]}"))
    with pytest.raises(ClientError) as err:
        other.describe_vpcs(VpcIds=[f"vpc-{tenant.network_sid}"])
    assert _code(err) == "InvalidVpcID.NotFound"


def test_vpc_id_errors(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_vpcs(VpcIds=["vpc-nothex"])
    assert _code(err) == "InvalidVpcID.Malformed"
    with pytest.raises(ClientError) as err:
        ec2.describe_vpcs(VpcIds=["vpc-0123456789abcdef0"])
    assert _code(err) == "InvalidVpcID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.describe_vpcs(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert _code(err) == "InvalidParameterValue"


# -------------------------------------------------------------- DescribeSubnets
def test_default_subnet_per_zone(ec2: Any) -> None:
    zones = {z["ZoneName"]: z for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    subnets = _default_subnets(ec2)
    assert subnets
    default_vpc = ec2.describe_vpcs(
        Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    for s in subnets:
        assert s["SubnetId"].startswith("subnet-")
        assert s["VpcId"] == default_vpc  # one default VPC per region holds them all
        assert s["DefaultForAz"] is True and s["MapPublicIpOnLaunch"] is True
        assert s["State"] == "available"
        assert s["AvailabilityZone"] in zones
        assert s["AvailabilityZoneId"] == zones[s["AvailabilityZone"]]["ZoneId"]
        net = ipaddress.IPv4Network(s["CidrBlock"])
        assert 0 <= s["AvailableIpAddressCount"] <= net.num_addresses - 3
        assert s["SubnetArn"].endswith(f":subnet/{s['SubnetId']}")
    by_zone = ec2.describe_subnets(Filters=[
        {"Name": "availability-zone", "Values": [subnets[0]["AvailabilityZone"]]},
        {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    assert [s["SubnetId"] for s in by_zone] == [subnets[0]["SubnetId"]]
    by_vpc = ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [subnets[0]["VpcId"]]}])["Subnets"]
    assert [s["SubnetId"] for s in by_vpc] == [subnets[0]["SubnetId"]]


def test_subnet_filters_and_ids(server: Any, tenant: Tenant) -> None:
    client = server.ec2(*tenant.keys)
    subnet_id = f"subnet-{tenant.network_sid}"
    got = client.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    assert len(got) == 1 and got[0]["CidrBlock"] == tenant.cidr
    assert got[0]["DefaultForAz"] is False
    assert got[0]["AvailableIpAddressCount"] == 256 - 3  # network, broadcast, gateway
    for name, value in (("subnet-id", subnet_id), ("cidr-block", tenant.cidr),
                        ("tag:Name", tenant.tag_value), ("vpc-id", f"vpc-{tenant.network_sid}")):
        found = client.describe_subnets(Filters=[{"Name": name, "Values": [value]}])["Subnets"]
        assert [s["SubnetId"] for s in found] == [subnet_id], name
    for name, value in (("state", "available"), ("default-for-az", "false")):
        found = client.describe_subnets(Filters=[{"Name": name, "Values": [value]}])["Subnets"]
        assert subnet_id in {s["SubnetId"] for s in found}, name
    with pytest.raises(ClientError) as err:
        client.describe_subnets(SubnetIds=["subnet-xyz"])
    assert _code(err) == "InvalidSubnetID.Malformed"
    with pytest.raises(ClientError) as err:
        client.describe_subnets(SubnetIds=[subnet_id, "subnet-0123456789abcdef0"])
    assert _code(err) == "InvalidSubnetID.NotFound"


def test_subnet_paging_visits_every_subnet_once(server: Any) -> None:
    from engine.services.inventory_network import NetworkRequest
    from engine.services.sessions import principal_of
    from engine.states import Role

    with server.runtime.unit() as services:
        _, user = services.accounts.create_account(f"pg-{uuid.uuid4().hex[:8]}", Role.USER)
        principal = principal_of(services.session, user)
        zone, _ = services.catalog.zones()[0]
        for i in range(7):
            services.inventory.add_guest_network(principal, NetworkRequest(
                zone_uuid=zone.uuid, name=f"pg{i}", cidr=f"10.200.{i}.0/24"))
        keys = (user.api_key, user.secret_key)
    client = server.ec2(*keys)
    everything = {s["SubnetId"] for s in client.describe_subnets()["Subnets"]}
    assert len(everything) >= 8  # 7 own networks + the shared default one(s)
    seen: list[str] = []
    pages = 0
    for page in client.get_paginator("describe_subnets").paginate(
            PaginationConfig={"PageSize": 5}):
        assert len(page["Subnets"]) <= 5
        seen += [s["SubnetId"] for s in page["Subnets"]]
        pages += 1
    assert pages >= 2
    assert len(seen) == len(set(seen)) and set(seen) == everything
    first = client.describe_vpcs(MaxResults=5)
    assert len(first["Vpcs"]) == 5 and first["NextToken"]
    rest = client.describe_vpcs(MaxResults=5, NextToken=first["NextToken"])["Vpcs"]
    assert not {v["VpcId"] for v in first["Vpcs"]} & {v["VpcId"] for v in rest}
    with pytest.raises(ClientError) as err:
        client.describe_subnets(MaxResults=1001)
    assert _code(err) == "InvalidParameterValue"


def test_available_ip_count_drops_when_an_instance_launches(server: Any,
                                                            tenant: Tenant) -> None:
    client = server.ec2(*tenant.keys)
    subnet_id = f"subnet-{tenant.network_sid}"
    before = client.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
    image = client.describe_images(Filters=[{"Name": "is-public", "Values": ["true"]}])
    image_id = image["Images"][0]["ImageId"]
    run = client.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, SubnetId=subnet_id,
                               Placement={"AvailabilityZone": before["AvailabilityZone"]})
    inst = run["Instances"][0]
    try:
        assert inst["SubnetId"] == subnet_id and inst["VpcId"] == f"vpc-{tenant.network_sid}"
        assert ipaddress.IPv4Address(inst["PrivateIpAddress"]) in ipaddress.IPv4Network(
            tenant.cidr)
        after = client.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
        assert after["AvailableIpAddressCount"] == before["AvailableIpAddressCount"] - 1
    finally:
        client.terminate_instances(InstanceIds=[inst["InstanceId"]])


# ------------------------------------------------------------- RunInstances
def test_run_instances_into_the_default_subnet(ec2: Any) -> None:
    subnet = _default_subnets(ec2)[0]
    image_id = ec2.describe_images(
        Filters=[{"Name": "is-public", "Values": ["true"]}])["Images"][0]["ImageId"]
    run = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,
                            SubnetId=subnet["SubnetId"],
                            Placement={"AvailabilityZone": subnet["AvailabilityZone"]})
    inst = run["Instances"][0]
    try:
        assert inst["SubnetId"] == subnet["SubnetId"] and inst["VpcId"] == subnet["VpcId"]
        assert ipaddress.IPv4Address(inst["PrivateIpAddress"]) in ipaddress.IPv4Network(
            subnet["CidrBlock"])
    finally:
        ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])


def test_run_instances_into_an_unknown_subnet(ec2: Any) -> None:
    image_id = ec2.describe_images(
        Filters=[{"Name": "is-public", "Values": ["true"]}])["Images"][0]["ImageId"]
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,
                          SubnetId="subnet-0123456789abcdef0")
    assert _code(err) == "InvalidSubnetID.NotFound"


# ---------------------------------------------------- DescribeInternetGateways
def test_internet_gateway_per_default_vpc(ec2: Any, server: Any, tenant: Tenant) -> None:
    default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs(
        Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]}
    gateways = ec2.describe_internet_gateways()["InternetGateways"]
    attached = {a["VpcId"] for g in gateways for a in g["Attachments"]}
    assert attached == default_vpcs
    for g in gateways:
        assert g["InternetGatewayId"].startswith("igw-")
        assert g["Attachments"][0]["State"] == "available"
    vpc_id = min(default_vpcs)
    by_vpc = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    assert [g["Attachments"][0]["VpcId"] for g in by_vpc] == [vpc_id]
    # A non-default VPC has no gateway.
    with pytest.raises(ClientError) as err:
        server.ec2(*tenant.keys).describe_internet_gateways(
            InternetGatewayIds=[f"igw-{tenant.network_sid}"])
    assert _code(err) == "InvalidInternetGatewayID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.describe_internet_gateways(InternetGatewayIds=["igw-bad"])
    assert _code(err) == "InvalidInternetGatewayId.Malformed"


# ------------------------------------------------------------------- awscli
def test_awscli_finds_the_default_vpc(server: Any) -> None:
    out = aws(server, (server.access_key, server.secret_key), "describe-vpcs",
              "--filters", "Name=is-default,Values=true")
    assert out["Vpcs"] and out["Vpcs"][0]["IsDefault"] is True
    vpc_id = out["Vpcs"][0]["VpcId"]
    subnets = aws(server, (server.access_key, server.secret_key), "describe-subnets",
                  "--filters", f"Name=vpc-id,Values={vpc_id}")
    assert [s["VpcId"] for s in subnets["Subnets"]] == [vpc_id]
