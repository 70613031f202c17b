"""Instances: Run/Describe/Stop/Start/Reboot/Terminate with filters, tags, paging,
status, console output, password data, attributes, and the instance waiters."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import RUN_TAG
from harness import unique

STATES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
          "stopping": 64, "stopped": 80}


def _by_id(ec2: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    res = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i for r in res for i in r["Instances"]}


def _ids(pages: Any) -> list[str]:
    return [i["InstanceId"] for page in pages for r in page["Reservations"]
            for i in r["Instances"]]


def test_lifecycle_with_waiters_and_state_codes(ec2: Any, image_id: str, instance_type: str,
                                                wait: dict[str, float], cleanup: Any) -> None:
    name = unique("life")
    run = ec2.run_instances(
        ImageId=image_id, InstanceType=instance_type, MinCount=1, MaxCount=1,
        UserData=base64.b64encode(b"#!/bin/sh\necho conformance").decode(),
        TagSpecifications=[{"ResourceType": "instance", "Tags": [
            {"Key": "Name", "Value": name}, {"Key": "run", "Value": RUN_TAG}]}])
    assert run["ReservationId"].startswith("r-")
    assert run["OwnerId"].isdigit() and len(run["OwnerId"]) == 12
    (inst,) = run["Instances"]
    iid = inst["InstanceId"]
    cleanup(lambda: ec2.terminate_instances(InstanceIds=[iid]))
    assert iid.startswith("i-")
    assert inst["State"] == {"Code": 0, "Name": "pending"}
    assert inst["ImageId"] == image_id and inst["InstanceType"] == instance_type
    assert inst["AmiLaunchIndex"] == 0

    ec2.get_waiter("instance_exists").wait(InstanceIds=[iid], WaiterConfig=wait)
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=wait)
    found = _by_id(ec2, [iid])[iid]
    assert found["State"] == {"Code": 16, "Name": "running"}
    assert {"Key": "Name", "Value": name} in found["Tags"]
    assert found["Placement"]["AvailabilityZone"]
    assert found["PrivateIpAddress"]

    stop = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
    assert stop["InstanceId"] == iid
    assert stop["PreviousState"] == {"Code": 16, "Name": "running"}
    assert stop["CurrentState"]["Name"] in ("stopping", "stopped")
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=wait)
    assert _by_id(ec2, [iid])[iid]["State"] == {"Code": 80, "Name": "stopped"}

    # Instance type may change while stopped.
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.small"})
    attr = ec2.describe_instance_attribute(InstanceId=iid, Attribute="instanceType")
    assert attr["InstanceId"] == iid and attr["InstanceType"] == {"Value": "t3.small"}

    start = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    assert start["PreviousState"] == {"Code": 80, "Name": "stopped"}
    assert start["CurrentState"]["Name"] in ("pending", "running")
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=wait)
    assert _by_id(ec2, [iid])[iid]["InstanceType"] == "t3.small"

    ec2.reboot_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=wait)

    term = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
    assert term["PreviousState"]["Name"] == "running"
    assert term["CurrentState"]["Name"] in ("shutting-down", "terminated")
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=wait)
    # Terminated instances stay visible for a while, with code 48.
    assert _by_id(ec2, [iid])[iid]["State"] == {"Code": 48, "Name": "terminated"}


def test_state_codes_match_names(ec2: Any, fleet: list[str]) -> None:
    for inst in _by_id(ec2, fleet).values():
        assert STATES[inst["State"]["Name"]] == inst["State"]["Code"] & 0xFF


def test_describe_filters_and_tags(ec2: Any, fleet: list[str], instance_type: str) -> None:
    def ids(*filters: dict[str, Any]) -> set[str]:
        return set(_ids([ec2.describe_instances(Filters=list(filters))]))

    mine = set(fleet)
    assert ids({"Name": "tag:run", "Values": [RUN_TAG]}) >= mine
    assert ids({"Name": "tag:run", "Values": [RUN_TAG]},
               {"Name": "tag:role", "Values": ["fle?t"]}) == mine
    assert ids({"Name": "tag:run", "Values": [RUN_TAG[:-3] + "*"]}) >= mine
    assert ids({"Name": "tag-key", "Values": ["role"]}) >= mine
    assert ids({"Name": "tag-value", "Values": [RUN_TAG]}) >= mine
    assert ids({"Name": "instance-id", "Values": fleet[:2]}) == set(fleet[:2])
    assert ids({"Name": "instance-state-name", "Values": ["running"]}) >= mine
    assert ids({"Name": "instance-state-code", "Values": ["16"]}) >= mine
    assert ids({"Name": "instance-type", "Values": [instance_type]}) >= mine
    assert not ids({"Name": "instance-id", "Values": fleet},
                   {"Name": "instance-state-name", "Values": ["stopped"]})
    assert not ids({"Name": "tag:run", "Values": [RUN_TAG + "-nope"]})
    # Several values of one filter are ORed; several filters are ANDed.
    assert ids({"Name": "instance-id", "Values": fleet},
               {"Name": "instance-state-name", "Values": ["stopped", "running"]}) == mine


def test_describe_instances_paginator(ec2: Any, fleet: list[str]) -> None:
    pages = list(ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "tag:run", "Values": [RUN_TAG]}],
        PaginationConfig={"PageSize": 5}))
    seen = _ids(pages)
    assert len(seen) == len(set(seen)), "an instance appeared on two pages"
    assert set(fleet) <= set(seen)
    for page in pages:
        assert sum(len(r["Instances"]) for r in page["Reservations"]) <= 5
    if len(seen) > 5:
        assert len(pages) >= 2 and "NextToken" in pages[0]
    assert "NextToken" not in pages[-1]
    # MaxResults together with InstanceIds is not allowed.
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(InstanceIds=fleet[:1], MaxResults=5)
    assert err.value.response["Error"]["Code"] == "InvalidParameterCombination"


def test_run_instances_min_max_count_and_launch_index(ec2: Any, fleet: list[str]) -> None:
    found = _by_id(ec2, fleet)
    assert sorted(i["AmiLaunchIndex"] for i in found.values()) == list(range(len(fleet)))
    reservations = ec2.describe_instances(InstanceIds=fleet)["Reservations"]
    assert len(reservations) == 1, "one RunInstances call is one reservation"


def test_instance_status_and_status_waiters(ec2: Any, fleet: list[str],
                                           wait: dict[str, float]) -> None:
    status = ec2.describe_instance_status(InstanceIds=fleet)["InstanceStatuses"]
    assert {s["InstanceId"] for s in status} == set(fleet)
    for s in status:
        assert s["InstanceState"] == {"Code": 16, "Name": "running"}
        assert s["AvailabilityZone"]
    ec2.get_waiter("instance_status_ok").wait(InstanceIds=fleet, WaiterConfig=wait)
    ec2.get_waiter("system_status_ok").wait(InstanceIds=fleet, WaiterConfig=wait)
    ok = ec2.describe_instance_status(InstanceIds=fleet)["InstanceStatuses"]
    assert {s["InstanceStatus"]["Status"] for s in ok} == {"ok"}
    assert {s["SystemStatus"]["Status"] for s in ok} == {"ok"}
    pages = list(ec2.get_paginator("describe_instance_status").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["running"]}],
        PaginationConfig={"PageSize": 5}))
    assert set(fleet) <= {s["InstanceId"] for p in pages for s in p["InstanceStatuses"]}


def test_console_output_and_password_data(ec2: Any, fleet: list[str]) -> None:
    out = ec2.get_console_output(InstanceId=fleet[0])
    assert out["InstanceId"] == fleet[0]
    # botocore base64-decodes Output (a failure would raise in its handler).
    assert isinstance(out.get("Output", ""), str)
    assert "Timestamp" in out
    latest = ec2.get_console_output(InstanceId=fleet[0], Latest=True)
    assert latest["InstanceId"] == fleet[0]
    pwd = ec2.get_password_data(InstanceId=fleet[0])
    assert pwd["InstanceId"] == fleet[0]
    assert pwd["PasswordData"] == ""  # a Linux image has no Windows password


def test_instance_attributes(ec2: Any, fleet: list[str], instance_type: str,
                             cleanup: Any) -> None:
    iid = fleet[0]

    def attr(name: str) -> dict[str, Any]:
        got = ec2.describe_instance_attribute(InstanceId=iid, Attribute=name)
        assert got["InstanceId"] == iid
        return got

    assert attr("instanceType")["InstanceType"] == {"Value": instance_type}
    assert "UserData" in attr("userData")
    assert attr("disableApiTermination")["DisableApiTermination"] == {"Value": False}
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": True})
    cleanup(lambda: ec2.modify_instance_attribute(InstanceId=iid,
                                                  DisableApiTermination={"Value": False}))
    assert attr("disableApiTermination")["DisableApiTermination"] == {"Value": True}
    with pytest.raises(ClientError) as err:
        ec2.terminate_instances(InstanceIds=[iid])
    assert err.value.response["Error"]["Code"] == "OperationNotPermitted"
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
    # Changing the type of a running instance is refused.
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.small"})
    assert err.value.response["Error"]["Code"] == "IncorrectInstanceState"
