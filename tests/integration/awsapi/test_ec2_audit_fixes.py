"""Smaller EC2 audit findings: allocation ids are never reused, PuTTY key
files, CIDR blocks without a prefix length, unknown instance types."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


@pytest.fixture
def user_ec2(server: Any) -> Any:
    return server.ec2(*server.new_user(f"audit-{uuid.uuid4().hex[:8]}"))


def test_a_released_address_comes_back_with_a_new_allocation_id(user_ec2: Any) -> None:
    first = user_ec2.allocate_address(Domain="vpc")
    user_ec2.release_address(AllocationId=first["AllocationId"])
    again = user_ec2.allocate_address(Domain="vpc", Address=first["PublicIp"])
    assert again["PublicIp"] == first["PublicIp"]
    assert again["AllocationId"] != first["AllocationId"]
    assert again["AllocationId"].startswith("eipalloc-")
    with pytest.raises(ClientError) as err:
        user_ec2.describe_addresses(AllocationIds=[first["AllocationId"]])
    assert _code(err) == "InvalidAllocationID.NotFound"
    (shown,) = user_ec2.describe_addresses(AllocationIds=[again["AllocationId"]])["Addresses"]
    assert shown["PublicIp"] == first["PublicIp"]
    with pytest.raises(ClientError) as err:
        user_ec2.release_address(AllocationId=first["AllocationId"])
    assert _code(err) == "InvalidAllocationID.NotFound"
    user_ec2.release_address(AllocationId=again["AllocationId"])


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_create_key_pair_in_ppk_format(user_ec2: Any, key_type: str) -> None:
    name = f"ppk-{uuid.uuid4().hex[:8]}"
    made = user_ec2.create_key_pair(KeyName=name, KeyType=key_type, KeyFormat="ppk")
    material = made["KeyMaterial"]
    algorithm = {"rsa": "ssh-rsa", "ed25519": "ssh-ed25519"}[key_type]
    assert material.startswith(f"PuTTY-User-Key-File-3: {algorithm}\n")
    assert "Encryption: none\n" in material and "Private-MAC: " in material
    (shown,) = user_ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"]
    assert shown["KeyFingerprint"] == made["KeyFingerprint"]
    assert shown["KeyType"] == key_type


def test_a_cidr_without_a_prefix_length_is_malformed(user_ec2: Any) -> None:
    gid = user_ec2.create_security_group(GroupName=f"c-{uuid.uuid4().hex[:8]}",
                                         Description="x")["GroupId"]
    with pytest.raises(ClientError) as err:
        user_ec2.authorize_security_group_ingress(GroupId=gid, IpProtocol="tcp", FromPort=22,
                                                  ToPort=22, CidrIp="1.2.3.4")
    assert _code(err) == "InvalidParameterValue"
    assert err.value.response["Error"]["Message"] == "CIDR block 1.2.3.4 is malformed"
    with pytest.raises(ClientError) as err:
        user_ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[{
            "IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "2001:db8::1"}]}])
    assert _code(err) == "InvalidParameterValue"
    user_ec2.authorize_security_group_ingress(GroupId=gid, IpProtocol="tcp", FromPort=22,
                                              ToPort=22, CidrIp="1.2.3.4/32")


def test_an_unknown_instance_type_is_invalid_instance_type(user_ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        user_ec2.describe_instance_types(InstanceTypes=["t9.x"])
    assert _code(err) == "InvalidInstanceType"
    assert "t9.x" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:  # RunInstances keeps checking the same enum
        user_ec2.run_instances(ImageId="ami-00000000000000000", InstanceType="t9.x",
                               MinCount=1, MaxCount=1)
    assert _code(err) == "InvalidParameterValue"
