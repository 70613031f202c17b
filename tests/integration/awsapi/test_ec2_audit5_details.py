"""Details AWS users notice: RestorableByUserIds, the VolumeId of copied
snapshots, attaching at a device already in use, the metadata hop-limit error."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import WAIT, error_code, running_instance

ZONE = "us-east-1a"


@pytest.fixture(scope="module")
def client(server: Any) -> Any:
    return server.ec2(*server.new_user(f"det-{uuid.uuid4().hex[:8]}"))


@pytest.fixture(scope="module")
def snapshot(client: Any) -> tuple[str, str]:
    vid = client.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    sid = client.create_snapshot(VolumeId=vid)["SnapshotId"]
    client.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    return vid, sid


def test_restorable_by(client: Any, snapshot: tuple[str, str]) -> None:
    _, sid = snapshot
    account = client.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]["OwnerId"]

    def listed(users: list[str]) -> list[str]:
        return [s["SnapshotId"] for s in client.describe_snapshots(
            RestorableByUserIds=users)["Snapshots"]]

    assert listed(["all"]) == []  # nothing is public
    assert sid in listed(["self"])
    assert sid in listed([account])
    assert sid not in listed(["111122223333"])
    assert sid in listed(["all", "self"])
    with pytest.raises(ClientError) as err:
        client.describe_snapshots(RestorableByUserIds=["nobody"])
    assert error_code(err) == "InvalidUserID.Malformed"


def test_a_copied_snapshot_names_no_volume(client: Any, snapshot: tuple[str, str]) -> None:
    vid, sid = snapshot
    copy = client.copy_snapshot(SourceSnapshotId=sid, SourceRegion="us-east-1")["SnapshotId"]
    client.get_waiter("snapshot_completed").wait(SnapshotIds=[copy], WaiterConfig=WAIT)
    got = client.describe_snapshots(SnapshotIds=[sid, copy])["Snapshots"]
    by_id = {s["SnapshotId"]: s["VolumeId"] for s in got}
    assert by_id == {sid: vid, copy: "vol-ffffffff"}
    client.delete_snapshot(SnapshotId=copy)


def test_attaching_at_the_root_device_is_in_use(client: Any) -> None:
    iid = running_instance(client)
    vid = client.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    with pytest.raises(ClientError) as err:
        client.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/xvda")
    assert error_code(err) == "InvalidParameterValue"
    assert err.value.response["Error"]["Message"] == \
        "Attachment point /dev/xvda is already in use"
    with pytest.raises(ClientError) as err:
        client.attach_volume(VolumeId=vid, InstanceId="i-0123456789abcdef0",
                             Device="/dev/xvda")
    assert error_code(err) == "InvalidInstanceID.NotFound"
    client.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
    client.get_waiter("volume_in_use").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    other = client.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    with pytest.raises(ClientError) as err:
        client.attach_volume(VolumeId=other, InstanceId=iid, Device="/dev/sdf")
    assert error_code(err) == "InvalidParameterValue"
    assert "Attachment point /dev/sdf is already in use" in str(err.value)


def test_the_hop_limit_error_names_the_parameter(client: Any) -> None:
    iid = running_instance(client)
    with pytest.raises(ClientError) as err:
        client.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=65)
    assert error_code(err) == "InvalidParameterValue"
    message = err.value.response["Error"]["Message"]
    assert "HttpPutResponseHopLimit" in message and "token_hop_limit" not in message
