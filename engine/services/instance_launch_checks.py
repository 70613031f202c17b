"""Checks of a launch request's inputs (template, zone, key pair, groups,
network, root size, user data), shared by :class:`InstanceService`.

They raise the engine's neutral errors and change nothing.
"""

from __future__ import annotations

import base64
import binascii
import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from engine.errors import InsufficientCapacity, InvalidParameter, NotFound, ResourceKind
from engine.models import (
    Account,
    Domain,
    KeyPair,
    Network,
    SecurityGroup,
    ServiceOffering,
    Template,
    TemplateUserData,
    TemplateZone,
    Vpc,
    VpcTier,
    Zone,
)
from engine.principal import Principal
from engine.querying import Record, record_columns, record_type
from engine.services.launch_details import Tier
from engine.services.security_groups import DEFAULT_GROUP, SecurityGroupService
from engine.services.template_access import may_launch
from engine.statements import Prepared
from engine.states import TemplateState

GIB = 1024**3
MAX_USER_DATA = 16 * 1024


# Rows only read (never changed) are read as records (engine.querying.Record):
# cheaper than the ORM's objects, and a view reads them alike.
_ZONE, _NETWORK_ROW, _ACCOUNT, _DOMAIN, _GROUP = (
    record_type(m) for m in (Zone, Network, Account, Domain, SecurityGroup))
# The launch's lookups, built once with bound parameters (named p_*).
# The template's zones, each with whether the template has linked user data
# (rows: state, link, the zone's columns; see engine.statements).
_ZONES = (select(TemplateZone.state, TemplateUserData.user_data_uuid, *record_columns(_ZONE))
          .select_from(Zone)
          .join(TemplateZone, TemplateZone.zone_uuid == Zone.uuid)
          .outerjoin(TemplateUserData,
                     TemplateUserData.template_uuid == TemplateZone.template_uuid)
          .where(TemplateZone.template_uuid == bindparam("p_template"),
                 Zone.removed_at.is_(None)))
_TEMPLATE_ZONES = {False: _ZONES.order_by(Zone.created_at),
                   True: _ZONES.where(Zone.uuid == bindparam("p_zone")).order_by(Zone.created_at)}
# The same, each zone with its default networks (oldest first) and their tier
# facts: a launch that names no network reads both in one query.
# (Rows: state, link, tier maps, container sid, the zone's, the network's columns.)
_TEMPLATE_ZONES_NETWORKS = {
    given: (stmt.with_only_columns(TemplateZone.state, TemplateUserData.user_data_uuid,
                                   VpcTier.map_public_ip, Vpc.sid, *record_columns(_ZONE),
                                   *record_columns(_NETWORK_ROW))
            .outerjoin(Network, and_(Network.zone_uuid == Zone.uuid, Network.is_default.is_(True),
                                     Network.removed_at.is_(None)))
            .outerjoin(VpcTier, VpcTier.network_uuid == Network.uuid)
            .outerjoin(Vpc, Vpc.uuid == VpcTier.vpc_uuid)
            .order_by(Network.created_at))
    for given, stmt in _TEMPLATE_ZONES.items()}
_PREPARED_ZONES = {(networks, given): Prepared(stmt) for networks, stmts in
                   ((False, _TEMPLATE_ZONES), (True, _TEMPLATE_ZONES_NETWORKS))
                   for given, stmt in stmts.items()}
# A network with its tier facts: (network or None, maps public addresses, container sid).
NetworkRow = tuple[Network | None, bool | None, str | None]
# The account, its domain and its default security group of no container (if made).
# (Rows: the columns of each record in turn; the limits check takes the account's.)
_OWNER = Prepared(
    select(*record_columns(_ACCOUNT), *record_columns(_DOMAIN), *record_columns(_GROUP))
    .select_from(Account)
    .join(Domain, Domain.uuid == Account.domain_uuid)
    .outerjoin(SecurityGroup, and_(SecurityGroup.account_uuid == Account.uuid,
                                   SecurityGroup.vpc_uuid == "",
                                   SecurityGroup.name == DEFAULT_GROUP))
    .where(Account.uuid == bindparam("p_account")))
