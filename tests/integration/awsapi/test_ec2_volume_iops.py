"""Provisioned IOPS and throughput through boto3: CreateVolume's per-type rules,
the values DescribeVolumes reports, ModifyVolume changing them and
DescribeVolumesModifications reporting original and target values; and the
CloudStack view (miniops/maxiops) of the same volume."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from cs import CloudStack

from tests.integration.awsapi.volume_waits import wait_modified

ZONE = "us-east-1a"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _volume(ec2: Any, vid: str) -> dict[str, Any]:
    return ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]  # type: ignore[no-any-return]


def _create(ec2: Any, **kw: Any) -> str:
    return ec2.create_volume(AvailabilityZone=ZONE, **kw)["VolumeId"]  # type: ignore[no-any-return]


def test_create_records_iops_and_throughput(ec2: Any) -> None:
    gp3 = ec2.create_volume(AvailabilityZone=ZONE, Size=10, VolumeType="gp3", Iops=4000,
                            Throughput=250)
    assert (gp3["Iops"], gp3["Throughput"]) == (4000, 250)
    io1 = _create(ec2, Size=10, VolumeType="io1", Iops=500)
    io2 = _create(ec2, Size=10, VolumeType="io2", Iops=10000)
    plain = _create(ec2, Size=10, VolumeType="gp3")
    gp2 = _create(ec2, Size=10, VolumeType="gp2")
    got = {v["VolumeId"]: v for v in ec2.describe_volumes(
        VolumeIds=[gp3["VolumeId"], io1, io2, plain, gp2])["Volumes"]}
    assert (got[gp3["VolumeId"]]["Iops"], got[gp3["VolumeId"]]["Throughput"]) == (4000, 250)
    assert got[io1]["Iops"] == 500 and "Throughput" not in got[io1]
    assert got[io2]["Iops"] == 10000
    assert (got[plain]["Iops"], got[plain]["Throughput"]) == (3000, 125)  # gp3 defaults
    assert got[gp2]["Iops"] == 100 and "Throughput" not in got[gp2]  # gp2 baseline
    for v in got:
        ec2.delete_volume(VolumeId=v)


@pytest.mark.parametrize(("kw", "code"), [
    ({"VolumeType": "gp2", "Iops": 3000}, "InvalidParameterCombination"),
    ({"VolumeType": "standard", "Iops": 300}, "InvalidParameterCombination"),
    ({"VolumeType": "st1", "Size": 500, "Iops": 300}, "InvalidParameterCombination"),
    ({"VolumeType": "sc1", "Size": 500, "Iops": 300}, "InvalidParameterCombination"),
    ({"VolumeType": "io1", "Throughput": 200, "Iops": 500}, "InvalidParameterCombination"),
    ({"VolumeType": "gp2", "Throughput": 200}, "InvalidParameterCombination"),
    ({"VolumeType": "io1"}, "MissingParameter"),
    ({"VolumeType": "io2"}, "MissingParameter"),
    ({"VolumeType": "io1", "Iops": 50}, "InvalidParameterValue"),
    ({"VolumeType": "io1", "Iops": 600}, "InvalidParameterValue"),  # > 50 per GiB
    ({"VolumeType": "io2", "Iops": 300000}, "InvalidParameterValue"),
    ({"VolumeType": "gp3", "Iops": 2000}, "InvalidParameterValue"),
    ({"VolumeType": "gp3", "Iops": 16001}, "InvalidParameterValue"),
    ({"VolumeType": "gp3", "Iops": 6000}, "InvalidParameterValue"),  # > 500 per GiB
    ({"VolumeType": "gp3", "Throughput": 100}, "InvalidParameterValue"),
    ({"VolumeType": "gp3", "Throughput": 1001}, "InvalidParameterValue"),
    ({"VolumeType": "gp3", "Throughput": 1000}, "InvalidParameterValue"),  # > 0.25 per IOPS
])
def test_create_refusals(ec2: Any, kw: dict[str, Any], code: str) -> None:
    args = {"Size": 10, **kw}
    with pytest.raises(ClientError) as err:
        _create(ec2, **args)
    assert _code(err) == code


def test_modify_changes_iops_and_reports_them(ec2: Any) -> None:
    vid = _create(ec2, Size=20, VolumeType="gp3")
    change = ec2.modify_volume(VolumeId=vid, Iops=6000, Throughput=400)["VolumeModification"]
    assert (change["OriginalIops"], change["TargetIops"]) == (3000, 6000)
    assert (change["OriginalThroughput"], change["TargetThroughput"]) == (125, 400)
    assert change["OriginalSize"] == change["TargetSize"] == 20
    wait_modified(ec2, vid)
    v = _volume(ec2, vid)
    assert (v["Iops"], v["Throughput"]) == (6000, 400)
    # To io1: IOPS given; the throughput goes away.
    ec2.modify_volume(VolumeId=vid, VolumeType="io1", Iops=1000)
    wait_modified(ec2, vid)
    v = _volume(ec2, vid)
    assert (v["VolumeType"], v["Iops"]) == ("io1", 1000) and "Throughput" not in v
    mods = ec2.describe_volumes_modifications(VolumeIds=[vid])["VolumesModifications"]
    last = max(mods, key=lambda m: m["StartTime"])
    assert (last["OriginalVolumeType"], last["TargetVolumeType"]) == ("gp3", "io1")
    assert (last["OriginalIops"], last["TargetIops"]) == (6000, 1000)
    assert last["OriginalThroughput"] == 400 and "TargetThroughput" not in last
    # Growing keeps the provisioned IOPS of the same type.
    ec2.modify_volume(VolumeId=vid, Size=30)
    wait_modified(ec2, vid)
    assert _volume(ec2, vid)["Iops"] == 1000
    # To gp2: IOPS follow the size again.
    ec2.modify_volume(VolumeId=vid, VolumeType="gp2")
    wait_modified(ec2, vid)
    assert _volume(ec2, vid)["Iops"] == 100
    ec2.delete_volume(VolumeId=vid)


def test_modify_refusals(ec2: Any) -> None:
    vid = _create(ec2, Size=10, VolumeType="gp2")
    gp3 = _create(ec2, Size=10, VolumeType="gp3", Iops=3000, Throughput=125)
    for target, kw, code in (
        (vid, {"Iops": 3000}, "InvalidParameterCombination"),
        (vid, {"Throughput": 200}, "InvalidParameterCombination"),
        (vid, {"VolumeType": "io1", "Iops": 5000}, "InvalidParameterValue"),
        (gp3, {"Iops": 3000, "Throughput": 125}, "InvalidParameterValue"),  # nothing changes
        (gp3, {"Throughput": 2000}, "InvalidParameterValue"),
    ):
        with pytest.raises(ClientError) as err:
            ec2.modify_volume(VolumeId=target, **kw)
        assert _code(err) == code, kw
    assert (_volume(ec2, gp3)["Iops"], _volume(ec2, gp3)["Throughput"]) == (3000, 125)
    for v in (vid, gp3):
        ec2.delete_volume(VolumeId=v)


def test_cloudstack_shows_provisioned_iops(server: Any, ec2: Any) -> None:
    vid = _create(ec2, Size=10, VolumeType="io1", Iops=400)
    cs = CloudStack(endpoint=server.cloudstack_url, key=server.access_key,
                    secret=server.secret_key)
    found = [v for v in cs.listVolumes(listall="true")["volume"]
             if v["id"] == ec2_uuid(server, vid)]
    assert found and (found[0]["miniops"], found[0]["maxiops"]) == (400, 400)
    ec2.delete_volume(VolumeId=vid)


def ec2_uuid(server: Any, volume_id: str) -> str:
    """The engine uuid of an EC2 volume id."""
    from awsapi import ids
    from awsapi.ids import Kind
    from engine.models import Volume

    sid = ids.parse(volume_id, Kind.VOLUME)
    with server.runtime.unit(readonly=True) as services:
        return str(services.session.query(Volume.uuid).filter(Volume.sid == sid).scalar())
