"""CreateVpc/DeleteVpc/Modify+DescribeVpcAttribute, CreateSubnet/DeleteSubnet/
ModifySubnetAttribute and RunInstances into a created subnet, through boto3."""

from __future__ import annotations

import ipaddress
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def client(server: Any) -> Any:
    return server.ec2(*server.new_user(f"vpc-{uuid.uuid4().hex[:8]}"))


def _block() -> str:
    return f"10.{random.randint(0, 255)}.0.0/16"


@pytest.fixture
def vpc(client: Any) -> Iterator[dict[str, Any]]:
    made = client.create_vpc(CidrBlock=_block())["Vpc"]
    yield made
    for s in client.describe_subnets(
            Filters=[{"Name": "vpc-id", "Values": [made["VpcId"]]}])["Subnets"]:
        try:
            client.delete_subnet(SubnetId=s["SubnetId"])
        except ClientError:
            pass
    try:
        client.delete_vpc(VpcId=made["VpcId"])
    except ClientError:
        pass


# ---------------------------------------------------------------------- VPCs
def test_create_vpc_with_tags_is_described(client: Any) -> None:
    cidr = _block()
    value = uuid.uuid4().hex
    made = client.create_vpc(CidrBlock=cidr, TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": value}]}])["Vpc"]
    vpc_id = made["VpcId"]
    assert vpc_id.startswith("vpc-") and made["CidrBlock"] == cidr
    assert made["IsDefault"] is False and made["State"] == "available"
    assert made["Tags"] == [{"Key": "Name", "Value": value}]
    got = client.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert [v["VpcId"] for v in got] == [vpc_id]
    assert got[0]["CidrBlockAssociationSet"][0]["CidrBlock"] == cidr
    by_tag = client.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [value]}])["Vpcs"]
    assert [v["VpcId"] for v in by_tag] == [vpc_id]
    by_cidr = client.describe_vpcs(Filters=[{"Name": "cidr", "Values": [cidr]},
                                            {"Name": "is-default", "Values": ["false"]}])
    assert vpc_id in {v["VpcId"] for v in by_cidr["Vpcs"]}
    client.delete_vpc(VpcId=vpc_id)
    with pytest.raises(ClientError) as err:
        client.describe_vpcs(VpcIds=[vpc_id])
    assert _code(err) == "InvalidVpcID.NotFound"
    with pytest.raises(ClientError) as err:
        client.delete_vpc(VpcId=vpc_id)
    assert _code(err) == "InvalidVpcID.NotFound"


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "10.0.0.0/15", "10.0.0.0/29", "10.0.0.0/32"])
def test_vpc_cidr_outside_16_to_28_is_invalid_range(client: Any, cidr: str) -> None:
    with pytest.raises(ClientError) as err:
        client.create_vpc(CidrBlock=cidr)
    assert _code(err) == "InvalidVpc.Range"


def test_vpc_cidr_that_is_no_cidr_is_invalid_value(client: Any) -> None:
    with pytest.raises(ClientError) as err:
        client.create_vpc(CidrBlock="not-a-cidr")
    assert _code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        client.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
            {"ResourceType": "subnet", "Tags": [{"Key": "a", "Value": "b"}]}])
    assert _code(err) == "InvalidParameterValue"


def test_vpc_dns_attributes(client: Any, vpc: dict[str, Any]) -> None:
    vpc_id = vpc["VpcId"]
    support = client.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")
    hostnames = client.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert support["VpcId"] == vpc_id and support["EnableDnsSupport"]["Value"] is True
    assert hostnames["EnableDnsHostnames"]["Value"] is False
    client.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    client.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": False})
    assert client.describe_vpc_attribute(
        VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"] is True
    assert client.describe_vpc_attribute(
        VpcId=vpc_id, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"] is False
    with pytest.raises(ClientError) as err:
        client.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True},
                                    EnableDnsHostnames={"Value": True})
    assert _code(err) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as err:
        client.describe_vpc_attribute(VpcId=vpc_id, Attribute="bogus")
    assert _code(err) == "InvalidParameterValue"


def test_other_accounts_cannot_see_or_delete_a_vpc(server: Any, vpc: dict[str, Any]) -> None:
    other = server.ec2(*server.new_user(f"vpc-o-{uuid.uuid4().hex[:8]}"))
    for call in (lambda: other.describe_vpcs(VpcIds=[vpc["VpcId"]]),
                 lambda: other.delete_vpc(VpcId=vpc["VpcId"]),
                 lambda: other.create_subnet(VpcId=vpc["VpcId"], CidrBlock=vpc["CidrBlock"])):
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == "InvalidVpcID.NotFound"


