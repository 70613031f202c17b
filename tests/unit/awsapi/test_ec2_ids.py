"""awsapi.ids: EC2 public ids <-> engine short ids."""

from __future__ import annotations

import pytest

from awsapi import ids
from awsapi.errors_wire import Ec2Error
from awsapi.ids import Kind

SID = "0123456789abcdef0"


def test_render_and_parse_round_trip_for_every_kind() -> None:
    for kind in Kind:
        public = ids.render(kind, SID)
        assert public == f"{kind.prefix}-{SID}"
        assert ids.parse(public, kind) == SID


@pytest.mark.parametrize(
    ("kind", "prefix", "malformed", "not_found"),
    [
        (Kind.INSTANCE, "i", "InvalidInstanceID.Malformed", "InvalidInstanceID.NotFound"),
        (Kind.VOLUME, "vol", "InvalidVolumeID.Malformed", "InvalidVolume.NotFound"),
        (Kind.IMAGE, "ami", "InvalidAMIID.Malformed", "InvalidAMIID.NotFound"),
        (Kind.SNAPSHOT, "snap", "InvalidSnapshotID.Malformed", "InvalidSnapshot.NotFound"),
        (Kind.ADDRESS, "eipalloc", "InvalidAllocationID.Malformed", "InvalidAllocationID.NotFound"),
        (Kind.SECURITY_GROUP, "sg", "InvalidGroupId.Malformed", "InvalidGroup.NotFound"),
        (Kind.KEY_PAIR, "key", "InvalidKeyPair.Malformed", "InvalidKeyPair.NotFound"),
        (Kind.VPC, "vpc", "InvalidVpcID.Malformed", "InvalidVpcID.NotFound"),
        (Kind.SUBNET, "subnet", "InvalidSubnetID.Malformed", "InvalidSubnetID.NotFound"),
        (
            Kind.NETWORK_INTERFACE,
            "eni",
            "InvalidNetworkInterfaceId.Malformed",
            "InvalidNetworkInterfaceID.NotFound",
        ),
        (Kind.RESERVATION, "r", "InvalidReservationID.Malformed", "InvalidReservationID.NotFound"),
        (
            Kind.INTERNET_GATEWAY,
            "igw",
            "InvalidInternetGatewayId.Malformed",
            "InvalidInternetGatewayID.NotFound",
        ),
        (Kind.ROUTE_TABLE, "rtb", "InvalidRouteTableId.Malformed", "InvalidRouteTableID.NotFound"),
    ],
)
def test_kind_codes(kind: Kind, prefix: str, malformed: str, not_found: str) -> None:
    assert (kind.prefix, kind.malformed_code, kind.not_found_code) == (prefix, malformed, not_found)


def test_kinds_have_distinct_prefixes() -> None:
    prefixes = [kind.prefix for kind in Kind]
    assert len(prefixes) == len(set(prefixes))


def test_legacy_eight_digit_ids_are_well_formed() -> None:
    assert ids.parse("i-1a2b3c4d", Kind.INSTANCE) == "1a2b3c4d"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "i-",
        "1a2b3c4d",
        "vol-0123456789abcdef0",  # another kind's prefix
        "i-0123456789ABCDEF0",  # upper-case hex
        "i-0123456789abcdef",  # 16 digits
        "i-0123456789abcdef01",  # 18 digits
        "i-1a2b3c4g",  # not hex
        "i-1a2b3c4d ",
        "I-1a2b3c4d",
        "i--1a2b3c4d",
    ],
)
def test_malformed_ids(value: str) -> None:
    with pytest.raises(Ec2Error) as caught:
        ids.parse(value, Kind.INSTANCE)
    err = caught.value
    assert (err.code, err.status) == ("InvalidInstanceID.Malformed", 400)
    assert err.message == f'Invalid id: "{value}" (expecting "i-...")'
    assert not ids.is_valid(value, Kind.INSTANCE)


def test_prefix_is_matched_whole() -> None:
    # "sgr-" must not pass as a security group id, nor "sg-" as a rule id.
    with pytest.raises(Ec2Error) as caught:
        ids.parse(f"sgr-{SID}", Kind.SECURITY_GROUP)
    assert caught.value.code == "InvalidGroupId.Malformed"
    assert not ids.is_valid(f"sg-{SID}", Kind.SECURITY_GROUP_RULE)
    assert not ids.is_valid(f"eni-attach-{SID}", Kind.NETWORK_INTERFACE)
