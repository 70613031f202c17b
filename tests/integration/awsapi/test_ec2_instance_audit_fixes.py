"""Instance-path fixes from the EC2 audit, through boto3: state errors on
terminated instances, ClientToken reuse with other parameters, and views
(SourceDestCheck, block devices of a terminated instance)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

WAIT = {"Delay": 0.2, "MaxAttempts": 150}


def _image(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))


def _error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    e = err.value.response["Error"]
    return str(e["Code"]), str(e["Message"])


def _instance(ec2: Any, iid: str) -> dict[str, Any]:
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]


@pytest.fixture(scope="module")
def terminated(server: Any) -> str:
    ec2 = server.ec2()
    iid = ec2.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=1,
                            BlockDeviceMappings=[{"DeviceName": "/dev/sdf",
                                                  "Ebs": {"VolumeSize": 1}}]
                            )["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    return str(iid)


@pytest.mark.parametrize(("call", "word"), [
    (lambda c, i: c.start_instances(InstanceIds=[i]), "started"),
    (lambda c, i: c.stop_instances(InstanceIds=[i]), "stopped"),
    (lambda c, i: c.reboot_instances(InstanceIds=[i]), "rebooted"),
])
def test_terminated_instance_is_in_an_incorrect_state(ec2: Any, terminated: str, call: Any,
                                                     word: str) -> None:
    with pytest.raises(ClientError) as err:
        call(ec2, terminated)
    text = f"The instance '{terminated}' is not in a state from which it can be {word}."
    assert _error(err) == ("IncorrectInstanceState", text)
    assert _instance(ec2, terminated)["State"]["Name"] == "terminated"


def test_terminated_instance_lists_no_block_devices(ec2: Any, terminated: str) -> None:
    assert _instance(ec2, terminated)["BlockDeviceMappings"] == []


def test_reboot_of_a_stopped_instance_names_the_instance(ec2: Any) -> None:
    iid = ec2.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=1
                            )["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    with pytest.raises(ClientError) as err:
        ec2.reboot_instances(InstanceIds=[iid])
    code, message = _error(err)
    assert code == "IncorrectInstanceState" and iid in message
    ec2.terminate_instances(InstanceIds=[iid])


def test_client_token_reused_with_other_parameters(ec2: Any) -> None:
    token = f"tok-{uuid.uuid4().hex}"
    image = _image(ec2)
    first = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, ClientToken=token)
    again = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, ClientToken=token)
    assert again["ReservationId"] == first["ReservationId"]
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, ClientToken=token,
                          InstanceType="t3.small")
    assert _error(err)[0] == "IdempotentParameterMismatch"
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, ClientToken=token,
                          BlockDeviceMappings=[{"DeviceName": "/dev/sdf",
                                                "Ebs": {"VolumeSize": 1}}])
    assert _error(err)[0] == "IdempotentParameterMismatch"
    ec2.terminate_instances(InstanceIds=[first["Instances"][0]["InstanceId"]])


def test_source_dest_check_is_shown_as_set(ec2: Any) -> None:
    run = ec2.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=1)
    inst = run["Instances"][0]
    iid, eni = inst["InstanceId"], inst["NetworkInterfaces"][0]["NetworkInterfaceId"]
    assert inst["SourceDestCheck"] is True
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni,
                                           SourceDestCheck={"Value": False})
    shown = _instance(ec2, iid)
    assert shown["SourceDestCheck"] is False
    assert shown["NetworkInterfaces"][0]["SourceDestCheck"] is False
    listed = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"]
    assert listed[0]["SourceDestCheck"] is False
    ec2.terminate_instances(InstanceIds=[iid])


def test_image_root_mapping_names_its_snapshot(ec2: Any) -> None:
    iid = ec2.run_instances(ImageId=_image(ec2), MinCount=1, MaxCount=1
                            )["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    root = _instance(ec2, iid)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    root_type = ec2.describe_volumes(VolumeIds=[root])["Volumes"][0]["VolumeType"]
    image = ec2.create_image(InstanceId=iid, Name=f"audit-{uuid.uuid4().hex[:8]}",
                             NoReboot=True)["ImageId"]
    snaps = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [root]}])
    snap = next(s["SnapshotId"] for s in snaps["Snapshots"] if image in s["Description"])
    shown = ec2.describe_images(ImageIds=[image])["Images"][0]
    ebs = shown["BlockDeviceMappings"][0]["Ebs"]
    assert ebs["SnapshotId"] == snap and ebs["VolumeType"] == root_type
    plain = ec2.describe_images(ImageIds=[_image(ec2)])["Images"][0]
    assert "SnapshotId" not in plain["BlockDeviceMappings"][0]["Ebs"]
    ec2.terminate_instances(InstanceIds=[iid])
