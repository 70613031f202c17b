"""Listing instances as :class:`~engine.services.instance_summary.InstanceSummary`:
narrow queries for big listings.

A listing of a thousand instances reads, per instance, only the columns a
list view shows (about a third of the instance's, a few of each NIC, volume,
group and tag), with Core selects returning plain rows (no ORM loading, no
identity map, no type processing of columns nobody reads). The page is the
one :meth:`InstanceReader.page` selects (same scope, filters, order and
tokens as :meth:`InstanceReader.list`); its related rows are read with one
narrow statement per kind, for the page's instances (see
:class:`~engine.services.instance_details.Scope`). The few rows instances
share (zone, offering, template, account, network, security group) are read
by uuid, one statement per kind, the uuids bound (prepared once per padded
size, on every database). A page costs a fixed number of statements.

On SQLite, a big page's related rows are read with the page's uuids bound
(:class:`_ByKeys`: statements prepared once per size, run on the DBAPI
cursor) rather than through the page's conditions as a subquery: SQLite runs
that subquery again in each statement, reading every instance row of the page
each time. Other databases keep the subquery.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.orm import Session

from engine.errors import ResourceKind
from engine.models import (
    Account,
    AffinityGroup,
    Instance,
    InstanceAffinityGroup,
    InstanceSecurityGroup,
    Network,
    Nic,
    PublicIp,
    SecurityGroup,
    ServiceOffering,
    Tag,
    Template,
    Volume,
    Vpc,
    VpcTier,
    Zone,
)
from engine.models.instance_metadata import MetadataAccess
from engine.principal import Principal
from engine.querying import ListResult, narrow_record_type
from engine.services.instance_details import InstanceQuery, InstanceReader, Scope
from engine.services.instance_metadata import AccessOptions
from engine.services.instance_summary import InstanceSummary, NicSummary, VolumeSummary
from engine.services.settings import Settings
from engine.statements import Prepared

_INSTANCES = Instance.__table__
_ACCESS = MetadataAccess.__table__
# The instance columns a summary shows (plus what paging and the related
# rows are keyed by), and the access options joined to each.
_PAGE_RECORD = narrow_record_type(Instance, (
    "uuid", "sid", "state", "launch_index", "created_at", "state_changed_at", "client_token",
    "key_pair_name", "cpus", "reservation_sid", "account_uuid", "zone_uuid",
    "service_offering_uuid", "template_uuid", "hibernation_enabled"), joined={
        f"access_{c.name}": c for c in (_ACCESS.c.endpoint_enabled, _ACCESS.c.require_token,
                                        _ACCESS.c.token_hop_limit, _ACCESS.c.ipv6_enabled,
                                        _ACCESS.c.expose_tags)})
_ACCESS_AT = _PAGE_RECORD._fields.index("access_endpoint_enabled")  # AccessOptions' order
_PAGE_FROM = _INSTANCES.outerjoin(_ACCESS, _ACCESS.c.instance_uuid == _INSTANCES.c.uuid)
_NICS = Nic.__table__
_VOLUMES = Volume.__table__
_PUBLIC = PublicIp.__table__
_TAGS = Tag.__table__
_GROUP_LINKS = InstanceSecurityGroup.__table__
_GROUPS = SecurityGroup.__table__
_AFFINITY_LINKS = InstanceAffinityGroup.__table__
_AFFINITY = AffinityGroup.__table__
_NETWORKS, _TIERS, _VPCS = Network.__table__, VpcTier.__table__, Vpc.__table__

# The related rows of a page, one narrow statement each (the scope adds
# which instances): the first column names the instance. NICs and volumes
# are put in device order here, per instance, not by an ORDER BY (a sort of
# the whole page's rows in the database).
_NIC_SELECT = select(
    _NICS.c.instance_uuid, _NICS.c.sid, _NICS.c.network_uuid, _NICS.c.ip_address,
    _NICS.c.mac_address, _NICS.c.device_id, _NICS.c.is_default, _NICS.c.attachment_sid,
    _NICS.c.description, _NICS.c.delete_on_termination, _NICS.c.source_dest_check,
    func.coalesce(_NICS.c.attached_at, _NICS.c.created_at))
_PUBLIC_SELECT = select(_PUBLIC.c.instance_uuid, _PUBLIC.c.address, _PUBLIC.c.association_sid)
_VOLUME_SELECT = select(
    _VOLUMES.c.instance_uuid, _VOLUMES.c.sid, _VOLUMES.c.kind, _VOLUMES.c.device_id,
    _VOLUMES.c.delete_on_termination,
    func.coalesce(_VOLUMES.c.attached_at, _VOLUMES.c.created_at))
_GROUP_LINK_SELECT = select(_GROUP_LINKS.c.instance_uuid, _GROUP_LINKS.c.group_uuid)
_AFFINITY_SELECT = (
    select(_AFFINITY_LINKS.c.instance_uuid, _AFFINITY.c.name, _AFFINITY.c.sid)
    .select_from(_AFFINITY_LINKS.join(_AFFINITY,
                                      _AFFINITY.c.uuid == _AFFINITY_LINKS.c.group_uuid))
    .order_by(_AFFINITY.c.name))
# Sorted by key here, not by the query (see InstanceReader.details).
_TAG_SELECT = select(_TAGS.c.resource_uuid, _TAGS.c.key, _TAGS.c.value).where(
    _TAGS.c.resource_kind == ResourceKind.INSTANCE)


class InstanceLister:
    """Pages of instances as summaries (the read side of list views)."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self._session = session
        self._reader = InstanceReader(session, settings)

    def read(self, principal: Principal, query: InstanceQuery) -> ListResult:
        """One page of the instances ``principal`` may see that match ``query``
        (what :meth:`InstanceReader.list` selects, in the same order, with the
        same tokens), as :class:`InstanceSummary` with their access options."""
        page, among = self._reader.page(principal, query, _PAGE_RECORD,
                                         select_from=_PAGE_FROM)
        page.items = self.summaries(page.items, among)
        return page

    def summaries(self, rows: Sequence[Any], among: ColumnElement[bool] | None
                  ) -> list[InstanceSummary]:
        """The summaries of page rows (``_PAGE_RECORD``); ``among`` as for
        :meth:`InstanceReader.details`."""
        if not rows:
            return []
        s = self._session
        uuids = [r[_UUID] for r in rows]
        related = _Related(s, uuids, among)
        zones = _by_uuid(s, _ZONE_NAMES, {r[_ZONE] for r in rows})
        offerings = _by_uuid(s, _OFFERING_NAMES, {r[_OFFERING] for r in rows})
        numbers = _by_uuid(s, _ACCOUNT_NUMBERS, {r[_ACCOUNT] for r in rows})
        templates = _by_uuid(s, _TEMPLATE_SHOWN, {r[_TEMPLATE] for r in rows})
        nics = self._nics(related)
        volumes: dict[str, list[VolumeSummary]] = defaultdict(list)
        for v in related.rows(_VOLUME_ROWS):
            volumes[v[0]].append(_volume(v[1:]))
        _in_device_order(volumes)
        groups = self._security_groups(related)
        placement: dict[str, tuple[str, str]] = {}
        for uuid, name, sid in related.rows(_AFFINITY_ROWS):
            placement.setdefault(uuid, (name, sid))
        tags: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for uuid, key, value in related.rows(_TAG_ROWS):
            tags[uuid].append((key, value))
        for listed in tags.values():
            if len(listed) > 1:
                listed.sort()  # by key: a resource's keys are unique
        options: dict[tuple[Any, ...], AccessOptions] = {}  # equal options: one object
        no_groups: tuple[tuple[str, str], ...] = ()
        out: list[InstanceSummary] = []
        append = out.append
        make = InstanceSummary._make
        own = _OWN
        for r in rows:
            u = r[_UUID]
            access = r[_ACCESS_AT:]
            wanted = None
            if access[0] is not None:  # a stored row
                wanted = options.get(access)
                if wanted is None:
                    wanted = options[access] = AccessOptions(*access)
            append(make((
                *own(r), numbers[r[_ACCOUNT]], zones[r[_ZONE]], offerings[r[_OFFERING]],
                *templates[r[_TEMPLATE]], nics.get(u) or [], volumes.get(u) or [],
                groups.get(u, no_groups), tags.get(u) or [], placement.get(u), wanted,
                r[_HIBERNATION])))
        return out

    def _nics(self, related: _Related) -> dict[str, list[NicSummary]]:
        s = self._session
        rows = related.rows(_NIC_ROWS)
        public = {uuid: (address, association)
                  for uuid, address, association in related.rows(_PUBLIC_ROWS)}
        networks = _by_uuid(s, _NETWORK_SIDS, {r[2] for r in rows})
        out: dict[str, list[NicSummary]] = defaultdict(list)
        for r in rows:
            uuid = r[0]
            network_sid, vpc_sid = networks[r[2]]
            address, association = public.get(uuid, _NO_ADDRESS) if r[6] else _NO_ADDRESS
            out[uuid].append(_nic((r[1], network_sid, vpc_sid, *r[3:], address, association)))
        _in_device_order(out)
        return out

    def _security_groups(self, related: _Related) -> dict[str, tuple[tuple[str, str], ...]]:
        """Per instance, its groups' (name, sid), in the order
        :meth:`InstanceReader.details` lists them; equal lists are one tuple."""
        s = self._session
        links: dict[str, list[str]] = defaultdict(list)
        for uuid, group in related.rows(_GROUP_LINK_ROWS):
            links[uuid].append(group)
        wanted = {g for groups in links.values() for g in groups}
        if not wanted:
            return {}
        named = _by_uuid(s, _GROUP_NAMES, wanted)
        shared: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
        out = {}
        for uuid, groups in links.items():
            key = tuple(groups)
            found = shared.get(key)
            if found is None:
                found = shared[key] = tuple(named[g] for g in groups if g in named)
            out[uuid] = found
        return out


