"""CreateTags / DeleteTags / DescribeTags across resource kinds, through boto3 and awscli."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.awscli import aws

MISSING = "0123456789abcdef0"


def _name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _image_id(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))


def _tags_of(ec2: Any, resource_id: str) -> dict[str, str]:
    got = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
    assert all(t["ResourceId"] == resource_id for t in got)
    return {t["Key"]: t["Value"] for t in got}


@pytest.fixture
def user(server) -> Iterator[tuple[Any, tuple[str, str]]]:  # type: ignore[no-untyped-def]
    keys = server.new_user(_name("tagger"))
    client = server.ec2(*keys)
    yield client, keys
    ids = [i["InstanceId"] for r in client.describe_instances()["Reservations"]
           for i in r["Instances"] if i["State"]["Name"] != "terminated"]
    if ids:
        client.terminate_instances(InstanceIds=ids)


@pytest.fixture
def resources(user) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    """One resource of each taggable kind the user owns: resource type -> id."""
    ec2, _ = user
    run = ec2.run_instances(ImageId=_image_id(ec2), MinCount=1, MaxCount=1)["Instances"][0]
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    made = {
        "instance": run["InstanceId"],
        "volume": volume,
        "snapshot": ec2.create_snapshot(VolumeId=volume)["SnapshotId"],
        "security-group": ec2.create_security_group(GroupName=_name("g"),
                                                    Description="d")["GroupId"],
        "key-pair": ec2.create_key_pair(KeyName=_name("k"))["KeyPairId"],
        "elastic-ip": ec2.allocate_address(Domain="vpc")["AllocationId"],
    }
    yield made
    ec2.release_address(AllocationId=made["elastic-ip"])  # the public pool is shared


# ---------------------------------------------------------------------- create
def test_tags_on_every_kind(user, resources) -> None:  # type: ignore[no-untyped-def]
    ec2, _ = user
    ids = list(resources.values())
    ec2.create_tags(Resources=ids, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "empty"}])
    for kind, rid in resources.items():
        got = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [rid]}])["Tags"]
        assert sorted((t["Key"], t["Value"], t["ResourceType"]) for t in got) == [
            ("empty", "", kind), ("env", "prod", kind)], kind
    # The tags show on the resources themselves, and overwrite by key.
    ec2.create_tags(Resources=[resources["instance"]], Tags=[{"Key": "env", "Value": "dev"}])
    inst = ec2.describe_instances(InstanceIds=[resources["instance"]])["Reservations"][0][
        "Instances"][0]
    assert sorted((t["Key"], t["Value"]) for t in inst["Tags"]) == [("empty", ""), ("env", "dev")]
    group = ec2.describe_security_groups(GroupIds=[resources["security-group"]])[
        "SecurityGroups"][0]
    assert sorted(t["Key"] for t in group["Tags"]) == ["empty", "env"]
    kp = ec2.describe_key_pairs(KeyPairIds=[resources["key-pair"]])["KeyPairs"][0]
    assert sorted(t["Key"] for t in kp["Tags"]) == ["empty", "env"]

    by_type = ec2.describe_tags(Filters=[
        {"Name": "resource-type", "Values": ["elastic-ip", "key-pair"]},
        {"Name": "key", "Values": ["env"]}])["Tags"]
    assert sorted(t["ResourceId"] for t in by_type) == sorted(
        [resources["elastic-ip"], resources["key-pair"]])


def test_image_tags_need_ownership(ec2, user) -> None:  # type: ignore[no-untyped-def]
    client, _ = user
    image = _image_id(ec2)
    key = _name("img")
    with pytest.raises(ClientError) as err:
        client.create_tags(Resources=[image], Tags=[{"Key": key, "Value": "x"}])
    assert _code(err) == "InvalidAMIID.NotFound"
    ec2.create_tags(Resources=[image], Tags=[{"Key": key, "Value": "x"}])  # admin may
    try:
        got = ec2.describe_tags(Filters=[{"Name": "key", "Values": [key]}])["Tags"]
        assert [(t["ResourceId"], t["ResourceType"]) for t in got] == [(image, "image")]
    finally:
        ec2.delete_tags(Resources=[image], Tags=[{"Key": key}])
    assert ec2.describe_tags(Filters=[{"Name": "key", "Values": [key]}])["Tags"] == []


def test_create_errors_and_all_or_none(user, resources) -> None:  # type: ignore[no-untyped-def]
    ec2, _ = user
    group = resources["security-group"]
    cases = [
        ("i-xyz", "InvalidInstanceID.Malformed"),
        ("vol-xyz", "InvalidVolumeID.Malformed"),
        ("sg-xyz", "InvalidGroupId.Malformed"),
        (f"i-{MISSING}", "InvalidInstanceID.NotFound"),
        (f"vol-{MISSING}", "InvalidVolume.NotFound"),
        (f"snap-{MISSING}", "InvalidSnapshot.NotFound"),
        (f"ami-{MISSING}", "InvalidAMIID.NotFound"),
        (f"sg-{MISSING}", "InvalidGroup.NotFound"),
        (f"key-{MISSING}", "InvalidKeyPair.NotFound"),
        (f"eipalloc-{MISSING}", "InvalidAllocationID.NotFound"),
        ("foo-123", "InvalidID"),
    ]
    for rid, code in cases:
        with pytest.raises(ClientError) as err:
            ec2.create_tags(Resources=[group, rid], Tags=[{"Key": "a", "Value": "b"}])
        assert _code(err) == code, rid
        assert rid in err.value.response["Error"]["Message"] or code == "InvalidID"
    assert _tags_of(ec2, group) == {}  # nothing of a failed call stuck

    with pytest.raises(ClientError) as err:
        ec2.create_tags(Resources=[group], Tags=[{"Key": "aws:reserved", "Value": "x"}])
    assert _code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.create_tags(Resources=[group], Tags=[{"Key": "k" * 129, "Value": "x"}])
    assert _code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.create_tags(Resources=[group],
                        Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert _code(err) == "TagLimitExceeded"


# ---------------------------------------------------------------------- delete
def test_delete_tags_value_semantics(user, resources) -> None:  # type: ignore[no-untyped-def]
    ec2, _ = user
    rid = resources["volume"]
    ec2.create_tags(Resources=[rid], Tags=[{"Key": k, "Value": v} for k, v in
                                           (("a", "1"), ("b", "2"), ("c", ""), ("d", "4"))])
    ec2.delete_tags(Resources=[rid], Tags=[{"Key": "a", "Value": "wrong"}])
    assert _tags_of(ec2, rid) == {"a": "1", "b": "2", "c": "", "d": "4"}
    ec2.delete_tags(Resources=[rid], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b"}])
    assert _tags_of(ec2, rid) == {"c": "", "d": "4"}
    ec2.delete_tags(Resources=[rid], Tags=[{"Key": "d", "Value": ""}])
    assert _tags_of(ec2, rid) == {"c": "", "d": "4"}
    ec2.delete_tags(Resources=[rid], Tags=[{"Key": "c", "Value": ""}, {"Key": "nope"}])
    assert _tags_of(ec2, rid) == {"d": "4"}
    ec2.create_tags(Resources=[rid], Tags=[{"Key": "e", "Value": "5"}])
    ec2.delete_tags(Resources=[rid])  # no Tags: every tag goes
    assert _tags_of(ec2, rid) == {}
    with pytest.raises(ClientError) as err:
        ec2.delete_tags(Resources=[f"snap-{MISSING}"], Tags=[{"Key": "a"}])
    assert _code(err) == "InvalidSnapshot.NotFound"


# -------------------------------------------------------------------- describe
def test_describe_filters_and_paging(user, resources) -> None:  # type: ignore[no-untyped-def]
    ec2, _ = user
    stem = _name("p")
    ec2.create_tags(Resources=list(resources.values()), Tags=[{"Key": stem, "Value": "blue"}])
    ec2.create_tags(Resources=[resources["volume"]], Tags=[{"Key": f"{stem}-x", "Value": "red"}])

    def keys(*filters: dict[str, Any]) -> list[tuple[str, str]]:
        got = ec2.describe_tags(Filters=list(filters))["Tags"]
        return sorted((t["ResourceId"], t["Key"]) for t in got)

    assert len(keys({"Name": "key", "Values": [stem]})) == 6
    assert keys({"Name": "key", "Values": [f"{stem}*"]}, {"Name": "value", "Values": ["r*"]}) \
        == [(resources["volume"], f"{stem}-x")]
    assert keys({"Name": "key", "Values": [f"{stem}*"]},
                {"Name": "resource-type", "Values": ["volume"]}) == [
        (resources["volume"], stem), (resources["volume"], f"{stem}-x")]
    assert keys({"Name": "tag:" + stem, "Values": ["blue"]},
                {"Name": "resource-id", "Values": [resources["snapshot"]]}) == [
        (resources["snapshot"], stem)]
    assert keys({"Name": "tag-key", "Values": [f"{stem}-x"]}) == [
        (resources["volume"], f"{stem}-x")]
    assert keys({"Name": "tag:" + stem, "Values": ["green"]}) == []
    with pytest.raises(ClientError) as err:
        ec2.describe_tags(Filters=[{"Name": "colour", "Values": ["x"]}])
    assert _code(err) == "InvalidParameterValue"

    pages = list(ec2.get_paginator("describe_tags").paginate(
        Filters=[{"Name": "key", "Values": [f"{stem}*"]}], PaginationConfig={"PageSize": 5}))
    assert [len(p["Tags"]) for p in pages] == [5, 2]
    assert len({(t["ResourceId"], t["Key"]) for p in pages for t in p["Tags"]}) == 7


# ------------------------------------------------------------ tenant isolation
def test_another_account_cannot_see_or_touch(server, user, resources) -> None:  # type: ignore[no-untyped-def]
    alice, _ = user
    bob = server.ec2(*server.new_user(_name("bob")))
    ec2_admin = server.ec2()
    alice.create_tags(Resources=list(resources.values()), Tags=[{"Key": "owner", "Value": "a"}])
    codes = {"instance": "InvalidInstanceID.NotFound", "volume": "InvalidVolume.NotFound",
             "snapshot": "InvalidSnapshot.NotFound", "security-group": "InvalidGroup.NotFound",
             "key-pair": "InvalidKeyPair.NotFound", "elastic-ip": "InvalidAllocationID.NotFound"}
    for kind, rid in resources.items():
        for call in (lambda r=rid: bob.create_tags(Resources=[r], Tags=[{"Key": "x", "Value": "y"}]),
                     lambda r=rid: bob.delete_tags(Resources=[r])):
            with pytest.raises(ClientError) as err:
                call()
            assert _code(err) == codes[kind]
        assert bob.describe_tags(Filters=[{"Name": "resource-id", "Values": [rid]}])["Tags"] == []
        assert _tags_of(alice, rid) == {"owner": "a"}
    assert all(t["Key"] != "owner" or t["ResourceId"] not in resources.values()
               for t in bob.describe_tags()["Tags"])
    # An admin's tag on alice's resource belongs to alice: she sees it.
    ec2_admin.create_tags(Resources=[resources["volume"]], Tags=[{"Key": "audit", "Value": "ok"}])
    assert _tags_of(alice, resources["volume"]) == {"owner": "a", "audit": "ok"}


# ---------------------------------------------------------------------- awscli
def test_awscli_create_describe_delete(server) -> None:  # type: ignore[no-untyped-def]
    keys = server.new_user(_name("cli"))
    ec2 = server.ec2(*keys)
    gid = ec2.create_security_group(GroupName=_name("g"), Description="d")["GroupId"]
    aws(server, keys, "create-tags", "--resources", gid, "--tags", "Key=Name,Value=web",
        "Key=team,Value=ops")
    got = aws(server, keys, "describe-tags", "--filters", f"Name=resource-id,Values={gid}")
    assert sorted((t["Key"], t["Value"], t["ResourceType"]) for t in got["Tags"]) == [
        ("Name", "web", "security-group"), ("team", "ops", "security-group")]
    aws(server, keys, "delete-tags", "--resources", gid, "--tags", "Key=team")
    got = aws(server, keys, "describe-tags", "--filters", f"Name=resource-id,Values={gid}")
    assert [t["Key"] for t in got["Tags"]] == ["Name"]
