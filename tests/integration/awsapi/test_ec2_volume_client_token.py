"""CreateVolume's ClientToken: a retried request returns the same volume; the
token reused with other arguments answers IdempotentParameterMismatch."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import error_code

ZONE = "us-east-1a"


def test_the_same_token_and_arguments_return_the_same_volume(ec2: Any) -> None:
    token = f"vol-{uuid.uuid4()}"
    first = ec2.create_volume(AvailabilityZone=ZONE, Size=10, ClientToken=token)
    again = ec2.create_volume(AvailabilityZone=ZONE, Size=10, ClientToken=token)
    assert again["VolumeId"] == first["VolumeId"]
    assert again["Size"] == 10
    listed = ec2.describe_volumes(Filters=[{"Name": "volume-id",
                                            "Values": [first["VolumeId"]]}])["Volumes"]
    assert len(listed) == 1


def test_other_arguments_with_the_same_token_are_refused(ec2: Any) -> None:
    token = f"vol-{uuid.uuid4()}"
    ec2.create_volume(AvailabilityZone=ZONE, Size=10, ClientToken=token)
    with pytest.raises(ClientError) as err:
        ec2.create_volume(AvailabilityZone=ZONE, Size=11, ClientToken=token)
    assert error_code(err) == "IdempotentParameterMismatch"
    with pytest.raises(ClientError) as err:
        ec2.create_volume(AvailabilityZone=ZONE, Size=10, VolumeType="io1", Iops=100,
                          ClientToken=token)
    assert error_code(err) == "IdempotentParameterMismatch"


def test_tokens_are_per_account_and_distinct_tokens_make_distinct_volumes(
        server: Any, ec2: Any) -> None:
    token = f"vol-{uuid.uuid4()}"
    mine = ec2.create_volume(AvailabilityZone=ZONE, Size=10, ClientToken=token)["VolumeId"]
    other = server.ec2(*server.new_user(f"tok{uuid.uuid4().hex[:8]}"))
    theirs = other.create_volume(AvailabilityZone=ZONE, Size=10, ClientToken=token)["VolumeId"]
    assert theirs != mine
    fresh = ec2.create_volume(AvailabilityZone=ZONE, Size=10,
                              ClientToken=f"vol-{uuid.uuid4()}")["VolumeId"]
    assert fresh != mine


def test_a_deleted_volumes_token_makes_a_new_volume(ec2: Any) -> None:
    token = f"vol-{uuid.uuid4()}"
    first = ec2.create_volume(AvailabilityZone=ZONE, Size=10, ClientToken=token)["VolumeId"]
    ec2.delete_volume(VolumeId=first)
    again = ec2.create_volume(AvailabilityZone=ZONE, Size=10, ClientToken=token)["VolumeId"]
    assert again != first


def test_a_token_longer_than_64_characters_is_invalid(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.create_volume(AvailabilityZone=ZONE, Size=10, ClientToken="x" * 65)
    assert error_code(err) == "InvalidParameterValue"
