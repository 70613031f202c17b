"""The root volume's block device mapping at RunInstances, through boto3: its
Ebs.VolumeType sets the root volume's type, Ebs.DeleteOnTermination=false keeps
the root volume (detached) after the instance is terminated, as AWS does; an
unknown type gets AWS's code; and a private address with MaxCount above 1
gets InvalidParameterCombination."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.awsapi.ec2_helpers import WAIT, error_code, instance_view, public_image


def _root_mapping(ec2: Any, **ebs: Any) -> list[dict[str, Any]]:
    image = ec2.describe_images(ImageIds=[public_image(ec2)])["Images"][0]
    return [{"DeviceName": image["RootDeviceName"], "Ebs": ebs}]


def _launch(ec2: Any, mark: str, **ebs: Any) -> tuple[str, str]:
    """A new instance with the root mapping ``ebs``; its id and root volume id."""
    run = ec2.run_instances(
        ImageId=public_image(ec2), MinCount=1, MaxCount=1,
        BlockDeviceMappings=_root_mapping(ec2, **ebs),
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "mark", "Value": mark}]}])
    inst = run["Instances"][0]
    root = next(m for m in inst["BlockDeviceMappings"]
                if m["DeviceName"] == inst["RootDeviceName"])
    return inst["InstanceId"], root["Ebs"]["VolumeId"]


def _volume(ec2: Any, volume_id: str) -> dict[str, Any]:
    return ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]  # type: ignore[no-any-return]


def test_root_volume_type_and_delete_on_termination_are_applied(ec2: Any) -> None:
    iid, vid = _launch(ec2, uuid.uuid4().hex[:10], VolumeType="io1", VolumeSize=12,
                       DeleteOnTermination=False)
    vol = _volume(ec2, vid)
    assert vol["VolumeType"] == "io1"
    assert vol["Size"] == 12
    assert vol["Attachments"][0]["DeleteOnTermination"] is False
    view = instance_view(ec2, iid)
    root = next(m for m in view["BlockDeviceMappings"]
                if m["DeviceName"] == view["RootDeviceName"])
    assert root["Ebs"]["DeleteOnTermination"] is False


def test_root_volume_defaults_are_unchanged(ec2: Any) -> None:
    iid, vid = _launch(ec2, uuid.uuid4().hex[:10], VolumeSize=9)
    vol = _volume(ec2, vid)
    assert vol["VolumeType"] == "gp3"
    assert vol["Size"] == 9
    assert vol["Attachments"][0]["DeleteOnTermination"] is True
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    with pytest.raises(ClientError) as err:
        _volume(ec2, vid)
    assert error_code(err) == "InvalidVolume.NotFound"


def test_root_volume_kept_after_terminate_when_asked(ec2: Any) -> None:
    iid, vid = _launch(ec2, uuid.uuid4().hex[:10], DeleteOnTermination=False)
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    vol = _volume(ec2, vid)
    assert vol["State"] == "available"
    assert vol["Attachments"] == []


def test_unknown_root_volume_type_is_refused(ec2: Any) -> None:
    mark = uuid.uuid4().hex[:10]
    with pytest.raises(ClientError) as err:
        _launch(ec2, mark, VolumeType="fast")
    assert error_code(err) == "InvalidParameterValue"
    assert ec2.describe_volumes(
        Filters=[{"Name": "tag:mark", "Values": [mark]}])["Volumes"] == []


def test_private_address_with_several_instances_is_refused(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=public_image(ec2), MinCount=1, MaxCount=2,
                          PrivateIpAddress="172.31.200.10")
    assert error_code(err) == "InvalidParameterCombination"
    assert "PrivateIpAddress" in err.value.response["Error"]["Message"]
