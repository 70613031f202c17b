"""Images: DescribeImages (owners, executable-by, ids, filters), CreateImage from
an instance, RegisterImage from a snapshot, CopyImage, image attributes
(launch permissions), DeregisterImage and the image_available waiter."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import RUN_TAG
from harness import unique


def test_describe_images_owners_ids_and_filters(ec2: Any, image_id: str) -> None:
    public = ec2.describe_images(Owners=["amazon"])["Images"]
    assert image_id in {i["ImageId"] for i in public}
    (img,) = ec2.describe_images(ImageIds=[image_id])["Images"]
    assert img["ImageId"].startswith("ami-") and img["State"] == "available"
    assert img["Public"] is True and img["OwnerId"].isdigit()
    assert img["Architecture"] in ("x86_64", "arm64", "i386")
    assert img["RootDeviceType"] in ("ebs", "instance-store")
    by_name = ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "name", "Values": [img["Name"]]}])["Images"]
    assert image_id in {i["ImageId"] for i in by_name}
    wild = ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "name", "Values": [img["Name"][:4] + "*"]},
        {"Name": "architecture", "Values": [img["Architecture"]]},
        {"Name": "is-public", "Values": ["true"]}])["Images"]
    assert image_id in {i["ImageId"] for i in wild}
    executable = ec2.describe_images(ExecutableUsers=["all"], ImageIds=[image_id])["Images"]
    assert [i["ImageId"] for i in executable] == [image_id]
    paged = list(ec2.get_paginator("describe_images").paginate(
        Owners=["amazon"], PaginationConfig={"PageSize": 5, "MaxItems": 12}))
    seen = [i["ImageId"] for p in paged for i in p["Images"]]
    assert len(seen) == len(set(seen)) and all(len(p["Images"]) <= 5 for p in paged)


def test_create_copy_share_and_deregister_image(ec2: Any, fleet: list[str],
                                                wait: dict[str, float],
                                                cleanup: Any) -> None:
    name = unique("conformance-img")
    ami = ec2.create_image(InstanceId=fleet[1], Name=name, Description="from instance",
                           NoReboot=True)["ImageId"]
    cleanup(lambda: ec2.deregister_image(ImageId=ami))
    assert ami.startswith("ami-")
    ec2.get_waiter("image_exists").wait(ImageIds=[ami], WaiterConfig=wait)
    ec2.get_waiter("image_available").wait(ImageIds=[ami], WaiterConfig=wait)
    (img,) = ec2.describe_images(ImageIds=[ami])["Images"]
    assert img["Name"] == name and img["Public"] is False
    assert ami in {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}

    perms = ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")
    assert perms["ImageId"] == ami and perms["LaunchPermissions"] == []
    ec2.modify_image_attribute(ImageId=ami, LaunchPermission={"Add": [{"Group": "all"}]})
    perms = ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")
    assert perms["LaunchPermissions"] == [{"Group": "all"}]
    assert ec2.describe_images(ImageIds=[ami])["Images"][0]["Public"] is True
    ec2.reset_image_attribute(ImageId=ami, Attribute="launchPermission")
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")[
        "LaunchPermissions"] == []
    desc = ec2.describe_image_attribute(ImageId=ami, Attribute="description")
    assert desc["Description"] == {"Value": "from instance"}

    copy = ec2.copy_image(SourceImageId=ami, SourceRegion=ec2.meta.region_name,
                          Name=name + "-copy")["ImageId"]
    cleanup(lambda: ec2.deregister_image(ImageId=copy))
    assert copy.startswith("ami-") and copy != ami
    ec2.get_waiter("image_available").wait(ImageIds=[copy], WaiterConfig=wait)

    ec2.deregister_image(ImageId=copy)
    gone = ec2.describe_images(Owners=["self"], Filters=[
        {"Name": "image-id", "Values": [copy]}])["Images"]
    assert all(i["State"] == "deregistered" for i in gone)


def test_register_image_from_snapshot(ec2: Any, zone: str, wait: dict[str, float],
                                      cleanup: Any) -> None:
    vid = ec2.create_volume(Size=1, AvailabilityZone=zone, TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "run", "Value": RUN_TAG}]}])["VolumeId"]
    cleanup(lambda: ec2.delete_volume(VolumeId=vid))
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=wait)
    sid = ec2.create_snapshot(VolumeId=vid)["SnapshotId"]
    cleanup(lambda: ec2.delete_snapshot(SnapshotId=sid))
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=wait)
    ami = ec2.register_image(
        Name=unique("conformance-reg"), Architecture="x86_64", RootDeviceName="/dev/xvda",
        VirtualizationType="hvm",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": sid}}],
    )["ImageId"]
    cleanup(lambda: ec2.deregister_image(ImageId=ami))
    assert ami.startswith("ami-")
    ec2.get_waiter("image_available").wait(ImageIds=[ami], WaiterConfig=wait)
    ec2.deregister_image(ImageId=ami)


def test_invalid_ami_name_and_unknown_image(ec2: Any, fleet: list[str]) -> None:
    with pytest.raises(ClientError) as err:
        ec2.create_image(InstanceId=fleet[1], Name="bad!name", NoReboot=True)
    assert err.value.response["Error"]["Code"] == "InvalidAMIName.Malformed"
    with pytest.raises(ClientError) as err:
        ec2.describe_images(ImageIds=["ami-0123456789abcdef0"])
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
