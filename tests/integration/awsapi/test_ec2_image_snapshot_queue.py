"""An image's backing snapshot and the snapshots of one volume, as on AWS:

- DeleteSnapshot of a snapshot a registered image uses fails with
  InvalidSnapshot.InUse ("The snapshot snap-... is currently in use by
  ami-..."); once the image is deregistered it deletes. CloudStack's
  deleteSnapshot keeps allowing it (a template is a copy of its own there).
- Snapshots of one volume queue: CreateImage back to back gives every image
  its own snapshot, and CreateSnapshot of a volume being snapshotted succeeds.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import WAIT, error_code, running_instance, settled_image


@pytest.fixture(scope="module")
def instance(server: Any) -> Any:
    ec2 = server.ec2()
    iid = running_instance(ec2)
    yield iid
    ec2.terminate_instances(InstanceIds=[iid])


def _backing_snapshot(image: dict[str, Any]) -> str | None:
    for m in image.get("BlockDeviceMappings", []):
        if "Ebs" in m and m["Ebs"].get("SnapshotId"):
            return str(m["Ebs"]["SnapshotId"])
    return None


def _root_volume(ec2: Any, iid: str) -> str:
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    return str(inst["BlockDeviceMappings"][0]["Ebs"]["VolumeId"])


def test_snapshot_of_a_registered_image_is_in_use(ec2: Any, instance: str) -> None:
    image_id = ec2.create_image(InstanceId=instance, Name=f"inuse-{uuid.uuid4().hex[:8]}",
                                NoReboot=True)["ImageId"]
    image = settled_image(ec2, image_id)
    snap = _backing_snapshot(image)
    assert snap is not None
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap], WaiterConfig=WAIT)
    with pytest.raises(ClientError) as err:
        ec2.delete_snapshot(SnapshotId=snap)
    assert error_code(err) == "InvalidSnapshot.InUse"
    assert err.value.response["Error"]["Message"] == (
        f"The snapshot {snap} is currently in use by {image_id}")
    assert ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"][0]["State"] == "completed"
    ec2.deregister_image(ImageId=image_id)
    ec2.delete_snapshot(SnapshotId=snap)
    with pytest.raises(ClientError) as err:
        ec2.describe_snapshots(SnapshotIds=[snap])
    assert error_code(err) == "InvalidSnapshot.NotFound"


def test_cloudstack_deletes_the_snapshot_of_a_template(server: Any, ec2: Any,
                                                       instance: str) -> None:
    """CloudStack has no such rule (its template is a copy of its own):
    deleteSnapshot of an image's snapshot works there."""
    from sqlalchemy import select

    from engine.models import Snapshot
    from tests.integration.nativeapi.clients import cs_client

    image_id = ec2.create_image(InstanceId=instance, Name=f"csdel-{uuid.uuid4().hex[:8]}",
                                NoReboot=True)["ImageId"]
    snap = _backing_snapshot(settled_image(ec2, image_id))
    assert snap is not None
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap], WaiterConfig=WAIT)
    with server.runtime.unit(readonly=True) as sv:
        snapshot_uuid = sv.session.scalar(
            select(Snapshot.uuid).where(Snapshot.sid == snap[len("snap-"):]))
    cs_client(server, fetch_result=True).deleteSnapshot(id=snapshot_uuid)
    with pytest.raises(ClientError) as err:
        ec2.describe_snapshots(SnapshotIds=[snap])
    assert error_code(err) == "InvalidSnapshot.NotFound"
    ec2.deregister_image(ImageId=image_id)


def test_images_made_back_to_back_each_get_their_own_snapshot(ec2: Any, instance: str) -> None:
    names = [f"queue-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    images = [ec2.create_image(InstanceId=instance, Name=n, NoReboot=True)["ImageId"]
              for n in names]
    snaps = []
    for image_id in images:
        image = settled_image(ec2, image_id)
        assert image["State"] == "available"
        snaps.append(_backing_snapshot(image))
    assert None not in snaps and len(set(snaps)) == 3
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=snaps, WaiterConfig=WAIT)
    root = _root_volume(ec2, instance)
    for s in ec2.describe_snapshots(SnapshotIds=snaps)["Snapshots"]:
        assert s["VolumeId"] == root and s["State"] == "completed"
    # The root volume is free again once the last one is taken.
    assert ec2.describe_volumes(VolumeIds=[root])["Volumes"][0]["State"] == "in-use"
    for image_id, snap in zip(images, snaps, strict=True):
        ec2.deregister_image(ImageId=image_id)
        ec2.delete_snapshot(SnapshotId=snap)


def test_snapshots_of_one_volume_queue(ec2: Any, instance: str) -> None:
    root = _root_volume(ec2, instance)
    snaps = [ec2.create_snapshot(VolumeId=root, Description=f"queued {n}")["SnapshotId"]
             for n in range(3)]
    assert len(set(snaps)) == 3
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=snaps, WaiterConfig=WAIT)
    taken = ec2.describe_snapshots(SnapshotIds=snaps)["Snapshots"]
    assert {s["State"] for s in taken} == {"completed"}
    for snap in snaps:
        ec2.delete_snapshot(SnapshotId=snap)
