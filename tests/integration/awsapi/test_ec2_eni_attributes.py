"""Describe/Modify/ResetNetworkInterfaceAttribute through boto3: description,
source/destination checking, security groups (of a standalone interface and of
an instance's primary one) and the attachment's DeleteOnTermination, with AWS's
error codes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

WAIT = {"Delay": 0.2, "MaxAttempts": 100}


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _attr(ec2: Any, eni: str, attribute: str) -> dict[str, Any]:
    out = ec2.describe_network_interface_attribute(NetworkInterfaceId=eni, Attribute=attribute)
    out.pop("ResponseMetadata")
    return out  # type: ignore[no-any-return]


def _group(ec2: Any, vpc_id: str | None = None) -> str:
    kw = {"VpcId": vpc_id} if vpc_id else {}
    return str(ec2.create_security_group(GroupName=f"eni-{uuid.uuid4().hex[:8]}",
                                         Description="eni attrs", **kw)["GroupId"])


@pytest.fixture(scope="module")
def running(server: Any) -> Any:
    ec2 = server.ec2()
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    image = next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))
    inst = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    iid = inst["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    yield ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    ec2.terminate_instances(InstanceIds=[iid])


def test_standalone_interface_attributes(ec2: Any, running: dict[str, Any]) -> None:
    g1, g2 = _group(ec2), _group(ec2)
    eni = ec2.create_network_interface(SubnetId=running["SubnetId"], Description="first",
                                       Groups=[g1])["NetworkInterface"]["NetworkInterfaceId"]
    assert _attr(ec2, eni, "description") == {"NetworkInterfaceId": eni,
                                              "Description": {"Value": "first"}}
    assert _attr(ec2, eni, "sourceDestCheck") == {"NetworkInterfaceId": eni,
                                                  "SourceDestCheck": {"Value": True}}
    assert [g["GroupId"] for g in _attr(ec2, eni, "groupSet")["Groups"]] == [g1]
    assert _attr(ec2, eni, "attachment") == {"NetworkInterfaceId": eni}  # not attached
    assert _attr(ec2, eni, "associatePublicIpAddress") == {
        "NetworkInterfaceId": eni, "AssociatePublicIpAddress": False}

    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni,
                                           Description={"Value": "second"})
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni,
                                           SourceDestCheck={"Value": False})
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[g2, g1])
    assert _attr(ec2, eni, "description")["Description"] == {"Value": "second"}
    assert _attr(ec2, eni, "sourceDestCheck")["SourceDestCheck"] == {"Value": False}
    assert sorted(g["GroupId"] for g in _attr(ec2, eni, "groupSet")["Groups"]) == sorted(
        [g1, g2])
    listed = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
    assert listed["Description"] == "second"
    assert sorted(g["GroupId"] for g in listed["Groups"]) == sorted([g1, g2])
    found = ec2.describe_network_interfaces(Filters=[
        {"Name": "description", "Values": ["second"]},
        {"Name": "group-id", "Values": [g2]}])["NetworkInterfaces"]
    assert [n["NetworkInterfaceId"] for n in found] == [eni]
    ec2.reset_network_interface_attribute(NetworkInterfaceId=eni,
                                          SourceDestCheck="sourceDestCheck")
    assert _attr(ec2, eni, "sourceDestCheck")["SourceDestCheck"] == {"Value": True}
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    for g in (g1, g2):
        ec2.delete_security_group(GroupId=g)


def test_attachment_delete_on_termination(ec2: Any, running: dict[str, Any]) -> None:
    iid = running["InstanceId"]
    eni = ec2.create_network_interface(SubnetId=running["SubnetId"])[
        "NetworkInterface"]["NetworkInterfaceId"]
    with pytest.raises(ClientError) as err:  # not attached: no such attachment
        ec2.modify_network_interface_attribute(
            NetworkInterfaceId=eni,
            Attachment={"AttachmentId": "eni-attach-0123456789abcdef0",
                        "DeleteOnTermination": True})
    assert _code(err) == "InvalidAttachmentID.NotFound"
    att = ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=iid,
                                       DeviceIndex=1)["AttachmentId"]
    got = _attr(ec2, eni, "attachment")["Attachment"]
    assert got["AttachmentId"] == att and got["InstanceId"] == iid
    assert got["DeleteOnTermination"] is False and got["DeviceIndex"] == 1
    ec2.modify_network_interface_attribute(
        NetworkInterfaceId=eni, Attachment={"AttachmentId": att, "DeleteOnTermination": True})
    assert _attr(ec2, eni, "attachment")["Attachment"]["DeleteOnTermination"] is True
    listed = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
    assert listed["Attachment"]["DeleteOnTermination"] is True
    with pytest.raises(ClientError) as err:  # another interface's attachment id
        primary = running["NetworkInterfaces"][0]
        ec2.modify_network_interface_attribute(
            NetworkInterfaceId=primary["NetworkInterfaceId"],
            Attachment={"AttachmentId": att, "DeleteOnTermination": False})
    assert _code(err) == "InvalidAttachmentID.NotFound"


def test_primary_interface_groups_are_the_instances(ec2: Any, running: dict[str, Any]) -> None:
    primary = running["NetworkInterfaces"][0]["NetworkInterfaceId"]
    g = _group(ec2)
    ec2.modify_network_interface_attribute(NetworkInterfaceId=primary, Groups=[g])
    assert [x["GroupId"] for x in _attr(ec2, primary, "groupSet")["Groups"]] == [g]
    inst = ec2.describe_instances(InstanceIds=[running["InstanceId"]])["Reservations"][0][
        "Instances"][0]
    assert [x["GroupId"] for x in inst["SecurityGroups"]] == [g]
    old = [x["GroupId"] for x in running["SecurityGroups"]]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=primary, Groups=old)
    assert sorted(x["GroupId"] for x in _attr(ec2, primary, "groupSet")["Groups"]) == sorted(old)
    ec2.delete_security_group(GroupId=g)


def test_errors(server: Any, ec2: Any, running: dict[str, Any]) -> None:
    primary = running["NetworkInterfaces"][0]["NetworkInterfaceId"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("describe", {"NetworkInterfaceId": "eni-0123456789abcdef0",
                      "Attribute": "description"}, "InvalidNetworkInterfaceID.NotFound"),
        ("describe", {"NetworkInterfaceId": "eni-zz", "Attribute": "description"},
         "InvalidNetworkInterfaceId.Malformed"),
        ("describe", {"NetworkInterfaceId": primary}, "MissingParameter"),
        ("modify", {"NetworkInterfaceId": primary}, "MissingParameter"),
        ("modify", {"NetworkInterfaceId": primary, "Description": {"Value": "x"},
                    "SourceDestCheck": {"Value": True}}, "InvalidParameterCombination"),
        ("modify", {"NetworkInterfaceId": primary, "Groups": ["sg-0123456789abcdef0"]},
         "InvalidGroup.NotFound"),
        ("modify", {"NetworkInterfaceId": "eni-0123456789abcdef0",
                    "Description": {"Value": "x"}}, "InvalidNetworkInterfaceID.NotFound"),
        ("modify", {"NetworkInterfaceId": primary,
                    "Attachment": {"AttachmentId": "bogus", "DeleteOnTermination": True}},
         "InvalidAttachmentID.NotFound"),
        ("reset", {"NetworkInterfaceId": "eni-0123456789abcdef0",
                   "SourceDestCheck": "sourceDestCheck"},
         "InvalidNetworkInterfaceID.NotFound"),
    ]
    calls = {"describe": ec2.describe_network_interface_attribute,
             "modify": ec2.modify_network_interface_attribute,
             "reset": ec2.reset_network_interface_attribute}
    for op, kw, code in cases:
        with pytest.raises(ClientError) as err:
            calls[op](**kw)
        assert _code(err) == code, (op, kw)
    with pytest.raises(ClientError) as err:
        ec2.describe_network_interface_attribute(NetworkInterfaceId=primary,
                                                 Attribute="description", DryRun=True)
    assert _code(err) == "DryRunOperation"
    # Another account neither sees nor changes the interface.
    other = server.ec2(*server.new_user(f"enia-{uuid.uuid4().hex[:8]}"))
    with pytest.raises(ClientError) as err:
        other.modify_network_interface_attribute(NetworkInterfaceId=primary,
                                                 Description={"Value": "mine"})
    assert _code(err) == "InvalidNetworkInterfaceID.NotFound"
    # A group of another account is refused (the admin sees it; the owner does not).
    theirs = _group(other)
    with pytest.raises(ClientError) as err:
        ec2.modify_network_interface_attribute(NetworkInterfaceId=primary, Groups=[theirs])
    assert _code(err) == "InvalidParameterValue"
    other.delete_security_group(GroupId=theirs)
