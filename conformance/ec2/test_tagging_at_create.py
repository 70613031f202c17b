"""Request fields of the create actions: TagSpecifications on images, snapshots
(CreateSnapshot, CreateSnapshots, CopySnapshot), addresses, key pairs and
security groups, refused resource types; CopySnapshot's copy; and provisioned
IOPS/throughput on CreateVolume, ModifyVolume and DescribeVolumesModifications."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import RUN_TAG
from harness import unique


def _spec(kind: str, **tags: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind,
             "Tags": [{"Key": "run", "Value": RUN_TAG}]
             + [{"Key": k, "Value": v} for k, v in tags.items()]}]


def _tags_of(ec2: Any, resource_id: str) -> dict[str, str]:
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])
    return {t["Key"]: t["Value"] for t in found["Tags"]}


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(**kw)
    return str(err.value.response["Error"]["Code"])


def _snapshot(ec2: Any, zone: str, wait: dict[str, float], cleanup: Any,
              size: int = 1) -> tuple[str, str]:
    vid = ec2.create_volume(Size=size, AvailabilityZone=zone,
                            TagSpecifications=_spec("volume"))["VolumeId"]
    cleanup(lambda: ec2.delete_volume(VolumeId=vid))
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=wait)
    sid = ec2.create_snapshot(VolumeId=vid, Description="source",
                              TagSpecifications=_spec("snapshot"))["SnapshotId"]
    cleanup(lambda: ec2.delete_snapshot(SnapshotId=sid))
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=wait)
    return vid, sid


def test_create_image_tags_the_image(ec2: Any, fleet: list[str], cleanup: Any) -> None:
    name = unique("tagged-ami")
    image = ec2.create_image(InstanceId=fleet[0], Name=name, NoReboot=True,
                             TagSpecifications=_spec("image", Name=name))["ImageId"]
    cleanup(lambda: ec2.deregister_image(ImageId=image))
    assert _tags_of(ec2, image) == {"run": RUN_TAG, "Name": name}
    assert _code(ec2.create_image, InstanceId=fleet[0], Name=unique("bad-ami"), NoReboot=True,
                 TagSpecifications=_spec("volume")) == "InvalidParameterValue"


def test_describe_images_shows_tags(ec2: Any, fleet: list[str], cleanup: Any) -> None:
    name = unique("tagged-ami")
    image = ec2.create_image(InstanceId=fleet[0], Name=name, NoReboot=True,
                             TagSpecifications=_spec("image", Name=name))["ImageId"]
    cleanup(lambda: ec2.deregister_image(ImageId=image))
    (found,) = ec2.describe_images(ImageIds=[image])["Images"]
    assert {"Key": "Name", "Value": name} in found.get("Tags", [])


def test_copy_snapshot_is_a_tagged_copy_of_the_caller(ec2: Any, zone: str,
                                                     wait: dict[str, float],
                                                     cleanup: Any) -> None:
    _, sid = _snapshot(ec2, zone, wait, cleanup, size=2)
    region = ec2.meta.region_name
    copy = ec2.copy_snapshot(SourceSnapshotId=sid, SourceRegion=region,
                             TagSpecifications=_spec("snapshot", copy="yes"))
    cid = copy["SnapshotId"]
    cleanup(lambda: ec2.delete_snapshot(SnapshotId=cid))
    assert cid.startswith("snap-") and cid != sid
    assert {"Key": "copy", "Value": "yes"} in copy["Tags"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[cid], WaiterConfig=wait)
    (src,) = ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"]
    (got,) = ec2.describe_snapshots(SnapshotIds=[cid])["Snapshots"]
    assert got["VolumeSize"] == 2 and got["OwnerId"] == src["OwnerId"]
    assert {"Key": "copy", "Value": "yes"} in got["Tags"]
    assert _code(ec2.copy_snapshot, SourceSnapshotId=sid, SourceRegion=region,
                 TagSpecifications=_spec("volume")) == "InvalidParameterValue"


def test_create_snapshots_tags_every_snapshot(ec2: Any, fleet: list[str],
                                             wait: dict[str, float], cleanup: Any) -> None:
    mark = unique("multi")
    made = ec2.create_snapshots(InstanceSpecification={"InstanceId": fleet[1]},
                                Description=mark,
                                TagSpecifications=_spec("snapshot", mark=mark))["Snapshots"]
    assert made
    for snap in made:
        sid = snap["SnapshotId"]
        cleanup(lambda sid=sid: ec2.delete_snapshot(SnapshotId=sid))
        assert snap["Description"] == mark and sid.startswith("snap-")
        assert {"Key": "mark", "Value": mark} in snap["Tags"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[s["SnapshotId"] for s in made],
                                              WaiterConfig=wait)


def test_other_creates_refuse_foreign_resource_types(ec2: Any, zone: str, cleanup: Any) -> None:
    name = unique("tagged")
    alloc = ec2.allocate_address(Domain="vpc", TagSpecifications=_spec("elastic-ip"))
    cleanup(lambda: ec2.release_address(AllocationId=alloc["AllocationId"]))
    assert _tags_of(ec2, alloc["AllocationId"])["run"] == RUN_TAG
    key = ec2.create_key_pair(KeyName=name, TagSpecifications=_spec("key-pair"))
    cleanup(lambda: ec2.delete_key_pair(KeyName=name))
    assert _tags_of(ec2, key["KeyPairId"])["run"] == RUN_TAG
    group = ec2.create_security_group(GroupName=name, Description="tagged at create",
                                      TagSpecifications=_spec("security-group"))
    cleanup(lambda: ec2.delete_security_group(GroupId=group["GroupId"]))
    assert _tags_of(ec2, group["GroupId"])["run"] == RUN_TAG
    for call, kw in ((ec2.allocate_address, {"Domain": "vpc"}),
                     (ec2.create_key_pair, {"KeyName": unique("bad")}),
                     (ec2.create_security_group, {"GroupName": unique("bad"),
                                                  "Description": "x"}),
                     (ec2.create_volume, {"Size": 1, "AvailabilityZone": zone})):
        assert _code(call, TagSpecifications=_spec("instance"), **kw) == \
            "InvalidParameterValue"


def test_volume_iops_and_throughput(ec2: Any, zone: str, wait: dict[str, float],
                                   cleanup: Any) -> None:
    vol = ec2.create_volume(Size=10, AvailabilityZone=zone, VolumeType="gp3", Iops=4000,
                            Throughput=200, TagSpecifications=_spec("volume"))
    vid = vol["VolumeId"]
    cleanup(lambda: ec2.delete_volume(VolumeId=vid))
    assert (vol["Iops"], vol["Throughput"]) == (4000, 200)
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=wait)
    (desc,) = ec2.describe_volumes(VolumeIds=[vid])["Volumes"]
    assert (desc["Iops"], desc["Throughput"]) == (4000, 200)
    change = ec2.modify_volume(VolumeId=vid, Iops=5000, Throughput=300)["VolumeModification"]
    assert (change["OriginalIops"], change["TargetIops"]) == (4000, 5000)
    assert (change["OriginalThroughput"], change["TargetThroughput"]) == (200, 300)
    mods = ec2.describe_volumes_modifications(VolumeIds=[vid])["VolumesModifications"]
    assert any(m["TargetIops"] == 5000 and m["TargetThroughput"] == 300 for m in mods)
    for kw, code in (({"VolumeType": "gp2", "Iops": 3000}, "InvalidParameterCombination"),
                     ({"VolumeType": "io1", "Throughput": 200, "Iops": 400},
                      "InvalidParameterCombination"),
                     ({"VolumeType": "io1"}, "MissingParameter"),
                     ({"VolumeType": "gp3", "Iops": 1000}, "InvalidParameterValue"),
                     ({"VolumeType": "gp3", "Throughput": 10}, "InvalidParameterValue")):
        assert _code(ec2.create_volume, Size=10, AvailabilityZone=zone, **kw) == code, kw
