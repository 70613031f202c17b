"""DescribeImageAttribute Attribute=blockDeviceMapping: the AMI's block device
mappings, as DescribeImages shows them."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.integration.awsapi.ec2_helpers import WAIT, running_instance

ZONE = "us-east-1a"


def _available(ec2: Any, image_id: str) -> dict[str, Any]:
    for _ in range(300):
        image: dict[str, Any] = ec2.describe_images(ImageIds=[image_id])["Images"][0]
        if image["State"] != "pending":
            return image
        time.sleep(0.1)
    raise AssertionError(f"{image_id} stayed pending")


def test_a_registered_images_mappings(ec2: Any) -> None:
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=2)["VolumeId"]
    sid = ec2.create_snapshot(VolumeId=vid)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    image_id = ec2.register_image(
        Name=f"bdm-{uuid.uuid4().hex[:8]}", RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": sid}}])["ImageId"]
    image = _available(ec2, image_id)
    attr = ec2.describe_image_attribute(ImageId=image_id, Attribute="blockDeviceMapping")
    assert attr["ImageId"] == image_id
    assert attr["BlockDeviceMappings"] == image["BlockDeviceMappings"]
    assert attr["BlockDeviceMappings"][0]["DeviceName"] == "/dev/xvda"
    assert "Ebs" in attr["BlockDeviceMappings"][0]


def test_an_image_made_from_an_instance(ec2: Any) -> None:
    iid = running_instance(ec2)
    image_id = ec2.create_image(InstanceId=iid, Name=f"bdm-{uuid.uuid4().hex[:8]}",
                                NoReboot=True)["ImageId"]
    image = _available(ec2, image_id)
    attr = ec2.describe_image_attribute(ImageId=image_id, Attribute="blockDeviceMapping")
    assert attr["BlockDeviceMappings"] == image["BlockDeviceMappings"] != []
    ec2.terminate_instances(InstanceIds=[iid])
