"""An image registered from a snapshot launches with the snapshot's disk as its
root (not a blank disk): the simulated hypervisor records each disk's source,
so the chain volume -> snapshot -> image -> instance root is checked there."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import select

from awsapi import ids
from awsapi.ids import Kind
from engine.jobs.drivers import HostAccess
from engine.models import Host
from tests.integration.awsapi.ec2_helpers import WAIT, instance_view

ZONE = "us-east-1a"


def _disk_rows(server: Any) -> dict[str, tuple[str | None, int]]:
    """Every simulated disk: sid -> (source, size in bytes)."""
    with server.runtime.unit(readonly=True) as services:
        hosts = [HostAccess(h.uuid, h.hypervisor, h.url, h.username, h.password)
                 for h in services.session.scalars(select(Host))]
    out: dict[str, tuple[str | None, int]] = {}
    for h in hosts:
        db = server.runtime.drivers.get(h)._read()
        out |= {sid: (source, size) for sid, source, size in db.all(
            "SELECT sid, source, size_bytes FROM disks")}
    return out


def _snapshot_disk(server: Any, snapshot_sid: str) -> str:
    """The disk a simulated snapshot was taken of."""
    with server.runtime.unit(readonly=True) as services:
        host = services.session.scalars(select(Host)).first()
        assert host is not None
        access = HostAccess(host.uuid, host.hypervisor, host.url, host.username, host.password)
    row = server.runtime.drivers.get(access)._read().one(
        "SELECT disk_sid FROM snapshots WHERE sid=?", snapshot_sid)
    assert row is not None
    return str(row[0])


def _available(ec2: Any, image_id: str) -> None:
    for _ in range(300):
        if ec2.describe_images(ImageIds=[image_id])["Images"][0]["State"] != "pending":
            return
        time.sleep(0.1)
    raise AssertionError(f"{image_id} stayed pending")


def test_an_image_from_a_snapshot_launches_with_the_snapshots_disk(server: Any,
                                                                  ec2: Any) -> None:
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=3)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    snap = ec2.create_snapshot(VolumeId=vid, Description="golden")["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap], WaiterConfig=WAIT)
    snap_sid = ids.parse(snap, Kind.SNAPSHOT)
    assert _snapshot_disk(server, snap_sid) == ids.parse(vid, Kind.VOLUME)
    image_id = ec2.register_image(
        Name=f"from-snap-{uuid.uuid4().hex[:8]}", RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap}}],
    )["ImageId"]
    _available(ec2, image_id)
    iid = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,
                            InstanceType="t2.micro")["Instances"][0]["InstanceId"]
    try:
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
        root = instance_view(ec2, iid)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        source, size = _disk_rows(server)[ids.parse(root, Kind.VOLUME)]
        # The root disk is a clone of the snapshot (whose disk is the volume), at
        # least the snapshot's size; not the image's blank or built-in source.
        assert source == f"snapshot:{snap_sid}"
        assert size >= 3 * 1024**3
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
        ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
        ec2.deregister_image(ImageId=image_id)
        ec2.delete_snapshot(SnapshotId=snap)
        ec2.delete_volume(VolumeId=vid)


def test_an_image_of_the_builtin_kind_still_launches_from_its_image(server: Any,
                                                                   ec2: Any) -> None:
    builtin = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    iid = ec2.run_instances(ImageId=builtin, MinCount=1, MaxCount=1,
                            InstanceType="t2.micro")["Instances"][0]["InstanceId"]
    try:
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
        root = instance_view(ec2, iid)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        source, _ = _disk_rows(server)[ids.parse(root, Kind.VOLUME)]
        assert source is not None and not source.startswith("snapshot:")
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
