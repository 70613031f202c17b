"""RunInstances / DescribeInstances / Start / Stop / Terminate through boto3."""

from __future__ import annotations

import base64

import pytest
from botocore.exceptions import ClientError

WAIT = {"Delay": 0.2, "MaxAttempts": 100}


def _image_id(ec2) -> str:  # type: ignore[no-untyped-def]
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))


def _instances(ec2, ids):  # type: ignore[no-untyped-def]
    res = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i for r in res for i in r["Instances"]}


def test_run_describe_terminate_lifecycle(ec2) -> None:  # type: ignore[no-untyped-def]
    run = ec2.run_instances(
        ImageId=_image_id(ec2), InstanceType="t3.micro", MinCount=2, MaxCount=2,
        UserData="#!/bin/sh\necho hi",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "a"}]}])
    assert run["ReservationId"].startswith("r-")
    assert run["OwnerId"].isdigit() and len(run["OwnerId"]) == 12
    ids = [i["InstanceId"] for i in run["Instances"]]
    assert len(ids) == 2 and all(i.startswith("i-") and len(i) == 19 for i in ids)
    assert {i["State"]["Name"] for i in run["Instances"]} == {"pending"}
    assert sorted(i["AmiLaunchIndex"] for i in run["Instances"]) == [0, 1]

    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=WAIT)
    found = _instances(ec2, ids)
    for inst in found.values():
        assert inst["State"] == {"Code": 16, "Name": "running"}
        assert inst["InstanceType"] == "t3.micro"
        assert inst["PrivateIpAddress"].startswith("172.31.")
        assert inst["Placement"]["AvailabilityZone"] == "us-east-1a"
        assert inst["Tags"] == [{"Key": "team", "Value": "a"}]
        assert inst["BlockDeviceMappings"][0]["Ebs"]["VolumeId"].startswith("vol-")
    assert len({i["PrivateIpAddress"] for i in found.values()}) == 2

    attr = ec2.describe_instances(Filters=[{"Name": "tag:team", "Values": ["a"]},
                                           {"Name": "instance-state-name",
                                            "Values": ["running"]}])
    tagged = {i["InstanceId"] for r in attr["Reservations"] for i in r["Instances"]}
    assert set(ids) <= tagged

    stopped = ec2.stop_instances(InstanceIds=ids[:1])["StoppingInstances"][0]
    assert stopped["PreviousState"]["Name"] == "running"
    assert stopped["CurrentState"]["Name"] == "stopping"
    ec2.get_waiter("instance_stopped").wait(InstanceIds=ids[:1], WaiterConfig=WAIT)
    started = ec2.start_instances(InstanceIds=ids[:1])["StartingInstances"][0]
    assert started["CurrentState"]["Name"] == "pending"
    ec2.get_waiter("instance_running").wait(InstanceIds=ids[:1], WaiterConfig=WAIT)

    term = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert {t["CurrentState"]["Name"] for t in term} == {"shutting-down"}
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig=WAIT)
    # Terminated instances stay visible for a while, like AWS.
    assert {i["State"]["Name"] for i in _instances(ec2, ids).values()} == {"terminated"}
    # Terminating again is harmless.
    again = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert {t["CurrentState"]["Name"] for t in again} == {"terminated"}


def test_user_data_round_trips_into_the_simulated_guest(server, ec2) -> None:  # type: ignore[no-untyped-def]
    run = ec2.run_instances(ImageId=_image_id(ec2), MinCount=1, MaxCount=1,
                            UserData="marker-4711")
    iid = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    from engine.querying import Criterion
    from engine.services.accounts import principal_of
    from engine.services.instance_details import InstanceQuery

    with server.runtime.unit(readonly=True) as services:
        admin = principal_of(services.session, services.accounts.user_by_name("admin"))
        detail = services.instances.list(admin, InstanceQuery(
            criteria=(Criterion("sid", (iid[2:],), False),))).items[0]
        assert base64.b64decode(detail.instance.user_data) == b"marker-4711"
    ec2.terminate_instances(InstanceIds=[iid])


