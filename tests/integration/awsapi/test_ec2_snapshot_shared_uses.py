"""A snapshot shared with the caller (createVolumePermission: its account, or
``all``) serves everywhere AWS takes one, as CreateVolume and CopySnapshot
already did: a RunInstances block-device mapping (Ebs.SnapshotId) and
RegisterImage's root mapping. What is made belongs to the caller. A snapshot
neither owned nor shared stays InvalidSnapshot.NotFound."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import (
    WAIT,
    completed_snapshot,
    error_code,
    new_people,
    public_image,
)

ZONE = "us-east-1a"


@pytest.fixture(scope="module")
def people(server: Any) -> dict[str, Any]:
    return new_people(server, "alice", "bob", "carol")


@pytest.fixture
def snapshot(people: dict[str, Any]) -> Iterator[str]:
    """A completed 2 GiB snapshot of Alice's, shared with nobody."""
    alice = people["alice"]
    vid, sid = completed_snapshot(alice, 2, "alice's")
    yield sid
    alice.delete_snapshot(SnapshotId=sid)
    alice.delete_volume(VolumeId=vid)


def _share(people: dict[str, Any], sid: str, entry: dict[str, str], *,
           add: bool = True) -> None:
    people["alice"].modify_snapshot_attribute(
        SnapshotId=sid, Attribute="createVolumePermission",
        CreateVolumePermission={"Add" if add else "Remove": [entry]})


def _launch(client: Any, sid: str) -> dict[str, Any]:
    return client.run_instances(  # type: ignore[no-any-return]
        ImageId=public_image(client), MinCount=1, MaxCount=1, InstanceType="t2.micro",
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": sid}}])


def _register(client: Any, sid: str) -> str:
    return str(client.register_image(
        Name=f"shared-{uuid.uuid4().hex[:8]}", RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": sid}}],
    )["ImageId"])


def _refused(call: Any, *args: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(*args)
    return error_code(err)


def _data_volume(client: Any, iid: str) -> dict[str, Any]:
    vols = client.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["Volumes"]
    return next(v for v in vols if v["Attachments"][0]["Device"] == "/dev/sdf")


def _terminate(client: Any, iid: str) -> None:
    client.terminate_instances(InstanceIds=[iid])
    client.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)


def test_unshared_snapshot_is_not_found(people: dict[str, Any], snapshot: str) -> None:
    bob = people["bob"]
    assert _refused(_launch, bob, snapshot) == "InvalidSnapshot.NotFound"
    assert _refused(_register, bob, snapshot) == "InvalidSnapshot.NotFound"
    # Shared with Bob only: Carol still gets nothing.
    _share(people, snapshot, {"UserId": people["bob_id"]})
    assert _refused(_launch, people["carol"], snapshot) == "InvalidSnapshot.NotFound"
    assert _refused(_register, people["carol"], snapshot) == "InvalidSnapshot.NotFound"
    # And once unshared, Bob is refused again.
    _share(people, snapshot, {"UserId": people["bob_id"]}, add=False)
    assert _refused(_launch, bob, snapshot) == "InvalidSnapshot.NotFound"
    assert _refused(_register, bob, snapshot) == "InvalidSnapshot.NotFound"


def test_launch_mapping_from_a_shared_snapshot(people: dict[str, Any], snapshot: str) -> None:
    alice, bob = people["alice"], people["bob"]
    _share(people, snapshot, {"UserId": people["bob_id"]})
    iid = _launch(bob, snapshot)["Instances"][0]["InstanceId"]
    try:
        bob.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
        data = _data_volume(bob, iid)
        # Bob's volume, of Alice's snapshot's size and naming it.
        assert data["SnapshotId"] == snapshot and data["Size"] == 2
        assert data["State"] == "in-use"
        with pytest.raises(ClientError) as err:
            alice.describe_volumes(VolumeIds=[data["VolumeId"]])
        assert error_code(err) == "InvalidVolume.NotFound"
    finally:
        _terminate(bob, iid)


def test_register_image_from_a_shared_snapshot(people: dict[str, Any],
                                               snapshot: str) -> None:
    bob = people["bob"]
    _share(people, snapshot, {"UserId": people["bob_id"]})
    image = _register(bob, snapshot)
    try:
        bob.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig=WAIT)
        shown = bob.describe_images(ImageIds=[image])["Images"][0]
        assert shown["OwnerId"] == people["bob_id"] and shown["Public"] is False
        assert shown["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == snapshot
        assert image in {i["ImageId"] for i in bob.describe_images(Owners=["self"])["Images"]}
        # Not Alice's image: she neither sees it nor may change it.
        with pytest.raises(ClientError) as err:
            people["alice"].describe_images(ImageIds=[image])
        assert error_code(err) == "InvalidAMIID.NotFound"
    finally:
        bob.deregister_image(ImageId=image)


def test_public_snapshot_serves_every_account(people: dict[str, Any], snapshot: str) -> None:
    carol = people["carol"]
    _share(people, snapshot, {"Group": "all"})
    iid = _launch(carol, snapshot)["Instances"][0]["InstanceId"]
    image = _register(carol, snapshot)
    try:
        carol.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
        assert _data_volume(carol, iid)["SnapshotId"] == snapshot
        carol.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig=WAIT)
        assert carol.describe_images(ImageIds=[image])["Images"][0]["OwnerId"] == \
            people["carol_id"]
    finally:
        carol.deregister_image(ImageId=image)
        _terminate(carol, iid)
    # Private again: refused as before.
    _share(people, snapshot, {"Group": "all"}, add=False)
    assert _refused(_launch, carol, snapshot) == "InvalidSnapshot.NotFound"
