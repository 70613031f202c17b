"""Public and private IP allocators.

Public: one row per address; allocation flips a Free row to Allocated with a
compare-and-set UPDATE (on MySQL the candidate is first picked with
``FOR UPDATE SKIP LOCKED`` so concurrent allocators do not queue on one row).
Private: each guest network keeps a cursor; the NIC table's unique
(network, ip) constraint is the final guard against a double assignment.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, Table, bindparam, case, delete, exists, inspect, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

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
from engine.querying import record_type
from engine.statements import Prepared, loaded, row_keys, select_rows
from engine.states import IpState


def _ranges(dedicated: bool | None) -> Select[Any]:
    """The zone's (``p_zone``) live ranges for guests: the account's
    (``p_account``) dedicated ones (``dedicated`` True), the shared ones
    (False) or both (None)."""
    whose = {True: VlanRange.account_uuid == bindparam("p_account"),
             False: VlanRange.account_uuid.is_(None),
             None: or_(VlanRange.account_uuid == bindparam("p_account"),
                       VlanRange.account_uuid.is_(None))}[dedicated]
    return select(VlanRange.uuid).where(
        VlanRange.zone_uuid == bindparam("p_zone"),
        VlanRange.for_virtual_network.is_(True),
        VlanRange.removed_at.is_(None),
        whose,
    )


_public: Table = PublicIp.__table__  # type: ignore[assignment]


_UUID_AT = row_keys(PublicIp).index("uuid")  # in a candidate's row
_RECORD = record_type(PublicIp)
assert _RECORD._fields == row_keys(PublicIp)  # a candidate's row is the record's values


def _expire_held(session: Session, uuid: str) -> None:
    """Expire the session's object of the address ``uuid``, if it holds one
    (it is read again when next used)."""
    held = session.identity_map.get(inspect(PublicIp).identity_key_from_primary_key((uuid,)))
    if held is not None:
        session.expire(held)


@functools.lru_cache(maxsize=16)
def _candidate_stmt(mysql: bool, dedicated: bool | None, by_address: bool) -> Prepared:
    """The row of a free address of the zone in the ranges :func:`_ranges`
    names (with ``by_address``: the address ``p_address``), built once per
    shape (its columns as :func:`engine.statements.loaded` takes them)."""
    p = _public.c
    stmt = select_rows(PublicIp).where(
        p.zone_uuid == bindparam("p_zone"),
        p.state == IpState.FREE,
        p.vlan_range_uuid.in_(_ranges(dedicated)),
    )
    if by_address:
        stmt = stmt.where(p.address == bindparam("p_address"))
    if mysql:
        # Lock only the one row read: no ORDER BY (a sort would lock every
        # candidate) and no join (that would lock the range row too).
        return Prepared(stmt.limit(1).with_for_update(skip_locked=True, of=_public))
    shared_last = case((p.vlan_range_uuid.in_(_ranges(True)), 0), else_=1)
    return Prepared(stmt.order_by(shared_last, p.address).limit(1))


_allocate = update(_public).where(
    _public.c.uuid == bindparam("p_ip"), _public.c.state == IpState.FREE.value).values(
    state=IpState.ALLOCATED.value, account_uuid=bindparam("p_account"),
    allocated_at=bindparam("p_now"))
_ALLOCATE = Prepared(_allocate)
# The same, mapping the address to an instance's NIC network in the same write.
_ALLOCATE_TO = Prepared(_allocate.values(instance_uuid=bindparam("p_instance"),
                                         network_uuid=bindparam("p_network")))


class PublicIpAllocator:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._mysql = session.get_bind().dialect.name in ("mysql", "mariadb")

    def allocate(self, zone_uuid: str, account_uuid: str, address: str | None = None, *,
                 instance_uuid: str | None = None, network_uuid: str | None = None) -> PublicIp:
        """Take a free address of the zone (dedicated ranges of the account first).

        With ``instance_uuid`` (and ``network_uuid``) the same UPDATE also sets
        the row's instance and network: the address comes mapped to it.
        Returns the session's object for the address (one it held already is
        refreshed), as loaded: what a read after the UPDATE would give."""
        attach = ({} if instance_uuid is None else
                  {"instance_uuid": instance_uuid, "network_uuid": network_uuid})
        row, changed = self._allocate(zone_uuid, account_uuid, address, attach)
        # The row read is the row written: the session's object gets the new
        # values as loaded, instead of a second read.
        ip = loaded(self._session, PublicIp, row, refresh=True)
        for name, value in changed.items():
            set_committed_value(ip, name, value)
        return ip

    def allocate_mapped(self, zone_uuid: str, account_uuid: str, *, instance_uuid: str,
                        network_uuid: str) -> Any:
        """:meth:`allocate` mapping the address to ``instance_uuid``, returned
        as a read-only record (a ``PublicIp`` record, as a read after the
        UPDATE would give) for a caller that only reads it; an object of the
        address the session held is expired (read again when used)."""
        row, changed = self._allocate(zone_uuid, account_uuid, None, {
            "instance_uuid": instance_uuid, "network_uuid": network_uuid})
        _expire_held(self._session, row[_UUID_AT])
        return _RECORD(changed.get(f, v) for f, v in zip(_RECORD._fields, row, strict=True))

    def _allocate(self, zone_uuid: str, account_uuid: str, address: str | None,
                  attach: dict[str, str | None]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The taken address's row as read and the values the UPDATE changed
        (InvalidParameter / InsufficientCapacity when there is none)."""
        # SQLite: one query, sorted dedicated first (the database's write lock
        # is held, so there is no race to dodge). MySQL: dedicated ranges, then
        # the shared ones, without a sort (see _candidate_stmt).
        for dedicated in (True, False) if self._mysql else (None,):
            taken = self._take(_candidate_stmt(self._mysql, dedicated, address is not None),
                               {"p_zone": zone_uuid, "p_account": account_uuid,
                                "p_address": address}, account_uuid, attach)
            if taken is not None:
                return taken
        if address is not None:
            raise InvalidParameter("address", address, "the address is not free in this zone")
        raise InsufficientCapacity(ResourceKind.PUBLIC_IP, "no free public address in the zone")

    def _take(self, stmt: Prepared, params: dict[str, str | None], account_uuid: str,
              attach: dict[str, str | None]) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        for _attempt in range(20):
            row = stmt.execute(self._session, params).first()
            if row is None:
                return None
            now = utcnow()
            values = {"p_ip": row[_UUID_AT], "p_account": account_uuid, "p_now": now}
            if attach:
                values.update(p_instance=attach["instance_uuid"],
                              p_network=attach["network_uuid"])
            result = (_ALLOCATE_TO if attach else _ALLOCATE).execute(self._session.connection(),
                                                                     values)
            if result.rowcount == 1:
                return row, {"state": IpState.ALLOCATED, "account_uuid": account_uuid,
                             "allocated_at": now, **attach}
            _expire_held(self._session, row[_UUID_AT])  # taken meanwhile
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


