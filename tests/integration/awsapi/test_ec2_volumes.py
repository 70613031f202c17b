"""EBS volumes through boto3 (and a few awscli calls): lifecycle, attach/detach,
modify, status, paging, errors, waiters and tenant isolation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

WAIT = {"Delay": 0.2, "MaxAttempts": 100}
ZONE = "us-east-1a"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _tag() -> str:
    return uuid.uuid4().hex[:10]


def _image_id(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return next(i["ImageId"] for i in images if i["Name"].startswith("amzn2"))


def _running_instance(ec2: Any) -> str:
    iid = ec2.run_instances(ImageId=_image_id(ec2), MinCount=1, MaxCount=1)[
        "Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    return str(iid)


def _volume(ec2: Any, vid: str) -> dict[str, Any]:
    return ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]  # type: ignore[no-any-return]


def _until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


# ------------------------------------------------------------------ lifecycle
def test_create_describe_delete_lifecycle(ec2: Any) -> None:
    mark = _tag()
    vol = ec2.create_volume(
        AvailabilityZone=ZONE, Size=5, VolumeType="gp3",
        TagSpecifications=[{"ResourceType": "volume",
                            "Tags": [{"Key": "mark", "Value": mark}]}])
    vid = vol["VolumeId"]
    assert vid.startswith("vol-") and len(vid) == 21
    assert vol["Size"] == 5 and vol["VolumeType"] == "gp3"
    assert vol["State"] in ("creating", "available")
    assert vol["AvailabilityZone"] == ZONE and vol["Encrypted"] is False
    assert vol["Iops"] == 3000 and vol["Throughput"] == 125
    assert vol["Tags"] == [{"Key": "mark", "Value": mark}]
    assert vol["CreateTime"].tzinfo is not None
    assert vol["SnapshotId"] == ""

    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    found = _volume(ec2, vid)
    assert found["State"] == "available" and found["Attachments"] == []
    assert found["MultiAttachEnabled"] is False

    def ids(*filters: dict[str, Any]) -> set[str]:
        return {v["VolumeId"] for v in ec2.describe_volumes(Filters=list(filters))["Volumes"]}

    mine = {"Name": "tag:mark", "Values": [mark]}
    assert ids(mine) == {vid}
    assert ids(mine, {"Name": "size", "Values": ["5"]}) == {vid}
    assert ids(mine, {"Name": "size", "Values": ["6"]}) == set()
    assert ids(mine, {"Name": "volume-type", "Values": ["gp*"]}) == {vid}
    assert ids(mine, {"Name": "status", "Values": ["available"]}) == {vid}
    assert ids(mine, {"Name": "status", "Values": ["in-use", "bogus"]}) == set()
    assert ids(mine, {"Name": "availability-zone", "Values": [ZONE]}) == {vid}
    assert ids(mine, {"Name": "encrypted", "Values": ["false"]}) == {vid}
    assert ids(mine, {"Name": "encrypted", "Values": ["true"]}) == set()
    assert ids({"Name": "volume-id", "Values": [vid]}) == {vid}
    assert ids(mine, {"Name": "tag-key", "Values": ["mark"]}) == {vid}
    stamp = found["CreateTime"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert ids(mine, {"Name": "create-time", "Values": [stamp]}) == {vid}
    assert ids(mine, {"Name": "create-time", "Values": ["2001-01-01T00:00:00Z"]}) == set()

    ec2.delete_volume(VolumeId=vid)
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    with pytest.raises(ClientError) as err:
        ec2.describe_volumes(VolumeIds=[vid])
    assert _code(err) == "InvalidVolume.NotFound"
    assert vid in err.value.response["Error"]["Message"]
    assert ids(mine) == set()


def test_gp2_and_io1_report_aws_iops(ec2: Any) -> None:
    gp2 = ec2.create_volume(AvailabilityZone=ZONE, Size=10)
    assert gp2["VolumeType"] == "gp2" and gp2["Iops"] == 100
    assert "Throughput" not in gp2
    io1 = ec2.create_volume(AvailabilityZone=ZONE, Size=10, VolumeType="io1", Iops=500)
    assert io1["VolumeType"] == "io1" and io1["Iops"] == 500
    for v in (gp2, io1):
        ec2.delete_volume(VolumeId=v["VolumeId"])


def test_paging_with_paginator(ec2: Any) -> None:
    mark = _tag()
    made = {ec2.create_volume(
        AvailabilityZone=ZONE, Size=1,
        TagSpecifications=[{"ResourceType": "volume",
                            "Tags": [{"Key": "page", "Value": mark}]}])["VolumeId"]
        for _ in range(7)}
    seen: list[str] = []
    pages = 0
    for page in ec2.get_paginator("describe_volumes").paginate(
            Filters=[{"Name": "tag:page", "Values": [mark]}],
            PaginationConfig={"PageSize": 5}):
        assert len(page["Volumes"]) <= 5
        seen += [v["VolumeId"] for v in page["Volumes"]]
        pages += 1
    assert sorted(seen) == sorted(made) and pages == 2
    statuses = [s["VolumeId"] for page in ec2.get_paginator("describe_volume_status").paginate(
        VolumeIds=sorted(made), PaginationConfig={"PageSize": 5})
        for s in page["VolumeStatuses"]]
    assert sorted(statuses) == sorted(made)
    for vid in made:
        ec2.delete_volume(VolumeId=vid)


# ------------------------------------------------------------------ attach/detach
def test_attach_detach_cycle(ec2: Any) -> None:
    iid = _running_instance(ec2)
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=2)["VolumeId"]
    other = ec2.create_volume(AvailabilityZone=ZONE, Size=2)["VolumeId"]

    att = ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdh")
    assert att["State"] == "attaching" and att["Device"] == "/dev/sdh"
    assert att["InstanceId"] == iid and att["VolumeId"] == vid
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    _until(lambda: _volume(ec2, vid)["Attachments"][0]["State"] == "attached")
    found = _volume(ec2, vid)
    assert found["State"] == "in-use"
    assert found["Attachments"] == [{
        "VolumeId": vid, "InstanceId": iid, "Device": "/dev/sdh", "State": "attached",
        "AttachTime": found["Attachments"][0]["AttachTime"], "DeleteOnTermination": False}]

    def ids(name: str, *values: str) -> set[str]:
        return {v["VolumeId"] for v in ec2.describe_volumes(
            Filters=[{"Name": name, "Values": list(values)}])["Volumes"]}

    assert vid in ids("attachment.instance-id", iid)
    assert vid in ids("attachment.device", "/dev/sdh") & ids("attachment.status", "attached")
    assert vid not in ids("attachment.device", "/dev/sdf")
    assert vid in ids("status", "in-use")
    assert vid in ids("attachment.delete-on-termination", "false")
    assert ids("attachment.instance-id", iid) >= {vid}
    root = [v for v in ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["Volumes"] if v["VolumeId"] != vid]
    assert len(root) == 1 and root[0]["Attachments"][0]["Device"] == "/dev/xvda"
    assert root[0]["Attachments"][0]["DeleteOnTermination"] is True

    for call, code in (
        (lambda: ec2.delete_volume(VolumeId=vid), "VolumeInUse"),
        (lambda: ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdg"),
         "VolumeInUse"),
        (lambda: ec2.attach_volume(VolumeId=other, InstanceId=iid, Device="/dev/sdh"),
         "InvalidParameterValue"),
        (lambda: ec2.attach_volume(VolumeId=other, InstanceId=iid, Device="/dev/sda"),
         "InvalidParameterValue"),
        (lambda: ec2.attach_volume(VolumeId=other, InstanceId="i-0123456789abcdef0",
                                   Device="/dev/sdg"), "InvalidInstanceID.NotFound"),
        (lambda: ec2.detach_volume(VolumeId=vid, Device="/dev/sdz"),
         "InvalidAttachment.NotFound"),
        (lambda: ec2.detach_volume(VolumeId=other), "IncorrectState"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == code

    det = ec2.detach_volume(VolumeId=vid, InstanceId=iid)
    assert det["State"] == "detaching" and det["Device"] == "/dev/sdh"
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    assert _volume(ec2, vid)["Attachments"] == []
    # The freed slot can be taken again, and by another name for the same slot.
    ec2.attach_volume(VolumeId=other, InstanceId=iid, Device="/dev/xvdh")
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[other], WaiterConfig=WAIT)
    # in-use comes with the request; detaching must wait until the attachment settles
    # (AWS also refuses to detach an "attaching" volume with IncorrectState).
    _until(lambda: _volume(ec2, other)["Attachments"][0]["State"] == "attached")
    assert _volume(ec2, other)["Attachments"][0]["Device"] == "/dev/sdh"
    ec2.detach_volume(VolumeId=other, Force=True)
    ec2.get_waiter("volume_available").wait(VolumeIds=[other], WaiterConfig=WAIT)
    for v in (vid, other):
        ec2.delete_volume(VolumeId=v)
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[vid, other], WaiterConfig=WAIT)
    ec2.terminate_instances(InstanceIds=[iid])


def test_instance_block_devices_show_an_attached_volume(ec2: Any) -> None:
    iid = _running_instance(ec2)
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
    _until(lambda: _volume(ec2, vid)["Attachments"][0]["State"] == "attached")
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    devices = {b["Ebs"]["VolumeId"]: b["DeviceName"] for b in inst["BlockDeviceMappings"]}
    assert devices[vid] == "/dev/sdf"
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    # A data volume outlives its instance (DeleteOnTermination is false).
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    ec2.delete_volume(VolumeId=vid)


# ------------------------------------------------------------------ modify
def test_modify_volume_and_describe_modifications(ec2: Any) -> None:
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=5)["VolumeId"]
    mod = ec2.modify_volume(VolumeId=vid, Size=8)["VolumeModification"]
    assert mod["VolumeId"] == vid and mod["ModificationState"] == "modifying"
    assert (mod["OriginalSize"], mod["TargetSize"]) == (5, 8)
    assert mod["OriginalVolumeType"] == mod["TargetVolumeType"] == "gp2"
    assert mod["Progress"] == 0 and mod["StartTime"].tzinfo is not None

    def modifications(**kw: Any) -> list[dict[str, Any]]:
        return ec2.describe_volumes_modifications(**kw)[  # type: ignore[no-any-return]
            "VolumesModifications"]

    _until(lambda: modifications(VolumeIds=[vid])[0]["ModificationState"] == "completed")
    done = modifications(VolumeIds=[vid])[0]
    assert done["Progress"] == 100 and done["EndTime"] >= done["StartTime"]
    assert _volume(ec2, vid)["Size"] == 8

    retyped = ec2.modify_volume(VolumeId=vid, VolumeType="gp3")["VolumeModification"]
    assert (retyped["OriginalVolumeType"], retyped["TargetVolumeType"]) == ("gp2", "gp3")
    assert retyped["TargetSize"] == 8
    _until(lambda: all(m["ModificationState"] == "completed"
                       for m in modifications(VolumeIds=[vid])))
    assert _volume(ec2, vid)["VolumeType"] == "gp3"
    assert len(modifications(VolumeIds=[vid])) == 2
    by_target = modifications(Filters=[{"Name": "volume-id", "Values": [vid]},
                                       {"Name": "target-volume-type", "Values": ["gp3"]}])
    assert [m["TargetVolumeType"] for m in by_target] == ["gp3"]
    assert modifications(Filters=[{"Name": "volume-id", "Values": [vid]},
                                  {"Name": "modification-state",
                                   "Values": ["modifying"]}]) == []

    fresh = ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    for call, code in (
        (lambda: ec2.modify_volume(VolumeId=vid, Size=4), "InvalidParameterValue"),
        (lambda: ec2.modify_volume(VolumeId=vid, Size=8, VolumeType="gp3"),
         "InvalidParameterValue"),
        (lambda: ec2.modify_volume(VolumeId=vid, Size=20000), "InvalidParameterValue"),
        (lambda: ec2.modify_volume(VolumeId=vid), "MissingParameter"),
        (lambda: ec2.modify_volume(VolumeId="vol-0123456789abcdef0", Size=9),
         "InvalidVolume.NotFound"),
        (lambda: modifications(VolumeIds=["vol-0123456789abcdef0"]), "InvalidVolume.NotFound"),
        (lambda: modifications(VolumeIds=[fresh]), "InvalidVolumeModification.NotFound"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == code
    for v in (vid, fresh):
        ec2.delete_volume(VolumeId=v)


def test_volume_status_and_attribute(ec2: Any) -> None:
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    status = ec2.describe_volume_status(VolumeIds=[vid])["VolumeStatuses"]
    assert status[0]["VolumeId"] == vid and status[0]["AvailabilityZone"] == ZONE
    assert status[0]["VolumeStatus"]["Status"] == "ok"
    assert {d["Name"] for d in status[0]["VolumeStatus"]["Details"]} == {
        "io-enabled", "io-performance"}
    assert status[0]["Events"] == [] and status[0]["Actions"] == []
    ok = ec2.describe_volume_status(VolumeIds=[vid], Filters=[
        {"Name": "volume-status.status", "Values": ["ok"]}])["VolumeStatuses"]
    assert [s["VolumeId"] for s in ok] == [vid]
    assert ec2.describe_volume_status(VolumeIds=[vid], Filters=[
        {"Name": "volume-status.status", "Values": ["impaired"]}])["VolumeStatuses"] == []
    attr = ec2.describe_volume_attribute(VolumeId=vid, Attribute="autoEnableIO")
    assert attr["VolumeId"] == vid and attr["AutoEnableIO"] == {"Value": False}
    codes = ec2.describe_volume_attribute(VolumeId=vid, Attribute="productCodes")
    assert codes["ProductCodes"] == []
    ec2.delete_volume(VolumeId=vid)
    with pytest.raises(ClientError) as err:
        ec2.describe_volume_status(VolumeIds=[vid])
    assert _code(err) == "InvalidVolume.NotFound"


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(("kwargs", "code"), [
    ({"Size": 1}, "MissingParameter"),
    ({"AvailabilityZone": ZONE}, "MissingParameter"),
    ({"AvailabilityZone": "us-east-1z", "Size": 1}, "InvalidParameterValue"),
    ({"AvailabilityZone": ZONE, "Size": 20000}, "InvalidParameterValue"),
    ({"AvailabilityZone": ZONE, "Size": 10, "VolumeType": "st1"}, "InvalidParameterValue"),
    ({"AvailabilityZone": ZONE, "Size": 10, "VolumeType": "io1"}, "MissingParameter"),
    ({"AvailabilityZone": ZONE, "Size": 10, "Iops": 300}, "InvalidParameterCombination"),
    ({"AvailabilityZone": ZONE, "Size": 10, "VolumeType": "gp2", "Throughput": 200},
     "InvalidParameterCombination"),
    ({"AvailabilityZone": ZONE, "Size": 1, "Encrypted": True}, "UnsupportedOperation"),
    ({"AvailabilityZone": ZONE, "SnapshotId": "snap-bogus"}, "InvalidSnapshotID.Malformed"),
    ({"AvailabilityZone": ZONE, "SnapshotId": "snap-0123456789abcdef0"},
     "InvalidSnapshot.NotFound"),
    ({"AvailabilityZone": ZONE, "Size": 1,
      "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "k", "Value": "v"}]}]},
     "InvalidParameterValue"),
])
def test_create_volume_errors(ec2: Any, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as err:
        ec2.create_volume(**kwargs)
    assert _code(err) == code


@pytest.mark.parametrize(("call", "code"), [
    (lambda c: c.describe_volumes(VolumeIds=["vol-bogus"]), "InvalidVolumeID.Malformed"),
    (lambda c: c.describe_volumes(VolumeIds=["i-0123456789abcdef0"]),
     "InvalidVolumeID.Malformed"),
    (lambda c: c.describe_volumes(VolumeIds=["vol-0123456789abcdef0"]),
     "InvalidVolume.NotFound"),
    (lambda c: c.describe_volumes(VolumeIds=["vol-0123456789abcdef0"], MaxResults=5),
     "InvalidParameterCombination"),
    (lambda c: c.describe_volumes(MaxResults=2), "InvalidParameterValue"),
    (lambda c: c.describe_volumes(Filters=[{"Name": "bogus", "Values": ["x"]}]),
     "InvalidParameterValue"),
    (lambda c: c.describe_volumes(NextToken="garbage"), "InvalidParameterValue"),
    (lambda c: c.delete_volume(VolumeId="vol-0123456789abcdef0"), "InvalidVolume.NotFound"),
    (lambda c: c.delete_volume(VolumeId="volume-1"), "InvalidVolumeID.Malformed"),
    (lambda c: c.attach_volume(VolumeId="vol-0123456789abcdef0",
                               InstanceId="i-0123456789abcdef0", Device="/dev/sdf"),
     "InvalidInstanceID.NotFound"),
    (lambda c: c.detach_volume(VolumeId="vol-0123456789abcdef0"), "InvalidVolume.NotFound"),
    (lambda c: c.describe_volume_attribute(VolumeId="vol-0123456789abcdef0",
                                           Attribute="autoEnableIO"),
     "InvalidVolume.NotFound"),
])
def test_volume_errors(ec2: Any, call: Callable[[Any], Any], code: str) -> None:
    with pytest.raises(ClientError) as err:
        call(ec2)
    assert _code(err) == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# ------------------------------------------------------------------ isolation
def test_tenant_isolation(server: Any, ec2: Any) -> None:
    alice = server.ec2(*server.new_user(f"alice-{_tag()}"))
    bob = server.ec2(*server.new_user(f"bob-{_tag()}"))
    vid = alice.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    assert vid not in {v["VolumeId"] for v in bob.describe_volumes()["Volumes"]}
    assert vid in {v["VolumeId"] for v in alice.describe_volumes()["Volumes"]}
    for call in (lambda: bob.describe_volumes(VolumeIds=[vid]),
                 lambda: bob.delete_volume(VolumeId=vid),
                 lambda: bob.modify_volume(VolumeId=vid, Size=2),
                 lambda: bob.describe_volume_status(VolumeIds=[vid]),
                 lambda: bob.create_snapshot(VolumeId=vid)):
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == "InvalidVolume.NotFound"
    # Through EC2 the admin sees its own account's volumes only, as on AWS.
    with pytest.raises(ClientError) as err:
        _volume(ec2, vid)
    assert _code(err) == "InvalidVolume.NotFound"
    alice.delete_volume(VolumeId=vid)


# ------------------------------------------------------------------ awscli
def _aws(server: Any, *args: str) -> Any:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key,
           "AWS_SECRET_ACCESS_KEY": server.secret_key, "AWS_DEFAULT_REGION": server.region,
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    out = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "--output", "json",
         "ec2", *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    return out


def test_awscli_create_wait_describe_delete(server: Any) -> None:
    made = _aws(server, "create-volume", "--availability-zone", ZONE, "--size", "3",
                "--volume-type", "gp3")
    assert made.returncode == 0, made.stderr
    vid = json.loads(made.stdout)["VolumeId"]
    waited = _aws(server, "wait", "volume-available", "--volume-ids", vid)
    assert waited.returncode == 0, waited.stderr
    listed = _aws(server, "describe-volumes", "--volume-ids", vid,
                  "--query", "Volumes[0].[Size,VolumeType,State]")
    assert json.loads(listed.stdout) == [3, "gp3", "available"]
    assert _aws(server, "delete-volume", "--volume-id", vid).returncode == 0
    gone = _aws(server, "describe-volumes", "--volume-ids", vid)
    assert gone.returncode != 0 and "InvalidVolume.NotFound" in gone.stderr


# ------------------------------------------------------------------ two zones
@pytest.fixture
def two_zone(db_url: str, tmp_path: Path) -> Iterator[Any]:
    """A private server with a second zone (the shared one must keep a single zone)."""
    from tests.support import start_live_server

    live, httpd = start_live_server(db_url, tmp_path)
    with live.runtime.unit() as services:
        region = services.catalog.regions(())[0]
        zone = services.inventory.create_zone(region, "us-east-1b")
        services.inventory.add_storage_pool(zone, "us-east-1b-primary", "nfs://sim/b",
                                            1024**4)
    yield live
    httpd.shutdown()
    live.runtime.shutdown()


def _slow(server: Any, op: str, seconds: float | None) -> None:
    from sqlalchemy import select

    from engine.jobs.drivers import HostAccess
    from engine.models import Host

    with server.runtime.unit(readonly=True) as services:
        hosts = [HostAccess(h.uuid, h.hypervisor, h.url, h.username, h.password)
                 for h in services.session.scalars(select(Host))]
    for h in hosts:
        server.runtime.drivers.get(h).configure(**{f"delay.{op}": seconds})


def test_attach_across_zones_is_zone_mismatch(two_zone: Any) -> None:
    ec2 = two_zone.ec2()
    iid = _running_instance(ec2)
    vid = ec2.create_volume(AvailabilityZone="us-east-1b", Size=1)["VolumeId"]
    assert _volume(ec2, vid)["AvailabilityZone"] == "us-east-1b"
    with pytest.raises(ClientError) as err:
        ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
    assert _code(err) == "InvalidVolume.ZoneMismatch"
    assert vid in err.value.response["Error"]["Message"]
    zoned = ec2.describe_volumes(Filters=[{"Name": "availability-zone",
                                           "Values": ["us-east-1b"]}])["Volumes"]
    assert [v["VolumeId"] for v in zoned] == [vid]
    by_zone_id = ec2.create_volume(AvailabilityZoneId="use1-az2", Size=1)
    assert by_zone_id["AvailabilityZone"] == "us-east-1b"


def test_attach_to_a_pending_instance_is_incorrect_state(two_zone: Any) -> None:
    ec2 = two_zone.ec2()
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    _slow(two_zone, "start", 3)
    try:
        iid = ec2.run_instances(ImageId=_image_id(ec2), MinCount=1, MaxCount=1)[
            "Instances"][0]["InstanceId"]
        with pytest.raises(ClientError) as err:
            ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
        assert _code(err) == "IncorrectState"
    finally:
        _slow(two_zone, "start", None)


def test_volume_states_while_jobs_run(two_zone: Any) -> None:
    """With slow disks a volume is visibly creating/attaching/detaching."""
    ec2 = two_zone.ec2()
    iid = _running_instance(ec2)
    vid = ec2.create_volume(AvailabilityZone=ZONE, Size=1)["VolumeId"]
    _slow(two_zone, "attach_disk", 1.5)
    try:
        ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdg")
        seen = _volume(ec2, vid)
        assert seen["State"] == "in-use" and seen["Attachments"][0]["State"] == "attaching"
        attaching = ec2.describe_volumes(Filters=[
            {"Name": "attachment.status", "Values": ["attaching"]}])["Volumes"]
        assert [v["VolumeId"] for v in attaching] == [vid]
        with pytest.raises(ClientError) as err:
            ec2.detach_volume(VolumeId=vid)
        assert _code(err) == "IncorrectState"
        _until(lambda: _volume(ec2, vid)["Attachments"][0]["State"] == "attached")
    finally:
        _slow(two_zone, "attach_disk", None)
    snap = ec2.create_snapshot(VolumeId=vid)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap], WaiterConfig=WAIT)
    _slow(two_zone, "create_disk", 1.5)
    try:
        clone = ec2.create_volume(AvailabilityZone=ZONE, SnapshotId=snap)
        assert clone["State"] == "creating" and clone["SnapshotId"] == snap
        assert clone["Size"] == 1
        creating = ec2.describe_volumes(Filters=[{"Name": "status", "Values": ["creating"]}])
        assert [v["VolumeId"] for v in creating["Volumes"]] == [clone["VolumeId"]]
        status = ec2.describe_volume_status(VolumeIds=[clone["VolumeId"]])["VolumeStatuses"]
        assert status[0]["VolumeStatus"]["Status"] == "insufficient-data"
        with pytest.raises(ClientError) as err:
            ec2.delete_snapshot(SnapshotId=snap)
        assert _code(err) == "InvalidSnapshot.InUse"
        ec2.get_waiter("volume_available").wait(VolumeIds=[clone["VolumeId"]],
                                                WaiterConfig=WAIT)
    finally:
        _slow(two_zone, "create_disk", None)
    by_snapshot = ec2.describe_volumes(Filters=[{"Name": "snapshot-id", "Values": [snap]}])
    assert [v["VolumeId"] for v in by_snapshot["Volumes"]] == [clone["VolumeId"]]
