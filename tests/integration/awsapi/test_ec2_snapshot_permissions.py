"""Sharing snapshots through boto3, as on AWS: the createVolumePermission
attribute (Describe/Modify/ResetSnapshotAttribute; productCodes is always
empty), DescribeSnapshots' RestorableByUserIds and OwnerIds showing shared
snapshots to the accounts they are shared with (and to nobody else), and
CreateVolume / CopySnapshot from a snapshot shared with the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import (
    WAIT,
    completed_snapshot,
    error_code,
    new_people,
)

ZONE = "us-east-1a"


@pytest.fixture(scope="module")
def people(server: Any) -> dict[str, Any]:
    return new_people(server, "alice", "bob", "carol")


@pytest.fixture
def snapshot(people: dict[str, Any]) -> Iterator[str]:
    alice = people["alice"]
    vid, sid = completed_snapshot(alice, 1, "shared")
    yield sid
    alice.delete_snapshot(SnapshotId=sid)
    alice.delete_volume(VolumeId=vid)


def _ids(client: Any, **kw: Any) -> set[str]:
    return {s["SnapshotId"] for s in client.describe_snapshots(**kw)["Snapshots"]}


def _permissions(client: Any, sid: str) -> list[dict[str, str]]:
    out = client.describe_snapshot_attribute(SnapshotId=sid,
                                             Attribute="createVolumePermission")
    assert out["SnapshotId"] == sid
    return out["CreateVolumePermissions"]  # type: ignore[no-any-return]


def _sees(client: Any, sid: str) -> bool:
    try:
        return bool(client.describe_snapshots(SnapshotIds=[sid])["Snapshots"])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "InvalidSnapshot.NotFound"
        return False


def test_unshared_snapshots_stay_private(people: dict[str, Any], snapshot: str) -> None:
    alice, bob = people["alice"], people["bob"]
    assert _permissions(alice, snapshot) == []
    assert alice.describe_snapshot_attribute(
        SnapshotId=snapshot, Attribute="productCodes")["ProductCodes"] == []
    assert not _sees(bob, snapshot)
    assert snapshot not in _ids(bob)
    assert snapshot not in _ids(bob, RestorableByUserIds=["self"])
    assert snapshot not in _ids(bob, OwnerIds=[people["alice_id"]])
    assert snapshot not in _ids(bob, RestorableByUserIds=["all"])
    with pytest.raises(ClientError) as err:
        bob.create_volume(AvailabilityZone=ZONE, SnapshotId=snapshot)
    assert error_code(err) == "InvalidSnapshot.NotFound"
    with pytest.raises(ClientError) as err:
        bob.describe_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission")
    assert error_code(err) == "InvalidSnapshot.NotFound"


def test_sharing_with_an_account(people: dict[str, Any], snapshot: str) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    bob_id = people["bob_id"]
    alice.modify_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission",
                                    CreateVolumePermission={"Add": [{"UserId": bob_id}]})
    assert _permissions(alice, snapshot) == [{"UserId": bob_id}]
    # The owner sees whom it shares with; RestorableByUserIds of another account
    # lists the owner's snapshots shared with that account.
    assert snapshot in _ids(alice, RestorableByUserIds=[bob_id])
    assert snapshot not in _ids(alice, RestorableByUserIds=[people["carol_id"]])
    assert snapshot in _ids(alice, RestorableByUserIds=["self"])

    # Bob sees it every way AWS shows a shared snapshot, owned by Alice.
    found = bob.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"]
    assert found[0]["OwnerId"] == people["alice_id"] and found[0]["Description"] == "shared"
    assert snapshot in _ids(bob)
    assert snapshot in _ids(bob, RestorableByUserIds=["self"])
    assert snapshot in _ids(bob, RestorableByUserIds=[bob_id])
    assert snapshot in _ids(bob, OwnerIds=[people["alice_id"]])
    assert snapshot not in _ids(bob, OwnerIds=["self"])
    assert snapshot not in _ids(bob, RestorableByUserIds=["all"])
    # Carol does not.
    assert not _sees(carol, snapshot)
    assert snapshot not in _ids(carol, OwnerIds=[people["alice_id"]])

    # Bob makes a volume and a copy of it, but cannot read or change its sharing.
    vol = bob.create_volume(AvailabilityZone=ZONE, SnapshotId=snapshot)
    assert vol["SnapshotId"] == snapshot and vol["Size"] == 1
    bob.get_waiter("volume_available").wait(VolumeIds=[vol["VolumeId"]], WaiterConfig=WAIT)
    copy = bob.copy_snapshot(SourceSnapshotId=snapshot, SourceRegion="us-east-1")["SnapshotId"]
    bob.get_waiter("snapshot_completed").wait(SnapshotIds=[copy], WaiterConfig=WAIT)
    assert bob.describe_snapshots(SnapshotIds=[copy])["Snapshots"][0]["OwnerId"] == bob_id
    for call, kw in ((bob.describe_snapshot_attribute, {"Attribute": "createVolumePermission"}),
                     (bob.modify_snapshot_attribute, {"Attribute": "createVolumePermission",
                                                      "OperationType": "add",
                                                      "UserIds": [people["carol_id"]]}),
                     (bob.reset_snapshot_attribute, {"Attribute": "createVolumePermission"})):
        with pytest.raises(ClientError) as err:
            call(SnapshotId=snapshot, **kw)
        assert error_code(err) == "AuthFailure"
    with pytest.raises(ClientError) as err:
        bob.delete_snapshot(SnapshotId=snapshot)
    assert error_code(err) == "InvalidSnapshot.NotFound"
    bob.delete_volume(VolumeId=vol["VolumeId"])
    bob.delete_snapshot(SnapshotId=copy)

    # The legacy form removes it again.
    alice.modify_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission",
                                    OperationType="remove", UserIds=[bob_id])
    assert _permissions(alice, snapshot) == []
    assert not _sees(bob, snapshot)
    with pytest.raises(ClientError) as err:
        bob.create_volume(AvailabilityZone=ZONE, SnapshotId=snapshot)
    assert error_code(err) == "InvalidSnapshot.NotFound"


def test_public_snapshots_and_reset(people: dict[str, Any], snapshot: str) -> None:
    alice, carol = people["alice"], people["carol"]
    alice.modify_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission",
                                    CreateVolumePermission={"Add": [
                                        {"Group": "all"}, {"UserId": people["bob_id"]}]})
    assert _permissions(alice, snapshot) == [{"Group": "all"}, {"UserId": people["bob_id"]}]
    assert snapshot in _ids(carol, RestorableByUserIds=["all"])
    assert snapshot in _ids(carol, SnapshotIds=[snapshot])
    assert snapshot not in _ids(carol, RestorableByUserIds=["self"])
    alice.reset_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission")
    assert _permissions(alice, snapshot) == []
    assert not _sees(carol, snapshot) and not _sees(people["bob"], snapshot)
    # Removing the group makes a public snapshot private again.
    alice.modify_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission",
                                    OperationType="add", GroupNames=["all"])
    assert _sees(carol, snapshot)
    alice.modify_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission",
                                    CreateVolumePermission={"Remove": [{"Group": "all"}]})
    assert not _sees(carol, snapshot)


def test_bad_requests(people: dict[str, Any], snapshot: str) -> None:
    alice = people["alice"]
    cases: list[tuple[Any, dict[str, Any], str]] = [
        (alice.modify_snapshot_attribute, {"Attribute": "createVolumePermission",
                                           "CreateVolumePermission": {"Add": [
                                               {"UserId": "bogus"}]}},
         "InvalidUserID.Malformed"),
        (alice.modify_snapshot_attribute, {"Attribute": "createVolumePermission",
                                           "CreateVolumePermission": {"Add": [
                                               {"Group": "friends"}]}},
         "InvalidParameterValue"),
        (alice.modify_snapshot_attribute, {"Attribute": "createVolumePermission",
                                           "CreateVolumePermission": {
                                               "Add": [{"Group": "all"}],
                                               "Remove": [{"UserId": people["bob_id"]}]}},
         "InvalidParameterCombination"),
        (alice.describe_snapshot_attribute, {"Attribute": "volumeSize"},
         "InvalidParameterValue"),
        (alice.reset_snapshot_attribute, {"Attribute": "productCodes"},
         "InvalidParameterValue"),
    ]
    for call, kw, code in cases:
        with pytest.raises(ClientError) as err:
            call(SnapshotId=snapshot, **kw)
        assert error_code(err) == code, (kw, code)
    with pytest.raises(ClientError) as err:
        alice.describe_snapshots(RestorableByUserIds=["nobody"])
    assert error_code(err) == "InvalidUserID.Malformed"
    with pytest.raises(ClientError) as err:
        alice.describe_snapshot_attribute(SnapshotId="snap-0123456789abcdef0",
                                          Attribute="createVolumePermission")
    assert error_code(err) == "InvalidSnapshot.NotFound"
    assert _permissions(alice, snapshot) == []
