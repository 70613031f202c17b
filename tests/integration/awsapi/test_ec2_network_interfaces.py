"""Standalone network interfaces (ENIs) through boto3: create, describe, attach,
detach, delete, their errors, and what termination does to an attached ENI."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.nativeapi.clients import cs_client

WAIT = {"Delay": 0.2, "MaxAttempts": 100}


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def _image_id(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))


def _instance(ec2: Any) -> dict[str, Any]:
    inst = ec2.run_instances(ImageId=_image_id(ec2), MinCount=1, MaxCount=1)["Instances"][0]
    ec2.get_waiter("instance_running").wait(InstanceIds=[inst["InstanceId"]],
                                            WaiterConfig=WAIT)
    return ec2.describe_instances(InstanceIds=[inst["InstanceId"]])[  # type: ignore[no-any-return]
        "Reservations"][0]["Instances"][0]


def _eni(ec2: Any, eni_id: str) -> dict[str, Any]:
    return ec2.describe_network_interfaces(  # type: ignore[no-any-return]
        NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]


@pytest.fixture
def user_ec2(server: Any) -> Any:
    key, secret = server.new_user(f"eni-{uuid.uuid4().hex[:8]}")
    client = server.ec2(key, secret)
    client.nimbo_keys = (key, secret)
    return client


def _subnet_of(ec2: Any, inst: dict[str, Any]) -> dict[str, Any]:
    return ec2.describe_subnets(SubnetIds=[inst["SubnetId"]])[  # type: ignore[no-any-return]
        "Subnets"][0]


def test_create_describe_and_delete_a_standalone_interface(user_ec2: Any) -> None:
    ec2 = user_ec2
    inst = _instance(ec2)
    subnet = _subnet_of(ec2, inst)
    group = ec2.create_security_group(GroupName=f"g-{uuid.uuid4().hex[:6]}",
                                      Description="d")["GroupId"]
    mark = uuid.uuid4().hex[:10]
    eni = ec2.create_network_interface(
        SubnetId=subnet["SubnetId"], Description="my eni", Groups=[group],
        TagSpecifications=[{"ResourceType": "network-interface",
                            "Tags": [{"Key": "mark", "Value": mark}]}])["NetworkInterface"]
    assert eni["NetworkInterfaceId"].startswith("eni-")
    assert eni["Status"] == "available" and "Attachment" not in eni
    assert eni["Description"] == "my eni" and eni["SubnetId"] == subnet["SubnetId"]
    assert eni["AvailabilityZone"] == subnet["AvailabilityZone"]
    assert [g["GroupId"] for g in eni["Groups"]] == [group]
    assert eni["TagSet"] == [{"Key": "mark", "Value": mark}]
    assert eni["PrivateIpAddress"] != inst["PrivateIpAddress"]
    listed = ec2.describe_network_interfaces(Filters=[{"Name": "tag:mark", "Values": [mark]}])
    assert [n["NetworkInterfaceId"] for n in listed["NetworkInterfaces"]] == [
        eni["NetworkInterfaceId"]]
    for name, value in (("status", "available"), ("description", "my eni"),
                        ("group-id", group)):
        found = ec2.describe_network_interfaces(Filters=[{"Name": name, "Values": [value]}])
        assert eni["NetworkInterfaceId"] in {
            n["NetworkInterfaceId"] for n in found["NetworkInterfaces"]}, name
    in_use = ec2.describe_network_interfaces(Filters=[{"Name": "status", "Values": ["in-use"]}])
    assert eni["NetworkInterfaceId"] not in {
        n["NetworkInterfaceId"] for n in in_use["NetworkInterfaces"]}
    # A requested address that is taken is refused; a free one is used.
    with pytest.raises(ClientError) as err:
        ec2.create_network_interface(SubnetId=subnet["SubnetId"],
                                     PrivateIpAddress=eni["PrivateIpAddress"])
    assert _code(err) == "InvalidParameterValue"
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    with pytest.raises(ClientError) as err:
        _eni(ec2, eni["NetworkInterfaceId"])
    assert _code(err) == "InvalidNetworkInterfaceID.NotFound"
    # Its address went back to the subnet.
    again = ec2.create_network_interface(SubnetId=subnet["SubnetId"],
                                         PrivateIpAddress=eni["PrivateIpAddress"])
    ec2.delete_network_interface(NetworkInterfaceId=again["NetworkInterface"][
        "NetworkInterfaceId"])


def test_attach_detach_and_their_errors(server: Any, user_ec2: Any) -> None:
    ec2 = user_ec2
    inst = _instance(ec2)
    iid = inst["InstanceId"]
    subnet = _subnet_of(ec2, inst)
    eni_id = ec2.create_network_interface(SubnetId=subnet["SubnetId"])[
        "NetworkInterface"]["NetworkInterfaceId"]
    other_id = ec2.create_network_interface(SubnetId=subnet["SubnetId"])[
        "NetworkInterface"]["NetworkInterfaceId"]
    with pytest.raises(ClientError) as err:  # the primary's slot
        ec2.attach_network_interface(NetworkInterfaceId=eni_id, InstanceId=iid, DeviceIndex=0)
    assert _code(err) == "InvalidParameterValue"
    att = ec2.attach_network_interface(NetworkInterfaceId=eni_id, InstanceId=iid,
                                       DeviceIndex=1)["AttachmentId"]
    assert att.startswith("eni-attach-")
    _until(lambda: _eni(ec2, eni_id)["Attachment"]["Status"] == "attached")
    got = _eni(ec2, eni_id)
    assert got["Status"] == "in-use" and got["Attachment"]["AttachmentId"] == att
    assert got["Attachment"]["InstanceId"] == iid and got["Attachment"]["DeviceIndex"] == 1
    assert got["Attachment"]["DeleteOnTermination"] is False
    by_instance = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["NetworkInterfaces"]
    assert {n["NetworkInterfaceId"] for n in by_instance} >= {eni_id}
    assert len(by_instance) == 2
    by_att = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.attachment-id", "Values": [att]}])["NetworkInterfaces"]
    assert [n["NetworkInterfaceId"] for n in by_att] == [eni_id]
    # The same ENIs are the VM's NICs for CloudStack (same rows).
    key, secret = ec2.nimbo_keys
    cs = cs_client(server, key, secret)
    [vm] = [v for v in cs.listVirtualMachines()["virtualmachine"]
            if got["PrivateIpAddress"] in {n["ipaddress"] for n in v["nic"]}]
    vm_id = vm["id"]
    nics = cs.listNics(virtualmachineid=vm_id)["nic"]
    assert {n["ipaddress"] for n in nics} == {inst["PrivateIpAddress"], got["PrivateIpAddress"]}

    with pytest.raises(ClientError) as err:  # device index taken
        ec2.attach_network_interface(NetworkInterfaceId=other_id, InstanceId=iid, DeviceIndex=1)
    assert _code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:  # attached: in use
        ec2.attach_network_interface(NetworkInterfaceId=eni_id, InstanceId=iid, DeviceIndex=2)
    assert _code(err) == "InvalidNetworkInterface.InUse"
    with pytest.raises(ClientError) as err:
        ec2.delete_network_interface(NetworkInterfaceId=eni_id)
    assert _code(err) == "InvalidNetworkInterface.InUse"
    primary = inst["NetworkInterfaces"][0]["Attachment"]["AttachmentId"] if inst.get(
        "NetworkInterfaces") else None
    if primary is None:
        primary = next(n["Attachment"]["AttachmentId"] for n in by_instance
                       if n["Attachment"]["DeviceIndex"] == 0)
    with pytest.raises(ClientError) as err:
        ec2.detach_network_interface(AttachmentId=primary)
    assert _code(err) == "OperationNotPermitted"
    with pytest.raises(ClientError) as err:
        ec2.detach_network_interface(AttachmentId="eni-attach-0123456789abcdef0")
    assert _code(err) == "InvalidAttachmentID.NotFound"

    ec2.detach_network_interface(AttachmentId=att)
    _until(lambda: _eni(ec2, eni_id)["Status"] == "available")
    assert "Attachment" not in _eni(ec2, eni_id)
    with pytest.raises(ClientError) as err:  # that attachment is gone
        ec2.detach_network_interface(AttachmentId=att)
    assert _code(err) == "InvalidAttachmentID.NotFound"
    assert {n["ipaddress"] for n in cs.listNics(virtualmachineid=vm_id)["nic"]} == {
        inst["PrivateIpAddress"]}
    for e in (eni_id, other_id):
        ec2.delete_network_interface(NetworkInterfaceId=e)


def test_ids_are_checked(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_network_interfaces(NetworkInterfaceIds=["eni-nothex"])
    assert _code(err) == "InvalidNetworkInterfaceId.Malformed"
    with pytest.raises(ClientError) as err:
        ec2.delete_network_interface(NetworkInterfaceId="eni-0123456789abcdef0")
    assert _code(err) == "InvalidNetworkInterfaceID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.create_network_interface(SubnetId="subnet-0123456789abcdef0")
    assert _code(err) == "InvalidSubnetID.NotFound"


def test_other_accounts_cannot_see_or_use_an_interface(server: Any, user_ec2: Any) -> None:
    inst = _instance(user_ec2)
    eni_id = user_ec2.create_network_interface(SubnetId=inst["SubnetId"])[
        "NetworkInterface"]["NetworkInterfaceId"]
    key, secret = server.new_user(f"eni-o-{uuid.uuid4().hex[:8]}")
    other = server.ec2(key, secret)
    for call in (lambda: other.delete_network_interface(NetworkInterfaceId=eni_id),
                 lambda: other.describe_network_interfaces(NetworkInterfaceIds=[eni_id])):
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == "InvalidNetworkInterfaceID.NotFound"
    with pytest.raises(ClientError) as err:
        other.create_tags(Resources=[eni_id], Tags=[{"Key": "k", "Value": "v"}])
    assert _code(err) == "InvalidNetworkInterfaceID.NotFound"
    user_ec2.delete_network_interface(NetworkInterfaceId=eni_id)


def test_interfaces_take_tags_primary_ones_too(user_ec2: Any) -> None:
    ec2 = user_ec2
    inst = _instance(ec2)
    (primary,) = [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [inst["InstanceId"]]}])["NetworkInterfaces"]]
    # The instance lists the same interface, as AWS does.
    (listed_eni,) = inst["NetworkInterfaces"]
    assert listed_eni["NetworkInterfaceId"] == primary
    assert listed_eni["Attachment"]["DeviceIndex"] == 0
    assert listed_eni["PrivateIpAddress"] == inst["PrivateIpAddress"]
    assert listed_eni["SubnetId"] == inst["SubnetId"] and listed_eni["VpcId"] == inst["VpcId"]
    eni_id = ec2.create_network_interface(SubnetId=inst["SubnetId"])[
        "NetworkInterface"]["NetworkInterfaceId"]
    ec2.create_tags(Resources=[eni_id, primary], Tags=[{"Key": "role", "Value": "x"}])
    assert _eni(ec2, eni_id)["TagSet"] == [{"Key": "role", "Value": "x"}]
    assert _eni(ec2, primary)["TagSet"] == [{"Key": "role", "Value": "x"}]
    listed = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [eni_id]}])["Tags"]
    assert listed == [{"Key": "role", "ResourceId": eni_id,
                       "ResourceType": "network-interface", "Value": "x"}]
    ec2.delete_tags(Resources=[eni_id], Tags=[{"Key": "role"}])
    assert _eni(ec2, eni_id).get("TagSet", []) == []
    ec2.delete_network_interface(NetworkInterfaceId=eni_id)
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [eni_id]}])["Tags"] == []


def test_termination_detaches_and_keeps_the_interface(user_ec2: Any) -> None:
    ec2 = user_ec2
    inst = _instance(ec2)
    eni_id = ec2.create_network_interface(SubnetId=inst["SubnetId"])[
        "NetworkInterface"]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=eni_id, InstanceId=inst["InstanceId"],
                                 DeviceIndex=1)
    _until(lambda: _eni(ec2, eni_id)["Status"] == "in-use" and
           _eni(ec2, eni_id)["Attachment"]["Status"] == "attached")
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[inst["InstanceId"]],
                                               WaiterConfig=WAIT)
    _until(lambda: _eni(ec2, eni_id)["Status"] == "available")
    assert "Attachment" not in _eni(ec2, eni_id)
    ec2.delete_network_interface(NetworkInterfaceId=eni_id)
