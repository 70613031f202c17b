"""Security groups in a VPC: IpProtocol given by any number 0-255 (6/17/1/58 are
tcp/udp/icmp/icmpv6, -1 is all, others stay numbers without ports), and the
character set AWS allows in group names and descriptions."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import error_code


def _group(ec2: Any) -> str:
    return str(ec2.create_security_group(GroupName=f"proto-{uuid.uuid4().hex[:8]}",
                                         Description="protocols")["GroupId"])


def _perms(ec2: Any, gid: str) -> list[dict[str, Any]]:
    return ec2.describe_security_groups(  # type: ignore[no-any-return]
        GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]


def test_numbered_protocols_are_kept_as_numbers_without_ports(ec2: Any) -> None:
    gid = _group(ec2)
    out = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "50", "FromPort": 1, "ToPort": 2,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    rule = out["SecurityGroupRules"][0]
    assert rule["IpProtocol"] == "50"
    assert (rule["FromPort"], rule["ToPort"]) == (-1, -1)
    perm = next(p for p in _perms(ec2, gid) if p["IpProtocol"] == "50")
    assert "FromPort" not in perm and "ToPort" not in perm
    assert perm["IpRanges"] == [{"CidrIp": "10.0.0.0/8"}]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "0", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "255", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    protos = {p["IpProtocol"] for p in _perms(ec2, gid)}
    assert {"50", "0", "255"} <= protos
    found = ec2.describe_security_groups(Filters=[
        {"Name": "ip-permission.protocol", "Values": ["50"]},
        {"Name": "group-id", "Values": [gid]}])["SecurityGroups"]
    assert [g["GroupId"] for g in found] == [gid]
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "50", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    assert "50" not in {p["IpProtocol"] for p in _perms(ec2, gid)}


def test_well_known_numbers_are_named(ec2: Any) -> None:
    gid = _group(ec2)
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "6", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "1.0.0.0/8"}]},
        {"IpProtocol": "17", "FromPort": 53, "ToPort": 53,
         "IpRanges": [{"CidrIp": "1.0.0.0/8"}]},
        {"IpProtocol": "1", "FromPort": 8, "ToPort": 0, "IpRanges": [{"CidrIp": "1.0.0.0/8"}]},
        {"IpProtocol": "58", "FromPort": -1, "ToPort": -1,
         "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]}])
    by_proto = {p["IpProtocol"]: p for p in _perms(ec2, gid)}
    assert {"tcp", "udp", "icmp", "icmpv6"} <= set(by_proto)
    assert (by_proto["icmp"]["FromPort"], by_proto["icmp"]["ToPort"]) == (8, 0)
    assert (by_proto["icmpv6"]["FromPort"], by_proto["icmpv6"]["ToPort"]) == (-1, -1)
    assert by_proto["icmpv6"]["Ipv6Ranges"] == [{"CidrIpv6": "2001:db8::/32"}]


@pytest.mark.parametrize("proto", ["256", "-2", "esp", "6x"])
def test_other_protocol_values_are_invalid(ec2: Any, proto: str) -> None:
    gid = _group(ec2)
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": proto, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    assert error_code(err) == "InvalidParameterValue"


@pytest.mark.parametrize("field,value", [
    ("Description", "badé"), ("Description", "percent %"), ("Description", "<tag>"),
    ("GroupName", "naméé"), ("GroupName", "semi\"quote"), ("Description", "x" * 256),
])
def test_names_and_descriptions_outside_the_allowed_set(ec2: Any, field: str,
                                                        value: str) -> None:
    args = {"GroupName": f"chars-{uuid.uuid4().hex[:8]}", "Description": "ok", field: value}
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(**args)
    assert error_code(err) == "InvalidParameterValue"


def test_every_allowed_character_is_accepted(ec2: Any) -> None:
    text = "aZ09 ._-:/()#,@[]+=&;{}!$*"
    gid = ec2.create_security_group(GroupName=f"ok {uuid.uuid4().hex[:8]} {text}",
                                    Description=text)["GroupId"]
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert group["Description"] == text
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1,
             "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "é"}]}])
    assert error_code(err) == "InvalidParameterValue"