# Positions in _PAGE_RECORD, and the instance's own values a summary starts
# with (InstanceSummary's first fields, in its order).
_UUID, _ACCOUNT, _ZONE, _OFFERING, _TEMPLATE, _HIBERNATION = (
    _PAGE_RECORD._fields.index(n) for n in (
        "uuid", "account_uuid", "zone_uuid", "service_offering_uuid", "template_uuid",
        "hibernation_enabled"))
_OWN = itemgetter(*(_PAGE_RECORD._fields.index(n) for n in InstanceSummary._fields[
    :InstanceSummary._fields.index("account_number")]))
# Padded sizes of the uuid lists bound into a big page's related-row statements
# (each statement is prepared once per size it is used with).
_BOUND_SIZES = (64, 128, 256, 512, 1024)
_UUID_NAMES = tuple(f"p_u{i}" for i in range(_BOUND_SIZES[-1]))


class _ByKeys:
    """A select (its first column names the row it is about: the instance of a
    related row, the shared row itself) for rows of the given keys with the
    keys bound: prepared once per padded size (the last key repeated), run on
    the DBAPI cursor. More keys than the largest size: an expanding IN,
    through SQLAlchemy."""

    def __init__(self, stmt: Select[Any], column: Any,
                 sizes: tuple[int, ...] = _BOUND_SIZES) -> None:
        self.stmt = stmt
        self.column = column
        self._sizes = sizes
        self._prepared: dict[int, Prepared] = {}

    def rows(self, session: Session, uuids: list[str]) -> Sequence[Any]:
        n = len(uuids)
        if not n:
            return []
        if n > self._sizes[-1]:
            return _rows(session, self.stmt.where(self.column.in_(uuids)))
        size = next(size for size in self._sizes if size >= n)
        prepared = self._prepared.get(size)
        if prepared is None:
            prepared = self._prepared.setdefault(size, Prepared(self.stmt.where(
                self.column.in_([bindparam(name) for name in _UUID_NAMES[:size]]))))
        padded = uuids + [uuids[-1]] * (size - n) if size > n else uuids
        return prepared.execute(session, dict(zip(_UUID_NAMES, padded))).rows


