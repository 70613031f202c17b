"""Small boto3 helpers shared by the EC2 test modules (a plain module, importable
without a conftest)."""

from __future__ import annotations

import ipaddress
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

WAIT = {"Delay": 0.2, "MaxAttempts": 150}  # boto3 waiter config for the simulator


def error_code(err: pytest.ExceptionInfo[ClientError]) -> str:
    """The EC2 error code a call raised."""
    return str(err.value.response["Error"]["Code"])


def public_image(ec2: Any) -> str:
    """The id of a public (built-in) image."""
    return str(ec2.describe_images(
        Filters=[{"Name": "is-public", "Values": ["true"]}])["Images"][0]["ImageId"])


def instance_view(ec2: Any, iid: str) -> dict[str, Any]:
    """DescribeInstances' view of one instance."""
    return ec2.describe_instances(InstanceIds=[iid])[  # type: ignore[no-any-return]
        "Reservations"][0]["Instances"][0]


def running_instance(ec2: Any) -> str:
    """A new t2.micro of a built-in image, waited for until running."""
    builtin = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    iid = str(ec2.run_instances(ImageId=builtin, MinCount=1, MaxCount=1,
                                InstanceType="t2.micro")["Instances"][0]["InstanceId"])
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    return iid


def settled_image(ec2: Any, image_id: str) -> dict[str, Any]:
    """DescribeImages' view of ``image_id`` once it has left ``pending`` (within
    about 30 s; AssertionError otherwise)."""
    for _ in range(300):
        img = ec2.describe_images(ImageIds=[image_id])["Images"][0]
        if img["State"] != "pending":
            return img  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"{image_id} stayed pending")


def account_id(client: Any) -> str:
    """The account number of a client's user (the owner of its default group)."""
    return str(client.describe_security_groups()["SecurityGroups"][0]["OwnerId"])


def new_people(server: Any, *names: str) -> dict[str, Any]:
    """A client of a new account per name (``out[name]``) and its account
    number (``out[name + "_id"]``)."""
    out: dict[str, Any] = {}
    for name in names:
        out[name] = server.ec2(*server.new_user(f"{name}-{uuid.uuid4().hex[:8]}"))
        out[f"{name}_id"] = account_id(out[name])
    return out


def completed_snapshot(client: Any, size_gib: int = 1, description: str = "",
                       zone: str = "us-east-1a") -> tuple[str, str]:
    """(volume id, snapshot id) of a new volume and a completed snapshot of it."""
    vid = client.create_volume(AvailabilityZone=zone, Size=size_gib)["VolumeId"]
    sid = client.create_snapshot(VolumeId=vid, Description=description)["SnapshotId"]
    client.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    return vid, sid


def fresh_account_client(server: Any, prefix: str) -> Iterator[Any]:
    """Yield a boto3 client of a new account; afterwards delete the internet
    gateways it made (detached first), leaving the default VPC's alone. For
    module fixtures: ``yield from fresh_account_client(server, "dry")``."""
    made = server.ec2(*server.new_user(f"{prefix}-{uuid.uuid4().hex[:8]}"))
    yield made
    for gateway in made.describe_internet_gateways()["InternetGateways"]:
        gid = gateway["InternetGatewayId"]
        try:
            for link in gateway.get("Attachments") or ():
                made.detach_internet_gateway(InternetGatewayId=gid, VpcId=link["VpcId"])
            made.delete_internet_gateway(InternetGatewayId=gid)
        except ClientError:
            pass  # the default VPC's, not ours


def scratch_vpc(client: Any) -> Iterator[dict[str, Any]]:
    """A new 10.x.0.0/16 VPC (for a fixture to yield from); afterwards its own
    route tables, gateways and subnets go, then the VPC."""
    made = client.create_vpc(CidrBlock=f"10.{random.randint(0, 255)}.0.0/16")["Vpc"]
    yield made
    vid = made["VpcId"]
    for t in client.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [vid]}])["RouteTables"]:
        for a in t["Associations"]:
            if not a["Main"]:
                client.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
        if not any(a["Main"] for a in t["Associations"]):
            client.delete_route_table(RouteTableId=t["RouteTableId"])
    for g in client.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vid]}])["InternetGateways"]:
        client.detach_internet_gateway(InternetGatewayId=g["InternetGatewayId"], VpcId=vid)
        client.delete_internet_gateway(InternetGatewayId=g["InternetGatewayId"])
    for s in client.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vid]}])["Subnets"]:
        client.delete_subnet(SubnetId=s["SubnetId"])
    client.delete_vpc(VpcId=vid)


def new_subnet(client: Any, vpc: dict[str, Any], index: int = 0) -> str:
    """The id of a new subnet: the ``index``-th /24 of ``vpc``'s block."""
    cidr = str(list(ipaddress.IPv4Network(vpc["CidrBlock"]).subnets(new_prefix=24))[index])
    return str(client.create_subnet(VpcId=vpc["VpcId"], CidrBlock=cidr)["Subnet"]["SubnetId"])
