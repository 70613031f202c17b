"""EC2 public ids <-> engine short ids ("sid").

An engine sid is 17 lowercase hex characters. EC2 shows it behind a per-kind
prefix: ``render(Kind.INSTANCE, sid) == "i-" + sid``. :func:`parse` accepts the
two id forms EC2 has issued (8 hex digits, legacy, and 17 hex digits) and raises
the kind's ``*.Malformed`` error for anything else. A well-formed 8-digit id is
returned as is; it simply matches no engine row.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Final

from awsapi.errors_wire import Ec2Error

SID_LENGTH: Final = 17
_HEX_ID: Final = re.compile(r"(?:[0-9a-f]{8}|[0-9a-f]{17})")


class Kind(Enum):
    """An EC2 resource kind: its id prefix and its malformed/not-found codes.

    Codes follow AWS's "Error codes for the Amazon EC2 API" page; casing varies
    by resource on AWS's side (``InvalidVpcID`` beside ``InvalidGroupId``), so
    each is spelled out rather than derived.
    """

    INSTANCE = ("i", "InvalidInstanceID.Malformed", "InvalidInstanceID.NotFound")
    VOLUME = ("vol", "InvalidVolumeID.Malformed", "InvalidVolume.NotFound")
    IMAGE = ("ami", "InvalidAMIID.Malformed", "InvalidAMIID.NotFound")
    SNAPSHOT = ("snap", "InvalidSnapshotID.Malformed", "InvalidSnapshot.NotFound")
    # QUIRK(ec2): AWS's code table documents no InvalidAllocationID.Malformed, but
    # clients observe it in the wild (and match on it); we send it.
    ADDRESS = ("eipalloc", "InvalidAllocationID.Malformed", "InvalidAllocationID.NotFound")
    ASSOCIATION = ("eipassoc", "InvalidAssociationID.Malformed", "InvalidAssociationID.NotFound")
    SECURITY_GROUP = ("sg", "InvalidGroupId.Malformed", "InvalidGroup.NotFound")
    SECURITY_GROUP_RULE = (
        "sgr",
        "InvalidSecurityGroupRuleId.Malformed",
        "InvalidSecurityGroupRuleId.NotFound",
    )
    # QUIRK(ec2): no documented Malformed code for key pair ids; clients match on
    # InvalidKeyPair.Malformed, so we use it.
    KEY_PAIR = ("key", "InvalidKeyPair.Malformed", "InvalidKeyPair.NotFound")
    VPC = ("vpc", "InvalidVpcID.Malformed", "InvalidVpcID.NotFound")
    SUBNET = ("subnet", "InvalidSubnetID.Malformed", "InvalidSubnetID.NotFound")
    NETWORK_INTERFACE = (
        "eni",
        "InvalidNetworkInterfaceId.Malformed",
        "InvalidNetworkInterfaceID.NotFound",
    )
    RESERVATION = ("r", "InvalidReservationID.Malformed", "InvalidReservationID.NotFound")
    PLACEMENT_GROUP = ("pg", "InvalidPlacementGroupId.Malformed", "InvalidPlacementGroup.Unknown")
    INTERNET_GATEWAY = (
        "igw",
        "InvalidInternetGatewayId.Malformed",
        "InvalidInternetGatewayID.NotFound",
    )
    ROUTE_TABLE = ("rtb", "InvalidRouteTableId.Malformed", "InvalidRouteTableID.NotFound")
    ROUTE_TABLE_ASSOCIATION = (
        "rtbassoc", "InvalidAssociationID.Malformed", "InvalidAssociationID.NotFound")
    DHCP_OPTIONS = ("dopt", "InvalidDhcpOptionsId.Malformed", "InvalidDhcpOptionID.NotFound")

    def __init__(self, prefix: str, malformed_code: str, not_found_code: str) -> None:
        self.prefix = prefix
        self.malformed_code = malformed_code
        self.not_found_code = not_found_code


def render(kind: Kind, sid: str) -> str:
    """The EC2 id for engine short id ``sid`` (``"i-" + sid`` for instances)."""
    return f"{kind.prefix}-{sid}"


def is_valid(value: str, kind: Kind) -> bool:
    """Whether ``value`` is a well-formed id of ``kind`` (8 or 17 lowercase hex)."""
    prefix, sep, rest = value.partition("-")
    return bool(sep) and prefix == kind.prefix and _HEX_ID.fullmatch(rest) is not None


def parse(value: str, kind: Kind) -> str:
    """The sid inside EC2 id ``value``.

    Raises ``Ec2Error(kind.malformed_code, ...)`` when the prefix is not the
    kind's or the rest is not 8 or 17 lowercase hex digits.
    """
    if not is_valid(value, kind):
        raise Ec2Error(
            kind.malformed_code, f'Invalid id: "{value}" (expecting "{kind.prefix}-...")'
        )
    return value.partition("-")[2]
