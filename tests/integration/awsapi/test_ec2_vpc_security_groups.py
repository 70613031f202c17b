"""Security groups of non-default VPCs through boto3: a group belongs to its
VPC, each VPC has its default group (made and removed with the VPC, never
deletable), names are unique per VPC, rules only name groups of the same VPC,
and an interface made in the VPC without groups gets the VPC's default group."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _name(prefix: str = "vsg") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


@pytest.fixture
def user_ec2(server: Any) -> Any:
    return server.ec2(*server.new_user(_name("user")))


def _vpc(ec2: Any, cidr: str = "10.10.0.0/16") -> str:
    return ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]  # type: ignore[no-any-return]


def _groups(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    return ec2.describe_security_groups(  # type: ignore[no-any-return]
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]


def test_a_new_vpc_has_its_default_group(user_ec2: Any) -> None:
    vpc_id = _vpc(user_ec2)
    (default,) = _groups(user_ec2, vpc_id)
    assert default["GroupName"] == "default" and default["VpcId"] == vpc_id
    assert default["Description"] == "Default Security Group"
    assert default["IpPermissionsEgress"][0]["IpProtocol"] == "-1"
    assert default["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    (ingress,) = default["IpPermissions"]
    assert ingress["IpProtocol"] == "-1"
    assert [p["GroupId"] for p in ingress["UserIdGroupPairs"]] == [default["GroupId"]]
    by_default = user_ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in by_default] == [default["GroupId"]]
    with pytest.raises(ClientError) as err:
        user_ec2.delete_security_group(GroupId=default["GroupId"])
    assert _code(err) == "CannotDelete"


def test_groups_of_a_new_vpc(user_ec2: Any) -> None:
    vpc_id = _vpc(user_ec2)
    name = _name()
    gid = user_ec2.create_security_group(GroupName=name, Description="web",
                                         VpcId=vpc_id)["GroupId"]
    g = user_ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert g["VpcId"] == vpc_id and g["GroupName"] == name
    assert {x["GroupId"] for x in _groups(user_ec2, vpc_id)} >= {gid}
    # The same name in another VPC and in the default VPC: names are unique per VPC.
    other = user_ec2.create_security_group(GroupName=name, Description="web",
                                           VpcId=_vpc(user_ec2, "10.20.0.0/16"))["GroupId"]
    plain = user_ec2.create_security_group(GroupName=name, Description="web")["GroupId"]
    assert len({gid, other, plain}) == 3
    with pytest.raises(ClientError) as err:
        user_ec2.create_security_group(GroupName=name, Description="web", VpcId=vpc_id)
    assert _code(err) == "InvalidGroup.Duplicate"
    # A name names the group of the default VPC.
    (found,) = user_ec2.describe_security_groups(GroupNames=[name])["SecurityGroups"]
    assert found["GroupId"] == plain
    default_vpc = found["VpcId"]
    assert default_vpc != vpc_id
    assert gid not in {x["GroupId"] for x in _groups(user_ec2, default_vpc)}
    assert plain in {x["GroupId"] for x in _groups(user_ec2, default_vpc)}
    # A wildcard on vpc-id works too.
    assert gid in {x["GroupId"] for x in _groups(user_ec2, vpc_id[:8] + "*")}


def test_rules_name_groups_of_the_same_vpc_only(user_ec2: Any) -> None:
    vpc_id = _vpc(user_ec2)
    a = user_ec2.create_security_group(GroupName=_name(), Description="a",
                                       VpcId=vpc_id)["GroupId"]
    b = user_ec2.create_security_group(GroupName=_name(), Description="b",
                                       VpcId=vpc_id)["GroupId"]
    plain = user_ec2.create_security_group(GroupName=_name(), Description="c")["GroupId"]
    user_ec2.authorize_security_group_ingress(GroupId=a, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
        "UserIdGroupPairs": [{"GroupId": b}]}])
    for target, source in ((a, plain), (plain, b)):
        with pytest.raises(ClientError) as err:
            user_ec2.authorize_security_group_ingress(GroupId=target, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                "UserIdGroupPairs": [{"GroupId": source}]}])
        assert _code(err) == "InvalidGroup.NotFound"
        assert "different networks" in err.value.response["Error"]["Message"]


def test_an_interface_without_groups_gets_its_vpcs_default_group(user_ec2: Any) -> None:
    vpc_id = _vpc(user_ec2)
    subnet = user_ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.10.1.0/24")["Subnet"]
    eni = user_ec2.create_network_interface(SubnetId=subnet["SubnetId"])["NetworkInterface"]
    (default,) = [g for g in _groups(user_ec2, vpc_id) if g["GroupName"] == "default"]
    assert [g["GroupId"] for g in eni["Groups"]] == [default["GroupId"]]
    with pytest.raises(ClientError) as err:
        user_ec2.delete_security_group(GroupId=default["GroupId"])
    assert _code(err) == "CannotDelete"
    user_ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    user_ec2.delete_subnet(SubnetId=subnet["SubnetId"])


def test_deleting_a_vpc_removes_its_default_group(user_ec2: Any) -> None:
    vpc_id = _vpc(user_ec2)
    (default,) = _groups(user_ec2, vpc_id)
    gid = user_ec2.create_security_group(GroupName=_name(), Description="x",
                                         VpcId=vpc_id)["GroupId"]
    with pytest.raises(ClientError) as err:
        user_ec2.delete_vpc(VpcId=vpc_id)
    assert _code(err) == "DependencyViolation"
    user_ec2.delete_security_group(GroupId=gid)
    user_ec2.delete_vpc(VpcId=vpc_id)
    with pytest.raises(ClientError) as err:
        user_ec2.describe_security_groups(GroupIds=[default["GroupId"]])
    assert _code(err) == "InvalidGroup.NotFound"


def test_vpcs_of_others_and_unknown_vpcs_are_not_found(server: Any, user_ec2: Any) -> None:
    theirs = _vpc(server.ec2(*server.new_user(_name("other"))))
    for vpc_id in (theirs, "vpc-0123456789abcdef0"):
        with pytest.raises(ClientError) as err:
            user_ec2.create_security_group(GroupName=_name(), Description="x", VpcId=vpc_id)
        assert _code(err) == "InvalidVpcID.NotFound"
    with pytest.raises(ClientError) as err:
        user_ec2.create_security_group(GroupName=_name(), Description="x", VpcId="vpc-zz")
    assert _code(err) == "InvalidVpcID.Malformed"


def test_an_interface_takes_groups_of_its_subnets_vpc_only(user_ec2: Any) -> None:
    vpc_id = _vpc(user_ec2)
    subnet = user_ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.10.2.0/24")["Subnet"]
    mine = user_ec2.create_security_group(GroupName=_name(), Description="x",
                                          VpcId=vpc_id)["GroupId"]
    plain = user_ec2.create_security_group(GroupName=_name(), Description="x")["GroupId"]
    with pytest.raises(ClientError) as err:
        user_ec2.create_network_interface(SubnetId=subnet["SubnetId"], Groups=[plain])
    assert _code(err) == "InvalidParameter"
    eni = user_ec2.create_network_interface(SubnetId=subnet["SubnetId"],
                                            Groups=[mine])["NetworkInterface"]
    assert [g["GroupId"] for g in eni["Groups"]] == [mine]
    with pytest.raises(ClientError) as err:
        user_ec2.delete_security_group(GroupId=mine)
    assert _code(err) == "DependencyViolation"
    user_ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    user_ec2.delete_security_group(GroupId=mine)


def test_an_instance_in_a_vpc_subnet_takes_that_vpcs_groups(user_ec2: Any) -> None:
    vpc_id = _vpc(user_ec2)
    subnet = user_ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.10.3.0/24")["Subnet"]["SubnetId"]
    image = user_ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    (default,) = [g for g in _groups(user_ec2, vpc_id) if g["GroupName"] == "default"]
    plain = user_ec2.create_security_group(GroupName=_name(), Description="x")["GroupId"]
    with pytest.raises(ClientError) as err:
        user_ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet,
                               SecurityGroupIds=[plain])
    assert _code(err) == "InvalidParameter"
    (inst,) = user_ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                                     SubnetId=subnet)["Instances"]
    assert [g["GroupId"] for g in inst["SecurityGroups"]] == [default["GroupId"]]
    assert inst["VpcId"] == vpc_id
    user_ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
