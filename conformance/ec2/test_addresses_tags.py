"""Elastic IPs (allocate/associate/disassociate/release, attributes) and tags
(create/delete/describe with filters and paging)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import unique


def test_address_lifecycle(ec2: Any, fleet: list[str], cleanup: Any) -> None:
    alloc = ec2.allocate_address(Domain="vpc")
    aid, ip = alloc["AllocationId"], alloc["PublicIp"]
    cleanup(lambda: ec2.release_address(AllocationId=aid))
    assert aid.startswith("eipalloc-") and alloc["Domain"] == "vpc"
    (addr,) = ec2.describe_addresses(AllocationIds=[aid])["Addresses"]
    assert addr["PublicIp"] == ip and "InstanceId" not in addr
    assert [a["AllocationId"] for a in ec2.describe_addresses(PublicIps=[ip])["Addresses"]] \
        == [aid]

    assoc = ec2.associate_address(AllocationId=aid, InstanceId=fleet[2])["AssociationId"]
    assert assoc.startswith("eipassoc-")
    (addr,) = ec2.describe_addresses(Filters=[
        {"Name": "instance-id", "Values": [fleet[2]]}])["Addresses"]
    assert addr["AllocationId"] == aid and addr["AssociationId"] == assoc
    assert addr["InstanceId"] == fleet[2] and addr["PrivateIpAddress"]
    inst = ec2.describe_instances(InstanceIds=[fleet[2]])["Reservations"][0]["Instances"][0]
    assert inst.get("PublicIpAddress") == ip
    attrs = ec2.describe_addresses_attribute(AllocationIds=[aid], Attribute="domain-name")
    assert all(a["AllocationId"] == aid for a in attrs.get("Addresses", []))

    ec2.disassociate_address(AssociationId=assoc)
    (addr,) = ec2.describe_addresses(AllocationIds=[aid])["Addresses"]
    assert "AssociationId" not in addr and "InstanceId" not in addr
    ec2.release_address(AllocationId=aid)
    with pytest.raises(ClientError) as err:
        ec2.describe_addresses(AllocationIds=[aid])
    assert err.value.response["Error"]["Code"] == "InvalidAllocationID.NotFound"


def test_tags_create_describe_delete_and_paging(ec2: Any, fleet: list[str], zone: str,
                                                cleanup: Any) -> None:
    key = unique("k")
    vid = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    cleanup(lambda: ec2.delete_volume(VolumeId=vid))
    resources = [*fleet, vid]
    ec2.create_tags(Resources=resources, Tags=[{"Key": key, "Value": "v1"},
                                               {"Key": key + "-b", "Value": ""}])
    tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": [key, key + "-b"]}])["Tags"]
    assert {(t["ResourceId"], t["Key"]) for t in tags} == \
        {(r, k) for r in resources for k in (key, key + "-b")}
    kinds = {t["ResourceId"]: t["ResourceType"] for t in tags}
    assert kinds[vid] == "volume" and kinds[fleet[0]] == "instance"
    only_volume = ec2.describe_tags(Filters=[{"Name": "key", "Values": [key]},
                                             {"Name": "resource-type", "Values": ["volume"]}])
    assert [t["ResourceId"] for t in only_volume["Tags"]] == [vid]
    by_id = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vid]},
                                       {"Name": "value", "Values": ["v*"]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in by_id] == [(key, "v1")]

    pages = list(ec2.get_paginator("describe_tags").paginate(
        Filters=[{"Name": "key", "Values": [key, key + "-b"]}],
        PaginationConfig={"PageSize": 5}))
    seen = [(t["ResourceId"], t["Key"]) for p in pages for t in p["Tags"]]
    assert len(seen) == len(set(seen)) == 2 * len(resources) and len(pages) == 2

    # Deleting with a non-matching value keeps the tag; without a value removes it.
    ec2.delete_tags(Resources=[vid], Tags=[{"Key": key, "Value": "other"}])
    ec2.delete_tags(Resources=[vid], Tags=[{"Key": key + "-b"}])
    left = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vid]}])["Tags"]
    assert {t["Key"] for t in left} == {key}
    ec2.delete_tags(Resources=resources, Tags=[{"Key": key}, {"Key": key + "-b"}])
    assert ec2.describe_tags(Filters=[{"Name": "key", "Values": [key]}])["Tags"] == []
