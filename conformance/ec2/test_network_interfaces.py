"""Standalone network interfaces: CreateNetworkInterface, AttachNetworkInterface,
DetachNetworkInterface, DeleteNetworkInterface and their error codes (every
response is shape-checked by the harness)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from harness import unique


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _eni(ec2: Any, eni_id: str) -> dict[str, Any]:
    return ec2.describe_network_interfaces(  # type: ignore[no-any-return]
        NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]


def _until(ec2: Any, eni_id: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        eni = _eni(ec2, eni_id)
        att = eni.get("Attachment") or {}
        if eni["Status"] == status and att.get("Status", "attached") in ("attached",):
            return eni
        assert time.monotonic() < deadline, f"{eni_id} never became {status}"
        time.sleep(0.5)


def test_interface_create_attach_detach_delete(ec2: Any, fleet: list[str], wait: dict[str, float],
                                               cleanup: Any) -> None:
    (inst,) = ec2.describe_instances(InstanceIds=[fleet[0]])["Reservations"][0]["Instances"]
    name = unique("eni")
    eni = ec2.create_network_interface(
        SubnetId=inst["SubnetId"], Description=name,
        TagSpecifications=[{"ResourceType": "network-interface",
                            "Tags": [{"Key": "Name", "Value": name}]}])["NetworkInterface"]
    eni_id = eni["NetworkInterfaceId"]
    cleanup(lambda: ec2.delete_network_interface(NetworkInterfaceId=eni_id))
    assert eni_id.startswith("eni-") and eni["Status"] in ("pending", "available")
    assert eni["Description"] == name and "Attachment" not in eni
    ec2.get_waiter("network_interface_available").wait(NetworkInterfaceIds=[eni_id],
                                                       WaiterConfig=wait)
    listed = ec2.describe_network_interfaces(
        Filters=[{"Name": "tag:Name", "Values": [name]}])["NetworkInterfaces"]
    assert [n["NetworkInterfaceId"] for n in listed] == [eni_id]

    att = ec2.attach_network_interface(NetworkInterfaceId=eni_id, InstanceId=fleet[0],
                                       DeviceIndex=1)["AttachmentId"]
    assert att.startswith("eni-attach-")
    got = _until(ec2, eni_id, "in-use")
    assert got["Attachment"]["AttachmentId"] == att
    assert got["Attachment"]["InstanceId"] == fleet[0]
    assert got["Attachment"]["DeviceIndex"] == 1
    with pytest.raises(ClientError) as err:
        ec2.delete_network_interface(NetworkInterfaceId=eni_id)
    assert _code(err) == "InvalidNetworkInterface.InUse"
    primary = next(n["Attachment"]["AttachmentId"] for n in ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [fleet[0]]},
                 {"Name": "attachment.device-index", "Values": ["0"]}])["NetworkInterfaces"])
    with pytest.raises(ClientError) as err:
        ec2.detach_network_interface(AttachmentId=primary)
    assert _code(err) == "OperationNotPermitted"

    ec2.detach_network_interface(AttachmentId=att)
    ec2.get_waiter("network_interface_available").wait(NetworkInterfaceIds=[eni_id],
                                                       WaiterConfig=wait)
    assert "Attachment" not in _eni(ec2, eni_id)
    ec2.delete_network_interface(NetworkInterfaceId=eni_id)
    with pytest.raises(ClientError) as err:
        _eni(ec2, eni_id)
    assert _code(err) == "InvalidNetworkInterfaceID.NotFound"


def test_interface_error_codes(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.delete_network_interface(NetworkInterfaceId="eni-0123456789abcdef0")
    assert _code(err) == "InvalidNetworkInterfaceID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.describe_network_interfaces(NetworkInterfaceIds=["eni-xyz"])
    assert _code(err) == "InvalidNetworkInterfaceId.Malformed"
    with pytest.raises(ClientError) as err:
        ec2.detach_network_interface(AttachmentId="eni-attach-0123456789abcdef0")
    assert _code(err) == "InvalidAttachmentID.NotFound"
