"""awsapi.protocol.parser: EC2 query parameters -> member-name dicts.

The round-trip tests serialize with botocore's own EC2 request serializer and
expect our parser to give the original parameters back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.serialize import create_serializer

from awsapi import model
from awsapi.errors_wire import Ec2Error
from awsapi.protocol import parser

_SERIALIZER = create_serializer("ec2")


def wire(action: str, params: dict[str, Any]) -> dict[str, str]:
    """The form parameters botocore would send for ``params`` (values as strings)."""
    op = model.operation(action)
    body = _SERIALIZER.serialize_to_request(params, op)["body"]
    return {key: str(value) for key, value in body.items()}


def parse(action: str, form: dict[str, str]) -> dict[str, Any]:
    op = model.operation(action)
    assert op is not None
    return parser.parse(op, form)


def error_of(action: str, form: dict[str, str]) -> Ec2Error:
    with pytest.raises(Ec2Error) as caught:
        parse(action, form)
    return caught.value


# --- round trips through botocore's serializer ---------------------------------


def test_run_instances_round_trip() -> None:
    params = {
        "ImageId": "ami-0123456789abcdef0",
        "MinCount": 1,
        "MaxCount": 3,
        "InstanceType": "t2.micro",
        "KeyName": "my key",
        "UserData": "IyEvYmluL3NoCmVjaG8gaGk=",
        "SecurityGroupIds": ["sg-0123456789abcdef0", "sg-0123456789abcdef1"],
        "BlockDeviceMappings": [
            {
                "DeviceName": "/dev/sda1",
                "Ebs": {"VolumeSize": 20, "DeleteOnTermination": True, "VolumeType": "gp3"},
            },
            {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
        ],
        "TagSpecifications": [
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "Name", "Value": "web & db"}, {"Key": "empty", "Value": ""}],
            },
            {"ResourceType": "volume", "Tags": [{"Key": "k", "Value": "v"}]},
        ],
        "NetworkInterfaces": [
            {
                "DeviceIndex": 0,
                "SubnetId": "subnet-0123456789abcdef0",
                # queryName members: PrivateIpAddresses / Ipv6Addresses
                "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": "10.0.0.5"}],
                "Ipv6Addresses": [{"Ipv6Address": "2001:db8::1"}],
            }
        ],
        "Placement": {"AvailabilityZone": "zone-1"},
        "DryRun": False,
    }
    form = wire("RunInstances", params)
    assert form["BlockDeviceMapping.1.Ebs.VolumeSize"] == "20"
    assert form["NetworkInterface.1.PrivateIpAddresses.1.Primary"] == "true"
    assert parse("RunInstances", form) == params


def test_describe_instances_with_filters_round_trip() -> None:
    params = {
        "InstanceIds": ["i-0123456789abcdef0", "i-12345678"],
        "Filters": [
            {"Name": "instance-state-name", "Values": ["running", "pending"]},
            {"Name": "tag:Name", "Values": ["web-*"]},
        ],
        "MaxResults": 50,
        "NextToken": "tok/en+==",
    }
    form = wire("DescribeInstances", params)
    assert "Filter.2.Value.1" in form
    assert parse("DescribeInstances", form) == params


def test_create_tags_round_trip() -> None:
    params = {
        "Resources": ["i-0123456789abcdef0", "vol-0123456789abcdef0"],
        "Tags": [{"Key": "Name", "Value": "x"}, {"Key": "team", "Value": "ops"}],
    }
    form = wire("CreateTags", params)
    assert form["ResourceId.2"] == "vol-0123456789abcdef0"
    assert form["Tag.2.Key"] == "team"
    assert parse("CreateTags", form) == params


def test_blob_is_base64_decoded() -> None:
    material = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample user@host\n"
    form = wire("ImportKeyPair", {"KeyName": "k", "PublicKeyMaterial": material})
    assert parse("ImportKeyPair", form) == {"KeyName": "k", "PublicKeyMaterial": material}


def test_timestamp_becomes_aware_datetime() -> None:
    end = datetime(2026, 11, 22, 0, 1, 2, tzinfo=UTC)
    form = wire(
        "CreateCapacityReservation",
        {
            "InstanceType": "t2.micro",
            "InstancePlatform": "Linux/UNIX",
            "InstanceCount": 1,
            "EndDate": end,
        },
    )
    parsed = parse("CreateCapacityReservation", form)
    assert parsed["EndDate"] == end
    assert parsed["EndDate"].tzinfo is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T00:01:02Z", datetime(2026, 11, 22, 0, 1, 2, tzinfo=UTC)),
        ("2026-11-22T00:01:02.500Z", datetime(2026, 11, 22, 0, 1, 2, 500000, tzinfo=UTC)),
        ("2026-11-22T00:01:02", datetime(2026, 11, 22, 0, 1, 2, tzinfo=UTC)),
        (
            "2026-11-22T02:01:02+02:00",
            datetime(2026, 11, 22, 2, 1, 2, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_timestamp_forms(text: str, expected: datetime) -> None:
    form = {
        "InstanceType": "t2.micro",
        "InstancePlatform": "Linux/UNIX",
        "InstanceCount": "1",
        "EndDate": text,
    }
    assert parse("CreateCapacityReservation", form)["EndDate"] == expected


# --- list and structure naming -------------------------------------------------


def test_list_indexes_sort_numerically_and_may_have_gaps() -> None:
    form = {
        "InstanceId.10": "i-0000000a",
        "InstanceId.2": "i-00000002",
        "InstanceId.9": "i-00000009",
    }
    assert parse("DescribeInstances", form) == {
        "InstanceIds": ["i-00000002", "i-00000009", "i-0000000a"]
    }


def test_empty_list_from_generic_query_serializers() -> None:
    assert parse("DescribeInstances", {"InstanceId": ""}) == {"InstanceIds": []}


def test_request_level_keys_are_ignored() -> None:
    form = {
        "Action": "DescribeRegions",
        "Version": "2016-11-15",
        "AWSAccessKeyId": "AKID",
        "Signature": "sig",
        "SignatureMethod": "HmacSHA256",
        "SignatureVersion": "2",
        "Timestamp": "2026-11-22T00:00:00Z",
        "Expires": "2026-11-22T00:00:00Z",
        "SecurityToken": "tok",
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Signature": "abc",
        "x-amz-date": "20261122T000000Z",
        "AllRegions": "true",
    }
    assert parse("DescribeRegions", form) == {"AllRegions": True}


# --- errors --------------------------------------------------------------------


def test_unknown_top_level_parameter() -> None:
    err = error_of("DescribeRegions", {"Foo": "1"})
    assert (err.code, err.message, err.status) == (
        "UnknownParameter",
        "The parameter Foo is not recognized",
        400,
    )


@pytest.mark.parametrize(
    "key",
    [
        "Filter.1.Nam",  # unknown nested member
        "Filter.x.Name",  # non-numeric index
        "Filter.1",  # a structure given a value
        "DryRun.1",  # a scalar with sub-parts
        "Filters.1.Name",  # member name instead of wire name
        "filter.1.Name",  # wire names are case-sensitive
        "InstanceId.1.Foo",
    ],
)
def test_unknown_nested_parameters(key: str) -> None:
    err = error_of("DescribeInstances", {key: "v"})
    assert err.code == "UnknownParameter"
    assert err.message == f"The parameter {key} is not recognized"


def test_missing_required_parameter_uses_wire_name() -> None:
    err = error_of("CreateTags", {"Tag.1.Key": "k"})
    assert (err.code, err.message) == (
        "MissingParameter",
        "The request must contain the parameter ResourceId",
    )


def test_missing_required_nested_parameter() -> None:
    # AttachVolume needs Device, InstanceId and VolumeId
    err = error_of("AttachVolume", {"InstanceId": "i-00000001", "VolumeId": "vol-00000001"})
    assert err.message == "The request must contain the parameter Device"


def test_invalid_enum_value() -> None:
    form = {"ImageId": "ami-00000001", "MinCount": "1", "MaxCount": "1", "InstanceType": "x9.huge"}
    err = error_of("RunInstances", form)
    assert (err.code, err.message) == (
        "InvalidParameterValue",
        "Invalid value 'x9.huge' for InstanceType",
    )


def test_invalid_enum_value_in_nested_member_names_the_wire_path() -> None:
    form = {"MinCount": "1", "MaxCount": "1", "BlockDeviceMapping.1.Ebs.VolumeType": "floppy"}
    err = error_of("RunInstances", form)
    assert err.message == "Invalid value 'floppy' for BlockDeviceMapping.1.Ebs.VolumeType"


@pytest.mark.parametrize("value", ["abc", "1.5", "", "0x10", "1e3"])
def test_integer_must_be_an_integer(value: str) -> None:
    err = error_of("RunInstances", {"MinCount": value, "MaxCount": "1"})
    assert err.code == "InvalidParameterValue"
    assert "MinCount" in err.message


def test_integer_range_from_model() -> None:
    # DescribeInstanceTypes.MaxResults is modelled with min 5, max 100.
    assert parse("DescribeInstanceTypes", {"MaxResults": "5"}) == {"MaxResults": 5}
    low = error_of("DescribeInstanceTypes", {"MaxResults": "4"})
    high = error_of("DescribeInstanceTypes", {"MaxResults": "101"})
    assert low.code == high.code == "InvalidParameterValue"
    assert "MaxResults" in low.message
    assert "5" in low.message
    assert "100" in high.message


@pytest.mark.parametrize(("text", "value"), [("true", True), ("TRUE", True), ("False", False)])
def test_booleans_are_case_insensitive(text: str, value: bool) -> None:
    assert parse("DescribeRegions", {"AllRegions": text}) == {"AllRegions": value}


@pytest.mark.parametrize("text", ["yes", "1", ""])
def test_invalid_boolean(text: str) -> None:
    assert error_of("DescribeRegions", {"AllRegions": text}).code == "InvalidParameterValue"


def test_invalid_base64_blob() -> None:
    err = error_of("ImportKeyPair", {"KeyName": "k", "PublicKeyMaterial": "not base64!"})
    assert err.code == "InvalidParameterValue"
    assert "PublicKeyMaterial" in err.message


def test_invalid_timestamp() -> None:
    form = {
        "InstanceType": "t2.micro",
        "InstancePlatform": "Linux/UNIX",
        "InstanceCount": "1",
        "EndDate": "next tuesday",
    }
    assert error_of("CreateCapacityReservation", form).code == "InvalidParameterValue"


def test_every_operation_parses_an_empty_request() -> None:
    # Plans build for the whole model; an empty request is {} or MissingParameter.
    for name in sorted(model.operation_names()):
        op = model.operation(name)
        assert op is not None
        if op.input_shape.required_members:
            with pytest.raises(Ec2Error, match="MissingParameter"):
                parser.parse(op, {"Action": name})
        else:
            assert parser.parse(op, {"Action": name}) == {}, name


@pytest.mark.parametrize("value", ["2147483648", "-2147483649", "9" * 5000])
def test_integers_are_32_bit(value: str) -> None:
    assert error_of("RunInstances", {"MinCount": value, "MaxCount": "1"}).code == (
        "InvalidParameterValue"
    )


def test_longs_are_64_bit() -> None:
    form = {"BgpAsnExtended": str(2**40), "Type": "ipsec.1"}
    assert parse("CreateCustomerGateway", form)["BgpAsnExtended"] == 2**40


@pytest.mark.parametrize("key", ["InstanceId.²", "InstanceId.-1", "InstanceId.+1", "InstanceId. 1"])
def test_list_indexes_must_be_ascii_digits(key: str) -> None:
    assert error_of("DescribeInstances", {key: "i-00000001"}).code == "UnknownParameter"


def test_zero_padded_indexes_are_numbers() -> None:
    form = {"InstanceId.02": "i-00000002", "InstanceId.1": "i-00000001"}
    assert parse("DescribeInstances", form) == {"InstanceIds": ["i-00000001", "i-00000002"]}
