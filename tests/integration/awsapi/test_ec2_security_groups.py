"""Security groups and rules through boto3 (and a few through awscli)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.awsapi.awscli import aws

WAIT = {"Delay": 0.2, "MaxAttempts": 150}
SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
       "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh"}]}


def _name(prefix: str = "grp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _group(ec2: Any, group_id: str) -> dict[str, Any]:
    return ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]  # type: ignore[no-any-return]


def _new(ec2: Any, **kw: Any) -> str:
    return ec2.create_security_group(GroupName=_name(), Description="test group", **kw)["GroupId"]  # type: ignore[no-any-return]


def _user(server: Any) -> tuple[Any, tuple[str, str]]:
    keys = server.new_user(_name("user"))
    return server.ec2(*keys), keys


def _image_id(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))


# ---------------------------------------------------------------------- groups
def test_create_and_describe_group(ec2) -> None:  # type: ignore[no-untyped-def]
    name = _name()
    made = ec2.create_security_group(
        GroupName=name, Description="web tier",
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": [{"Key": "tier", "Value": "web"}]}])
    gid = made["GroupId"]
    assert gid.startswith("sg-") and len(gid) == 20
    assert made["Tags"] == [{"Key": "tier", "Value": "web"}]
    g = _group(ec2, gid)
    assert g["GroupName"] == name and g["Description"] == "web tier"
    assert g["OwnerId"].isdigit() and len(g["OwnerId"]) == 12
    assert g["VpcId"].startswith("vpc-")
    assert made["SecurityGroupArn"] == g["SecurityGroupArn"] == \
        f"arn:aws:ec2:us-east-1:{g['OwnerId']}:security-group/{gid}"
    assert g["IpPermissions"] == []
    assert g["IpPermissionsEgress"] == [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                                         "Ipv6Ranges": [], "PrefixListIds": [],
                                         "UserIdGroupPairs": []}]
    assert g["Tags"] == [{"Key": "tier", "Value": "web"}]
    by_name = ec2.describe_security_groups(GroupNames=[name])["SecurityGroups"]
    assert [x["GroupId"] for x in by_name] == [gid]
    same_vpc = ec2.create_security_group(GroupName=_name(), Description="d", VpcId=g["VpcId"])
    assert same_vpc["GroupId"].startswith("sg-")


def test_create_errors(ec2, server) -> None:  # type: ignore[no-untyped-def]
    name = _name()
    ec2.create_security_group(GroupName=name, Description="x")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"GroupName": name, "Description": "again"}, "InvalidGroup.Duplicate"),
        ({"GroupName": "default", "Description": "x"}, "InvalidParameterValue"),
        ({"GroupName": "sg-mine", "Description": "x"}, "InvalidParameterValue"),
        ({"GroupName": _name(), "Description": "x", "VpcId": "vpc-0123456789abcdef0"},
         "InvalidVpcID.NotFound"),
        ({"GroupName": _name(), "Description": "x", "VpcId": "net-1"}, "InvalidVpcID.Malformed"),
        ({"GroupName": _name(), "Description": "x", "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}]},
         "InvalidParameterValue"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as err:
            ec2.create_security_group(**kwargs)
        assert _code(err) == code, kwargs
    loose = _unvalidated(server)
    for kwargs in ({"GroupName": _name()}, {"Description": "no name"}):
        with pytest.raises(ClientError) as err:
            loose.create_security_group(**kwargs)
        assert _code(err) == "MissingParameter", kwargs


def _unvalidated(server: Any) -> Any:
    import boto3

    return boto3.client("ec2", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id=server.access_key,
                        aws_secret_access_key=server.secret_key,
                        config=Config(parameter_validation=False))


def test_default_group_has_aws_default_rules_and_cannot_be_deleted(server) -> None:  # type: ignore[no-untyped-def]
    ec2, _ = _user(server)
    groups = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert len(groups) == 1
    g = groups[0]
    assert g["GroupName"] == "default" and g["Description"]
    assert g["IpPermissions"] == [{
        "IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
        "UserIdGroupPairs": [{"GroupId": g["GroupId"], "UserId": g["OwnerId"]}]}]
    assert g["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert g["IpPermissionsEgress"][0]["IpProtocol"] == "-1"
    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [g["GroupId"]]}])["SecurityGroupRules"]
    assert sorted((r["IsEgress"], r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in rules) \
        == [(False, "-1", -1, -1), (True, "-1", -1, -1)]
    ingress = next(r for r in rules if not r["IsEgress"])
    assert ingress["ReferencedGroupInfo"] == {"GroupId": g["GroupId"], "UserId": g["OwnerId"]}
    for kwargs in ({"GroupId": g["GroupId"]}, {"GroupName": "default"}):
        with pytest.raises(ClientError) as err:
            ec2.delete_security_group(**kwargs)
        assert _code(err) == "CannotDelete"


def test_run_instances_uses_default_group_with_default_rules(server) -> None:  # type: ignore[no-untyped-def]
    ec2, _ = _user(server)
    run = ec2.run_instances(ImageId=_image_id(ec2), MinCount=1, MaxCount=1)
    inst = run["Instances"][0]
    [sg] = inst["SecurityGroups"]
    assert sg["GroupName"] == "default"
    g = _group(ec2, sg["GroupId"])
    assert g["IpPermissions"][0]["UserIdGroupPairs"] == [
        {"GroupId": sg["GroupId"], "UserId": g["OwnerId"]}]
    assert g["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])


def test_delete_group_by_id_name_and_dependencies(server) -> None:  # type: ignore[no-untyped-def]
    ec2, _ = _user(server)
    a = _new(ec2)
    name = _name()
    b = ec2.create_security_group(GroupName=name, Description="b")["GroupId"]
    by_id = ec2.delete_security_group(GroupId=a)
    assert (by_id["Return"], by_id["GroupId"]) == (True, a)
    by_name = ec2.delete_security_group(GroupName=name)
    assert (by_name["Return"], by_name["GroupId"]) == (True, b)
    with pytest.raises(ClientError) as err:
        _group(ec2, b)
    assert _code(err) == "InvalidGroup.NotFound"
    for kwargs, code in (({"GroupId": a}, "InvalidGroup.NotFound"),
                         ({"GroupName": name}, "InvalidGroup.NotFound"),
                         ({"GroupId": "sg-zzz"}, "InvalidGroupId.Malformed")):
        with pytest.raises(ClientError) as err:
            ec2.delete_security_group(**kwargs)
        assert _code(err) == code, kwargs

    # Referenced by another group's rule.
    src, dst = _new(ec2), _new(ec2)
    ec2.authorize_security_group_ingress(GroupId=dst, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "UserIdGroupPairs": [{"GroupId": src}]}])
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=src)
    assert _code(err) == "DependencyViolation"

    # Used by an instance until it is gone.
    used = _new(ec2)
    run = ec2.run_instances(ImageId=_image_id(ec2), MinCount=1, MaxCount=1,
                            SecurityGroupIds=[used])
    iid = run["Instances"][0]["InstanceId"]
    assert [g["GroupId"] for g in run["Instances"][0]["SecurityGroups"]] == [used]
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=used)
    assert _code(err) == "DependencyViolation"
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert ec2.delete_security_group(GroupId=used)["Return"] is True


# ----------------------------------------------------------------------- rules
def test_authorize_ingress_forms_and_describe_bundles(ec2) -> None:  # type: ignore[no-untyped-def]
    gid, peer = _new(ec2), _new(ec2)
    out = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {**SSH, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh"},
                             {"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "6", "FromPort": 8000, "ToPort": 8080,
         "UserIdGroupPairs": [{"GroupId": peer, "Description": "app"}]},
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
         "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
    ])
    assert out["Return"] is True
    rules = out["SecurityGroupRules"]
    assert len(rules) == 5
    assert all(r["SecurityGroupRuleId"].startswith("sgr-") and r["GroupId"] == gid
               and r["IsEgress"] is False for r in rules)
    ssh = [r for r in rules if r["FromPort"] == 22]
    assert {r["CidrIpv4"] for r in ssh} == {"0.0.0.0/0", "10.0.0.0/8"}
    assert next(r for r in ssh if r["CidrIpv4"] == "0.0.0.0/0")["Description"] == "ssh"
    app = next(r for r in rules if r["FromPort"] == 8000)
    assert app["IpProtocol"] == "tcp" and app["ReferencedGroupInfo"]["GroupId"] == peer
    assert next(r for r in rules if r["IpProtocol"] == "udp")["CidrIpv6"] == "::/0"

    # The flat (legacy) form, and a source group by name.
    ec2.authorize_security_group_ingress(GroupId=gid, IpProtocol="tcp", FromPort=80, ToPort=80,
                                         CidrIp="192.168.0.0/16")
    peer_name = _group(ec2, peer)["GroupName"]
    ec2.authorize_security_group_ingress(GroupId=gid, SourceSecurityGroupName=peer_name)

    perms = _group(ec2, gid)["IpPermissions"]
    by_proto = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")): p for p in perms}
    assert by_proto[("tcp", 22, 22)]["IpRanges"] == [
        {"CidrIp": "0.0.0.0/0", "Description": "ssh"}, {"CidrIp": "10.0.0.0/8"}]
    assert by_proto[("icmp", 8, -1)]["IpRanges"] == [{"CidrIp": "10.0.0.0/8"}]
    owner = _group(ec2, gid)["OwnerId"]
    assert by_proto[("tcp", 8000, 8080)]["UserIdGroupPairs"] == [
        {"GroupId": peer, "UserId": owner, "Description": "app"}]
    assert by_proto[("udp", 53, 53)]["Ipv6Ranges"] == [{"CidrIpv6": "::/0"}]
    assert by_proto[("tcp", 80, 80)]["IpRanges"] == [{"CidrIp": "192.168.0.0/16"}]
    assert by_proto[("-1", None, None)]["UserIdGroupPairs"] == [{"GroupId": peer, "UserId": owner}]


def test_authorize_errors(ec2) -> None:  # type: ignore[no-untyped-def]
    gid = _new(ec2)
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[SSH])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"IpPermissions": [SSH]}, "InvalidPermission.Duplicate"),
        ({"IpPermissions": [{**SSH, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "x"}]}]},
         "InvalidPermission.Duplicate"),
        ({"IpPermissions": [{**SSH, "IpProtocol": "gre"}]}, "InvalidParameterValue"),
        ({"IpPermissions": [{**SSH, "IpRanges": [{"CidrIp": "300.1.1.0/24"}]}]},
         "InvalidParameterValue"),
        ({"IpPermissions": [{**SSH, "FromPort": 100, "ToPort": 10}]}, "InvalidParameterValue"),
        ({"IpPermissions": [{**SSH, "IpRanges": [],
                             "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0"}]}]},
         "InvalidGroup.NotFound"),
        ({}, "MissingParameter"),
        ({"IpPermissions": [SSH], "CidrIp": "1.2.3.4/32"}, "InvalidParameterCombination"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as err:
            ec2.authorize_security_group_ingress(GroupId=gid, **kwargs)
        assert _code(err) == code, kwargs
    for gone in ("sg-0123456789abcdef0",):
        with pytest.raises(ClientError) as err:
            ec2.authorize_security_group_ingress(GroupId=gone, IpPermissions=[SSH])
        assert _code(err) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupName=_name(), IpPermissions=[SSH])
    assert _code(err) == "InvalidGroup.NotFound"
    # Nothing of a failed batch was added.
    assert len(_group(ec2, gid)["IpPermissions"]) == 1


def test_egress_authorize_and_revoke(ec2) -> None:  # type: ignore[no-untyped-def]
    gid = _new(ec2)
    everything = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    revoked = ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[everything])
    assert revoked["Return"] is True
    [gone] = revoked["RevokedSecurityGroupRules"]
    assert gone["IsEgress"] is True and gone["IpProtocol"] == "-1" and \
        gone["CidrIpv4"] == "0.0.0.0/0"
    assert _group(ec2, gid)["IpPermissionsEgress"] == []
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
             "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    out = ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[https])
    assert out["SecurityGroupRules"][0]["IsEgress"] is True
    assert _group(ec2, gid)["IpPermissionsEgress"][0]["FromPort"] == 443
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[https])
    assert _code(err) == "InvalidPermission.Duplicate"
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[everything])
    assert _code(err) == "InvalidPermission.NotFound"


def test_revoke_ingress_by_permission_and_by_rule_id(ec2) -> None:  # type: ignore[no-untyped-def]
    gid = _new(ec2)
    rules = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        SSH, {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
              "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])["SecurityGroupRules"]
    https_id = next(r["SecurityGroupRuleId"] for r in rules if r["FromPort"] == 443)
    out = ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[SSH])
    assert [r["FromPort"] for r in out["RevokedSecurityGroupRules"]] == [22]
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[SSH])
    assert _code(err) == "InvalidPermission.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_ingress(GroupId=gid, IpProtocol="tcp", FromPort=22, ToPort=22,
                                          CidrIp="0.0.0.0/0")
    assert _code(err) == "InvalidPermission.NotFound"
    out = ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=[https_id])
    assert out["RevokedSecurityGroupRules"][0]["SecurityGroupRuleId"] == https_id
    assert _group(ec2, gid)["IpPermissions"] == []
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=[https_id])
    assert _code(err) == "InvalidSecurityGroupRuleId.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=["sgr-nope"])
    assert _code(err) == "InvalidSecurityGroupRuleId.Malformed"


# ------------------------------------------------------------ describe / filters
def test_describe_filters(ec2) -> None:  # type: ignore[no-untyped-def]
    stem = _name("flt")
    a = ec2.create_security_group(GroupName=f"{stem}-a", Description="alpha web",
                                  TagSpecifications=[{"ResourceType": "security-group",
                                                      "Tags": [{"Key": "k", "Value": stem}]}])
    b = ec2.create_security_group(GroupName=f"{stem}-b", Description="beta db")
    a_id, b_id = a["GroupId"], b["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=a_id, IpPermissions=[SSH])
    ec2.authorize_security_group_ingress(GroupId=b_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "UserIdGroupPairs": [{"GroupId": a_id}]}])
    ec2.revoke_security_group_egress(GroupId=b_id, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    mine = [{"Name": "group-name", "Values": [f"{stem}-*"]}]
    owner = _group(ec2, a_id)["OwnerId"]
    vpc = _group(ec2, a_id)["VpcId"]

    def found(*filters: dict[str, Any]) -> set[str]:
        got = ec2.describe_security_groups(Filters=[*mine, *filters])["SecurityGroups"]
        return {g["GroupId"] for g in got}

    assert found() == {a_id, b_id}
    assert found({"Name": "group-id", "Values": [b_id]}) == {b_id}
    assert found({"Name": "description", "Values": ["*web"]}) == {a_id}
    assert found({"Name": "owner-id", "Values": [owner]}) == {a_id, b_id}
    assert found({"Name": "owner-id", "Values": ["999999999999"]}) == set()
    assert found({"Name": "vpc-id", "Values": [vpc]}) == {a_id, b_id}
    assert found({"Name": "vpc-id", "Values": ["vpc-0123456789abcdef0"]}) == set()
    assert found({"Name": "ip-permission.cidr", "Values": ["0.0.0.0/0"]}) == {a_id}
    assert found({"Name": "ip-permission.from-port", "Values": ["5432"]}) == {b_id}
    assert found({"Name": "ip-permission.to-port", "Values": ["22"]}) == {a_id}
    assert found({"Name": "ip-permission.protocol", "Values": ["tcp"]}) == {a_id, b_id}
    assert found({"Name": "ip-permission.group-id", "Values": [a_id]}) == {b_id}
    assert found({"Name": "ip-permission.group-name", "Values": [f"{stem}-a"]}) == {b_id}
    assert found({"Name": "ip-permission.user-id", "Values": [owner]}) == {b_id}
    assert found({"Name": "egress.ip-permission.cidr", "Values": ["0.0.0.0/0"]}) == {a_id}
    assert found({"Name": "egress.ip-permission.protocol", "Values": ["-1"]}) == {a_id}
    assert found({"Name": "tag:k", "Values": [stem]}) == {a_id}
    assert found({"Name": "tag-key", "Values": ["k"]}) >= {a_id}
    with pytest.raises(ClientError) as err:
        found({"Name": "no-such-filter", "Values": ["x"]})
    assert _code(err) == "InvalidParameterValue"

    for kwargs, code in (({"GroupIds": ["sg-0123456789abcdef0"]}, "InvalidGroup.NotFound"),
                         ({"GroupIds": [a_id, "sg-0123456789abcdef0"]}, "InvalidGroup.NotFound"),
                         ({"GroupNames": [_name()]}, "InvalidGroup.NotFound"),
                         ({"GroupIds": ["bogus"]}, "InvalidGroupId.Malformed")):
        with pytest.raises(ClientError) as err:
            ec2.describe_security_groups(**kwargs)
        assert _code(err) == code, kwargs


def test_describe_paging_with_paginators(ec2) -> None:  # type: ignore[no-untyped-def]
    stem = _name("page")
    made = set()
    for i in range(7):
        gid = ec2.create_security_group(GroupName=f"{stem}-{i}", Description="p")["GroupId"]
        made.add(gid)
        ec2.authorize_security_group_ingress(
            GroupId=gid, IpPermissions=[SSH],
            TagSpecifications=[{"ResourceType": "security-group-rule",
                                "Tags": [{"Key": "batch", "Value": stem}]}])
    flt = [{"Name": "group-name", "Values": [f"{stem}-*"]}]
    pages = list(ec2.get_paginator("describe_security_groups").paginate(
        Filters=flt, PaginationConfig={"PageSize": 5}))
    assert [len(p["SecurityGroups"]) for p in pages] == [5, 2]
    assert {g["GroupId"] for p in pages for g in p["SecurityGroups"]} == made

    rule_pages = list(ec2.get_paginator("describe_security_group_rules").paginate(
        Filters=[{"Name": "tag:batch", "Values": [stem]}], PaginationConfig={"PageSize": 5}))
    assert [len(p["SecurityGroupRules"]) for p in rule_pages] == [5, 2]
    rules = [r for p in rule_pages for r in p["SecurityGroupRules"]]
    assert {r["GroupId"] for r in rules} == made
    assert all(r["Tags"] == [{"Key": "batch", "Value": stem}] for r in rules)


def test_describe_security_group_rules(ec2) -> None:  # type: ignore[no-untyped-def]
    gid = _new(ec2)
    out = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[SSH])
    rule_id = out["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    got = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    assert len(got) == 1
    r = got[0]
    owner = _group(ec2, gid)["OwnerId"]
    assert r == {"SecurityGroupRuleId": rule_id, "GroupId": gid, "GroupOwnerId": owner,
                 "IsEgress": False, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                 "CidrIpv4": "0.0.0.0/0", "Description": "ssh", "Tags": [],
                 "SecurityGroupRuleArn":
                     f"arn:aws:ec2:us-east-1:{owner}:security-group-rule/{rule_id}"}
    by_filter = ec2.describe_security_group_rules(Filters=[
        {"Name": "security-group-rule-id", "Values": [rule_id]}])["SecurityGroupRules"]
    assert [x["SecurityGroupRuleId"] for x in by_filter] == [rule_id]
    of_group = ec2.describe_security_group_rules(Filters=[
        {"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]
    assert sorted(x["IsEgress"] for x in of_group) == [False, True]
    with pytest.raises(ClientError) as err:
        ec2.describe_security_group_rules(SecurityGroupRuleIds=["sgr-0123456789abcdef0"])
    assert _code(err) == "InvalidSecurityGroupRuleId.NotFound"


# ------------------------------------------------------------ tenant isolation
def test_another_account_cannot_see_or_touch(server) -> None:  # type: ignore[no-untyped-def]
    alice, _ = _user(server)
    bob, _ = _user(server)
    gid = _new(alice)
    name = _group(alice, gid)["GroupName"]
    rule_id = alice.authorize_security_group_ingress(
        GroupId=gid, IpPermissions=[SSH])["SecurityGroupRules"][0]["SecurityGroupRuleId"]

    seen = {g["GroupId"] for g in bob.describe_security_groups()["SecurityGroups"]}
    assert gid not in seen and len(seen) == 1  # only bob's own default group
    attempts = [
        (lambda: bob.describe_security_groups(GroupIds=[gid]), "InvalidGroup.NotFound"),
        (lambda: bob.describe_security_groups(GroupNames=[name]), "InvalidGroup.NotFound"),
        (lambda: bob.delete_security_group(GroupId=gid), "InvalidGroup.NotFound"),
        (lambda: bob.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {**SSH, "FromPort": 23, "ToPort": 23}]), "InvalidGroup.NotFound"),
        (lambda: bob.revoke_security_group_ingress(GroupId=gid, IpPermissions=[SSH]),
         "InvalidGroup.NotFound"),
        (lambda: bob.authorize_security_group_ingress(GroupName="default", IpPermissions=[
            {**SSH, "IpRanges": [], "UserIdGroupPairs": [{"GroupId": gid}]}]),
         "InvalidGroup.NotFound"),
        (lambda: bob.describe_security_group_rules(SecurityGroupRuleIds=[rule_id]),
         "InvalidSecurityGroupRuleId.NotFound"),
    ]
    for call, code in attempts:
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == code
    assert bob.describe_security_group_rules(Filters=[
        {"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"] == []
    assert len(_group(alice, gid)["IpPermissions"]) == 1
    # Group names are per account.
    assert bob.create_security_group(GroupName=name, Description="mine")["GroupId"] != gid


# ---------------------------------------------------------------------- awscli
def test_awscli_group_lifecycle(server) -> None:  # type: ignore[no-untyped-def]
    _, keys = _user(server)
    name = _name("cli")
    gid = aws(server, keys, "create-security-group", "--group-name", name,
              "--description", "from the cli")["GroupId"]
    out = aws(server, keys, "authorize-security-group-ingress", "--group-id", gid,
              "--protocol", "tcp", "--port", "22", "--cidr", "203.0.113.0/24")
    assert out["Return"] is True
    groups = aws(server, keys, "describe-security-groups", "--group-ids", gid)["SecurityGroups"]
    assert groups[0]["IpPermissions"][0]["IpRanges"] == [{"CidrIp": "203.0.113.0/24"}]
    listed = aws(server, keys, "describe-security-groups", "--filters",
                 f"Name=group-name,Values={name}")["SecurityGroups"]
    assert [g["GroupId"] for g in listed] == [gid]
    aws(server, keys, "revoke-security-group-ingress", "--group-id", gid,
        "--protocol", "tcp", "--port", "22", "--cidr", "203.0.113.0/24")
    aws(server, keys, "delete-security-group", "--group-id", gid)
    left = aws(server, keys, "describe-security-groups")["SecurityGroups"]
    assert [g["GroupName"] for g in left] == ["default"]
