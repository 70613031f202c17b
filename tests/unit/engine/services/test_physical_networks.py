"""The pure parts of the physical-network service: guest id ranges, names,
and which services a provider may be given."""

from __future__ import annotations

import pytest

from engine.errors import InvalidParameter
from engine.services.physical_networks import (
    PROVIDERS,
    PhysicalNetworkService,
    canonical,
    format_id_ranges,
    parse_id_ranges,
    provider_kind,
)


def test_ranges_parse_and_merge() -> None:
    assert parse_id_ranges("100-200,300-300") == [(100, 200), (300, 300)]
    assert parse_id_ranges("") == [] and parse_id_ranges(" , ") == []
    assert format_id_ranges(parse_id_ranges("15-30,10-20,31-31,40-41")) == "10-31,40-41"
    assert format_id_ranges([]) == ""


@pytest.mark.parametrize("text", ["7", "a-b", "20-10", "0-4096", "1-2-3", "-5"])
def test_bad_vlan_ranges(text: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_id_ranges(text)


def test_bounds_follow_the_isolation_method() -> None:
    assert parse_id_ranges("5000-6000", "VXLAN") == [(5000, 6000)]
    assert parse_id_ranges("16777214-16777214", "vxlan") == [(16777214, 16777214)]
    with pytest.raises(InvalidParameter):
        parse_id_ranges("16777215-16777215", "VXLAN")
    assert parse_id_ranges("70000-70001", "GRE") == [(70000, 70001)]
    with pytest.raises(InvalidParameter):
        parse_id_ranges("5000-6000", "VLAN")


def test_names_are_matched_ignoring_case() -> None:
    assert canonical(("VLAN", "GRE"), "isolationmethods", "vlan") == "VLAN"
    with pytest.raises(InvalidParameter):
        canonical(("VLAN", "GRE"), "isolationmethods", "CARRIER")
    assert provider_kind("virtualrouter").name == "VirtualRouter"
    assert provider_kind("VPCVIRTUALROUTER").element == "VPCVirtualRouter"
    with pytest.raises(InvalidParameter):
        provider_kind("NoSuchProvider")


def test_default_providers_are_known() -> None:
    for name in ("VirtualRouter", "SecurityGroupProvider", "VpcVirtualRouter", "InternalLbVm",
                 "ConfigDrive"):
        assert name.lower() in PROVIDERS
    assert "NetworkACL" in provider_kind("VpcVirtualRouter").services
    assert "Firewall" not in provider_kind("VpcVirtualRouter").services


def test_service_lists() -> None:
    services = PhysicalNetworkService._services
    router, sg = provider_kind("VirtualRouter"), provider_kind("SecurityGroupProvider")
    # SourceNat brings Gateway along when a provider is added.
    assert services(router, ["sourcenat", "Dhcp"], adding=True) == ["SourceNat", "Dhcp",
                                                                     "Gateway"]
    assert services(router, ["Dhcp"], adding=False) == ["Dhcp"]
    with pytest.raises(InvalidParameter):
        services(router, ["Gateway"], adding=True)  # never named directly
    with pytest.raises(InvalidParameter):
        services(router, ["SecurityGroup"], adding=True)  # not a router service
    with pytest.raises(InvalidParameter):
        services(router, ["Teleport"], adding=True)  # no such service
    assert services(sg, ["SecurityGroup"], adding=True) == ["SecurityGroup"]
    with pytest.raises(InvalidParameter):
        services(provider_kind("ConfigDrive"), ["UserData"], adding=True)  # all or nothing
