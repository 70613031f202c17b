"""Resource limits through the EC2 API: AWS's *LimitExceeded codes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine.models import Account
from engine.services.resource_limits import Resource
from engine.states import Role


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _limited_user(server: Any, **limits: int) -> Any:
    """A fresh account's boto3 client, with ``limits`` (Resource name -> max) set."""
    name = f"lim-{uuid.uuid4().hex[:8]}"
    access, secret = server.new_user(name)
    with server.runtime.unit() as sv:
        account = sv.session.query(Account).filter(Account.name == name).one()
        admin = sv.accounts.root_domain()
        assert admin is not None
        from engine.principal import Principal

        root = Principal(user_uuid="", user_name="t", account_uuid="", account_name="t",
                         account_number="0", domain_uuid=admin.uuid, domain_path="/",
                         role=Role.ADMIN)
        for resource, maximum in limits.items():
            sv.resource_limits.set_limit(root, Resource[resource], maximum,
                                         account_uuid=account.uuid)
    return server.ec2(access, secret)


def _image(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"] or ec2.describe_images()["Images"]
    return str(next(i["ImageId"] for i in images if i["Name"].startswith("amzn2")))


def test_instance_limit_exceeded(server: Any, ec2: Any) -> None:
    user = _limited_user(server, INSTANCE=1)
    image = _image(ec2)
    user.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.micro")
    with pytest.raises(ClientError) as err:
        user.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.micro")
    assert _code(err) == "InstanceLimitExceeded"


def test_run_instances_launches_up_to_the_limit(server: Any, ec2: Any) -> None:
    user = _limited_user(server, INSTANCE=2)
    got = user.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=5,
                             InstanceType="t2.micro")
    assert len(got["Instances"]) == 2


def test_vcpu_limit_exceeded(server: Any, ec2: Any) -> None:
    user = _limited_user(server, CPU=0)
    with pytest.raises(ClientError) as err:
        user.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=1, InstanceType="t2.micro")
    assert _code(err) == "VcpuLimitExceeded"


def test_volume_address_snapshot_and_vpc_limits(server: Any, ec2: Any) -> None:
    user = _limited_user(server, VOLUME=0, PUBLIC_IP=0, VPC=0, SNAPSHOT=0)
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    with pytest.raises(ClientError) as err:
        user.create_volume(AvailabilityZone=zone, Size=1)
    assert _code(err) == "VolumeLimitExceeded"
    with pytest.raises(ClientError) as err:
        user.allocate_address(Domain="vpc")
    assert _code(err) == "AddressLimitExceeded"
    with pytest.raises(ClientError) as err:
        user.create_vpc(CidrBlock="10.20.0.0/16")
    assert _code(err) == "VpcLimitExceeded"
    assert user.describe_volumes()["Volumes"] == []
    assert user.describe_addresses()["Addresses"] == []
