"""AMI management through boto3: RegisterImage (from a URL served by a real
HTTP server, and from a snapshot), CreateImage, CopyImage, DeregisterImage and
the launchPermission/description attributes across accounts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.image_server import ImageServer, image_server

WAIT = {"Delay": 0.2, "MaxAttempts": 150}
ZONE = "us-east-1a"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageServer]:
    with image_server(tmp_path_factory.mktemp("www")) as srv:
        yield srv


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _name() -> str:
    return f"img-{uuid.uuid4().hex[:10]}"


def _image(ec2: Any, image_id: str) -> dict[str, Any]:
    return ec2.describe_images(ImageIds=[image_id])["Images"][0]  # type: ignore[no-any-return]


def _settled(ec2: Any, image_id: str) -> dict[str, Any]:
    for _ in range(300):
        img = _image(ec2, image_id)
        if img["State"] != "pending":
            return img
        time.sleep(0.1)
    raise AssertionError(f"{image_id} stayed pending")


def _register(ec2: Any, images: ImageServer, name: str | None = None, **kw: Any) -> str:
    return ec2.register_image(Name=name or _name(), ImageLocation=images.url("disk.qcow2"),
                              **kw)["ImageId"]  # type: ignore[no-any-return]


def _account(ec2: Any) -> str:
    return ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["OwnerId"]  # type: ignore[no-any-return]


def test_register_from_url_then_run_and_deregister(ec2: Any, images: ImageServer) -> None:
    name = _name()
    image_id = _register(ec2, images, name, Description="from http")
    assert image_id.startswith("ami-")
    img = _settled(ec2, image_id)
    assert img["State"] == "available" and img["Name"] == name
    assert img["Description"] == "from http" and img["Public"] is False
    mine = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])
    assert [i["ImageId"] for i in mine["Images"]] == [image_id]
    with pytest.raises(ClientError) as err:
        _register(ec2, images, name)
    assert _code(err) == "InvalidAMIName.Duplicate"

    iid = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,
                            InstanceType="t2.micro")["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert ec2.deregister_image(ImageId=image_id)["Return"] is True
    with pytest.raises(ClientError) as err:
        _image(ec2, image_id)
    assert _code(err) == "InvalidAMIID.NotFound"
    state = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "running"
    with pytest.raises(ClientError) as err:
        ec2.deregister_image(ImageId=image_id)
    assert _code(err) == "InvalidAMIID.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])


def test_failed_download_is_a_failed_image(ec2: Any, images: ImageServer) -> None:
    image_id = ec2.register_image(Name=_name(),
                                  ImageLocation=images.url("missing.qcow2"))["ImageId"]
    img = _settled(ec2, image_id)
    assert img["State"] == "failed"
    assert "404" in img["StateReason"]["Message"]
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t2.micro")
    assert _code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.copy_image(Name=_name(), SourceImageId=image_id, SourceRegion="us-east-1")
    assert _code(err) == "InvalidAMIID.Unavailable"
    ec2.deregister_image(ImageId=image_id)


def test_register_errors(ec2: Any) -> None:
    cases = [
        ({"Name": "bad*name!", "ImageLocation": "http://x/y.qcow2"}, "InvalidAMIName.Malformed"),
        ({"Name": _name()}, "MissingParameter"),
        ({"Name": _name(), "ImageLocation": "ftp://x/y"}, "InvalidParameterValue"),
        ({"Name": _name(), "RootDeviceName": "/dev/xvda", "BlockDeviceMappings": [
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}]},
         "InvalidSnapshot.NotFound"),
        ({"Name": _name(), "BlockDeviceMappings": [
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "bogus"}}]},
         "InvalidSnapshotID.Malformed"),
    ]
    for kw, code in cases:
        with pytest.raises(ClientError) as err:
            ec2.register_image(**kw)
        assert _code(err) == code, kw
    for call, kw in ((ec2.deregister_image, {}), (ec2.describe_image_attribute,
                                                  {"Attribute": "description"})):
        with pytest.raises(ClientError) as err:
            call(ImageId="ami-0123456789abcdef0", **kw)
        assert _code(err) == "InvalidAMIID.NotFound"
        with pytest.raises(ClientError) as err:
            call(ImageId="ami-zz", **kw)
        assert _code(err) == "InvalidAMIID.Malformed"
    with pytest.raises(ClientError) as err:
        ec2.copy_image(Name=_name(), SourceImageId="ami-0123456789abcdef0",
                       SourceRegion="eu-west-1")
    assert _code(err) == "InvalidParameterValue"


def test_register_from_snapshot_and_create_from_instance(ec2: Any) -> None:
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=2)["VolumeId"]
    sid = ec2.create_snapshot(VolumeId=vid)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    image_id = ec2.register_image(Name=_name(), RootDeviceName="/dev/xvda",
                                  BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                                                        "Ebs": {"SnapshotId": sid}}])["ImageId"]
    assert _settled(ec2, image_id)["State"] == "available"

    builtin = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    iid = ec2.run_instances(ImageId=builtin, MinCount=1, MaxCount=1,
                            InstanceType="t2.micro")["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    made = ec2.create_image(InstanceId=iid, Name=_name(), NoReboot=True)["ImageId"]
    img = _settled(ec2, made)
    assert img["State"] == "available" and img["PlatformDetails"] == "Linux/UNIX"
    copy = ec2.copy_image(Name=_name(), SourceImageId=made, SourceRegion="us-east-1",
                          Description="copied")["ImageId"]
    assert copy != made and _settled(ec2, copy)["Description"] == "copied"
    with pytest.raises(ClientError) as err:
        ec2.create_image(InstanceId="i-0123456789abcdef0", Name=_name())
    assert _code(err) == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])
    for i in (image_id, made, copy):
        ec2.deregister_image(ImageId=i)


def test_launch_permissions_across_accounts(server: Any, ec2: Any, images: ImageServer) -> None:
    alice = server.ec2(*server.new_user(f"alice-{uuid.uuid4().hex[:6]}"))
    bob = server.ec2(*server.new_user(f"bob-{uuid.uuid4().hex[:6]}"))
    bob_id = _account(bob)
    image_id = _register(alice, images)
    _settled(alice, image_id)

    def bob_can_see() -> bool:
        try:
            return bool(bob.describe_images(ImageIds=[image_id])["Images"])
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidAMIID.NotFound"
            return False

    def bob_launch() -> str:
        return bob.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,  # type: ignore[no-any-return]
                                 InstanceType="t2.micro")["Instances"][0]["InstanceId"]

    assert not bob_can_see()
    with pytest.raises(ClientError) as err:
        bob_launch()
    assert _code(err) == "InvalidAMIID.NotFound"

    alice.modify_image_attribute(ImageId=image_id, Attribute="launchPermission",
                                 LaunchPermission={"Add": [{"UserId": bob_id}]})
    perms = alice.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    assert perms["LaunchPermissions"] == [{"UserId": bob_id}]
    assert bob_can_see()
    assert image_id in {i["ImageId"] for i in bob.describe_images(ExecutableUsers=["self"])["Images"]}
    iid = bob_launch()
    with pytest.raises(ClientError) as err:
        bob.deregister_image(ImageId=image_id)
    assert _code(err) == "AuthFailure"
    with pytest.raises(ClientError) as err:
        bob.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    assert _code(err) == "AuthFailure"

    alice.modify_image_attribute(ImageId=image_id, LaunchPermission={
        "Remove": [{"UserId": bob_id}]})
    assert not bob_can_see()
    alice.modify_image_attribute(ImageId=image_id, OperationType="add", UserGroups=["all"])
    assert _image(alice, image_id)["Public"] is True
    assert alice.describe_image_attribute(
        ImageId=image_id, Attribute="launchPermission")["LaunchPermissions"] == [{"Group": "all"}]
    assert bob_can_see()
    alice.reset_image_attribute(ImageId=image_id, Attribute="launchPermission")
    assert _image(alice, image_id)["Public"] is False and not bob_can_see()
    with pytest.raises(ClientError) as err:
        alice.modify_image_attribute(ImageId=image_id, LaunchPermission={
            "Add": [{"UserId": "12"}]})
    assert _code(err) == "InvalidAMIAttributeItemValue"

    alice.modify_image_attribute(ImageId=image_id, Description={"Value": "new words"})
    assert alice.describe_image_attribute(
        ImageId=image_id, Attribute="description")["Description"]["Value"] == "new words"
    bob.terminate_instances(InstanceIds=[iid])
    alice.deregister_image(ImageId=image_id)


def test_public_image_of_another_account_is_read_only(server: Any, ec2: Any) -> None:
    user = server.ec2(*server.new_user(f"u-{uuid.uuid4().hex[:6]}"))
    builtin = user.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    for call, kw in ((user.deregister_image, {}),
                     (user.modify_image_attribute, {"Description": {"Value": "x"}}),
                     (user.reset_image_attribute, {"Attribute": "launchPermission"})):
        with pytest.raises(ClientError) as err:
            call(ImageId=builtin, **kw)
        assert _code(err) == "AuthFailure"
        assert err.value.response["Error"]["Message"] == f"Not authorized for image:{builtin}"
    assert user.describe_images(ImageIds=[builtin])["Images"][0]["State"] == "available"


def test_register_needs_no_local_file_url(ec2: Any, tmp_path: Path) -> None:
    src = tmp_path / "local.raw"
    src.write_bytes(b"\x01" * 4096)
    image_id = ec2.register_image(Name=_name(), ImageLocation=src.as_uri())["ImageId"]
    assert _settled(ec2, image_id)["State"] == "available"
    ec2.deregister_image(ImageId=image_id)
