"""Error cases with AWS's exact codes and statuses: malformed and unknown ids, a
missing parameter, an unknown filter, out-of-range MaxResults, bad signatures,
expired requests, DryRun, unknown actions. (Every error body is also checked
by the harness: Response/Errors/Error/Code,Message + RequestID, never a 5xx.)"""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
import requests
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from harness import Target, client
from shapes import check_error_xml


def _error(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    response = err.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize(("method", "kwargs", "code"), [
    ("describe_instances", {"InstanceIds": ["i-nothex!"]}, "InvalidInstanceID.Malformed"),
    ("describe_instances", {"InstanceIds": ["vol-0123456789abcdef0"]},
     "InvalidInstanceID.Malformed"),
    ("describe_instances", {"InstanceIds": ["i-0123456789abcdef0"]},
     "InvalidInstanceID.NotFound"),
    ("stop_instances", {"InstanceIds": ["i-0123456789abcdef0"]}, "InvalidInstanceID.NotFound"),
    ("describe_volumes", {"VolumeIds": ["vol-xyz"]}, "InvalidVolumeID.Malformed"),
    ("describe_volumes", {"VolumeIds": ["vol-0123456789abcdef0"]}, "InvalidVolume.NotFound"),
    ("describe_snapshots", {"SnapshotIds": ["snap-xyz"]}, "InvalidSnapshotID.Malformed"),
    ("describe_snapshots", {"SnapshotIds": ["snap-0123456789abcdef0"]},
     "InvalidSnapshot.NotFound"),
    ("describe_images", {"ImageIds": ["ami-xyz"]}, "InvalidAMIID.Malformed"),
    ("describe_images", {"ImageIds": ["ami-0123456789abcdef0"]}, "InvalidAMIID.NotFound"),
    ("describe_security_groups", {"GroupIds": ["sg-xyz"]}, "InvalidGroupId.Malformed"),
    ("describe_security_groups", {"GroupIds": ["sg-0123456789abcdef0"]},
     "InvalidGroup.NotFound"),
    ("describe_key_pairs", {"KeyNames": ["no-such-key-conformance"]},
     "InvalidKeyPair.NotFound"),
    ("describe_addresses", {"AllocationIds": ["eipalloc-0123456789abcdef0"]},
     "InvalidAllocationID.NotFound"),
    ("describe_vpcs", {"VpcIds": ["vpc-0123456789abcdef0"]}, "InvalidVpcID.NotFound"),
    ("describe_subnets", {"SubnetIds": ["subnet-0123456789abcdef0"]},
     "InvalidSubnetID.NotFound"),
    ("get_console_output", {"InstanceId": "i-0123456789abcdef0"},
     "InvalidInstanceID.NotFound"),
    ("delete_volume", {"VolumeId": "vol-0123456789abcdef0"}, "InvalidVolume.NotFound"),
])
def test_malformed_and_unknown_ids(ec2: Any, method: str, kwargs: dict[str, Any],
                                   code: str) -> None:
    assert _error(getattr(ec2, method), **kwargs) == (code, 400)


@pytest.mark.parametrize(("method", "kwargs"), [
    ("create_key_pair", {}),
    ("create_volume", {"Size": 1}),
    ("run_instances", {"MinCount": 1, "MaxCount": 1}),
    ("create_security_group", {"GroupName": "conformance-missing"}),
    ("describe_instance_attribute", {"InstanceId": "i-0123456789abcdef0"}),
])
def test_missing_parameter(raw_ec2: Any, method: str, kwargs: dict[str, Any]) -> None:
    assert _error(getattr(raw_ec2, method), **kwargs) == ("MissingParameter", 400)


def test_unknown_filter_and_bad_max_results(ec2: Any, raw_ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "no-such-filter" in err.value.response["Error"]["Message"]
    assert _error(ec2.describe_volumes, Filters=[{"Name": "bogus", "Values": ["1"]}]) == \
        ("InvalidParameterValue", 400)
    assert _error(raw_ec2.describe_instances, MaxResults=2) == ("InvalidParameterValue", 400)
    assert _error(raw_ec2.describe_instances, NextToken="not-a-token") == \
        ("InvalidParameterValue", 400)


def test_invalid_enum_and_type_values(raw_ec2: Any, image_id: str) -> None:
    assert _error(raw_ec2.run_instances, ImageId=image_id, MinCount=1, MaxCount=1,
                  InstanceType="t9.nonexistent")[0] == "InvalidParameterValue"
    assert _error(raw_ec2.create_volume, Size="big", AvailabilityZone="x")[0] in (
        "InvalidParameterValue", "ValidationError")


def test_wrong_secret_and_unknown_key(target: Target) -> None:
    wrong = client(target, secret_key=target.secret_key + "x")
    assert _error(wrong.describe_regions) == ("AuthFailure", 401)
    unknown = client(target, access_key="AKIAUNKNOWNCONFORM00", secret_key="x" * 40)
    assert _error(unknown.describe_regions) == ("AuthFailure", 401)


def test_expired_and_missing_signatures(target: Target) -> None:
    creds = Credentials(target.access_key, target.secret_key)
    body = {"Action": "DescribeRegions", "Version": "2016-11-15"}
    # Signed 20 minutes ago (beyond the 15 minute clock-skew window).
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=20)
    request = AWSRequest("POST", target.endpoint + "/", data=body)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        SigV4Auth(creds, "ec2", target.region).add_auth(request)
    resp = requests.post(target.endpoint + "/", data=body, headers=dict(request.headers),
                         timeout=30)
    assert resp.status_code in (400, 401) and check_error_xml(resp.content) == []
    assert b"<Code>RequestExpired</Code>" in resp.content
    # A presigned URL whose lifetime has passed.
    presign = AWSRequest("GET", target.endpoint + "/", params=body)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        SigV4QueryAuth(creds, "ec2", target.region, expires=60).add_auth(presign)
    resp = requests.get(presign.url, timeout=30)
    assert b"<Code>RequestExpired</Code>" in resp.content, resp.content
    # No signature at all.
    resp = requests.post(target.endpoint + "/", data=body, timeout=30)
    assert resp.status_code in (400, 401) and check_error_xml(resp.content) == []
    assert b"<Code>MissingAuthenticationToken</Code>" in resp.content
    # A tampered signature.
    good = AWSRequest("POST", target.endpoint + "/", data=body)
    SigV4Auth(creds, "ec2", target.region).add_auth(good)
    headers = dict(good.headers)
    headers["Authorization"] = headers["Authorization"][:-4] + "0000"
    resp = requests.post(target.endpoint + "/", data=body, headers=headers, timeout=30)
    assert resp.status_code == 401 and b"<Code>AuthFailure</Code>" in resp.content


def test_dry_run(ec2: Any, image_id: str, instance_type: str, fleet: list[str],
                 zone: str) -> None:
    calls = [
        (ec2.run_instances, {"ImageId": image_id, "InstanceType": instance_type,
                             "MinCount": 1, "MaxCount": 1}),
        (ec2.describe_instances, {}),
        (ec2.stop_instances, {"InstanceIds": fleet[:1]}),
        (ec2.terminate_instances, {"InstanceIds": fleet[:1]}),
        (ec2.create_volume, {"Size": 1, "AvailabilityZone": zone}),
        (ec2.create_key_pair, {"KeyName": "conformance-dry-run"}),
        (ec2.allocate_address, {"Domain": "vpc"}),
        (ec2.create_tags, {"Resources": fleet[:1], "Tags": [{"Key": "dry", "Value": "1"}]}),
    ]
    for call, kwargs in calls:
        assert _error(call, DryRun=True, **kwargs) == ("DryRunOperation", 412), call
    # Nothing happened.
    inst = ec2.describe_instances(InstanceIds=fleet[:1])["Reservations"][0]["Instances"][0]
    assert inst["State"]["Name"] == "running"
    assert "dry" not in {t["Key"] for t in inst.get("Tags", [])}


def test_dry_run_validates_ids(ec2: Any) -> None:
    assert _error(ec2.stop_instances, InstanceIds=["i-nothex!"], DryRun=True)[0] \
        == "InvalidInstanceID.Malformed"
    assert _error(ec2.stop_instances, InstanceIds=["i-0123456789abcdef0"], DryRun=True)[0] \
        == "InvalidInstanceID.NotFound"


def test_unknown_action(target: Target) -> None:
    creds = Credentials(target.access_key, target.secret_key)
    body = {"Action": "NoSuchActionConformance", "Version": "2016-11-15"}
    request = AWSRequest("POST", target.endpoint + "/", data=body)
    SigV4Auth(creds, "ec2", target.region).add_auth(request)
    resp = requests.post(target.endpoint + "/", data=body, headers=dict(request.headers),
                         timeout=30)
    assert resp.status_code == 400 and check_error_xml(resp.content) == []
    assert b"<Code>InvalidAction</Code>" in resp.content
