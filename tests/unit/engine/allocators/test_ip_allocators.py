"""Public IP (compare-and-set on address rows) and private IP (network cursor) allocators."""

from __future__ import annotations

import ipaddress

import pytest
from sqlalchemy import select
from tiny_cloud import Cloud, public_range

from engine.allocators.addresses import PrivateIpAllocator, PublicIpAllocator, mac_for
from engine.db import utcnow
from engine.errors import InsufficientCapacity, InvalidParameter
from engine.models import Network, Nic, PublicIp
from engine.states import IpState

# ------------------------------------------------------------------------ public


def _state(cloud: Cloud, address: str) -> PublicIp:
    row = cloud.session.scalar(select(PublicIp).where(PublicIp.address == address))
    assert row is not None
    cloud.session.refresh(row)
    return row


def test_public_addresses_are_handed_out_once_until_exhausted(cloud: Cloud) -> None:
    allocator = PublicIpAllocator(cloud.session)
    got = [allocator.allocate(cloud.zone.uuid, cloud.account.uuid).address for _ in range(5)]
    assert sorted(got) == [f"203.0.113.{n}" for n in range(10, 15)]
    with pytest.raises(InsufficientCapacity):
        allocator.allocate(cloud.zone.uuid, cloud.account.uuid)
    row = _state(cloud, got[0])
    assert row.state == IpState.ALLOCATED
    assert row.account_uuid == cloud.account.uuid
    assert row.allocated_at is not None


def test_a_requested_public_address_must_be_free(cloud: Cloud) -> None:
    allocator = PublicIpAllocator(cloud.session)
    ip = allocator.allocate(cloud.zone.uuid, cloud.account.uuid, "203.0.113.13")
    assert ip.address == "203.0.113.13"
    with pytest.raises(InvalidParameter):
        allocator.allocate(cloud.zone.uuid, cloud.other_account.uuid, "203.0.113.13")
    with pytest.raises(InvalidParameter):
        allocator.allocate(cloud.zone.uuid, cloud.account.uuid, "198.51.100.7")


def test_release_returns_the_address_clean(cloud: Cloud) -> None:
    allocator = PublicIpAllocator(cloud.session)
    ip = allocator.allocate(cloud.zone.uuid, cloud.account.uuid, "203.0.113.10")
    ip.instance_uuid, ip.association_sid, ip.is_source_nat = "i", "eipassoc-1", True
    allocator.release(ip)
    cloud.session.flush()
    row = _state(cloud, "203.0.113.10")
    assert (row.state, row.account_uuid, row.instance_uuid, row.association_sid,
            row.allocated_at, row.is_source_nat) == (IpState.FREE, None, None, None, None, False)
    again = allocator.allocate(cloud.zone.uuid, cloud.other_account.uuid, "203.0.113.10")
    assert again.account_uuid == cloud.other_account.uuid


def test_dedicated_ranges_serve_their_account_first_and_nobody_else(cloud: Cloud) -> None:
    public_range(cloud.session, cloud.zone, 20, 21, cloud.account.uuid, prefix="192.0.2")
    allocator = PublicIpAllocator(cloud.session)
    mine = [allocator.allocate(cloud.zone.uuid, cloud.account.uuid).address for _ in range(2)]
    assert sorted(mine) == ["192.0.2.20", "192.0.2.21"]
    assert allocator.allocate(cloud.zone.uuid, cloud.account.uuid).address.startswith("203.")
    for _ in range(4):
        assert allocator.allocate(cloud.zone.uuid, cloud.other_account.uuid).address.startswith(
            "203.")
    with pytest.raises(InsufficientCapacity):
        allocator.allocate(cloud.zone.uuid, cloud.other_account.uuid)


def test_removed_and_non_guest_ranges_are_not_used(cloud: Cloud) -> None:
    cloud.public_range.removed_at = utcnow()
    other = public_range(cloud.session, cloud.zone, 30, 30, prefix="192.0.2")
    other.for_virtual_network = False
    cloud.session.flush()
    with pytest.raises(InsufficientCapacity):
        PublicIpAllocator(cloud.session).allocate(cloud.zone.uuid, cloud.account.uuid)


