"""awsapi.protocol.serializer: result dicts -> EC2 XML.

Every success body is parsed back with botocore's own EC2 response parser and
must give the original result; the fast writer's bytes must equal what
xmltodict.unparse produces for the same document tree.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import xmltodict
from botocore.parsers import create_parser

from awsapi import model
from awsapi.protocol import serializer

_PARSER = create_parser("ec2")
NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
T0 = datetime(2026, 11, 22, 0, 1, 2, 345000, tzinfo=UTC)


def op_of(action: str) -> Any:
    op = model.operation(action)
    assert op is not None
    return op


def botocore_parse(action: str, body: bytes, status: int = 200) -> dict[str, Any]:
    op = op_of(action)
    parsed: dict[str, Any] = _PARSER.parse(
        {"body": body, "headers": {}, "status_code": status}, op.output_shape
    )
    return parsed


def round_trip(action: str, result: dict[str, Any]) -> dict[str, Any]:
    op = op_of(action)
    body = serializer.success(op, result, "req-7")
    reference = serializer.XML_HEADER + xmltodict.unparse(
        serializer.to_tree(op, result, "req-7"), full_document=False, short_empty_elements=True
    )
    assert body == reference.encode("utf-8")
    parsed = botocore_parse(action, body)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-7"
    return parsed


def tags(**pairs: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def instance(n: int) -> dict[str, Any]:
    return {
        "InstanceId": f"i-{n:017x}",
        "ImageId": "ami-0123456789abcdef0",
        "State": {"Code": 16, "Name": "running"},
        "PrivateDnsName": "ip-10-0-0-1.ec2.internal",
        "PublicDnsName": "",
        "StateTransitionReason": "",
        "KeyName": "deploy",
        "AmiLaunchIndex": n,
        "ProductCodes": [],
        "InstanceType": "t2.micro",
        "LaunchTime": T0,
        "Placement": {"AvailabilityZone": "zone-1", "GroupName": "", "Tenancy": "default"},
        "Monitoring": {"State": "disabled"},
        "SubnetId": "subnet-0123456789abcdef0",
        "VpcId": "vpc-0123456789abcdef0",
        "PrivateIpAddress": "10.0.0.1",
        "PublicIpAddress": "203.0.113.9",
        "SecurityGroups": [{"GroupId": "sg-0123456789abcdef0", "GroupName": "default"}],
        "Architecture": "x86_64",
        "RootDeviceType": "ebs",
        "RootDeviceName": "/dev/sda1",
        "BlockDeviceMappings": [
            {
                "DeviceName": "/dev/sda1",
                "Ebs": {
                    "VolumeId": "vol-0123456789abcdef0",
                    "Status": "attached",
                    "AttachTime": T0,
                    "DeleteOnTermination": True,
                },
            }
        ],
        "VirtualizationType": "hvm",
        "Tags": tags(Name=f'web-{n} <&> "quoted"', env="prod"),
        "Hypervisor": "xen",
        "EbsOptimized": False,
        "EnaSupport": True,
        "SourceDestCheck": True,
        "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2},
        "MetadataOptions": {
            "State": "applied",
            "HttpTokens": "required",
            "HttpPutResponseHopLimit": 2,
            "HttpEndpoint": "enabled",
        },
        "PlatformDetails": "Linux/UNIX",
    }


def test_describe_instances_round_trip() -> None:
    result = {
        "Reservations": [
            {
                "ReservationId": "r-0123456789abcdef0",
                "OwnerId": "123456789012",
                "Groups": [],
                "Instances": [instance(0), instance(1)],
            },
            {
                "ReservationId": "r-0123456789abcdef1",
                "OwnerId": "123456789012",
                "Groups": [],
                "Instances": [instance(2)],
            },
        ],
        "NextToken": "next/page+1==",
    }
    assert round_trip("DescribeInstances", result) == result


def test_run_instances_round_trip() -> None:
    result = {
        "ReservationId": "r-0123456789abcdef0",
        "OwnerId": "123456789012",
        "Groups": [],
        "Instances": [instance(0)],
    }
    assert round_trip("RunInstances", result) == result


def test_describe_regions_round_trip() -> None:
    result = {
        "Regions": [
            {
                "RegionName": "zone-a",
                "Endpoint": "ec2.zone-a.example",
                "OptInStatus": "opt-in-not-required",
            },
            {"RegionName": "zone-b", "Endpoint": "ec2.zone-b.example"},
        ]
    }
    assert round_trip("DescribeRegions", result) == result


def test_describe_images_round_trip() -> None:
    result = {
        "Images": [
            {
                "ImageId": "ami-0123456789abcdef0",
                "ImageLocation": "nimbostack/ubuntu-24.04",
                "State": "available",
                "OwnerId": "123456789012",
                "CreationDate": "2026-01-01T00:00:00.000Z",
                "Public": True,
                "Architecture": "x86_64",
                "ImageType": "machine",
                "Name": "ubuntu-24.04",
                "RootDeviceType": "ebs",
                "RootDeviceName": "/dev/sda1",
                "VirtualizationType": "hvm",
                "Hypervisor": "xen",
                "BlockDeviceMappings": [
                    {
                        "DeviceName": "/dev/sda1",
                        "Ebs": {
                            "SnapshotId": "snap-0123456789abcdef0",
                            "VolumeSize": 8,
                            "VolumeType": "gp3",
                            "DeleteOnTermination": True,
                            "Encrypted": False,
                        },
                    }
                ],
                "Tags": tags(os="ubuntu"),
                "EnaSupport": True,
            }
        ]
    }
    assert round_trip("DescribeImages", result) == result


def test_allocate_address_round_trip_and_element_names() -> None:
    result = {
        "PublicIp": "203.0.113.7",
        "AllocationId": "eipalloc-0123456789abcdef0",
        "Domain": "vpc",
    }
    body = serializer.success(op_of("AllocateAddress"), result, "req-7")
    assert b"<publicIp>203.0.113.7</publicIp>" in body
    assert b"<allocationId>eipalloc-0123456789abcdef0</allocationId>" in body
    assert b"<domain>vpc</domain>" in body
    assert round_trip("AllocateAddress", result) == result


def test_describe_key_pairs_round_trip() -> None:
    result = {
        "KeyPairs": [
            {
                "KeyPairId": "key-0123456789abcdef0",
                "KeyName": "deploy",
                "KeyType": "ed25519",
                "KeyFingerprint": "aa:bb:cc",
                "CreateTime": T0,
                "Tags": [],
            },
        ]
    }
    assert round_trip("DescribeKeyPairs", result) == result


def test_describe_addresses_uses_addresses_set() -> None:
    result = {
        "Addresses": [
            {"PublicIp": "203.0.113.7", "AllocationId": "eipalloc-00000001", "Domain": "vpc"}
        ]
    }
    body = serializer.success(op_of("DescribeAddresses"), result, "r")
    assert b"<addressesSet><item><publicIp>" in body
    assert round_trip("DescribeAddresses", result) == result


def test_envelope() -> None:
    body = serializer.success(op_of("DescribeRegions"), {"Regions": []}, "abc-123")
    assert body == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        b"<requestId>abc-123</requestId><regionInfo/></DescribeRegionsResponse>"
    )
    assert round_trip("DescribeRegions", {"Regions": []}) == {"Regions": []}


def test_operation_without_output_shape_returns_true() -> None:
    body = serializer.success(op_of("CreateTags"), {}, "r-1")
    assert body.endswith(b"<requestId>r-1</requestId><return>true</return></CreateTagsResponse>")
    assert botocore_parse("CreateTags", body)["ResponseMetadata"]["RequestId"] == "r-1"


def test_none_members_are_omitted() -> None:
    body = serializer.success(
        op_of("AllocateAddress"), {"PublicIp": "203.0.113.7", "AllocationId": None}, "r"
    )
    assert b"allocationId" not in body


def test_empty_string_and_empty_structure() -> None:
    result = {
        "Reservations": [
            {
                "ReservationId": "r-00000001",
                "Instances": [{"InstanceId": "i-00000001", "PublicDnsName": "", "Placement": {}}],
            }
        ]
    }
    body = serializer.success(op_of("DescribeInstances"), result, "r")
    assert b"<dnsName/>" in body
    assert b"<placement/>" in body
    assert round_trip("DescribeInstances", result) == result


def test_text_is_escaped() -> None:
    result = {"KeyPairs": [{"KeyName": "a<b>&c \"d\" 'e'"}]}
    body = serializer.success(op_of("DescribeKeyPairs"), result, "r&1")
    assert b"<keyName>a&lt;b&gt;&amp;c \"d\" 'e'</keyName>" in body
    assert b"<requestId>r&amp;1</requestId>" in body
    assert round_trip("DescribeKeyPairs", result) == result


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 22, 0, 1, 2, tzinfo=UTC), "2026-11-22T00:01:02.000Z"),
        (datetime(2026, 11, 22, 0, 1, 2, 999999, tzinfo=UTC), "2026-11-22T00:01:02.999Z"),
        (datetime(2026, 11, 22, 0, 1, 2), "2026-11-22T00:01:02.000Z"),  # naive = UTC
        (
            datetime(2026, 11, 22, 2, 1, 2, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-22T00:01:02.000Z",
        ),
    ],
)
def test_timestamp_format(moment: datetime, text: str) -> None:
    body = serializer.success(
        op_of("DescribeKeyPairs"), {"KeyPairs": [{"CreateTime": moment}]}, "r"
    )
    assert f"<createTime>{text}</createTime>".encode() in body


def test_blob_is_base64() -> None:
    policy = b"\x00\xffbinary policy"
    result = {
        "BundleTask": {
            "BundleId": "bun-00000001",
            "StartTime": T0,
            "Storage": {"S3": {"Bucket": "b", "UploadPolicy": policy}},
        }
    }
    body = serializer.success(op_of("BundleInstance"), result, "r")
    assert b"<uploadPolicy>AP9iaW5hcnkgcG9saWN5</uploadPolicy>" in body
    assert round_trip("BundleInstance", result) == result


def test_floats_round_trip() -> None:
    result = {
        "ReservedInstances": [
            {
                "ReservedInstancesId": "ri-1",
                "UsagePrice": 0.25,
                "FixedPrice": 12.5,
                "Duration": 31536000,
            }
        ]
    }
    assert round_trip("DescribeReservedInstances", result) == result


def test_unknown_member_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="Bogus"):
        serializer.success(op_of("AllocateAddress"), {"Bogus": "x"}, "r")


@pytest.mark.parametrize(
    ("result", "exc"),
    [
        ({"KeyPairs": [{"CreateTime": "2026-01-01"}]}, TypeError),  # timestamp needs datetime
        ({"KeyPairs": "not a list"}, TypeError),
        ({"KeyPairs": [{"KeyName": b"bytes"}]}, TypeError),
    ],
)
def test_wrong_python_types_are_rejected(result: dict[str, Any], exc: type[Exception]) -> None:
    with pytest.raises(exc):
        serializer.success(op_of("DescribeKeyPairs"), result, "r")


def test_booleans_must_be_bool() -> None:
    with pytest.raises(TypeError):
        serializer.success(op_of("DescribeImages"), {"Images": [{"Public": "true"}]}, "r")


def test_error_document() -> None:
    body = serializer.error(
        "InvalidInstanceID.NotFound", "The instance ID 'i-1' does not exist", "req-9"
    )
    assert body == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        b"<Code>InvalidInstanceID.NotFound</Code>"
        b"<Message>The instance ID 'i-1' does not exist</Message>"
        b"</Error></Errors><RequestID>req-9</RequestID></Response>"
    )
    parsed = botocore_parse("DescribeInstances", body, status=400)
    assert parsed["Error"] == {
        "Code": "InvalidInstanceID.NotFound",
        "Message": "The instance ID 'i-1' does not exist",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"


def test_error_message_is_escaped() -> None:
    body = serializer.error("InvalidParameterValue", "Invalid value '<x>&'", "r")
    assert b"<Message>Invalid value '&lt;x&gt;&amp;'</Message>" in body


def test_every_output_shape_builds_a_plan() -> None:
    for name in model.operation_names():
        assert serializer.success(op_of(name), {}, "r").startswith(b"<?xml")


def test_thousand_instances_is_fast() -> None:
    # Sanity bound only (shared CI machines are noisy); the real benchmark lives elsewhere.
    op = op_of("DescribeInstances")
    result = {
        "Reservations": [
            {
                "ReservationId": f"r-{n:017x}",
                "OwnerId": "123456789012",
                "Groups": [],
                "Instances": [instance(n)],
            }
            for n in range(1000)
        ]
    }
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        body = serializer.success(op, result, "r")
        best = min(best, time.process_time() - start)
    assert body.count(b"<instanceId>") == 1000
    assert best < 0.5


def test_empty_blob_is_an_empty_element() -> None:
    result = {"BundleTask": {"Storage": {"S3": {"UploadPolicy": b""}}}}
    body = serializer.success(op_of("BundleInstance"), result, "r")
    assert b"<uploadPolicy/>" in body
    assert round_trip("BundleInstance", result) == result
