"""DescribeInstanceStatus / Describe+ModifyInstanceAttribute / GetConsoleOutput /
GetPasswordData, and termination protection, through boto3 (and awscli)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid

import pytest
from botocore.exceptions import ClientError

WAIT = {"Delay": 0.2, "MaxAttempts": 100}
MISSING = "i-0123456789abcdef0"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _image_id(ec2) -> str:  # type: ignore[no-untyped-def]
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))


def _launch(ec2, count: int = 1, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    run = ec2.run_instances(ImageId=_image_id(ec2), MinCount=count, MaxCount=count, **kwargs)
    ids = [i["InstanceId"] for i in run["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=WAIT)
    return ids


def _attr(ec2, iid: str, name: str):  # type: ignore[no-untyped-def]
    out = ec2.describe_instance_attribute(InstanceId=iid, Attribute=name)
    assert out["InstanceId"] == iid
    return out


def _stop(ec2, iid: str) -> None:  # type: ignore[no-untyped-def]
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)


# ------------------------------------------------------------------ status
def test_status_ok_waiters_and_running_only_default(ec2) -> None:  # type: ignore[no-untyped-def]
    running, stopped = _launch(ec2, 2)
    ec2.get_waiter("instance_status_ok").wait(InstanceIds=[running], WaiterConfig=WAIT)
    ec2.get_waiter("system_status_ok").wait(InstanceIds=[running], WaiterConfig=WAIT)
    _stop(ec2, stopped)

    statuses = ec2.describe_instance_status(InstanceIds=[running, stopped])["InstanceStatuses"]
    assert [s["InstanceId"] for s in statuses] == [running]
    s = statuses[0]
    assert s["AvailabilityZone"] == "us-east-1a"
    assert s["InstanceState"] == {"Code": 16, "Name": "running"}
    for check in ("InstanceStatus", "SystemStatus"):
        assert s[check] == {"Status": "ok", "Details": [{"Name": "reachability",
                                                         "Status": "passed"}]}
    assert s["Events"] == []

    every = ec2.describe_instance_status(InstanceIds=[running, stopped],
                                         IncludeAllInstances=True)["InstanceStatuses"]
    by_id = {s["InstanceId"]: s for s in every}
    assert by_id[stopped]["InstanceState"]["Name"] == "stopped"
    assert by_id[stopped]["InstanceStatus"]["Status"] == "not-applicable"
    assert by_id[stopped]["SystemStatus"]["Status"] == "not-applicable"

    def ids_with(*filters):  # type: ignore[no-untyped-def]
        out = ec2.describe_instance_status(InstanceIds=[running, stopped],
                                           IncludeAllInstances=True, Filters=list(filters))
        return {s["InstanceId"] for s in out["InstanceStatuses"]}

    assert ids_with({"Name": "instance-state-name", "Values": ["stopped"]}) == {stopped}
    assert ids_with({"Name": "instance-status.status", "Values": ["ok"]}) == {running}
    assert ids_with({"Name": "system-status.reachability", "Values": ["passed"]}) == {running}
    assert ids_with({"Name": "instance-status.status", "Values": ["not-applicable"]}) == {stopped}
    assert ids_with({"Name": "availability-zone", "Values": ["us-east-1a"]}) == {running, stopped}
    assert ids_with({"Name": "event.code", "Values": ["system-reboot"]}) == set()
    ec2.terminate_instances(InstanceIds=[running, stopped])


def test_status_errors(server, ec2) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_status(InstanceIds=[MISSING])
    assert _code(err) == "InvalidInstanceID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_status(InstanceIds=["i-nothex"])
    assert _code(err) == "InvalidInstanceID.Malformed"
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_status(InstanceIds=[MISSING], MaxResults=5)
    assert _code(err) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_status(Filters=[{"Name": "colour", "Values": ["x"]}])
    assert _code(err) == "InvalidParameterValue"


def test_status_paginator_sees_own_instances_once(server) -> None:  # type: ignore[no-untyped-def]
    ec2 = server.ec2(*server.new_user(f"status-pager-{uuid.uuid4().hex[:6]}"))
    ids = _launch(ec2, 7)
    pages = list(ec2.get_paginator("describe_instance_status").paginate(
        IncludeAllInstances=True, PaginationConfig={"PageSize": 5}))
    seen = [s["InstanceId"] for p in pages for s in p["InstanceStatuses"]]
    assert len(pages) == 2 and sorted(seen) == sorted(ids)
    ec2.terminate_instances(InstanceIds=ids)


# -------------------------------------------------------------- attributes
def test_describe_every_attribute(ec2) -> None:  # type: ignore[no-untyped-def]
    marker = f"#!/bin/sh\necho attr-{uuid.uuid4().hex}\n"
    (iid,) = _launch(ec2, InstanceType="t3.small", UserData=marker)
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]

    assert _attr(ec2, iid, "instanceType")["InstanceType"] == {"Value": "t3.small"}
    data = _attr(ec2, iid, "userData")["UserData"]["Value"]
    assert base64.b64decode(data).decode() == marker
    assert _attr(ec2, iid, "disableApiTermination")["DisableApiTermination"] == {"Value": False}
    assert _attr(ec2, iid, "instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"] == {"Value": "stop"}
    assert _attr(ec2, iid, "rootDeviceName")["RootDeviceName"] == {
        "Value": inst["RootDeviceName"]}
    bdm = _attr(ec2, iid, "blockDeviceMapping")["BlockDeviceMappings"]
    assert [b["Ebs"]["VolumeId"] for b in bdm] == [
        b["Ebs"]["VolumeId"] for b in inst["BlockDeviceMappings"]]
    assert _attr(ec2, iid, "groupSet")["Groups"] == inst["SecurityGroups"]
    assert _attr(ec2, iid, "sourceDestCheck")["SourceDestCheck"] == {"Value": True}
    assert _attr(ec2, iid, "ebsOptimized")["EbsOptimized"] == {"Value": False}
    assert _attr(ec2, iid, "enaSupport")["EnaSupport"] == {"Value": True}
    assert _attr(ec2, iid, "disableApiStop")["DisableApiStop"] == {"Value": False}
    assert _attr(ec2, iid, "enclaveOptions")["EnclaveOptions"] == {"Enabled": False}
    assert _attr(ec2, iid, "productCodes")["ProductCodes"] == []
    assert "Value" not in _attr(ec2, iid, "kernel").get("KernelId", {})
    assert "Value" not in _attr(ec2, iid, "ramdisk").get("RamdiskId", {})

    with pytest.raises(ClientError) as err:
        ec2.describe_instance_attribute(InstanceId=MISSING, Attribute="instanceType")
    assert _code(err) == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])


def test_user_data_absent_is_an_empty_attribute(ec2) -> None:  # type: ignore[no-untyped-def]
    (iid,) = _launch(ec2)
    assert "Value" not in _attr(ec2, iid, "userData").get("UserData", {})
    ec2.terminate_instances(InstanceIds=[iid])


def test_resize_and_user_data_need_a_stopped_instance(ec2) -> None:  # type: ignore[no-untyped-def]
    (iid,) = _launch(ec2, InstanceType="t3.micro")
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.small"})
    assert _code(err) == "IncorrectInstanceState"
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, UserData={"Value": b"echo no"})
    assert _code(err) == "IncorrectInstanceState"

    _stop(ec2, iid)
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "x1.nope"})
    assert _code(err) == "InvalidInstanceAttributeValue"
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "m5.large"})
    ec2.modify_instance_attribute(InstanceId=iid, UserData={"Value": b"#!/bin/sh\necho new\n"})
    assert _attr(ec2, iid, "instanceType")["InstanceType"] == {"Value": "m5.large"}
    assert base64.b64decode(_attr(ec2, iid, "userData")["UserData"]["Value"]) == \
        b"#!/bin/sh\necho new\n"
    # The Attribute/Value form does the same.
    ec2.modify_instance_attribute(InstanceId=iid, Attribute="instanceType", Value="c5.large")

    ec2.start_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["InstanceType"] == "c5.large"
    ec2.terminate_instances(InstanceIds=[iid])


def test_termination_protection(ec2) -> None:  # type: ignore[no-untyped-def]
    (iid,) = _launch(ec2, DisableApiTermination=True)
    assert _attr(ec2, iid, "disableApiTermination")["DisableApiTermination"] == {"Value": True}
    with pytest.raises(ClientError) as err:
        ec2.terminate_instances(InstanceIds=[iid])
    assert _code(err) == "OperationNotPermitted"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    state = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] == "running"

    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
    ec2.modify_instance_attribute(InstanceId=iid, Attribute="disableApiTermination", Value="true")
    with pytest.raises(ClientError) as err:
        ec2.terminate_instances(InstanceIds=[iid])
    assert _code(err) == "OperationNotPermitted"
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
    term = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
    assert term["CurrentState"]["Name"] == "shutting-down"
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": True})
    assert _code(err) == "IncorrectInstanceState"


def test_replace_security_groups(server) -> None:  # type: ignore[no-untyped-def]
    ec2 = server.ec2(*server.new_user(f"groups-{uuid.uuid4().hex[:6]}"))
    (iid,) = _launch(ec2)
    a = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    b = ec2.create_security_group(GroupName="ssh", Description="ssh")["GroupId"]
    ec2.modify_instance_attribute(InstanceId=iid, Groups=[a, b])
    groups = _attr(ec2, iid, "groupSet")["Groups"]
    assert sorted((g["GroupId"], g["GroupName"]) for g in groups) == sorted(
        [(a, "web"), (b, "ssh")])
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert sorted(g["GroupId"] for g in inst["SecurityGroups"]) == sorted([a, b])
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, Groups=["sg-0123456789abcdef0"])
    assert _code(err) == "InvalidGroup.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])


def test_fixed_attributes_and_bad_requests(ec2) -> None:  # type: ignore[no-untyped-def]
    (iid,) = _launch(ec2)
    # Values this cloud always has are accepted as no-ops ...
    ec2.modify_instance_attribute(InstanceId=iid, SourceDestCheck={"Value": True})
    ec2.modify_instance_attribute(InstanceId=iid, EnaSupport={"Value": True})
    ec2.modify_instance_attribute(InstanceId=iid,
                                  InstanceInitiatedShutdownBehavior={"Value": "stop"})
    # ... others are refused, not silently ignored.
    # (SourceDestCheck and InstanceInitiatedShutdownBehavior are stored now:
    # test_ec2_instance_attribute_leftovers.py)
    for kwargs in ({"EnaSupport": {"Value": False}},
                   {"Kernel": {"Value": "aki-12345678"}}):
        with pytest.raises(ClientError) as err:
            ec2.modify_instance_attribute(InstanceId=iid, **kwargs)
        assert _code(err) == "UnsupportedOperation", kwargs
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid,
                                      InstanceInitiatedShutdownBehavior={"Value": "explode"})
    assert _code(err) == "InvalidInstanceAttributeValue"
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": True},
                                      SourceDestCheck={"Value": True})
    assert _code(err) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid)
    assert _code(err) == "MissingParameter"
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, Attribute="rootDeviceName", Value="/dev/x")
    assert _code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=MISSING, DisableApiTermination={"Value": True})
    assert _code(err) == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])


def test_other_accounts_cannot_see_or_change_an_instance(server, ec2) -> None:  # type: ignore[no-untyped-def]
    (iid,) = _launch(ec2)
    other = server.ec2(*server.new_user(f"stranger-{uuid.uuid4().hex[:6]}"))
    for call in (lambda: other.describe_instance_attribute(InstanceId=iid,
                                                           Attribute="userData"),
                 lambda: other.modify_instance_attribute(
                     InstanceId=iid, DisableApiTermination={"Value": True}),
                 lambda: other.get_console_output(InstanceId=iid),
                 lambda: other.describe_instance_status(InstanceIds=[iid])):
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])


# ---------------------------------------------------- console and password
def test_console_output_carries_the_user_data(ec2) -> None:  # type: ignore[no-untyped-def]
    marker = f"console-marker-{uuid.uuid4().hex}"
    (iid,) = _launch(ec2, UserData=f"#!/bin/sh\necho {marker}\n")
    out = ec2.get_console_output(InstanceId=iid, Latest=True)
    assert out["InstanceId"] == iid and out["Timestamp"]
    # boto3 decodes Output for us, as it does against AWS.
    assert marker in out["Output"]
    assert "login:" in out["Output"]

    with pytest.raises(ClientError) as err:
        ec2.get_console_output(InstanceId=MISSING)
    assert _code(err) == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])


def test_password_data_is_empty_for_linux(ec2) -> None:  # type: ignore[no-untyped-def]
    (iid,) = _launch(ec2)
    out = ec2.get_password_data(InstanceId=iid)
    assert out["InstanceId"] == iid and out["PasswordData"] == "" and out["Timestamp"]
    ec2.get_waiter("password_data_available")  # exists; it would wait for a non-empty one
    with pytest.raises(ClientError) as err:
        ec2.get_password_data(InstanceId=MISSING)
    assert _code(err) == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])


# ------------------------------------------------------------------ awscli
def _aws(server, *args: str) -> dict:  # type: ignore[no-untyped-def]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.access_key,
               AWS_SECRET_ACCESS_KEY=server.secret_key, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    proc = subprocess.run([sys.executable, "-m", "awscli", "ec2", *args, "--endpoint-url",
                           server.url, "--output", "json"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else {}  # type: ignore[no-any-return]


def test_awscli_attributes_console_and_status(server, ec2) -> None:  # type: ignore[no-untyped-def]
    marker = f"cli-marker-{uuid.uuid4().hex}"
    (iid,) = _launch(ec2, UserData=marker)
    attr = _aws(server, "describe-instance-attribute", "--instance-id", iid,
                "--attribute", "instanceType")
    assert attr["InstanceType"] == {"Value": "t2.micro"}
    _aws(server, "modify-instance-attribute", "--instance-id", iid,
         "--disable-api-termination")
    assert _attr(ec2, iid, "disableApiTermination")["DisableApiTermination"] == {"Value": True}
    _aws(server, "modify-instance-attribute", "--instance-id", iid,
         "--no-disable-api-termination")
    console = _aws(server, "get-console-output", "--instance-id", iid)
    assert marker in console["Output"]
    status = _aws(server, "describe-instance-status", "--instance-ids", iid)
    assert status["InstanceStatuses"][0]["InstanceStatus"]["Status"] == "ok"
    ec2.terminate_instances(InstanceIds=[iid])
