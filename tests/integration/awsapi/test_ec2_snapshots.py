"""EBS snapshots through boto3 (and awscli): create, describe, copy, delete,
volumes made from snapshots, errors, waiters, paging and tenant isolation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

WAIT = {"Delay": 0.2, "MaxAttempts": 100}
ZONE = "us-east-1a"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def _snapshot(ec2: Any, sid: str) -> dict[str, Any]:
    return ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]  # type: ignore[no-any-return]


def test_snapshot_lifecycle_and_volume_from_snapshot(ec2: Any) -> None:
    mark = _tag()
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=3)["VolumeId"]
    snap = ec2.create_snapshot(
        VolumeId=vid, Description=f"nightly {mark}",
        TagSpecifications=[{"ResourceType": "snapshot",
                            "Tags": [{"Key": "mark", "Value": mark}]}])
    sid = snap["SnapshotId"]
    assert sid.startswith("snap-") and len(sid) == 22
    assert snap["VolumeId"] == vid and snap["VolumeSize"] == 3
    assert snap["State"] in ("pending", "completed")
    assert snap["Description"] == f"nightly {mark}" and snap["Encrypted"] is False
    assert snap["OwnerId"].isdigit() and len(snap["OwnerId"]) == 12
    assert snap["Tags"] == [{"Key": "mark", "Value": mark}]
    assert snap["StartTime"].tzinfo is not None

    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    done = _snapshot(ec2, sid)
    assert done["State"] == "completed" and done["Progress"] == "100%"
    assert done["StorageTier"] == "standard"

    def ids(*filters: dict[str, Any], **kw: Any) -> set[str]:
        return {s["SnapshotId"] for s in ec2.describe_snapshots(
            Filters=list(filters), **kw)["Snapshots"]}

    mine = {"Name": "tag:mark", "Values": [mark]}
    assert ids(mine) == {sid}
    assert ids({"Name": "volume-id", "Values": [vid]}) == {sid}
    assert ids(mine, {"Name": "status", "Values": ["completed"]}) == {sid}
    assert ids(mine, {"Name": "status", "Values": ["pending"]}) == set()
    assert ids(mine, {"Name": "description", "Values": [f"*{mark}"]}) == {sid}
    assert ids(mine, {"Name": "volume-size", "Values": ["3"]}) == {sid}
    assert ids(mine, {"Name": "owner-id", "Values": [done["OwnerId"]]}) == {sid}
    assert ids(mine, {"Name": "progress", "Values": ["100%"]}) == {sid}
    assert ids(mine, {"Name": "encrypted", "Values": ["false"]}) == {sid}
    assert ids({"Name": "snapshot-id", "Values": [sid]}) == {sid}
    assert ids(mine, OwnerIds=["self"]) == {sid}
    assert ids(mine, OwnerIds=[done["OwnerId"]]) == {sid}
    assert ids(mine, OwnerIds=["amazon"]) == set()

    # A volume made from the snapshot: its size by default, larger on request.
    clone = ec2.create_volume(AvailabilityZone=ZONE, SnapshotId=sid)
    assert clone["SnapshotId"] == sid and clone["Size"] == 3
    bigger = ec2.create_volume(AvailabilityZone=ZONE, SnapshotId=sid, Size=6)
    assert bigger["Size"] == 6
    ec2.get_waiter("volume_available").wait(
        VolumeIds=[clone["VolumeId"], bigger["VolumeId"]], WaiterConfig=WAIT)
    with pytest.raises(ClientError) as err:
        ec2.create_volume(AvailabilityZone=ZONE, SnapshotId=sid, Size=2)
    assert _code(err) == "InvalidParameterValue"

    # The snapshot outlives its volume.
    ec2.delete_volume(VolumeId=vid)
    assert _snapshot(ec2, sid)["VolumeId"] == vid
    ec2.delete_snapshot(SnapshotId=sid)
    with pytest.raises(ClientError) as err:
        ec2.describe_snapshots(SnapshotIds=[sid])
    assert _code(err) == "InvalidSnapshot.NotFound"
    assert sid in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        ec2.delete_snapshot(SnapshotId=sid)
    assert _code(err) == "InvalidSnapshot.NotFound"
    for v in (clone, bigger):
        ec2.delete_volume(VolumeId=v["VolumeId"])


def test_snapshot_of_an_attached_volume(ec2: Any) -> None:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    iid = ec2.run_instances(ImageId=images[0]["ImageId"], MinCount=1, MaxCount=1)[
        "Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    root = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
        "BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    sid = ec2.create_snapshot(VolumeId=root, Description="root")["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    assert _snapshot(ec2, sid)["VolumeId"] == root
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.delete_snapshot(SnapshotId=sid)


def test_copy_snapshot(server: Any, ec2: Any) -> None:
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=2)["VolumeId"]
    sid = ec2.create_snapshot(VolumeId=vid, Description="original")["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    copy = ec2.copy_snapshot(SourceSnapshotId=sid, SourceRegion=server.region,
                             Description="the copy",
                             TagSpecifications=[{"ResourceType": "snapshot",
                                                 "Tags": [{"Key": "copy", "Value": "1"}]}])
    cid = copy["SnapshotId"]
    assert cid.startswith("snap-") and cid != sid
    assert copy["Tags"] == [{"Key": "copy", "Value": "1"}]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[cid], WaiterConfig=WAIT)
    found = _snapshot(ec2, cid)
    assert found["Description"] == "the copy" and found["VolumeSize"] == 2
    assert found["Tags"] == [{"Key": "copy", "Value": "1"}]
    # Without a description the copy keeps the source's.
    plain = ec2.copy_snapshot(SourceSnapshotId=sid, SourceRegion=server.region)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[plain], WaiterConfig=WAIT)
    assert _snapshot(ec2, plain)["Description"] == "original"
    # A volume can be made from the copy.
    clone = ec2.create_volume(AvailabilityZone=ZONE, SnapshotId=cid)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[clone], WaiterConfig=WAIT)

    for kwargs, code in (
        ({"SourceSnapshotId": sid, "SourceRegion": "eu-west-1"}, "UnsupportedOperation"),
        ({"SourceSnapshotId": "snap-0123456789abcdef0", "SourceRegion": server.region},
         "InvalidSnapshot.NotFound"),
        ({"SourceSnapshotId": "vol-0123456789abcdef0", "SourceRegion": server.region},
         "InvalidSnapshotID.Malformed"),
    ):
        with pytest.raises(ClientError) as err:
            ec2.copy_snapshot(**kwargs)
        assert _code(err) == code
    for s in (sid, cid, plain):
        ec2.delete_snapshot(SnapshotId=s)
    for v in (vid, clone):
        ec2.delete_volume(VolumeId=v)


def test_paging_with_paginator(ec2: Any) -> None:
    mark = _tag()
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    made = []
    for _ in range(6):
        made.append(ec2.create_snapshot(
            VolumeId=vid, TagSpecifications=[{"ResourceType": "snapshot", "Tags": [
                {"Key": "page", "Value": mark}]}])["SnapshotId"])
        ec2.get_waiter("snapshot_completed").wait(SnapshotIds=made[-1:], WaiterConfig=WAIT)
    seen: list[str] = []
    for page in ec2.get_paginator("describe_snapshots").paginate(
            Filters=[{"Name": "tag:page", "Values": [mark]}], OwnerIds=["self"],
            PaginationConfig={"PageSize": 5}):
        assert len(page["Snapshots"]) <= 5
        seen += [s["SnapshotId"] for s in page["Snapshots"]]
    assert seen == made  # oldest first, each once
    for s in made:
        ec2.delete_snapshot(SnapshotId=s)
    ec2.delete_volume(VolumeId=vid)


@pytest.mark.parametrize(("call", "code"), [
    (lambda c: c.describe_snapshots(SnapshotIds=["snap-nope"]), "InvalidSnapshotID.Malformed"),
    (lambda c: c.describe_snapshots(SnapshotIds=["snap-0123456789abcdef0"]),
     "InvalidSnapshot.NotFound"),
    (lambda c: c.describe_snapshots(OwnerIds=["somebody"]), "InvalidUserID.Malformed"),
    (lambda c: c.describe_snapshots(Filters=[{"Name": "bogus", "Values": ["1"]}]),
     "InvalidParameterValue"),
    (lambda c: c.describe_snapshots(MaxResults=1), "InvalidParameterValue"),
    (lambda c: c.create_snapshot(VolumeId="vol-0123456789abcdef0"), "InvalidVolume.NotFound"),
    (lambda c: c.create_snapshot(VolumeId="snap-0123456789abcdef0"),
     "InvalidVolumeID.Malformed"),
    (lambda c: c.delete_snapshot(SnapshotId="snap-0123456789abcdef0"),
     "InvalidSnapshot.NotFound"),
])
def test_snapshot_errors(ec2: Any, call: Callable[[Any], Any], code: str) -> None:
    with pytest.raises(ClientError) as err:
        call(ec2)
    assert _code(err) == code


def test_create_snapshot_rejects_other_tag_resource_types(ec2: Any) -> None:
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    with pytest.raises(ClientError) as err:
        ec2.create_snapshot(VolumeId=vid, TagSpecifications=[
            {"ResourceType": "volume", "Tags": [{"Key": "a", "Value": "b"}]}])
    assert _code(err) == "InvalidParameterValue"
    ec2.delete_volume(VolumeId=vid)


def test_tenant_isolation(server: Any) -> None:
    alice = server.ec2(*server.new_user(f"alice-{_tag()}"))
    bob = server.ec2(*server.new_user(f"bob-{_tag()}"))
    vid = alice.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    sid = alice.create_snapshot(VolumeId=vid)["SnapshotId"]
    alice.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    assert sid not in {s["SnapshotId"] for s in bob.describe_snapshots()["Snapshots"]}
    assert [s["SnapshotId"] for s in alice.describe_snapshots(OwnerIds=["self"])[
        "Snapshots"]] == [sid]
    owner = _snapshot(alice, sid)["OwnerId"]
    assert bob.describe_snapshots(OwnerIds=[owner])["Snapshots"] == []
    for call in (lambda: bob.describe_snapshots(SnapshotIds=[sid]),
                 lambda: bob.delete_snapshot(SnapshotId=sid),
                 lambda: bob.copy_snapshot(SourceSnapshotId=sid, SourceRegion=server.region),
                 lambda: bob.create_volume(AvailabilityZone=ZONE, SnapshotId=sid)):
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == "InvalidSnapshot.NotFound"
    alice.delete_snapshot(SnapshotId=sid)
    alice.delete_volume(VolumeId=vid)


def _aws(server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key,
           "AWS_SECRET_ACCESS_KEY": server.secret_key, "AWS_DEFAULT_REGION": server.region,
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    return subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "--output", "json",
         "ec2", *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_awscli_snapshot_round_trip(server: Any, ec2: Any) -> None:
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    made = _aws(server, "create-snapshot", "--volume-id", vid, "--description", "cli")
    assert made.returncode == 0, made.stderr
    sid = json.loads(made.stdout)["SnapshotId"]
    waited = _aws(server, "wait", "snapshot-completed", "--snapshot-ids", sid)
    assert waited.returncode == 0, waited.stderr
    listed = _aws(server, "describe-snapshots", "--owner-ids", "self", "--filters",
                  f"Name=snapshot-id,Values={sid}", "--query", "Snapshots[].Description")
    assert json.loads(listed.stdout) == ["cli"]
    assert _aws(server, "delete-snapshot", "--snapshot-id", sid).returncode == 0
    ec2.delete_volume(VolumeId=vid)