_NIC_ROWS = _ByKeys(_NIC_SELECT, _NICS.c.instance_uuid)
_PUBLIC_ROWS = _ByKeys(_PUBLIC_SELECT, _PUBLIC.c.instance_uuid)
_VOLUME_ROWS = _ByKeys(_VOLUME_SELECT, _VOLUMES.c.instance_uuid)
_GROUP_LINK_ROWS = _ByKeys(_GROUP_LINK_SELECT, _GROUP_LINKS.c.instance_uuid)
_AFFINITY_ROWS = _ByKeys(_AFFINITY_SELECT, _AFFINITY_LINKS.c.instance_uuid)
_TAG_ROWS = _ByKeys(_TAG_SELECT, _TAGS.c.resource_uuid)


class _Related:
    """How a page's related rows are read: the page's uuids bound (a big page
    on SQLite, see the module docstring), else through a :class:`Scope`."""

    def __init__(self, session: Session, uuids: list[str],
                 among: ColumnElement[bool] | None) -> None:
        self._session = session
        self._uuids = uuids
        self._bound = (among is not None and len(uuids) <= _BOUND_SIZES[-1]
                       and session.connection().dialect.name == "sqlite")
        # Bound sorted: SQLite reads an IN list in key order whatever order it
        # was given in (so the rows come back the same), and builds it faster
        # from sorted keys.
        self._sorted = sorted(uuids) if self._bound else uuids
        self._scope = Scope(uuids, among)

    def rows(self, select_of: _ByKeys) -> Sequence[Any]:
        if self._bound:
            return select_of.rows(self._session, self._sorted)
        return _rows(self._session, self._scope.of(select_of.column)(select_of.stmt))


