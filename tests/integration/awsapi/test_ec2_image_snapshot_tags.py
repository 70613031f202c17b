"""CreateImage and CopyImage make the image's snapshots as AWS does, and
"snapshot" TagSpecifications tag them, through boto3 (DescribeSnapshots with
the tag filter)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import WAIT, running_instance, settled_image


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _tagged_snapshots(ec2: Any, key: str, value: str) -> list[dict[str, Any]]:
    return ec2.describe_snapshots(OwnerIds=["self"], Filters=[  # type: ignore[no-any-return]
        {"Name": f"tag:{key}", "Values": [value]}])["Snapshots"]


@pytest.fixture(scope="module")
def instance(server: Any) -> Any:
    ec2 = server.ec2()
    iid = running_instance(ec2)
    yield iid
    ec2.terminate_instances(InstanceIds=[iid])


def test_create_image_tags_its_snapshot(ec2: Any, instance: str) -> None:
    mark = uuid.uuid4().hex[:10]
    root = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0][
        "BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    image = ec2.create_image(
        InstanceId=instance, Name=f"snaptag-{mark}", NoReboot=True,
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "img", "Value": mark}]},
                           {"ResourceType": "snapshot",
                            "Tags": [{"Key": "snap", "Value": mark}]}])["ImageId"]
    snaps = _tagged_snapshots(ec2, "snap", mark)
    assert len(snaps) == 1
    snap = snaps[0]
    assert snap["VolumeId"] == root
    assert snap["Description"] == f"Created by CreateImage({instance}) for {image}"
    assert snap["Tags"] == [{"Key": "snap", "Value": mark}]
    # The image keeps only its own tags; the snapshot only the snapshot's.
    assert _tagged_snapshots(ec2, "img", mark) == []
    found = ec2.describe_images(Owners=["self"],  # also while pending
                                Filters=[{"Name": "tag:img", "Values": [mark]}])["Images"]
    assert [i["ImageId"] for i in found] == [image]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap["SnapshotId"]],
                                              WaiterConfig=WAIT)
    assert settled_image(ec2, image)["State"] == "available"

    # CopyImage copies the image's snapshot; its "snapshot" tags go on the copy.
    copy = ec2.copy_image(Name=f"snapcopy-{mark}", SourceImageId=image,
                          SourceRegion="us-east-1", TagSpecifications=[
                              {"ResourceType": "snapshot",
                               "Tags": [{"Key": "copied", "Value": mark}]}])["ImageId"]
    copied = _tagged_snapshots(ec2, "copied", mark)
    assert len(copied) == 1 and copied[0]["SnapshotId"] != snap["SnapshotId"]
    assert copied[0]["Description"] == (
        f"Copied for DestinationAmi {copy} from SourceAmi {image} "
        f"for SourceSnapshot {snap['SnapshotId']}")
    assert copied[0]["Tags"] == [{"Key": "copied", "Value": mark}]
    assert _tagged_snapshots(ec2, "snap", mark)[0]["SnapshotId"] == snap["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[copied[0]["SnapshotId"]],
                                              WaiterConfig=WAIT)
    settled_image(ec2, copy)
    # Deregistering leaves the snapshots, as on AWS.
    for i in (image, copy):
        ec2.deregister_image(ImageId=i)
    left = ec2.describe_snapshots(SnapshotIds=[snap["SnapshotId"], copied[0]["SnapshotId"]])
    assert len(left["Snapshots"]) == 2
    for s in left["Snapshots"]:
        ec2.delete_snapshot(SnapshotId=s["SnapshotId"])


def test_create_image_without_snapshot_tags_still_makes_the_snapshot(
        ec2: Any, instance: str) -> None:
    mark = uuid.uuid4().hex[:10]
    image = ec2.create_image(InstanceId=instance, Name=f"plain-{mark}", NoReboot=True)["ImageId"]
    made = ec2.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": "description", "Values": [f"Created by CreateImage({instance}) for {image}"]}])
    assert len(made["Snapshots"]) == 1 and "Tags" not in made["Snapshots"][0]
    sid = made["Snapshots"][0]["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    settled_image(ec2, image)
    ec2.deregister_image(ImageId=image)
    ec2.delete_snapshot(SnapshotId=sid)


@pytest.mark.parametrize("kind", ["volume", "instance", "network-interface"])
def test_other_resource_types_are_refused(ec2: Any, instance: str, kind: str) -> None:
    mark = uuid.uuid4().hex[:10]
    with pytest.raises(ClientError) as err:
        ec2.create_image(InstanceId=instance, Name=f"refused-{mark}", NoReboot=True,
                         TagSpecifications=[{"ResourceType": kind,
                                             "Tags": [{"Key": "k", "Value": mark}]}])
    assert _code(err) == "InvalidParameterValue"
    assert ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "name", "Values": [f"refused-{mark}"]}])["Images"] == []
    assert _tagged_snapshots(ec2, "k", mark) == []
    builtin = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    with pytest.raises(ClientError) as err:
        ec2.copy_image(Name=f"refused-copy-{mark}", SourceImageId=builtin,
                       SourceRegion="us-east-1",
                       TagSpecifications=[{"ResourceType": kind,
                                           "Tags": [{"Key": "k", "Value": mark}]}])
    assert _code(err) == "InvalidParameterValue"


def test_copy_of_an_image_without_a_snapshot_tags_only_the_image(ec2: Any) -> None:
    """A built-in image has no snapshot of its own: nothing to copy or tag."""
    mark = uuid.uuid4().hex[:10]
    builtin = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    copy = ec2.copy_image(Name=f"builtin-copy-{mark}", SourceImageId=builtin,
                          SourceRegion="us-east-1", TagSpecifications=[
                              {"ResourceType": "image", "Tags": [{"Key": "c", "Value": mark}]},
                              {"ResourceType": "snapshot",
                               "Tags": [{"Key": "c", "Value": mark}]}])["ImageId"]
    assert _tagged_snapshots(ec2, "c", mark) == []
    assert [i["ImageId"] for i in ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "tag:c", "Values": [mark]}])["Images"]] == [copy]
    settled_image(ec2, copy)
    ec2.deregister_image(ImageId=copy)


def test_images_made_back_to_back_of_one_instance_all_succeed(ec2: Any, instance: str) -> None:
    """The second CreateImage may find the root volume still being snapshotted for
    the first: its snapshot queues behind (test_ec2_image_snapshot_queue.py)."""
    names = [f"b2b-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    images = [ec2.create_image(InstanceId=instance, Name=n, NoReboot=True)["ImageId"]
              for n in names]
    for image in images:
        assert settled_image(ec2, image)["State"] == "available"
        ec2.deregister_image(ImageId=image)
