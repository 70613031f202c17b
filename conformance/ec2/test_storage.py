"""Volumes and snapshots: create/attach/detach/modify/delete, copies, volumes
from snapshots, status and modifications, paginators and the storage waiters."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import RUN_TAG
from harness import unique


def _tags(kind: str, **tags: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind,
             "Tags": [{"Key": "run", "Value": RUN_TAG}]
             + [{"Key": k, "Value": v} for k, v in tags.items()]}]


def test_volume_lifecycle_attach_detach_modify(ec2: Any, fleet: list[str], zone: str,
                                               wait: dict[str, float], cleanup: Any) -> None:
    name = unique("vol")
    vol = ec2.create_volume(Size=1, AvailabilityZone=zone, VolumeType="gp3",
                            TagSpecifications=_tags("volume", Name=name))
    vid = vol["VolumeId"]
    cleanup(lambda: ec2.delete_volume(VolumeId=vid))
    assert vid.startswith("vol-") and vol["Size"] == 1 and vol["AvailabilityZone"] == zone
    assert vol["State"] in ("creating", "available")
    assert {"Key": "Name", "Value": name} in vol["Tags"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=wait)

    att = ec2.attach_volume(VolumeId=vid, InstanceId=fleet[0], Device="/dev/sdf")
    assert att["VolumeId"] == vid and att["InstanceId"] == fleet[0]
    assert att["Device"] == "/dev/sdf" and att["State"] in ("attaching", "attached")
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[vid], WaiterConfig=wait)
    (desc,) = ec2.describe_volumes(VolumeIds=[vid])["Volumes"]
    assert desc["State"] == "in-use"
    # The volume is in-use as soon as attaching starts; the attachment settles later.
    for _ in range(int(wait["MaxAttempts"])):
        (desc,) = ec2.describe_volumes(VolumeIds=[vid])["Volumes"]
        if desc["Attachments"][0]["State"] != "attaching":
            break
        time.sleep(wait["Delay"])
    assert [(a["InstanceId"], a["State"], a["Device"]) for a in desc["Attachments"]] == \
        [(fleet[0], "attached", "/dev/sdf")]
    by_attachment = ec2.describe_volumes(Filters=[
        {"Name": "attachment.instance-id", "Values": [fleet[0]]}])["Volumes"]
    assert vid in {v["VolumeId"] for v in by_attachment}
    # An attached volume cannot be deleted.
    with pytest.raises(ClientError) as err:
        ec2.delete_volume(VolumeId=vid)
    assert err.value.response["Error"]["Code"] == "VolumeInUse"

    det = ec2.detach_volume(VolumeId=vid)
    assert det["VolumeId"] == vid and det["State"] in ("detaching", "detached")
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=wait)

    mod = ec2.modify_volume(VolumeId=vid, Size=2)["VolumeModification"]
    assert mod["VolumeId"] == vid and mod["TargetSize"] == 2 and mod["OriginalSize"] == 1
    mods = ec2.describe_volumes_modifications(VolumeIds=[vid])["VolumesModifications"]
    assert mods and mods[0]["VolumeId"] == vid
    status = ec2.describe_volume_status(VolumeIds=[vid])["VolumeStatuses"]
    assert [s["VolumeId"] for s in status] == [vid]
    assert status[0]["VolumeStatus"]["Status"] in ("ok", "impaired", "insufficient-data")
    attr = ec2.describe_volume_attribute(VolumeId=vid, Attribute="autoEnableIO")
    assert attr["VolumeId"] == vid and "AutoEnableIO" in attr

    # A volume still being modified may refuse deletion: wait for the change to apply.
    for _ in range(int(wait["MaxAttempts"])):
        (mod,) = ec2.describe_volumes_modifications(VolumeIds=[vid])["VolumesModifications"]
        if mod["ModificationState"] != "modifying":
            break
        time.sleep(wait["Delay"])
    assert mod["ModificationState"] in ("optimizing", "completed")
    ec2.delete_volume(VolumeId=vid)
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[vid], WaiterConfig=wait)


def test_snapshots_copies_and_volumes_from_snapshots(ec2: Any, zone: str,
                                                     wait: dict[str, float],
                                                     cleanup: Any) -> None:
    vid = ec2.create_volume(Size=1, AvailabilityZone=zone,
                            TagSpecifications=_tags("volume"))["VolumeId"]
    cleanup(lambda: ec2.delete_volume(VolumeId=vid))
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=wait)
    snap = ec2.create_snapshot(VolumeId=vid, Description="conformance",
                               TagSpecifications=_tags("snapshot"))
    sid = snap["SnapshotId"]
    cleanup(lambda: ec2.delete_snapshot(SnapshotId=sid))
    assert sid.startswith("snap-") and snap["VolumeId"] == vid and snap["VolumeSize"] == 1
    assert snap["State"] in ("pending", "completed")
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=wait)
    (desc,) = ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"]
    assert desc["State"] == "completed" and desc["Progress"] == "100%"
    assert desc["Description"] == "conformance" and desc["OwnerId"].isdigit()
    mine = ec2.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": "volume-id", "Values": [vid]}])["Snapshots"]
    assert [s["SnapshotId"] for s in mine] == [sid]

    copy = ec2.copy_snapshot(SourceSnapshotId=sid, SourceRegion=ec2.meta.region_name,
                             Description="copy")["SnapshotId"]
    cleanup(lambda: ec2.delete_snapshot(SnapshotId=copy))
    assert copy.startswith("snap-") and copy != sid
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[copy], WaiterConfig=wait)

    restored = ec2.create_volume(SnapshotId=sid, AvailabilityZone=zone,
                                 TagSpecifications=_tags("volume"))
    cleanup(lambda: ec2.delete_volume(VolumeId=restored["VolumeId"]))
    assert restored["SnapshotId"] == sid and restored["Size"] == 1
    ec2.get_waiter("volume_available").wait(VolumeIds=[restored["VolumeId"]],
                                            WaiterConfig=wait)
    ec2.delete_volume(VolumeId=restored["VolumeId"])
    ec2.delete_snapshot(SnapshotId=copy)
    with pytest.raises(ClientError) as err:
        ec2.describe_snapshots(SnapshotIds=[copy])
    assert err.value.response["Error"]["Code"] == "InvalidSnapshot.NotFound"


def _paged(ec2: Any, op: str, key: str, id_key: str, size: int, **kw: Any) -> list[str]:
    pages = list(ec2.get_paginator(op).paginate(PaginationConfig={"PageSize": size}, **kw))
    for page in pages:
        assert len(page[key]) <= size
    seen = [item[id_key] for page in pages for item in page[key]]
    assert len(seen) == len(set(seen)), f"{op}: an item appeared on two pages"
    if len(seen) > size:
        assert len(pages) >= 2
    return seen


def test_volume_and_snapshot_paginators(ec2: Any, zone: str, cleanup: Any) -> None:
    tag = unique("page")
    vids = []
    for _ in range(6):
        vid = ec2.create_volume(Size=1, AvailabilityZone=zone,
                                TagSpecifications=_tags("volume", page=tag))["VolumeId"]
        cleanup(lambda vid=vid: ec2.delete_volume(VolumeId=vid))
        vids.append(vid)
    by_tag = [{"Name": "tag:page", "Values": [tag]}]
    assert sorted(_paged(ec2, "describe_volumes", "Volumes", "VolumeId", 5,
                         Filters=by_tag)) == sorted(vids)
    sids = []
    for vid in vids:
        sid = ec2.create_snapshot(VolumeId=vid, TagSpecifications=_tags(
            "snapshot", page=tag))["SnapshotId"]
        cleanup(lambda sid=sid: ec2.delete_snapshot(SnapshotId=sid))
        sids.append(sid)
    assert sorted(_paged(ec2, "describe_snapshots", "Snapshots", "SnapshotId", 5,
                         OwnerIds=["self"], Filters=by_tag)) == sorted(sids)
    statuses = _paged(ec2, "describe_volume_status", "VolumeStatuses", "VolumeId", 5)
    assert set(vids) <= set(statuses)