_NO_ADDRESS: tuple[None, None] = (None, None)


def _in_device_order(by_instance: dict[str, list[Any]]) -> None:
    """Sort each instance's NICs (volumes) by device id (stable: the database's
    order for equal ids, as an ORDER BY device_id would leave them)."""
    for listed in by_instance.values():
        if len(listed) > 1:
            listed.sort(key=_device)


def _device(row: NicSummary | VolumeSummary) -> int:
    return row.device_id if row.device_id is not None else -1


_volume = VolumeSummary._make
_nic = NicSummary._make


def _rows(session: Session, stmt: Any) -> Sequence[Any]:
    """The rows of a Core select, on the session's connection."""
    return session.connection().execute(stmt).all()


# Padded sizes of the uuid lists of the few shared rows a page names.
_SHARED_SIZES = (4, 16, 64, 256, _BOUND_SIZES[-1])


def _shared(column: Any, *columns: Any) -> _ByKeys:
    """The select of ``columns`` of the rows of ``column``'s table by uuid."""
    table = column.table
    return _ByKeys(select(table.c.uuid, column, *columns), table.c.uuid, _SHARED_SIZES)


_ZONE_NAMES = _shared(Zone.__table__.c.name)
_OFFERING_NAMES = _shared(ServiceOffering.__table__.c.name)
_ACCOUNT_NUMBERS = _shared(Account.__table__.c.number)
_TEMPLATE_SHOWN = _shared(*(Template.__table__.c[n] for n in ("sid", "arch",
                                                                "root_device_name")))
_GROUP_NAMES = _shared(_GROUPS.c.name, _GROUPS.c.sid)
# (uuid, sid, container sid or None) of networks.
_NETWORK_SIDS = _ByKeys(
    select(_NETWORKS.c.uuid, _NETWORKS.c.sid, _VPCS.c.sid).select_from(
        _NETWORKS.outerjoin(_TIERS, _TIERS.c.network_uuid == _NETWORKS.c.uuid)
        .outerjoin(_VPCS, _VPCS.c.uuid == _TIERS.c.vpc_uuid)),
    _NETWORKS.c.uuid, _SHARED_SIZES)


def _by_uuid(session: Session, select_of: _ByKeys, uuids: set[str]) -> dict[str, Any]:
    """The rows of these uuids as {uuid: second column} (two columns) or
    {uuid: (the other columns)}: one statement (none for no uuids)."""
    rows = select_of.rows(session, sorted(uuids))
    if len(select_of.stmt.selected_columns) == 2:
        return dict(rows)  # type: ignore[arg-type]
    return {r[0]: tuple(r[1:]) for r in rows}
