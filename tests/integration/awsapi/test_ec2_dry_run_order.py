"""DryRun is a permission check: it answers DryRunOperation once the request,
its ids and the caller's rights are checked, before any check of the
resources' states or dependents (InUse, DependencyViolation, IncorrectState)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import (
    WAIT,
    error_code,
    fresh_account_client,
    running_instance,
)


@pytest.fixture(scope="module")
def client(server: Any) -> Iterator[Any]:
    yield from fresh_account_client(server, "dry")


def _dry(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(DryRun=True, **kwargs)
    return error_code(err)


def _vpc_with_subnet(client: Any) -> tuple[str, str]:
    vpc = client.create_vpc(CidrBlock=f"10.{random.randint(0, 255)}.0.0/16")["Vpc"]
    cidr = vpc["CidrBlock"].replace(".0.0/16", ".1.0/24")
    sub = client.create_subnet(VpcId=vpc["VpcId"], CidrBlock=cidr)["Subnet"]
    return vpc["VpcId"], sub["SubnetId"]


def test_delete_vpc_with_dependents(client: Any) -> None:
    vpc, _ = _vpc_with_subnet(client)
    with pytest.raises(ClientError) as err:
        client.delete_vpc(VpcId=vpc)
    assert error_code(err) == "DependencyViolation"
    assert _dry(client.delete_vpc, VpcId=vpc) == "DryRunOperation"
    # ids are still checked first
    assert _dry(client.delete_vpc, VpcId="vpc-0123456789abcdef0") == "InvalidVpcID.NotFound"
    assert _dry(client.delete_vpc, VpcId="vpc-zz") == "InvalidVpcID.Malformed"


def test_internet_gateway_and_route_table_with_dependents(client: Any) -> None:
    vpc, sub = _vpc_with_subnet(client)
    igw = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    with pytest.raises(ClientError) as err:
        client.delete_internet_gateway(InternetGatewayId=igw)
    assert error_code(err) == "DependencyViolation"
    assert _dry(client.delete_internet_gateway, InternetGatewayId=igw) == "DryRunOperation"
    rtb = client.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    client.associate_route_table(RouteTableId=rtb, SubnetId=sub)
    with pytest.raises(ClientError) as err:
        client.delete_route_table(RouteTableId=rtb)
    assert error_code(err) == "DependencyViolation"
    assert _dry(client.delete_route_table, RouteTableId=rtb) == "DryRunOperation"
    assert _dry(client.attach_internet_gateway, InternetGatewayId=igw,
                VpcId=vpc) == "DryRunOperation"


def test_delete_subnet_with_an_instance(client: Any) -> None:
    _, sub = _vpc_with_subnet(client)
    image = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    client.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.micro",
                         SubnetId=sub)
    with pytest.raises(ClientError) as err:
        client.delete_subnet(SubnetId=sub)
    assert error_code(err) == "DependencyViolation"
    assert _dry(client.delete_subnet, SubnetId=sub) == "DryRunOperation"


def test_release_an_associated_address_and_modify_a_running_instance(client: Any) -> None:
    iid = running_instance(client)
    alloc = client.allocate_address(Domain="vpc")["AllocationId"]
    client.associate_address(AllocationId=alloc, InstanceId=iid)
    with pytest.raises(ClientError) as err:
        client.release_address(AllocationId=alloc)
    assert error_code(err) == "InvalidIPAddress.InUse"
    assert _dry(client.release_address, AllocationId=alloc) == "DryRunOperation"
    with pytest.raises(ClientError) as err:
        client.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t2.small"})
    assert error_code(err) == "IncorrectInstanceState"
    assert _dry(client.modify_instance_attribute, InstanceId=iid,
                InstanceType={"Value": "t2.small"}) == "DryRunOperation"
    # a bad value is still a bad value
    assert _dry(client.modify_instance_attribute, InstanceId=iid,
                InstanceType={"Value": "no.such"}) == "InvalidInstanceAttributeValue"
    assert _dry(client.start_instances, InstanceIds=[iid]) == "DryRunOperation"
    # nothing changed
    assert client.describe_addresses(AllocationIds=[alloc])["Addresses"][0]["InstanceId"] == iid


def test_delete_an_attached_volume(client: Any) -> None:
    iid = running_instance(client)
    vol = client.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    client.attach_volume(VolumeId=vol, InstanceId=iid, Device="/dev/sdf")
    client.get_waiter("volume_in_use").wait(VolumeIds=[vol], WaiterConfig=WAIT)
    with pytest.raises(ClientError) as err:
        client.delete_volume(VolumeId=vol)
    assert error_code(err) == "VolumeInUse"
    assert _dry(client.delete_volume, VolumeId=vol) == "DryRunOperation"
    assert _dry(client.attach_volume, VolumeId=vol, InstanceId=iid,
                Device="/dev/sdg") == "DryRunOperation"
