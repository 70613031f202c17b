"""Volumes made at RunInstances, through boto3: EBS block device mappings create
and attach data volumes (size, type, performance, snapshot, DeleteOnTermination),
NoDevice / instance-store mappings are accepted and ignored, bad mappings get
AWS's codes and leave nothing behind, and volume / network-interface tag
specifications tag what the launch made."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

WAIT = {"Delay": 0.2, "MaxAttempts": 150}
ZONE = "us-east-1a"


def _image(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _instance(ec2: Any, iid: str) -> dict[str, Any]:
    res = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
    return res[0]["Instances"][0]


def _volumes_of(ec2: Any, iid: str) -> dict[str, dict[str, Any]]:
    vols = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id",
                                          "Values": [iid]}])["Volumes"]
    return {v["Attachments"][0]["Device"]: v for v in vols}


def _marked_volumes(ec2: Any, mark: str) -> list[dict[str, Any]]:
    return ec2.describe_volumes(Filters=[{"Name": "tag:mark", "Values": [mark]}])["Volumes"]


def test_ebs_mappings_create_and_attach_data_volumes(ec2: Any) -> None:
    mark = uuid.uuid4().hex[:10]
    run = ec2.run_instances(
        ImageId=_image(ec2), MinCount=1, MaxCount=1,
        BlockDeviceMappings=[
            {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 5}},
            {"DeviceName": "/dev/sdg", "Ebs": {"VolumeSize": 10, "VolumeType": "gp3",
                                               "Iops": 4000, "Throughput": 200,
                                               "DeleteOnTermination": False,
                                               "Encrypted": False}},
            {"DeviceName": "/dev/sdh", "NoDevice": ""},
            {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
        ],
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "mark", "Value": mark}]}])
    iid = run["Instances"][0]["InstanceId"]
    shown = {m["DeviceName"]: m["Ebs"] for m in run["Instances"][0]["BlockDeviceMappings"]}
    assert set(shown) == {"/dev/xvda", "/dev/sdf", "/dev/sdg"}
    assert shown["/dev/sdf"]["DeleteOnTermination"] is True
    assert shown["/dev/sdg"]["DeleteOnTermination"] is False
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    described = {m["DeviceName"]: m["Ebs"]["VolumeId"]
                 for m in _instance(ec2, iid)["BlockDeviceMappings"]}
    assert set(described) == {"/dev/xvda", "/dev/sdf", "/dev/sdg"}
    vols = _volumes_of(ec2, iid)
    assert vols["/dev/sdf"]["Size"] == 5 and vols["/dev/sdf"]["VolumeType"] == "gp2"
    assert vols["/dev/sdg"]["Size"] == 10 and vols["/dev/sdg"]["VolumeType"] == "gp3"
    assert vols["/dev/sdg"]["Iops"] == 4000 and vols["/dev/sdg"]["Throughput"] == 200
    assert all(v["State"] == "in-use" for v in vols.values())
    assert {v["VolumeId"] for v in _marked_volumes(ec2, mark)} == set(described.values())

    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert _instance(ec2, iid)["BlockDeviceMappings"] == []
    left = {v["VolumeId"]: v for v in _marked_volumes(ec2, mark)}
    assert set(left) == {described["/dev/sdg"]}  # DeleteOnTermination false: kept
    assert left[described["/dev/sdg"]]["State"] == "available"
    ec2.delete_volume(VolumeId=described["/dev/sdg"])


def test_mapping_from_a_snapshot(ec2: Any) -> None:
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=2)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    snap = ec2.create_snapshot(VolumeId=vid)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap], WaiterConfig=WAIT)
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=1, BlockDeviceMappings=[
            {"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": snap, "VolumeSize": 1}}])
    assert _code(err) == "InvalidBlockDeviceMapping"
    run = ec2.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=1, BlockDeviceMappings=[
        {"DeviceName": "xvdf", "Ebs": {"SnapshotId": snap}}])
    iid = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    data = _volumes_of(ec2, iid)["/dev/sdf"]
    assert data["SnapshotId"] == snap and data["Size"] == 2
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    ec2.delete_snapshot(SnapshotId=snap)
    ec2.delete_volume(VolumeId=vid)


@pytest.mark.parametrize(("mappings", "code"), [
    ([{"DeviceName": "/dev/foo", "Ebs": {"VolumeSize": 5}}], "InvalidBlockDeviceMapping"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 5}},
      {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 6}}], "InvalidBlockDeviceMapping"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {}}], "InvalidBlockDeviceMapping"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 20000}}], "InvalidParameterValue"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 5, "VolumeType": "io1"}}],
     "MissingParameter"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}],
     "InvalidSnapshot.NotFound"),
])
def test_bad_mappings_get_aws_codes_and_leave_nothing(ec2: Any, mappings: list[Any],
                                                      code: str) -> None:
    mark = uuid.uuid4().hex[:10]
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=1,
                          BlockDeviceMappings=mappings, TagSpecifications=[
                              {"ResourceType": "instance",
                               "Tags": [{"Key": "mark", "Value": mark}]},
                              {"ResourceType": "volume",
                               "Tags": [{"Key": "mark", "Value": mark}]}])
    assert _code(err) == code
    assert _marked_volumes(ec2, mark) == []
    found = ec2.describe_instances(Filters=[{"Name": "tag:mark", "Values": [mark]}])
    assert found["Reservations"] == []


def test_volume_limit_counts_launch_volumes(server: Any, ec2: Any) -> None:
    from tests.integration.awsapi.test_ec2_limits import _limited_user

    user = _limited_user(server, VOLUME=2)
    with pytest.raises(ClientError) as err:
        user.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=1, BlockDeviceMappings=[
            {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}},
            {"DeviceName": "/dev/sdg", "Ebs": {"VolumeSize": 1}}])
    assert _code(err) == "VolumeLimitExceeded"
    assert user.describe_volumes()["Volumes"] == []
    run = user.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=1, BlockDeviceMappings=[
        {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}])
    assert len(run["Instances"][0]["BlockDeviceMappings"]) == 2


def test_volume_and_interface_tag_specifications(ec2: Any) -> None:
    mark = uuid.uuid4().hex[:10]
    run = ec2.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "mark", "Value": mark}]},
        {"ResourceType": "network-interface", "Tags": [{"Key": "eni-mark", "Value": mark}]}])
    inst = run["Instances"][0]
    iid = inst["InstanceId"]
    eni = inst["NetworkInterfaces"][0]["NetworkInterfaceId"]
    root = inst["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    assert [v["VolumeId"] for v in _marked_volumes(ec2, mark)] == [root]
    enis = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"]
    assert enis[0]["TagSet"] == [{"Key": "eni-mark", "Value": mark}]
    ec2.terminate_instances(InstanceIds=[iid])
