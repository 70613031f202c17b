"""Pure parts of the container service: CIDR validation and tier free addresses."""

from __future__ import annotations

import pytest

from engine.errors import InvalidParameter
from engine.models import Network, VpcTier
from engine.services.vpcs import TierDetail, parse_cidr


@pytest.mark.parametrize("text", ["10.0.0.0/16", "10.0.0.0/28", "192.168.1.16/28"])
def test_prefixes_16_to_28_are_accepted(text: str) -> None:
    assert str(parse_cidr(text, "vpc.cidr")) == text


def test_host_bits_are_dropped() -> None:
    assert str(parse_cidr("10.0.5.7/16", "vpc.cidr")) == "10.0.0.0/16"


@pytest.mark.parametrize("text", ["10.0.0.0/15", "10.0.0.0/29", "10.0.0.1"])
def test_other_prefixes_raise_with_the_callers_name(text: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        parse_cidr(text, "network.cidr")
    assert err.value.name == "network.cidr"


@pytest.mark.parametrize("text", ["", "10.0.0.0/99", "banana"])
def test_non_cidrs_raise_on_cidr(text: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        parse_cidr(text, "vpc.cidr")
    assert err.value.name == "cidr"


def _tier(cidr: str, used: int, in_container: bool) -> TierDetail:
    net = Network(cidr=cidr, gateway=cidr.rsplit(".", 1)[0] + ".1")
    tier = VpcTier(network_uuid="n", vpc_uuid="v") if in_container else None
    return TierDetail(net, None, None, None, "sid", tier, used)  # type: ignore[arg-type]


def test_a_tier_reserves_five_addresses() -> None:
    assert _tier("10.0.0.0/24", 0, True).free_addresses == 251
    assert _tier("10.0.0.0/28", 3, True).free_addresses == 8


def test_a_standalone_network_reserves_network_broadcast_and_gateway() -> None:
    assert _tier("10.0.0.0/24", 2, False).free_addresses == 251
