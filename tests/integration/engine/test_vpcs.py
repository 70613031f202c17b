"""VpcService and RoutingService through a Runtime: containers, tiers, gateways,
route tables, visibility and paging, on SQLite or MariaDB."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import (
    Duplicate,
    IncorrectState,
    InUse,
    InvalidParameter,
    NotFound,
    ResourceKind,
    Unsupported,
)
from engine.models import Network, RouteTableLink, VpcTier
from engine.querying import Criterion, Paging
from engine.services.inventory_network import NetworkRequest
from tests.integration.engine.worlds import World


def test_container_gets_a_main_route_table_with_the_local_route(world: World) -> None:
    with world.runtime.unit() as sv:
        vpc = sv.vpcs.create_vpc(world.alice, "10.20.0.0/16", tags=[("Name", "a")])
        tables = sv.routing.list_route_tables(
            world.alice, [Criterion("vpc_sid", (vpc.sid,), False)]).items
    assert vpc.vpc is not None and vpc.cidr == "10.20.0.0/16" and not vpc.is_default
    assert [t.key for t in vpc.tags] == ["Name"]
    assert vpc.dns_support and not vpc.dns_hostnames
    assert len(tables) == 1 and tables[0].table.is_main
    assert [(r.route.destination, r.route.target, r.active) for r in tables[0].routes] == [
        ("10.20.0.0/16", "local", True)]
    assert [link.network_sid for link in tables[0].links] == [None]


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "10.0.0.0/29"])
def test_container_prefix_must_be_16_to_28(world: World, cidr: str) -> None:
    with world.runtime.unit() as sv, pytest.raises(InvalidParameter) as err:
        sv.vpcs.create_vpc(world.alice, cidr)
    assert err.value.name == "vpc.cidr"


def test_tiers_lie_inside_and_do_not_overlap(world: World) -> None:
    with world.runtime.unit() as sv:
        vpc = sv.vpcs.create_vpc(world.alice, "10.30.0.0/16")
        tier = sv.vpcs.create_tier(world.alice, vpc.sid, "10.30.1.0/24")
        assert tier.vpc_sid == vpc.sid and tier.tier is not None
        assert tier.free_addresses == 251 and tier.network.account_uuid == world.alice.account_uuid
        with pytest.raises(InvalidParameter) as err:
            sv.vpcs.create_tier(world.alice, vpc.sid, "10.31.0.0/24")
        assert err.value.name == "network.cidr"
        with pytest.raises(Duplicate):
            sv.vpcs.create_tier(world.alice, vpc.sid, "10.30.0.0/20")
        with pytest.raises(InUse):
            sv.vpcs.delete_vpc(world.alice, vpc.sid)
        sv.vpcs.delete_tier(world.alice, tier.network.sid)
        sv.vpcs.delete_vpc(world.alice, vpc.sid)
        with pytest.raises(NotFound):
            sv.vpcs.vpc(world.alice, vpc.sid)


def test_other_accounts_neither_see_nor_change_a_container(world: World) -> None:
    with world.runtime.unit() as sv:
        vpc = sv.vpcs.create_vpc(world.alice, "10.40.0.0/16")
        assert sv.vpcs.list_vpcs(world.bob, [Criterion("sid", (vpc.sid,), False)]).items == []
        for call in (lambda: sv.vpcs.delete_vpc(world.bob, vpc.sid),
                     lambda: sv.vpcs.create_tier(world.bob, vpc.sid, "10.40.0.0/24"),
                     lambda: sv.routing.create_route_table(world.bob, vpc.sid)):
            with pytest.raises(NotFound) as err:
                call()
            assert err.value.kind is ResourceKind.VPC
        # the root admin sees every container
        assert sv.vpcs.vpc(world.admin, vpc.sid).sid == vpc.sid


def test_a_standalone_network_is_its_own_container(world: World) -> None:
    with world.runtime.unit() as sv:
        net = sv.inventory.add_guest_network(world.alice, NetworkRequest(
            zone_uuid=world.zone_uuid, name="plain", cidr="10.50.0.0/24")).network
        listed = sv.vpcs.vpc(world.alice, net.sid)
        assert listed.vpc is None and listed.network is not None and listed.cidr == net.cidr
        assert sv.vpcs.tier(world.alice, net.sid).vpc_sid == net.sid
        with pytest.raises(InUse):
            sv.vpcs.delete_vpc(world.alice, net.sid)
        with pytest.raises(Duplicate):
            sv.vpcs.create_tier(world.alice, net.sid, "10.50.0.0/25")
        with pytest.raises(Unsupported):
            sv.vpcs.set_tier_attributes(world.alice, net.sid, map_public_ip=True)
        sv.vpcs.delete_tier(world.alice, net.sid)
        assert sv.vpcs.list_vpcs(world.alice, [Criterion("sid", (net.sid,), False)]).items == []


def test_gateway_attachment_rules(world: World) -> None:
    with world.runtime.unit() as sv:
        vpc = sv.vpcs.create_vpc(world.alice, "10.60.0.0/16")
        gw = sv.routing.create_gateway(world.alice)
        assert gw.vpc_sid is None
        with pytest.raises(IncorrectState) as err:
            sv.routing.detach_gateway(world.alice, gw.sid, vpc.sid)
        assert err.value.state == "detached"
        sv.routing.attach_gateway(world.alice, gw.sid, vpc.sid)
        assert sv.routing.gateway(world.alice, gw.sid).vpc_sid == vpc.sid
        with pytest.raises(IncorrectState) as err:
            sv.routing.attach_gateway(world.alice, gw.sid, vpc.sid)
        assert (err.value.kind, err.value.state) == (ResourceKind.GATEWAY, "attached")
        with pytest.raises(InUse):
            sv.routing.delete_gateway(world.alice, gw.sid)
        with pytest.raises(InUse):
            sv.vpcs.delete_vpc(world.alice, vpc.sid)
        sv.routing.detach_gateway(world.alice, gw.sid, vpc.sid)
        sv.routing.delete_gateway(world.alice, gw.sid)
        with pytest.raises(NotFound):
            sv.routing.gateway(world.alice, gw.sid)


def test_routes_and_associations(world: World) -> None:
    with world.runtime.unit() as sv:
        vpc = sv.vpcs.create_vpc(world.alice, "10.70.0.0/16")
        tier = sv.vpcs.create_tier(world.alice, vpc.sid, "10.70.1.0/24")
        table = sv.routing.create_route_table(world.alice, vpc.sid)
        link = sv.routing.associate(world.alice, table.table.sid, tier.network.sid)
        with pytest.raises(IncorrectState):
            sv.routing.associate(world.alice, table.table.sid, tier.network.sid)
        gw = sv.routing.create_gateway(world.alice)
        with pytest.raises(InvalidParameter):
            sv.routing.add_route(world.alice, table.table.sid, "0.0.0.0/0", gw.sid)
        sv.routing.attach_gateway(world.alice, gw.sid, vpc.sid)
        sv.routing.add_route(world.alice, table.table.sid, "0.0.0.0/0", gw.sid)
        with pytest.raises(Duplicate):
            sv.routing.add_route(world.alice, table.table.sid, "0.0.0.0/0", gw.sid)
        found = sv.routing.list_route_tables(world.alice, [
            Criterion("route_gateway_sid", (gw.sid,), False)]).items
        assert [t.table.sid for t in found] == [table.table.sid]
        with pytest.raises(InUse):
            sv.routing.delete_route_table(world.alice, table.table.sid)
        with pytest.raises(InvalidParameter):
            sv.routing.remove_route(world.alice, table.table.sid, "10.70.0.0/16")
        sv.routing.remove_route(world.alice, table.table.sid, "0.0.0.0/0")
        with pytest.raises(NotFound) as err:
            sv.routing.remove_route(world.alice, table.table.sid, "0.0.0.0/0")
        assert err.value.kind is ResourceKind.ROUTE
        # deleting the tier drops its association
        sv.vpcs.delete_tier(world.alice, tier.network.sid)
        assert sv.session.scalar(select(RouteTableLink).where(RouteTableLink.sid == link)) is None
        sv.routing.delete_route_table(world.alice, table.table.sid)


def test_listing_pages_through_containers_and_tiers(world: World) -> None:
    with world.runtime.unit() as sv:
        sids = {sv.vpcs.create_vpc(world.bob, f"10.{80 + i}.0.0/16").sid for i in range(5)}
        seen: list[str] = []
        paging = Paging(limit=2)
        while True:
            page = sv.vpcs.list_vpcs(world.bob, [], paging)
            seen += [v.sid for v in page.items]
            if not page.next_token:
                break
            paging = Paging(limit=2, token=page.next_token)
        assert sids <= set(seen) and len(seen) == len(set(seen))
        first = sv.vpcs.vpc(world.bob, min(sids))
        tier = sv.vpcs.create_tier(world.bob, first.sid, first.cidr.replace("/16", "/28"))
        assert sv.session.get(VpcTier, tier.network.uuid) is not None
        assert sv.session.get(Network, tier.network.uuid) is not None
        assert tier.free_addresses == 16 - 5
