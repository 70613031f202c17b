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
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import Network, Region, Vpc, VpcTier, Zone

DEFAULT_VPC_CIDR = "172.31.0.0/16"


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
    CIDR when the network lies outside it. Idempotent. The region row is
    locked so concurrent callers make one container, not two."""
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
    return vpc


__all__ = ["DEFAULT_VPC_CIDR", "covering_cidr", "default_vpc", "link_default_network"]
