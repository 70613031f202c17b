"""TagSpecifications at creation, through boto3: each create action tags what it
makes in the same transaction, refuses resource types it does not make with
InvalidParameterValue, and leaves nothing behind when a tag is refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.integration.awsapi.ec2_helpers import WAIT, running_instance, settled_image

ZONE = "us-east-1a"


def _public_key() -> bytes:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH)


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _mark() -> str:
    return uuid.uuid4().hex[:10]


def _spec(kind: str, mark: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": [{"Key": "mark", "Value": mark}]}]


def _tags_of(ec2: Any, resource_id: str) -> dict[str, str]:
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])
    return {t["Key"]: t["Value"] for t in found["Tags"]}


def _refused(call: Callable[..., Any], **kw: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(**kw)
    return _code(err)


def _own_images(ec2: Any, name: str) -> list[dict[str, Any]]:
    return ec2.describe_images(Owners=["self"], Filters=[  # type: ignore[no-any-return]
        {"Name": "name", "Values": [name]}])["Images"]


@pytest.fixture(scope="module")
def instance(server: Any) -> Any:
    ec2 = server.ec2()
    iid = running_instance(ec2)
    yield iid
    ec2.terminate_instances(InstanceIds=[iid])


def test_create_image_tags_the_image(ec2: Any, instance: str) -> None:
    mark = _mark()
    image = ec2.create_image(InstanceId=instance, Name=f"tagged-{mark}", NoReboot=True,
                             TagSpecifications=_spec("image", mark) + _spec("snapshot", mark)
                             )["ImageId"]
    assert _tags_of(ec2, image) == {"mark": mark}
    assert settled_image(ec2, image)["State"] == "available"  # a pending image cannot be copied
    # A copy takes its own tags, not the source's.
    copy = ec2.copy_image(Name=f"copied-{mark}", SourceImageId=image, SourceRegion="us-east-1",
                          TagSpecifications=[{"ResourceType": "image", "Tags": [
                              {"Key": "copy", "Value": "yes"}]}, {"ResourceType": "snapshot",
                                                                  "Tags": []}])["ImageId"]
    assert _tags_of(ec2, copy) == {"copy": "yes"}
    assert settled_image(ec2, copy)["State"] == "available"
    found = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["mark"]},
                                       {"Name": "value", "Values": [mark]}])["Tags"]
    # "snapshot" specifications tag the image's snapshot (see test_ec2_image_snapshot_tags).
    assert sorted((t["ResourceType"], t["ResourceId"] == image) for t in found) == [
        ("image", True), ("snapshot", False)]
    for i in (image, copy):
        ec2.deregister_image(ImageId=i)


def test_register_image_tags_the_image(ec2: Any) -> None:
    mark = _mark()
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    sid = ec2.create_snapshot(VolumeId=vid)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    image = ec2.register_image(
        Name=f"reg-{mark}", RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": sid}}],
        TagSpecifications=_spec("image", mark))["ImageId"]
    assert _tags_of(ec2, image) == {"mark": mark}
    ec2.deregister_image(ImageId=image)
    ec2.delete_snapshot(SnapshotId=sid)
    ec2.delete_volume(VolumeId=vid)


def test_image_actions_refuse_other_types_and_leave_nothing(ec2: Any, instance: str) -> None:
    mark = _mark()
    name = f"refused-{mark}"
    for kind in ("instance", "volume", "snapshot"):
        assert _refused(ec2.register_image, Name=name, ImageLocation="http://x/y.qcow2",
                        TagSpecifications=_spec(kind, mark)) == "InvalidParameterValue"
    for kind in ("instance", "volume"):
        assert _refused(ec2.copy_image, Name=name, SourceImageId="ami-0123456789abcdef0",
                        SourceRegion="us-east-1",
                        TagSpecifications=_spec(kind, mark)) == "InvalidParameterValue"
    assert _refused(ec2.create_image, InstanceId=instance, Name=name,
                    TagSpecifications=_spec("volume", mark)) == "InvalidParameterValue"
    # A refused tag (reserved prefix) rolls the image back with it.
    bad = [{"ResourceType": "image", "Tags": [{"Key": "aws:owned", "Value": "x"}]}]
    assert _refused(ec2.create_image, InstanceId=instance, Name=name, NoReboot=True,
                    TagSpecifications=bad) == "InvalidParameterValue"
    assert _own_images(ec2, name) == []


def test_snapshot_actions(ec2: Any, instance: str) -> None:
    mark = _mark()
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=1,
                            TagSpecifications=_spec("volume", mark))["VolumeId"]
    assert _tags_of(ec2, vid) == {"mark": mark}
    snap = ec2.create_snapshot(VolumeId=vid, TagSpecifications=_spec("snapshot", mark))
    assert {t["Key"]: t["Value"] for t in snap["Tags"]} == {"mark": mark}
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap["SnapshotId"]],
                                              WaiterConfig=WAIT)
    copy = ec2.copy_snapshot(SourceSnapshotId=snap["SnapshotId"], SourceRegion="us-east-1",
                             TagSpecifications=_spec("snapshot", "copied"))
    assert _tags_of(ec2, copy["SnapshotId"]) == {"mark": "copied"}
    for call, kw in ((ec2.create_volume, {"AvailabilityZone": ZONE, "Size": 1}),
                     (ec2.create_snapshot, {"VolumeId": vid}),
                     (ec2.copy_snapshot, {"SourceSnapshotId": snap["SnapshotId"],
                                          "SourceRegion": "us-east-1"})):
        assert _refused(call, TagSpecifications=_spec("image", mark),
                        **kw) == "InvalidParameterValue"
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[copy["SnapshotId"]],
                                              WaiterConfig=WAIT)
    for s in (snap["SnapshotId"], copy["SnapshotId"]):
        ec2.delete_snapshot(SnapshotId=s)
    ec2.delete_volume(VolumeId=vid)


def test_create_snapshots_of_an_instance(ec2: Any, instance: str) -> None:
    mark = _mark()
    root = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id",
                                          "Values": [instance]}])["Volumes"][0]["VolumeId"]
    ec2.create_tags(Resources=[root], Tags=[{"Key": "from-volume", "Value": mark}])
    made = ec2.create_snapshots(InstanceSpecification={"InstanceId": instance},
                                Description=f"all of {mark}", CopyTagsFromSource="volume",
                                TagSpecifications=_spec("snapshot", mark))["Snapshots"]
    assert [s["VolumeId"] for s in made] == [root]
    snap = made[0]
    assert snap["Description"] == f"all of {mark}" and snap["AvailabilityZone"] == ZONE
    assert _tags_of(ec2, snap["SnapshotId"]) == {"mark": mark, "from-volume": mark}
    assert _refused(ec2.create_snapshots, InstanceSpecification={"InstanceId": instance},
                    TagSpecifications=_spec("volume", mark)) == "InvalidParameterValue"
    assert _refused(ec2.create_snapshots, InstanceSpecification={
        "InstanceId": instance, "ExcludeBootVolume": True}) == "InvalidParameterValue"
    assert _refused(ec2.create_snapshots, InstanceSpecification={
        "InstanceId": "i-0123456789abcdef0"}) == "InvalidInstanceID.NotFound"
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap["SnapshotId"]],
                                              WaiterConfig=WAIT)
    ec2.delete_snapshot(SnapshotId=snap["SnapshotId"])
    ec2.delete_tags(Resources=[root], Tags=[{"Key": "from-volume"}])


def test_address_key_pair_and_security_group(ec2: Any) -> None:
    mark = _mark()
    alloc = ec2.allocate_address(Domain="vpc", TagSpecifications=_spec("elastic-ip", mark))
    assert _tags_of(ec2, alloc["AllocationId"]) == {"mark": mark}
    key = ec2.create_key_pair(KeyName=f"k-{mark}", TagSpecifications=_spec("key-pair", mark))
    assert _tags_of(ec2, key["KeyPairId"]) == {"mark": mark}
    imported = ec2.import_key_pair(KeyName=f"i-{mark}", PublicKeyMaterial=_public_key(),
                                   TagSpecifications=_spec("key-pair", mark))
    assert _tags_of(ec2, imported["KeyPairId"]) == {"mark": mark}
    group = ec2.create_security_group(GroupName=f"g-{mark}", Description="tagged",
                                      TagSpecifications=_spec("security-group", mark))
    assert _tags_of(ec2, group["GroupId"]) == {"mark": mark}
    for call, kw in ((ec2.allocate_address, {"Domain": "vpc"}),
                     (ec2.create_key_pair, {"KeyName": f"x-{mark}"}),
                     (ec2.create_security_group, {"GroupName": f"x-{mark}",
                                                  "Description": "x"})):
        assert _refused(call, TagSpecifications=_spec("instance", mark),
                        **kw) == "InvalidParameterValue"
    ec2.release_address(AllocationId=alloc["AllocationId"])
    ec2.delete_key_pair(KeyName=f"k-{mark}")
    ec2.delete_key_pair(KeyName=f"i-{mark}")
    ec2.delete_security_group(GroupId=group["GroupId"])