_KEY_PAIR = select(KeyPair).where(KeyPair.account_uuid == bindparam("p_account"),
                                  KeyPair.name == bindparam("p_name"))
_NETWORK_ZONE = select(Network.zone_uuid).where(
    (Network.uuid == bindparam("p_network")) | (Network.sid == bindparam("p_network")))
# A network with the facts of the container it is a tier of (if any).
_WITH_TIER = (select(Network, VpcTier.map_public_ip, Vpc.sid)
              .outerjoin(VpcTier, VpcTier.network_uuid == Network.uuid)
              .outerjoin(Vpc, Vpc.uuid == VpcTier.vpc_uuid))
_NETWORK = _WITH_TIER.where((Network.uuid == bindparam("p_network"))
                            | (Network.sid == bindparam("p_network")))
_DEFAULT_NETWORK = _WITH_TIER.where(
    Network.zone_uuid == bindparam("p_zone"), Network.is_default.is_(True),
    Network.removed_at.is_(None)).order_by(Network.created_at).limit(1)


class LaunchChecks:
    """Mixin: needs ``self._s`` (the unit of work's session)."""

    _s: Session

    def _offering(self, uuid: str, known: Any = None) -> ServiceOffering:
        """The active offering ``uuid`` (NotFound); ``known``: its row if the
        caller read it already (an object or a record)."""
        offering = known if known is not None and known.uuid == uuid else self._s.get(
            ServiceOffering, uuid)
        if offering is None or not offering.active:
            raise NotFound(ResourceKind.SERVICE_OFFERING, uuid)
        return offering

    def _visible_template(self, principal: Principal, uuid: str, known: Any = None) -> Template:
        """The template ``uuid`` the principal may launch (NotFound);
        ``known``: its row if the caller read it already (an object or a record)."""
        t = known if known is not None and known.uuid == uuid else self._s.get(Template, uuid)
        if t is None or not may_launch(self._s, principal, t):
            raise NotFound(ResourceKind.TEMPLATE, uuid)
        return t

    def _zone_for(self, template: Template, zone_uuid: str | None, *,
                  default_network: bool = False) -> tuple[Zone, bool, NetworkRow | None]:
        """The template's first zone (by age) where it is ready (``zone_uuid``
        if given), whether the template has linked user data, and with
        ``default_network`` the zone's default network row for :meth:`_network`
        (read in the same query; None without it)."""
        rows = _PREPARED_ZONES[default_network, bool(zone_uuid)].execute(
            self._s, {"p_template": template.uuid, "p_zone": zone_uuid}).all()
        if not rows:
            if zone_uuid and self._s.get(Zone, zone_uuid) is None:
                raise NotFound(ResourceKind.ZONE, zone_uuid)
            raise InvalidParameter("templateid", template.uuid, "the template is not in that zone")
        ready = [row for row in rows if row[0] == TemplateState.READY]
        if not ready:
            raise InvalidParameter("templateid", template.uuid, "the template is not ready yet")
        first = ready[0]
        if not default_network:
            zone: Any = _ZONE(first[2:])  # its record: read only
            return zone, rows[0][1] is not None, None
        zone, network = _records(first, _ZONE, _NETWORK_ROW)
        return zone, rows[0][1] is not None, (network, first[2], first[3])

    def _owner(self, account_uuid: str) -> tuple[Account, Domain, SecurityGroup | None]:
        """The launching account, its domain and its default group of no
        container (None until made: see :meth:`_groups`), in one query, as
        read-only records."""
        row = _OWNER.execute(self._s, {"p_account": account_uuid}).first()
        if row is None:
            raise NotFound(ResourceKind.ACCOUNT, account_uuid)
        account, domain, group = _records(row, _ACCOUNT, _DOMAIN, _GROUP)
        return account, domain, group

    def _key_pair(self, principal: Principal, name: str) -> KeyPair:
        kp = self._s.execute(_KEY_PAIR, {"p_account": principal.account_uuid,
                                         "p_name": name}).scalar()
        if kp is None:
            raise NotFound(ResourceKind.KEY_PAIR, name)
        return kp

    def _groups(self, principal: Principal, uuids: tuple[str, ...],
                network_uuid: str | None = None, *,
                default: SecurityGroup | None = None) -> builtins.list[SecurityGroup]:
        """The launch's security groups (NotFound for one not the account's);
        without any, the default group: of the container ``network_uuid`` is a
        tier of, when one was asked for, else the account's (``default``, if
        the caller read it already). Groups named for an asked network must
        belong to its container (InvalidParameter)."""
        service = SecurityGroupService(self._s)
        if not uuids:
            if network_uuid is None and default is not None:
                return [default]
            if network_uuid is not None:
                return [service.default_for_network(principal, network_uuid)]
            # AWS's default group: all egress, and ingress from its own members.
            return [service.ensure_default(principal, open_egress=True, self_ingress=True)]
        groups = list(self._s.scalars(select(SecurityGroup).where(SecurityGroup.uuid.in_(uuids))))
        found = {g.uuid for g in groups if g.account_uuid == principal.account_uuid}
        for u in uuids:
            if u not in found:
                raise NotFound(ResourceKind.SECURITY_GROUP, u)
        if network_uuid is not None:
            service.require_network(groups, network_uuid)
        return groups

    def _network_zone(self, uuid: str | None) -> str | None:
        """The zone of the network ``uuid`` (uuid or sid), if there is one."""
        if not uuid:
            return None
        return self._s.execute(_NETWORK_ZONE, {"p_network": uuid}).scalar()

    def _network(self, principal: Principal, zone: Zone, uuid: str | None, *,
                 default: NetworkRow | None = None) -> tuple[Network, Tier]:
        """The network ``uuid`` (uuid or sid; NotFound unless it is a live
        network of ``zone`` the principal may use), else the zone's default
        network (InsufficientCapacity if it has none; ``default`` if the
        caller read it already: see :meth:`_zone_for`); with its :class:`Tier`."""
        row: Any
        if uuid:
            row = self._s.execute(_NETWORK, {"p_network": uuid}).first()
            net = row[0] if row is not None else None
            if net is None or net.zone_uuid != zone.uuid or net.removed_at is not None or (
                    net.account_uuid not in (None, principal.account_uuid)):
                raise NotFound(ResourceKind.NETWORK, uuid)
        else:
            if default is None:
                row = self._s.execute(_DEFAULT_NETWORK, {"p_zone": zone.uuid}).first()
            else:  # read with the zone; (None, ...) when the zone has none
                row = default if default[0] is not None else None
            if row is None:
                raise InsufficientCapacity(ResourceKind.NETWORK, "the zone has no guest network")
        assert row is not None
        net, maps, vpc_sid = row
        return net, Tier(bool(maps), vpc_sid) if vpc_sid is not None else Tier()

    def _root_size(self, template: Template, offering: ServiceOffering,
                   requested_gib: int | None) -> int:
        minimum = max(template.size_bytes, offering.root_disk_gib * GIB)
        if requested_gib is not None:
            if requested_gib * GIB < template.size_bytes:
                raise InvalidParameter("VolumeSize", requested_gib,
                                       "smaller than the image's size")
            return requested_gib * GIB
        return max(minimum, GIB)


def _records(row: Sequence[Any], *types: type[Record]) -> list[Any]:
    """The records of ``types`` side by side at the end of ``row`` (after any
    leading plain columns); None for one whose columns are all NULL (an outer
    join found no row)."""
    at = len(row) - sum(len(t._fields) for t in types)
    out = []
    for record in types:
        part = row[at:at + len(record._fields)]
        at += len(record._fields)
        out.append(None if all(v is None for v in part) else record(part))
    return out


def check_user_data(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameter("UserData", "...", "Invalid BASE64 encoding of user data") from exc
    if len(raw) > MAX_USER_DATA:
        raise InvalidParameter("UserData", "...", "User data is limited to 16384 bytes")
    return value


def one_host(asked: str | None, required: str | None) -> str | None:
    """The host a placement must use: the one asked for and/or the one an
    affinity group requires (InsufficientCapacity when they differ)."""
    if asked and required and asked != required:
        raise InsufficientCapacity(ResourceKind.HOST, "the affinity group requires another host")
    return asked or required
