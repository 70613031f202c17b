"""Images through boto3, as on AWS: CopyImage's ClientToken (a retry returns
the same image; other parameters with the same token are refused with
IdempotentParameterMismatch), DescribeImages' ExecutableUsers, the
block-device-mapping.snapshot-id filter, RegisterImage's root mapping
(SnapshotId and VolumeSize echoed) and the SnapshotId of a root volume
launched from an image backed by a snapshot."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import (
    WAIT,
    error_code,
    public_image,
    settled_image,
)

ZONE = "us-east-1a"


def _mark() -> str:
    return uuid.uuid4().hex[:8]


def _client(server: Any, prefix: str) -> Any:
    return server.ec2(*server.new_user(f"{prefix}-{_mark()}"))


def _account(client: Any) -> str:
    return str(client.describe_security_groups()["SecurityGroups"][0]["OwnerId"])


def _image_ids(client: Any, **kw: Any) -> set[str]:
    return {i["ImageId"] for i in client.describe_images(**kw)["Images"]}


@pytest.fixture(scope="module")
def snapshot(server: Any) -> Iterator[tuple[Any, str]]:
    """(client of a fresh account, a completed 1 GiB snapshot of it)."""
    client = _client(server, "imgsnap")
    vid = client.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    sid = client.create_snapshot(VolumeId=vid)["SnapshotId"]
    client.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    yield client, sid
    client.delete_volume(VolumeId=vid)


def test_copy_image_client_token(server: Any) -> None:
    client = _client(server, "cptoken")
    source = public_image(client)
    token, name = f"token-{_mark()}", f"copy-{_mark()}"
    first = client.copy_image(SourceImageId=source, SourceRegion="us-east-1", Name=name,
                              ClientToken=token, TagSpecifications=[
                                  {"ResourceType": "image", "Tags": [{"Key": "k", "Value": "v"}]}])
    again = client.copy_image(SourceImageId=source, SourceRegion="us-east-1", Name=name,
                              ClientToken=token, TagSpecifications=[
                                  {"ResourceType": "image", "Tags": [{"Key": "k", "Value": "v"}]}])
    assert again["ImageId"] == first["ImageId"]
    assert len(client.describe_images(Owners=["self"], Filters=[
        {"Name": "name", "Values": [name]}])["Images"]) == 1
    with pytest.raises(ClientError) as err:
        client.copy_image(SourceImageId=source, SourceRegion="us-east-1",
                          Name=f"other-{_mark()}", ClientToken=token)
    assert error_code(err) == "IdempotentParameterMismatch"
    assert err.value.response["Error"]["Message"] == (
        "Arguments on this idempotent request are inconsistent with arguments used in "
        f"previous request(s) with client token '{token}'.")
    with pytest.raises(ClientError) as err:
        client.copy_image(SourceImageId=source, SourceRegion="us-east-1", Name=name,
                          ClientToken="x" * 65)
    assert error_code(err) == "InvalidParameterValue"
    # Another account's token is its own; a deregistered image frees the token.
    other = _client(server, "cptoken2")
    theirs = other.copy_image(SourceImageId=source, SourceRegion="us-east-1", Name=name,
                              ClientToken=token)["ImageId"]
    assert theirs != first["ImageId"]
    settled_image(client, first["ImageId"])
    client.deregister_image(ImageId=first["ImageId"])
    fresh = client.copy_image(SourceImageId=source, SourceRegion="us-east-1", Name=name,
                              ClientToken=token)["ImageId"]
    assert fresh != first["ImageId"]
    for c, image in ((client, fresh), (other, theirs)):
        settled_image(c, image)
        c.deregister_image(ImageId=image)


def test_executable_users(server: Any) -> None:
    alice, bob, carol = (_client(server, n) for n in ("exa", "exb", "exc"))
    alice_id, bob_id, carol_id = (_account(c) for c in (alice, bob, carol))
    source = public_image(alice)
    image = alice.copy_image(SourceImageId=source, SourceRegion="us-east-1",
                             Name=f"exec-{_mark()}")["ImageId"]
    assert settled_image(alice, image)["State"] == "available"
    alice.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": bob_id}]})

    # The owner: its own ones (self or its id), those it shares with an account.
    for users in (["self"], [alice_id]):
        found = _image_ids(alice, ExecutableUsers=users)
        assert image in found and source not in found
    assert image in _image_ids(alice, ExecutableUsers=[bob_id])
    assert image not in _image_ids(alice, ExecutableUsers=[carol_id])
    # The account it is shared with; not a third one.
    assert image in _image_ids(bob, ExecutableUsers=["self"])
    assert image in _image_ids(bob, ExecutableUsers=[bob_id])
    assert image not in _image_ids(carol, ExecutableUsers=["self"])
    # "all": the public ones; values combine.
    assert source in _image_ids(carol, ExecutableUsers=["all"])
    assert image not in _image_ids(bob, ExecutableUsers=["all"])
    both = _image_ids(bob, ExecutableUsers=["self", "all"])
    assert {image, source} <= both
    alice.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]})
    assert image in _image_ids(carol, ExecutableUsers=["all"])
    assert image not in _image_ids(carol, ExecutableUsers=["self"])
    # With Owners the scopes narrow each other.
    assert _image_ids(carol, ExecutableUsers=["all"], Owners=[alice_id]) == {image}
    with pytest.raises(ClientError) as err:
        alice.describe_images(ExecutableUsers=["someone"])
    assert error_code(err) == "InvalidUserID.Malformed"
    alice.deregister_image(ImageId=image)


def test_register_image_root_mapping(snapshot: tuple[Any, str]) -> None:
    client, sid = snapshot
    image = client.register_image(
        Name=f"reg-{_mark()}", RootDeviceName="/dev/sda1", BlockDeviceMappings=[
            {"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": sid, "VolumeSize": 3}}])["ImageId"]
    found = settled_image(client, image)
    assert found["State"] == "available"
    assert found["RootDeviceName"] == "/dev/sda1"
    [mapping] = found["BlockDeviceMappings"]
    assert mapping["DeviceName"] == "/dev/sda1"
    assert mapping["Ebs"]["SnapshotId"] == sid and mapping["Ebs"]["VolumeSize"] == 3
    # The filter on the mapping's snapshot finds it (and nothing else).
    by_snapshot = client.describe_images(Owners=["self"], Filters=[
        {"Name": "block-device-mapping.snapshot-id", "Values": [sid]}])["Images"]
    assert [i["ImageId"] for i in by_snapshot] == [image]
    assert client.describe_images(Owners=["self"], Filters=[
        {"Name": "block-device-mapping.snapshot-id",
         "Values": ["snap-0123456789abcdef0"]}])["Images"] == []
    client.deregister_image(ImageId=image)

    # Without VolumeSize the snapshot's size; smaller than the snapshot is refused.
    image = client.register_image(Name=f"reg-{_mark()}", BlockDeviceMappings=[
        {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": sid}}])["ImageId"]
    mapping = client.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0]
    assert mapping["Ebs"]["VolumeSize"] == 1 and mapping["Ebs"]["SnapshotId"] == sid
    client.deregister_image(ImageId=image)


def test_register_image_volume_size_below_snapshot(server: Any) -> None:
    client = _client(server, "regsmall")
    vid = client.create_volume(AvailabilityZone=ZONE, Size=2)["VolumeId"]
    sid = client.create_snapshot(VolumeId=vid)["SnapshotId"]
    client.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    with pytest.raises(ClientError) as err:
        client.register_image(Name=f"small-{_mark()}", BlockDeviceMappings=[
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": sid, "VolumeSize": 1}}])
    assert error_code(err) == "InvalidBlockDeviceMapping"
    assert client.describe_images(Owners=["self"])["Images"] == []
    client.delete_snapshot(SnapshotId=sid)
    client.delete_volume(VolumeId=vid)


def _root_volume(client: Any, iid: str) -> dict[str, Any]:
    [volume] = client.describe_volumes(Filters=[
        {"Name": "attachment.instance-id", "Values": [iid]}])["Volumes"]
    return volume  # type: ignore[no-any-return]


def test_root_volume_of_a_snapshot_image_names_the_snapshot(
        snapshot: tuple[Any, str]) -> None:
    client, sid = snapshot
    image = client.register_image(Name=f"root-{_mark()}", BlockDeviceMappings=[
        {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": sid, "VolumeSize": 2}}])["ImageId"]
    assert settled_image(client, image)["State"] == "available"
    launched = [client.run_instances(ImageId=i, MinCount=1, MaxCount=1,
                                     InstanceType="t2.nano")["Instances"][0]["InstanceId"]
                for i in (image, public_image(client))]
    client.get_waiter("instance_running").wait(InstanceIds=launched, WaiterConfig=WAIT)
    from_snapshot, plain = (_root_volume(client, iid) for iid in launched)
    assert from_snapshot["SnapshotId"] == sid and from_snapshot["Size"] == 2
    assert plain["SnapshotId"] == ""
    assert from_snapshot["VolumeId"] in {v["VolumeId"] for v in client.describe_volumes(
        Filters=[{"Name": "snapshot-id", "Values": [sid]}])["Volumes"]}
    client.terminate_instances(InstanceIds=launched)
    client.get_waiter("instance_terminated").wait(InstanceIds=launched, WaiterConfig=WAIT)
    client.deregister_image(ImageId=image)
