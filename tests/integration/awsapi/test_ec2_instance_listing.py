"""DescribeInstances over pages big enough for the listing fast path: every
instance shows exactly what it shows when described alone, and views that
share constant parts (metadata options, groups, placement) stay per instance."""

from __future__ import annotations

import uuid
from typing import Any

from engine.services.instance_details import _SCOPED_PAGE
from tests.support import LiveServer

COUNT = _SCOPED_PAGE + 6


def _image(ec2: Any) -> str:
    images = ec2.describe_images(Filters=[{"Name": "name",
                                           "Values": ["amzn2-ami-hvm-2.0-x86_64-gp2"]}])["Images"]
    return str((images or ec2.describe_images()["Images"])[0]["ImageId"])


def _instances(ec2: Any, **kwargs: Any) -> list[dict[str, Any]]:
    out = []
    for page in ec2.get_paginator("describe_instances").paginate(**kwargs):
        for reservation in page["Reservations"]:
            out.extend(reservation["Instances"])
    return out


def test_a_big_page_shows_each_instance_as_alone(server: LiveServer) -> None:
    ec2 = server.ec2(*server.new_user(f"listing-{uuid.uuid4().hex[:8]}"))
    marker = uuid.uuid4().hex
    ran = ec2.run_instances(ImageId=_image(ec2), InstanceType="t2.nano", MinCount=COUNT,
                            MaxCount=COUNT, TagSpecifications=[{
                                "ResourceType": "instance",
                                "Tags": [{"Key": "listing", "Value": marker},
                                         {"Key": "a", "Value": "R&D <x>"}]}])
    ids = [i["InstanceId"] for i in ran["Instances"]]
    changed = ids[3]
    ec2.modify_instance_metadata_options(InstanceId=changed, HttpTokens="required",
                                         HttpPutResponseHopLimit=3)
    listed = _instances(ec2, Filters=[{"Name": "tag:listing", "Values": [marker]}],
                        PaginationConfig={"PageSize": 1000})
    assert sorted(i["InstanceId"] for i in listed) == sorted(ids)
    paged = _instances(ec2, Filters=[{"Name": "tag:listing", "Values": [marker]}],
                       PaginationConfig={"PageSize": _SCOPED_PAGE + 1})
    assert sorted(i["InstanceId"] for i in paged) == sorted(ids)
    alone = {}
    for instance_id in ids:
        [one] = _instances(ec2, InstanceIds=[instance_id])
        alone[instance_id] = one
    for many in (listed, paged):
        for inst in many:
            expected = alone[inst["InstanceId"]]
            # The state may move on (pending -> running) between the calls.
            for volatile in ("State", "StateTransitionReason", "StateReason"):
                inst.pop(volatile, None)
                expected.pop(volatile, None)
            assert inst == expected
    by_id = {i["InstanceId"]: i for i in listed}
    assert by_id[changed]["MetadataOptions"]["HttpTokens"] == "required"
    assert by_id[changed]["MetadataOptions"]["HttpPutResponseHopLimit"] == 3
    for other in ids[:3] + ids[4:]:
        assert by_id[other]["MetadataOptions"]["HttpTokens"] == "optional"
        assert by_id[other]["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    assert all(i["Tags"] == sorted(i["Tags"], key=lambda t: t["Key"]) for i in listed)
    assert {"Key": "a", "Value": "R&D <x>"} in by_id[changed]["Tags"]


def test_described_instances_show_what_run_instances_showed(server: LiveServer) -> None:
    """RunInstances renders the summaries of the launch's details, DescribeInstances
    the summaries its narrow queries read: both views agree field for field."""
    ec2 = server.ec2(*server.new_user(f"listing-{uuid.uuid4().hex[:8]}"))
    marker = uuid.uuid4().hex
    ran = ec2.run_instances(ImageId=_image(ec2), InstanceType="t2.nano", MinCount=COUNT,
                            MaxCount=COUNT, TagSpecifications=[{
                                "ResourceType": "instance",
                                "Tags": [{"Key": "z", "Value": "1"},
                                         {"Key": "listing", "Value": marker}]}])
    listed = {i["InstanceId"]: i for i in _instances(
        ec2, Filters=[{"Name": "tag:listing", "Values": [marker]}],
        PaginationConfig={"PageSize": 1000})}
    assert len(listed) == COUNT
    for inst in ran["Instances"]:
        described = listed[inst["InstanceId"]]
        for volatile in ("State", "StateTransitionReason", "StateReason", "MetadataOptions"):
            inst.pop(volatile, None)
            described.pop(volatile, None)
        assert described == inst
        assert [t["Key"] for t in described["Tags"]] == ["listing", "z"]
        assert described["NetworkInterfaces"] and described["BlockDeviceMappings"]