# The private allocator's statements, built once with bound parameters on the
# tables (no per-call expression building or ORM statement setup).
_networks: Table = Network.__table__  # type: ignore[assignment]
_nics: Table = Nic.__table__  # type: ignore[assignment]
_secondary: Table = NicSecondaryIp.__table__  # type: ignore[assignment]
_LOCK_CURSOR = Prepared(select(_networks.c.next_ip_offset).where(
    _networks.c.uuid == bindparam("p_network")).with_for_update())
_MOVE_CURSOR = Prepared(update(_networks).where(
    _networks.c.uuid == bindparam("p_network")).values(next_ip_offset=bindparam("p_offset")))
# One query for both places an address can be held.
_IN_USE = Prepared(select(or_(
    exists().where(_nics.c.network_uuid == bindparam("p_network"),
                   _nics.c.ip_address == bindparam("p_address")),
    exists().where(_secondary.c.network_uuid == bindparam("p_network"),
                   _secondary.c.ip_address == bindparam("p_address")))))


class PrivateIpAllocator:
    def __init__(self, session: Session) -> None:
        self._session = session

    def allocate(self, network: Network, requested: str | None = None, *,
                 taken: Collection[str] = ()) -> str:
        """Return a free host address of ``network`` (locks the network row).

        The caller inserts the NIC in the same transaction; the unique
        (network, ip) constraint rejects any duplicate that slipped through.
        ``taken`` are addresses the caller holds already but has not written
        a NIC for yet (a launch writing its rows at the end): they are skipped.
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
            if requested in taken or self._in_use(network.uuid, requested):
                raise InvalidParameter("ipaddress", requested, "the address is in use")
            return requested
        size = net.num_addresses
        # Lock the network row: concurrent allocations on it queue here.
        row = _LOCK_CURSOR.execute(self._session.connection(),
                                   {"p_network": network.uuid}).scalar()
        if row is None:
            raise LookupError(f"no network {network.uuid}")
        offset = int(row)
        for _ in range(size):
            offset = offset + 1 if offset + 1 < size - 1 else 1
            candidate = net.network_address + offset
            if candidate == gateway:
                continue
            text = str(candidate)
            if text not in taken and not self._in_use(network.uuid, text):
                _MOVE_CURSOR.execute(self._session.connection(),
                                     {"p_network": network.uuid, "p_offset": offset})
                return text
        raise InsufficientCapacity(ResourceKind.NETWORK, f"no free address in {net}")

    def _in_use(self, network_uuid: str, address: str) -> bool:
        """Held by a NIC, or as a NIC's secondary address, on that network."""
        return bool(_IN_USE.execute(self._session.connection(), {
            "p_network": network_uuid, "p_address": address}).scalar())


def mac_for(network_sid: str, address: str) -> str:
    """A locally administered MAC derived from the network and the address."""
    ip = int(ipaddress.ip_address(address)) & 0xFFFFFFFF
    octets = [0x02, int(network_sid[:2], 16)] + [(ip >> s) & 0xFF for s in (24, 16, 8, 0)]
    return ":".join(f"{o:02x}" for o in octets)
