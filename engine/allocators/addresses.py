"""Public and private IP allocators.

Public: one row per address; allocation flips a Free row to Allocated with a
compare-and-set UPDATE (on MySQL the candidate is first picked with
``FOR UPDATE SKIP LOCKED`` so concurrent allocators do not queue on one row).
Private: each guest network keeps a cursor; the NIC table's unique
(network, ip) constraint is the final guard against a double assignment.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import InsufficientCapacity, InvalidParameter, ResourceKind
from engine.models import (
    FirewallRule,
    IpForwardingRule,
    LoadBalancerMember,
    LoadBalancerRule,
    Network,
    Nic,
    NicSecondaryIp,
    PortForwardingRule,
    PublicIp,
    VlanRange,
)
from engine.states import IpState


class PublicIpAllocator:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._mysql = session.get_bind().dialect.name in ("mysql", "mariadb")

    def allocate(self, zone_uuid: str, account_uuid: str, address: str | None = None) -> PublicIp:
        """Take a free address of the zone (dedicated ranges of the account first)."""
        for dedicated in (True, False):
            ranges = select(VlanRange.uuid).where(
                VlanRange.zone_uuid == zone_uuid,
                VlanRange.for_virtual_network.is_(True),
                VlanRange.removed_at.is_(None),
                VlanRange.account_uuid == account_uuid if dedicated
                else VlanRange.account_uuid.is_(None),
            )
            row = self._take(zone_uuid, account_uuid, ranges, address)
            if row is not None:
                return row
        if address is not None:
            raise InvalidParameter("address", address, "the address is not free in this zone")
        raise InsufficientCapacity(ResourceKind.PUBLIC_IP, "no free public address in the zone")

    def _take(self, zone_uuid: str, account_uuid: str, ranges: Select[tuple[str]],
              address: str | None) -> PublicIp | None:
        stmt = select(PublicIp.uuid).where(
            PublicIp.zone_uuid == zone_uuid,
            PublicIp.state == IpState.FREE,
            PublicIp.vlan_range_uuid.in_(ranges),
        )
        if address is not None:
            stmt = stmt.where(PublicIp.address == address)
        if self._mysql:
            # Lock only the one row read: no ORDER BY (a sort would lock every
            # candidate) and no join (that would lock the range row too).
            stmt = stmt.limit(1).with_for_update(skip_locked=True, of=PublicIp)
        else:
            stmt = stmt.order_by(PublicIp.address).limit(1)
        for _attempt in range(20):
            candidate = self._session.scalar(stmt)
            if candidate is None:
                return None
            result = self._session.execute(
                update(PublicIp)
                .where(PublicIp.uuid == candidate, PublicIp.state == IpState.FREE)
                .values(state=IpState.ALLOCATED, account_uuid=account_uuid, allocated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                row = self._session.get(PublicIp, candidate, populate_existing=True)
                assert row is not None
                return row
        return None

    def release(self, ip: PublicIp) -> None:
        """Return the address to the pool, detached from any VM; its port
        forwarding, firewall, load balancer and IP forwarding rules are removed."""
        balancers = select(LoadBalancerRule.uuid).where(LoadBalancerRule.public_ip_uuid == ip.uuid)
        self._session.execute(delete(LoadBalancerMember).where(
            LoadBalancerMember.rule_uuid.in_(balancers)))
        for model in (FirewallRule, PortForwardingRule, LoadBalancerRule, IpForwardingRule):
            self._session.execute(delete(model).where(model.public_ip_uuid == ip.uuid))
        ip.state = IpState.FREE
        ip.account_uuid = None
        ip.allocated_at = None
        ip.instance_uuid = None
        ip.association_sid = None
        ip.network_uuid = None
        ip.is_source_nat = False


class PrivateIpAllocator:
    def __init__(self, session: Session) -> None:
        self._session = session

    def allocate(self, network: Network, requested: str | None = None) -> str:
        """Return a free host address of ``network`` (locks the network row).

        The caller inserts the NIC in the same transaction; the unique
        (network, ip) constraint rejects any duplicate that slipped through.
        """
        net = ipaddress.ip_network(network.cidr, strict=False)
        gateway = ipaddress.ip_address(network.gateway)
        if requested is not None:
            try:
                ip = ipaddress.ip_address(requested)
            except ValueError as exc:
                raise InvalidParameter("ipaddress", requested, "not an IP address") from exc
            if ip not in net or ip in (gateway, net.network_address, net.broadcast_address):
                raise InvalidParameter("ipaddress", requested, f"not a usable address of {net}")
            if self._in_use(network.uuid, requested):
                raise InvalidParameter("ipaddress", requested, "the address is in use")
            return requested
        size = net.num_addresses
        # Lock the network row: concurrent allocations on it queue here.
        row = self._session.execute(
            select(Network.next_ip_offset).where(Network.uuid == network.uuid).with_for_update()
        ).scalar_one()
        offset = int(row)
        for _ in range(size):
            offset = offset + 1 if offset + 1 < size - 1 else 1
            candidate = net.network_address + offset
            if candidate == gateway:
                continue
            text = str(candidate)
            if not self._in_use(network.uuid, text):
                self._session.execute(
                    update(Network)
                    .where(Network.uuid == network.uuid)
                    .values(next_ip_offset=offset)
                    .execution_options(synchronize_session=False)
                )
                return text
        raise InsufficientCapacity(ResourceKind.NETWORK, f"no free address in {net}")

    def _in_use(self, network_uuid: str, address: str) -> bool:
        """Held by a NIC, or as a NIC's secondary address, on that network."""
        nic = self._session.scalar(
            select(Nic.uuid).where(Nic.network_uuid == network_uuid, Nic.ip_address == address))
        if nic is not None:
            return True
        return self._session.scalar(select(NicSecondaryIp.uuid).where(
            NicSecondaryIp.network_uuid == network_uuid,
            NicSecondaryIp.ip_address == address)) is not None


def mac_for(network_sid: str, address: str) -> str:
    """A locally administered MAC derived from the network and the address."""
    ip = int(ipaddress.ip_address(address)) & 0xFFFFFFFF
    octets = [0x02, int(network_sid[:2], 16)] + [(ip >> s) & 0xFF for s in (24, 16, 8, 0)]
    return ":".join(f"{o:02x}" for o in octets)