def test_paging_with_max_results_and_next_token(ec2) -> None:  # type: ignore[no-untyped-def]
    run = ec2.run_instances(ImageId=_image_id(ec2), MinCount=7, MaxCount=7,
                            TagSpecifications=[{"ResourceType": "instance",
                                                "Tags": [{"Key": "page", "Value": "p1"}]}])
    ids = {i["InstanceId"] for i in run["Instances"]}
    seen: list[str] = []
    paginator = ec2.get_paginator("describe_instances")
    for page in paginator.paginate(Filters=[{"Name": "tag:page", "Values": ["p1"]}],
                                   PaginationConfig={"PageSize": 5}):
        got = [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
        assert len(got) <= 5
        seen.extend(got)
    assert sorted(seen) == sorted(ids)
    ec2.terminate_instances(InstanceIds=sorted(ids))


def test_client_token_makes_run_instances_idempotent(ec2) -> None:  # type: ignore[no-untyped-def]
    image = _image_id(ec2)
    first = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, ClientToken="tok-1")
    second = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, ClientToken="tok-1")
    assert first["ReservationId"] == second["ReservationId"]
    assert [i["InstanceId"] for i in first["Instances"]] == \
        [i["InstanceId"] for i in second["Instances"]]
    ec2.terminate_instances(InstanceIds=[first["Instances"][0]["InstanceId"]])


@pytest.mark.parametrize(("call", "code"), [
    (lambda c, img: c.describe_instances(InstanceIds=["i-bogus"]), "InvalidInstanceID.Malformed"),
    (lambda c, img: c.describe_instances(InstanceIds=["i-0123456789abcdef0"]),
     "InvalidInstanceID.NotFound"),
    (lambda c, img: c.terminate_instances(InstanceIds=["i-0123456789abcdef0"]),
     "InvalidInstanceID.NotFound"),
    (lambda c, img: c.describe_instances(Filters=[{"Name": "bogus-filter", "Values": ["x"]}]),
     "InvalidParameterValue"),
    (lambda c, img: c.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1),
     "InvalidAMIID.NotFound"),
    (lambda c, img: c.run_instances(ImageId="bogus", MinCount=1, MaxCount=1),
     "InvalidAMIID.Malformed"),
    (lambda c, img: c.run_instances(ImageId=img, MinCount=1, MaxCount=1, InstanceType="x9.huge"),
     "InvalidParameterValue"),
    (lambda c, img: c.run_instances(ImageId=img, MinCount=1, MaxCount=1, KeyName="nope"),
     "InvalidKeyPair.NotFound"),
    (lambda c, img: c.run_instances(ImageId=img, MinCount=1, MaxCount=1,
                                    Placement={"AvailabilityZone": "mars-1a"}),
     "InvalidParameterValue"),
    (lambda c, img: c.describe_instances(InstanceIds=["i-0123456789abcdef0"], MaxResults=5),
     "InvalidParameterCombination"),
    (lambda c, img: c.describe_instances(MaxResults=2), "InvalidParameterValue"),
])
def test_bad_requests_get_aws_error_codes(ec2, call, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as err:
        call(ec2, _image_id(ec2))
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_dry_run_answers_dry_run_operation(ec2) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=_image_id(ec2), MinCount=1, MaxCount=1, DryRun=True)
    assert err.value.response["Error"]["Code"] == "DryRunOperation"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_tenants_do_not_see_each_other(server, ec2) -> None:  # type: ignore[no-untyped-def]
    key, secret = server.new_user("tenant-ec2")
    other = server.ec2(key, secret)
    run = other.run_instances(ImageId=_image_id(other), MinCount=1, MaxCount=1)
    theirs = run["Instances"][0]["InstanceId"]
    mine = ec2.run_instances(ImageId=_image_id(ec2), MinCount=1, MaxCount=1)
    my_id = mine["Instances"][0]["InstanceId"]
    visible = {i["InstanceId"] for r in other.describe_instances()["Reservations"]
               for i in r["Instances"]}
    assert theirs in visible and my_id not in visible
    with pytest.raises(ClientError) as err:
        other.terminate_instances(InstanceIds=[my_id])
    assert err.value.response["Error"]["Code"] == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=[my_id])
    other.terminate_instances(InstanceIds=[theirs])