def test_vpc_id_errors(client: Any) -> None:
    with pytest.raises(ClientError) as err:
        client.delete_vpc(VpcId="vpc-nothex!")
    assert _code(err) == "InvalidVpcID.Malformed"
    with pytest.raises(ClientError) as err:
        client.create_subnet(VpcId="vpc-0123456789abcdef0", CidrBlock="10.0.0.0/24")
    assert _code(err) == "InvalidVpcID.NotFound"


# ------------------------------------------------------------------- subnets
def test_create_subnet_inside_the_vpc(client: Any, vpc: dict[str, Any]) -> None:
    net = ipaddress.IPv4Network(vpc["CidrBlock"])
    cidr = str(next(net.subnets(new_prefix=24)))
    zone = client.describe_availability_zones()["AvailabilityZones"][0]
    made = client.create_subnet(VpcId=vpc["VpcId"], CidrBlock=cidr,
                                AvailabilityZone=zone["ZoneName"], TagSpecifications=[
                                    {"ResourceType": "subnet",
                                     "Tags": [{"Key": "tier", "Value": "web"}]}])["Subnet"]
    assert made["VpcId"] == vpc["VpcId"] and made["CidrBlock"] == cidr
    assert made["AvailabilityZone"] == zone["ZoneName"]
    assert made["AvailableIpAddressCount"] == 256 - 5  # AWS reserves five per subnet
    assert made["DefaultForAz"] is False and made["MapPublicIpOnLaunch"] is False
    assert made["Tags"] == [{"Key": "tier", "Value": "web"}]
    listed = client.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    assert [s["SubnetId"] for s in listed] == [made["SubnetId"]]
    tagged = client.describe_subnets(Filters=[{"Name": "tag:tier", "Values": ["web"]},
                                              {"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    assert [s["SubnetId"] for s in tagged["Subnets"]] == [made["SubnetId"]]
    by_zone_id = client.create_subnet(VpcId=vpc["VpcId"],
                                      CidrBlock=str(list(net.subnets(new_prefix=24))[1]),
                                      AvailabilityZoneId=zone["ZoneId"])["Subnet"]
    assert by_zone_id["AvailabilityZone"] == zone["ZoneName"]


def test_subnet_range_and_conflict_errors(client: Any, vpc: dict[str, Any]) -> None:
    net = ipaddress.IPv4Network(vpc["CidrBlock"])
    first = str(next(net.subnets(new_prefix=24)))
    client.create_subnet(VpcId=vpc["VpcId"], CidrBlock=first)
    cases = {
        "InvalidSubnet.Conflict": str(next(net.subnets(new_prefix=20))),
        "InvalidSubnet.Range": "192.168.255.0/24",
    }
    for code, cidr in cases.items():
        with pytest.raises(ClientError) as err:
            client.create_subnet(VpcId=vpc["VpcId"], CidrBlock=cidr)
        assert _code(err) == code, cidr
    with pytest.raises(ClientError) as err:  # smaller than /28
        client.create_subnet(VpcId=vpc["VpcId"], CidrBlock=str(list(net.subnets(
            new_prefix=29))[-1]))
    assert _code(err) == "InvalidSubnet.Range"
    with pytest.raises(ClientError) as err:
        client.create_subnet(VpcId=vpc["VpcId"], CidrBlock=str(list(net.subnets(
            new_prefix=24))[3]), AvailabilityZone="nowhere-1z")
    assert _code(err) == "InvalidParameterValue"


def test_map_public_ip_on_launch(client: Any, vpc: dict[str, Any]) -> None:
    cidr = str(next(ipaddress.IPv4Network(vpc["CidrBlock"]).subnets(new_prefix=26)))
    sub = client.create_subnet(VpcId=vpc["VpcId"], CidrBlock=cidr)["Subnet"]
    client.modify_subnet_attribute(SubnetId=sub["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    got = client.describe_subnets(SubnetIds=[sub["SubnetId"]])["Subnets"][0]
    assert got["MapPublicIpOnLaunch"] is True
    found = client.describe_subnets(Filters=[
        {"Name": "map-public-ip-on-launch", "Values": ["true"]},
        {"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    assert [s["SubnetId"] for s in found] == [sub["SubnetId"]]


def test_delete_vpc_with_a_subnet_is_a_dependency_violation(client: Any,
                                                           vpc: dict[str, Any]) -> None:
    cidr = str(next(ipaddress.IPv4Network(vpc["CidrBlock"]).subnets(new_prefix=24)))
    sub = client.create_subnet(VpcId=vpc["VpcId"], CidrBlock=cidr)["Subnet"]
    with pytest.raises(ClientError) as err:
        client.delete_vpc(VpcId=vpc["VpcId"])
    assert _code(err) == "DependencyViolation"
    client.delete_subnet(SubnetId=sub["SubnetId"])
    with pytest.raises(ClientError) as err:
        client.delete_subnet(SubnetId=sub["SubnetId"])
    assert _code(err) == "InvalidSubnetID.NotFound"
    client.delete_vpc(VpcId=vpc["VpcId"])
    assert not client.describe_vpcs(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Vpcs"]


def test_run_instances_into_a_created_subnet(client: Any, vpc: dict[str, Any]) -> None:
    cidr = str(list(ipaddress.IPv4Network(vpc["CidrBlock"]).subnets(new_prefix=24))[5])
    sub = client.create_subnet(VpcId=vpc["VpcId"], CidrBlock=cidr)["Subnet"]
    image_id = client.describe_images(
        Filters=[{"Name": "is-public", "Values": ["true"]}])["Images"][0]["ImageId"]
    inst = client.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,
                                SubnetId=sub["SubnetId"])["Instances"][0]
    try:
        assert inst["SubnetId"] == sub["SubnetId"] and inst["VpcId"] == vpc["VpcId"]
        address = ipaddress.IPv4Address(inst["PrivateIpAddress"])
        assert address in ipaddress.IPv4Network(cidr)
        assert int(address) - int(ipaddress.IPv4Network(cidr).network_address) >= 4
        after = client.describe_subnets(SubnetIds=[sub["SubnetId"]])["Subnets"][0]
        assert after["AvailableIpAddressCount"] == 256 - 5 - 1
        described = client.describe_instances(InstanceIds=[inst["InstanceId"]])
        assert described["Reservations"][0]["Instances"][0]["VpcId"] == vpc["VpcId"]
        _check_interface(client, inst, sub["SubnetId"], vpc["VpcId"])
        with pytest.raises(ClientError) as err:
            client.delete_subnet(SubnetId=sub["SubnetId"])
        assert _code(err) == "DependencyViolation"
    finally:
        client.terminate_instances(InstanceIds=[inst["InstanceId"]])


def _check_interface(client: Any, inst: dict[str, Any], subnet_id: str, vpc_id: str) -> None:
    enis = client.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [inst["InstanceId"]]}])["NetworkInterfaces"]
    assert len(enis) == 1
    eni = enis[0]
    assert eni["NetworkInterfaceId"].startswith("eni-")
    assert (eni["SubnetId"], eni["VpcId"]) == (subnet_id, vpc_id)
    assert eni["PrivateIpAddress"] == inst["PrivateIpAddress"]
    assert eni["Attachment"]["InstanceId"] == inst["InstanceId"]
    assert eni["Attachment"]["DeviceIndex"] == 0 and eni["Status"] == "in-use"
    assert eni["PrivateIpAddresses"][0]["Primary"] is True
    assert {g["GroupId"] for g in eni["Groups"]} == {
        g["GroupId"] for g in inst["SecurityGroups"]}
    by_id = client.describe_network_interfaces(
        NetworkInterfaceIds=[eni["NetworkInterfaceId"]])["NetworkInterfaces"]
    assert [e["NetworkInterfaceId"] for e in by_id] == [eni["NetworkInterfaceId"]]
    for name, value in (("subnet-id", subnet_id), ("vpc-id", vpc_id),
                        ("private-ip-address", inst["PrivateIpAddress"]),
                        ("mac-address", eni["MacAddress"])):
        found = client.describe_network_interfaces(
            Filters=[{"Name": name, "Values": [value]}])["NetworkInterfaces"]
        assert [e["NetworkInterfaceId"] for e in found] == [eni["NetworkInterfaceId"]], name
    with pytest.raises(ClientError) as err:
        client.describe_network_interfaces(NetworkInterfaceIds=["eni-0123456789abcdef0"])
    assert _code(err) == "InvalidNetworkInterfaceID.NotFound"
    with pytest.raises(ClientError) as err:
        client.describe_network_interfaces(Filters=[{"Name": "bogus", "Values": ["x"]}])
    assert _code(err) == "InvalidParameterValue"