def test_an_allocated_row_is_never_taken_again(cloud: Cloud) -> None:
    """The compare-and-set UPDATE refuses rows that are no longer Free."""
    for row in cloud.session.scalars(select(PublicIp)):
        if row.address != "203.0.113.12":
            row.state, row.account_uuid = IpState.ALLOCATED, cloud.other_account.uuid
    cloud.session.flush()
    allocator = PublicIpAllocator(cloud.session)
    assert allocator.allocate(cloud.zone.uuid, cloud.account.uuid).address == "203.0.113.12"
    with pytest.raises(InsufficientCapacity):
        allocator.allocate(cloud.zone.uuid, cloud.account.uuid)


# ----------------------------------------------------------------------- private


def _take(cloud: Cloud, network: Network, requested: str | None = None) -> str:
    """Allocate and record the NIC, as a launch does."""
    address = PrivateIpAllocator(cloud.session).allocate(network, requested)
    cloud.session.add(Nic(network_uuid=network.uuid, ip_address=address,
                          mac_address=mac_for(network.sid, address)))
    cloud.session.flush()
    return address


def _cursor(cloud: Cloud) -> int:
    row = cloud.session.get(Network, cloud.network.uuid, populate_existing=True)
    assert row is not None
    return row.next_ip_offset


def test_private_addresses_skip_the_gateway_and_run_out(cloud: Cloud) -> None:
    got = [_take(cloud, cloud.network) for _ in range(5)]
    assert got == [f"10.0.0.{n}" for n in range(2, 7)]
    with pytest.raises(InsufficientCapacity):
        PrivateIpAllocator(cloud.session).allocate(cloud.network)


def test_the_cursor_wraps_and_reuses_freed_addresses(cloud: Cloud) -> None:
    got = [_take(cloud, cloud.network) for _ in range(5)]
    assert _cursor(cloud) == 6
    for nic in cloud.session.scalars(select(Nic).where(Nic.ip_address.in_(got[1:3]))):
        cloud.session.delete(nic)  # .3 and .4 are given back
    cloud.session.flush()
    assert _take(cloud, cloud.network) == "10.0.0.3"  # wrapped past .7 (broadcast) and .1
    assert _take(cloud, cloud.network) == "10.0.0.4"
    assert _cursor(cloud) == 4


def test_the_cursor_continues_where_it_stopped(cloud: Cloud) -> None:
    _take(cloud, cloud.network)
    for nic in cloud.session.scalars(select(Nic)):
        cloud.session.delete(nic)
    cloud.session.flush()
    assert _take(cloud, cloud.network) == "10.0.0.3"  # not .2 again at once


def test_a_gateway_other_than_the_first_address_is_skipped(cloud: Cloud) -> None:
    net = Network(zone_uuid=cloud.zone.uuid, name="n2", cidr="10.9.0.0/29", gateway="10.9.0.6")
    cloud.session.add(net)
    cloud.session.flush()
    got = [_take(cloud, net) for _ in range(5)]
    assert got == ["10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5"]


@pytest.mark.parametrize("requested", ["10.0.0.0", "10.0.0.1", "10.0.0.7", "10.0.1.2",
                                       "192.168.0.5"])
def test_requested_private_address_must_be_a_usable_host_address(cloud: Cloud,
                                                                 requested: str) -> None:
    with pytest.raises(InvalidParameter):
        PrivateIpAllocator(cloud.session).allocate(cloud.network, requested)


def test_requested_private_address_must_be_free(cloud: Cloud) -> None:
    assert _take(cloud, cloud.network, "10.0.0.5") == "10.0.0.5"
    assert _cursor(cloud) == 0  # a requested address does not move the cursor
    with pytest.raises(InvalidParameter):
        PrivateIpAllocator(cloud.session).allocate(cloud.network, "10.0.0.5")
    assert [_take(cloud, cloud.network) for _ in range(4)] == [
        "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.6"]


def test_a_malformed_requested_address_is_rejected(cloud: Cloud) -> None:
    for junk in ("10.0.0.999", "not-an-ip", ""):
        with pytest.raises(InvalidParameter):
            PrivateIpAllocator(cloud.session).allocate(cloud.network, junk)


def test_mac_is_locally_administered_and_derived_from_network_and_address() -> None:
    mac = mac_for("a1b2c3", "10.0.0.5")
    assert mac == "02:a1:0a:00:00:05"
    first = int(mac.split(":")[0], 16)
    assert first & 0x02
    assert not first & 0x01
    assert mac_for("a1b2c3", "10.0.0.6") != mac
    assert mac_for("ffb2c3", "10.0.0.5") != mac
    assert ipaddress.ip_address("10.0.0.5")  # sanity: the address itself is valid
