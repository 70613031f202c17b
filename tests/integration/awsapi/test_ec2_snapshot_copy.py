"""CopySnapshot through boto3: a real copy of the snapshot's stored data (made by
a job through the driver), independent of what happened to the source volume
since; owned by the caller; regions, encryption and failures."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

from awsapi import ids
from awsapi.ids import Kind
from engine.jobs.drivers import HostAccess
from engine.models import Host
from tests.integration.awsapi.volume_waits import wait_modified

WAIT = {"Delay": 0.2, "MaxAttempts": 150}
ZONE = "us-east-1a"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _snapshot(ec2: Any, sid: str) -> dict[str, Any]:
    return ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]  # type: ignore[no-any-return]


def _snapshot_of(ec2: Any, size: int, description: str = "") -> tuple[str, str]:
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=size)["VolumeId"]
    sid = ec2.create_snapshot(VolumeId=vid, Description=description)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    return vid, sid


@pytest.fixture
def drivers(server: Any) -> Iterator[list[Any]]:
    """The simulator drivers of every host (their injected faults cleared afterwards)."""
    with server.runtime.unit(readonly=True) as services:
        hosts = [HostAccess(h.uuid, h.hypervisor, h.url, h.username, h.password)
                 for h in services.session.scalars(select(Host))]
    found = [server.runtime.drivers.get(h) for h in hosts]
    try:
        yield found
    finally:
        for d in found:
            d.clear_settings()


def _stored_snapshots(drivers: list[Any]) -> set[str]:
    """The snapshot sids the simulated hypervisor keeps."""
    out: set[str] = set()
    for d in drivers:
        db = d._read()
        out |= {row[0] for row in db.all("SELECT sid FROM snapshots")}
    return out


def test_copy_survives_a_changed_or_deleted_volume(ec2: Any, drivers: list[Any]) -> None:
    vid, sid = _snapshot_of(ec2, 2, "as taken")
    # The volume grows and is then deleted: the copy still has the snapshot's data.
    ec2.modify_volume(VolumeId=vid, Size=5)
    wait_modified(ec2, vid)
    ec2.delete_volume(VolumeId=vid)
    copy = ec2.copy_snapshot(SourceSnapshotId=sid, SourceRegion="us-east-1")["SnapshotId"]
    assert _snapshot(ec2, copy)["State"] in ("pending", "completed")
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[copy], WaiterConfig=WAIT)
    found = _snapshot(ec2, copy)
    assert found["VolumeSize"] == 2 and found["Description"] == "as taken"
    assert found["VolumeId"] == "vol-ffffffff"  # AWS: a copy names no volume
    # The hypervisor holds the copy as a snapshot of its own.
    stored = _stored_snapshots(drivers)
    assert {ids.parse(sid, Kind.SNAPSHOT), ids.parse(copy, Kind.SNAPSHOT)} <= stored
    # The copy outlives its source, and a volume made from it has the snapshot's size.
    ec2.delete_snapshot(SnapshotId=sid)
    clone = ec2.create_volume(AvailabilityZone=ZONE, SnapshotId=copy)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[clone], WaiterConfig=WAIT)
    assert ec2.describe_volumes(VolumeIds=[clone])["Volumes"][0]["Size"] == 2
    ec2.delete_volume(VolumeId=clone)
    ec2.delete_snapshot(SnapshotId=copy)


def test_the_copy_belongs_to_the_caller(server: Any, ec2: Any) -> None:
    bob = server.ec2(*server.new_user(f"bob-{uuid.uuid4().hex[:6]}"))
    _, sid = _snapshot_of(bob, 1, "bob's")
    admin_number = ec2.describe_security_groups(
        GroupNames=["default"])["SecurityGroups"][0]["OwnerId"]
    copy = ec2.copy_snapshot(SourceSnapshotId=sid, SourceRegion="us-east-1",
                             Description="admin's copy")["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[copy], WaiterConfig=WAIT)
    got = _snapshot(ec2, copy)
    assert got["OwnerId"] == admin_number and got["Description"] == "admin's copy"
    assert got["OwnerId"] != _snapshot(bob, sid)["OwnerId"]
    # Bob does not see the admin's copy.
    with pytest.raises(ClientError) as err:
        bob.describe_snapshots(SnapshotIds=[copy])
    assert _code(err) == "InvalidSnapshot.NotFound"
    # Nor may he copy a snapshot he cannot see.
    with pytest.raises(ClientError) as err:
        bob.copy_snapshot(SourceSnapshotId=copy, SourceRegion="us-east-1")
    assert _code(err) == "InvalidSnapshot.NotFound"
    ec2.delete_snapshot(SnapshotId=copy)
    bob.delete_snapshot(SnapshotId=sid)


def test_regions_and_encryption(ec2: Any) -> None:
    vid, sid = _snapshot_of(ec2, 1)
    for kwargs, code in (
        ({"SourceRegion": "nowhere"}, "InvalidParameterValue"),
        ({"SourceRegion": "eu-west-1"}, "UnsupportedOperation"),
        ({"SourceRegion": "us-east-1", "Encrypted": True}, "UnsupportedOperation"),
        ({"SourceRegion": "us-east-1", "KmsKeyId": "alias/aws/ebs"}, "UnsupportedOperation"),
        ({"SourceRegion": "us-east-1",
          "TagSpecifications": [{"ResourceType": "volume", "Tags": []}]},
         "InvalidParameterValue"),
    ):
        with pytest.raises(ClientError) as err:
            ec2.copy_snapshot(SourceSnapshotId=sid, **kwargs)
        assert _code(err) == code, kwargs
    ec2.delete_snapshot(SnapshotId=sid)
    ec2.delete_volume(VolumeId=vid)


def test_a_failed_copy_goes_to_error(ec2: Any, drivers: list[Any]) -> None:
    vid, sid = _snapshot_of(ec2, 1)
    for d in drivers:
        d.configure(**{"fail.copy_disk_snapshot": 1, "fail.copy_disk_snapshot.count": 1})
    copy = ec2.copy_snapshot(SourceSnapshotId=sid, SourceRegion="us-east-1")["SnapshotId"]
    for _ in range(300):
        state = _snapshot(ec2, copy)["State"]
        if state != "pending":
            break
        time.sleep(0.1)
    assert state == "error"
    # The error copy can be deleted; the source is untouched and copies again.
    ec2.delete_snapshot(SnapshotId=copy)
    again = ec2.copy_snapshot(SourceSnapshotId=sid, SourceRegion="us-east-1")["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[again], WaiterConfig=WAIT)
    for s in (sid, again):
        ec2.delete_snapshot(SnapshotId=s)
    ec2.delete_volume(VolumeId=vid)
