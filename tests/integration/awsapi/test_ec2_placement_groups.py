"""Placement groups through boto3: spread groups put instances on distinct hosts,
cluster groups on one; AWS's error codes for unknown, duplicate and in-use groups."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import LiveServer


def _image_id(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def _hosts(server: LiveServer, instance_ids: list[str]) -> set[str]:
    with server.runtime.unit(readonly=True) as sv:
        from engine.models import Instance

        rows = sv.session.query(Instance).filter(
            Instance.sid.in_([i.removeprefix("i-") for i in instance_ids])).all()
        return {r.host_uuid for r in rows}


def test_spread_group_places_instances_on_distinct_hosts(server: LiveServer) -> None:
    access, secret = server.new_user(f"pg-{uuid.uuid4().hex[:6]}")
    ec2 = server.ec2(access, secret)
    name = f"spread-{uuid.uuid4().hex[:6]}"
    group = ec2.create_placement_group(GroupName=name, Strategy="spread")["PlacementGroup"]
    assert group["GroupName"] == name and group["Strategy"] == "spread"
    assert group["State"] == "available" and group["GroupId"].startswith("pg-")
    run = ec2.run_instances(ImageId=_image_id(ec2), InstanceType="t2.micro", MinCount=3,
                            MaxCount=3, Placement={"GroupName": name})
    instance_ids = [i["InstanceId"] for i in run["Instances"]]
    assert all(i["Placement"]["GroupName"] == name for i in run["Instances"])
    assert len(_hosts(server, instance_ids)) == 3
    described = ec2.describe_instances(
        Filters=[{"Name": "placement-group-name", "Values": [name]}])["Reservations"]
    assert sorted(i["InstanceId"] for r in described for i in r["Instances"]) == \
        sorted(instance_ids)
    by_id = ec2.describe_placement_groups(GroupIds=[group["GroupId"]])["PlacementGroups"]
    assert [g["GroupName"] for g in by_id] == [name]
    spread = ec2.describe_placement_groups(
        Filters=[{"Name": "strategy", "Values": ["spread"]}])["PlacementGroups"]
    assert name in {g["GroupName"] for g in spread}
    with pytest.raises(ClientError) as err:
        ec2.delete_placement_group(GroupName=name)
    assert _code(err) == "InvalidPlacementGroup.InUse"
    ec2.terminate_instances(InstanceIds=instance_ids)
    ec2.get_waiter("instance_terminated").wait(
        InstanceIds=instance_ids, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    ec2.delete_placement_group(GroupName=name)
    with pytest.raises(ClientError) as err:
        ec2.describe_placement_groups(GroupNames=[name])
    assert _code(err) == "InvalidPlacementGroup.Unknown"


def test_cluster_group_keeps_instances_together(server: LiveServer) -> None:
    ec2 = server.ec2()
    name = f"cluster-{uuid.uuid4().hex[:6]}"
    ec2.create_placement_group(GroupName=name, Strategy="cluster")
    run = ec2.run_instances(ImageId=_image_id(ec2), InstanceType="t2.micro", MinCount=2,
                            MaxCount=2, Placement={"GroupName": name})
    instance_ids = [i["InstanceId"] for i in run["Instances"]]
    assert len(_hosts(server, instance_ids)) == 1
    ec2.terminate_instances(InstanceIds=instance_ids)


def test_placement_group_errors(ec2: Any) -> None:
    name = f"dup-{uuid.uuid4().hex[:6]}"
    ec2.create_placement_group(GroupName=name, Strategy="spread")
    with pytest.raises(ClientError) as err:
        ec2.create_placement_group(GroupName=name, Strategy="spread")
    assert _code(err) == "InvalidPlacementGroup.Duplicate"
    with pytest.raises(ClientError) as err:
        ec2.create_placement_group(GroupName="p", Strategy="partition")
    assert _code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.delete_placement_group(GroupName=f"nope-{uuid.uuid4().hex[:6]}")
    assert _code(err) == "InvalidPlacementGroup.Unknown"
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=_image_id(ec2), InstanceType="t2.micro", MinCount=1,
                          MaxCount=1, Placement={"GroupName": "no-such-group"})
    assert _code(err) == "InvalidPlacementGroup.Unknown"
    ec2.delete_placement_group(GroupName=name)
