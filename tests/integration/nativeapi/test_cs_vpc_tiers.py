"""VPC tiers through the CloudStack API: createNetwork with vpcid, listNetworks
by vpcid/forvpc, and the zone a VPC is made for (createVPC zoneid, listVPCs)."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cs import CloudStack

from tests.integration.nativeapi.conftest import Catalog
from tests.integration.nativeapi.errors import api_error, type_errors


def _offering(cs: CloudStack, guest_type: str) -> str:
    found = cs.listNetworkOfferings(guestiptype=guest_type, state="Enabled")
    return str(found["networkoffering"][0]["id"])


def _zone(cs: CloudStack) -> dict[str, Any]:
    return cs.listZones()["zone"][0]  # type: ignore[no-any-return]


def _block() -> str:
    """A /16 no other test of this module uses."""
    return f"10.{uuid.uuid4().int % 120 + 130}.0.0/16"


@pytest.fixture
def vpc(cs: CloudStack) -> Iterator[dict[str, Any]]:
    made = cs.createVPC(name=f"tiers-{uuid.uuid4().hex[:6]}", cidr=_block(),
                        zoneid=_zone(cs)["id"],
                        vpcofferingid=cs.listVPCOfferings()["vpcoffering"][0]["id"])["vpc"]
    yield made
    for n in cs.listNetworks(vpcid=made["id"], listall=True).get("network", []):
        cs.deleteNetwork(id=n["id"])
    cs.deleteVPC(id=made["id"])


def _tier(cs: CloudStack, vpc: dict[str, Any], third: int, **extra: Any) -> dict[str, Any]:
    base = ipaddress.IPv4Network(vpc["cidr"]).network_address
    gateway = str(base + third * 256 + 1)
    params = {"name": f"tier{third}", "zoneid": vpc["zoneid"], "vpcid": vpc["id"],
              "networkofferingid": _offering(cs, "Isolated"), "gateway": gateway,
              "netmask": "255.255.255.0", **extra}
    return cs.createNetwork(**params)["network"]  # type: ignore[no-any-return]


def test_vpc_keeps_its_zone(cs: CloudStack, vpc: dict[str, Any]) -> None:
    zone = _zone(cs)
    assert vpc["zoneid"] == zone["id"] and vpc["zonename"] == zone["name"]
    listed = cs.listVPCs(zoneid=zone["id"])["vpc"]
    assert vpc["id"] in {v["id"] for v in listed}
    assert all(v["zoneid"] == zone["id"] for v in listed)
    assert cs.listVPCs(zoneid=str(uuid.uuid4())) == {}
    # The region's default VPC (the zones' default networks) is no CloudStack VPC.
    assert all(v["cidr"] != "172.31.0.0/16" for v in cs.listVPCs(listall=True).get("vpc", []))


def test_create_tier_and_list_it(cs: CloudStack, vpc: dict[str, Any]) -> None:
    tier = _tier(cs, vpc, 1, displaytext="web tier")
    assert type_errors("createNetwork", tier) == []
    block = ipaddress.IPv4Network(vpc["cidr"])
    assert tier["vpcid"] == vpc["id"] and tier["zoneid"] == vpc["zoneid"]
    assert ipaddress.IPv4Network(tier["cidr"]).subnet_of(block)
    assert tier["gateway"] == str(block.network_address + 257)
    assert tier["netmask"] == "255.255.255.0" and tier["type"] == "Isolated"
    assert tier["networkofferingid"] == _offering(cs, "Isolated")
    assert tier["displaytext"] == "web tier" and tier["account"] == "admin"

    second = _tier(cs, vpc, 2)
    by_vpc = cs.listNetworks(vpcid=vpc["id"])
    assert {n["id"] for n in by_vpc["network"]} == {tier["id"], second["id"]}
    assert by_vpc["count"] == 2
    assert all(type_errors("listNetworks", n) == [] for n in by_vpc["network"])
    assert tier["id"] in {n["id"] for n in cs.listNetworks(forvpc=True)["network"]}
    plain = cs.listNetworks(forvpc=False).get("network", [])
    assert tier["id"] not in {n["id"] for n in plain}
    assert any(n["isdefault"] for n in plain)  # the zone's default network is in no VPC
    everything = {n["id"]: n for n in cs.listNetworks()["network"]}
    assert everything[tier["id"]]["vpcid"] == vpc["id"]
    assert all("vpcid" not in n for n in everything.values() if n["isdefault"])
    assert cs.listNetworks(vpcid=str(uuid.uuid4())) == {}


def test_tier_errors(cs: CloudStack, vpc: dict[str, Any]) -> None:
    _tier(cs, vpc, 3)
    base = ipaddress.IPv4Network(vpc["cidr"]).network_address
    iso = _offering(cs, "Isolated")
    common = {"name": "bad", "zoneid": vpc["zoneid"], "vpcid": vpc["id"],
              "networkofferingid": iso, "netmask": "255.255.255.0"}
    for extra in (
        {"gateway": str(base + 3 * 256 + 129), "netmask": "255.255.255.128"},  # overlaps
        {"gateway": "192.168.77.1"},                                         # outside
        {"gateway": str(base + 4 * 256)},                                    # network address
        {},                                                                  # no gateway
        {"gateway": str(base + 5 * 256 + 1), "networkofferingid": _offering(cs, "Shared")},
        {"gateway": str(base + 6 * 256 + 1), "zoneid": str(uuid.uuid4())},
    ):
        err = api_error(cs.createNetwork, **{**common, **extra})
        assert err["errorcode"] == 431, extra
    assert api_error(cs.createNetwork, **{**common, "gateway": str(base + 7 * 256 + 1),
                                          "vpcid": str(uuid.uuid4())})["errorcode"] == 431
    assert {n["name"] for n in cs.listNetworks(vpcid=vpc["id"])["network"]} == {"tier3"}


def test_vpc_with_tiers_cannot_be_deleted(cs: CloudStack, vpc: dict[str, Any]) -> None:
    tier = _tier(cs, vpc, 8)
    assert api_error(cs.deleteVPC, id=vpc["id"])["errorcode"] == 536
    cs.deleteNetwork(id=tier["id"])
    assert cs.listNetworks(vpcid=vpc["id"]) == {}


def test_vm_deployed_into_a_tier(cs: CloudStack, vpc: dict[str, Any],
                                 catalog: Catalog) -> None:
    tier = _tier(cs, vpc, 9)
    vm = cs.deployVirtualMachine(**catalog.args(networkids=tier["id"]))["virtualmachine"]
    try:
        nic = vm["nic"][0]
        assert nic["networkid"] == tier["id"]
        assert ipaddress.IPv4Address(nic["ipaddress"]) in ipaddress.IPv4Network(tier["cidr"])
        assert api_error(cs.deleteNetwork, id=tier["id"])["errorcode"] in (431, 536)
    finally:
        cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_users_tiers_are_their_own(cs_user: CloudStack, cs: CloudStack) -> None:
    made = cs_user.createVPC(name="user-tiers", cidr=_block(), zoneid=_zone(cs_user)["id"],
                             vpcofferingid=cs_user.listVPCOfferings()["vpcoffering"][0]["id"])
    vpc = made["vpc"]
    try:
        tier = _tier(cs_user, vpc, 1)
        assert tier["account"] != "admin"
        assert [n["id"] for n in cs_user.listNetworks(vpcid=vpc["id"])["network"]] == [tier["id"]]
        assert tier["id"] in {n["id"] for n in cs.listNetworks(  # the admin sees it too
            vpcid=vpc["id"], listall=True)["network"]}
        cs_user.deleteNetwork(id=tier["id"])
    finally:
        cs_user.deleteVPC(id=vpc["id"])
