"""A region's default network container.

Each region has at most one default container (``Vpc.is_default``), owned by
no account and seen by everyone. Its tiers are the zones' default shared
networks (at most one per zone: the network instances go to when no network
is named), each with public addresses mapped at launch. The container's CIDR
is 172.31.0.0/16 while that block holds every default network (as the
bootstrap one is), else the smallest block holding them all.

:func:`link_default_network` is called whenever a default network is made
(``InventoryService.create_network``); migration 0015 did the same for the
networks that existed before.

Like every container, the default one has a main route table; it also has an
internet gateway attached. Both belong to no account (seen by everyone, acted
on by root admins only) and are made with the container
(:func:`ensure_default_routing`, migration 0018 for containers made before):
the gateway (its sid is the container's, the id it was always listed with),
and the main table with the ``local`` route for the container's CIDR, a
``0.0.0.0/0`` route through the gateway and the main association. Tiers with
no association of their own use the main table.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import (
    Gateway,
    Network,
    Region,
    Route,
    RouteTable,
    RouteTableLink,
    Vpc,
    VpcTier,
    Zone,
)

DEFAULT_VPC_CIDR = "172.31.0.0/16"
ANYWHERE = "0.0.0.0/0"


def covering_cidr(cidrs: Iterable[str]) -> str:
    """:data:`DEFAULT_VPC_CIDR` when it holds every block, else the smallest
    block holding them all (``cidrs`` must not be empty)."""
    nets = [ipaddress.IPv4Network(c, strict=False) for c in cidrs]
    if all(n.subnet_of(ipaddress.IPv4Network(DEFAULT_VPC_CIDR)) for n in nets):
        return DEFAULT_VPC_CIDR
    block = nets[0]
    while not all(n.subnet_of(block) for n in nets):
        block = block.supernet()
    return str(block)


def default_vpc(session: Session, region_uuid: str) -> Vpc | None:
    """The region's live default container, if it has one."""
    return session.scalar(select(Vpc).where(Vpc.region_uuid == region_uuid,
                                            Vpc.is_default.is_(True),
                                            Vpc.removed_at.is_(None)))


def link_default_network(session: Session, network: Network) -> Vpc:
    """Make ``network`` (a zone's default network) a tier of its region's
    default container, creating that container on first use and widening its
    CIDR when the network lies outside it; the container's gateway and main
    route table are made or brought up to date (:func:`ensure_default_routing`).
    Idempotent. The region row is locked so concurrent callers (on any server)
    make one container, gateway and main table, not two."""
    zone = session.get(Zone, network.zone_uuid)
    assert zone is not None
    session.execute(select(Region.uuid).where(Region.uuid == zone.region_uuid)
                    .with_for_update())
    vpc = default_vpc(session, zone.region_uuid)
    if vpc is None:
        vpc = Vpc(account_uuid=None, region_uuid=zone.region_uuid, is_default=True,
                  name="default", display_text="default",
                  cidr=covering_cidr([network.cidr]), dns_hostnames=True)
        session.add(vpc)
        session.flush()
    else:
        vpc.cidr = covering_cidr([vpc.cidr, network.cidr])
    if session.get(VpcTier, network.uuid) is None:
        session.add(VpcTier(network_uuid=network.uuid, vpc_uuid=vpc.uuid, map_public_ip=True))
    session.flush()
    ensure_default_routing(session, vpc)
    return vpc


def ensure_default_routing(session: Session, vpc: Vpc) -> RouteTable:
    """Give the default container ``vpc`` its attached gateway and its main
    route table (``local`` route for its CIDR, ``0.0.0.0/0`` through the
    gateway, the main association), making what is missing and moving the
    ``local`` route to the container's current CIDR. Idempotent; callers
    hold the region row's lock (:func:`link_default_network`)."""
    gw = session.scalar(select(Gateway).where(Gateway.vpc_uuid == vpc.uuid,
                                              Gateway.removed_at.is_(None)))
    if gw is None:
        taken = session.scalar(select(Gateway.uuid).where(Gateway.sid == vpc.sid))
        gw = Gateway(account_uuid=None, vpc_uuid=vpc.uuid,
                     **({} if taken else {"sid": vpc.sid}))
        session.add(gw)
        session.flush()
    table = session.scalar(select(RouteTable).where(RouteTable.vpc_uuid == vpc.uuid,
                                                    RouteTable.is_main.is_(True),
                                                    RouteTable.removed_at.is_(None)))
    if table is None:
        table = RouteTable(account_uuid=None, vpc_uuid=vpc.uuid, is_main=True)
        session.add(table)
        session.flush()
        session.add(RouteTableLink(route_table_uuid=table.uuid, network_uuid=None))
    routes = {r.target: r for r in session.scalars(
        select(Route).where(Route.route_table_uuid == table.uuid))
        if r.target == "local" or r.destination == ANYWHERE}
    # Default networks so far apart that only 0.0.0.0/0 covers them leave the
    # gateway route nothing: the local route takes that destination.
    wide = vpc.cidr == ANYWHERE
    if wide and "gateway" in routes:
        session.delete(routes.pop("gateway"))
        session.flush()
    if "local" not in routes:
        session.add(Route(route_table_uuid=table.uuid, destination=vpc.cidr))
    elif routes["local"].destination != vpc.cidr:
        routes["local"].destination = vpc.cidr
    if "gateway" not in routes and not wide:
        session.add(Route(route_table_uuid=table.uuid, destination=ANYWHERE, target="gateway",
                          gateway_uuid=gw.uuid))
    session.flush()
    return table


__all__ = ["ANYWHERE", "DEFAULT_VPC_CIDR", "covering_cidr", "default_vpc",
           "ensure_default_routing", "link_default_network"]
