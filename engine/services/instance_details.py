"""Listing instances, with everything a view needs loaded in a few batched queries.

Every row of an :class:`InstanceDetail` read here (the instance, its NICs,
public address, volumes and tags, and the rows instances share: zone,
offering, template, account, domain, host, networks, security and affinity
groups) is a :class:`~engine.querying.Record` snapshot: the model's column
attributes, read-only, loaded without the ORM's per-object bookkeeping (a
listing of thousands reads them, never changes them). Consumers only read
column attributes, so ORM rows (what a launch builds details from, see
``launch_details``) and records serve them alike. A page costs a fixed
number of statements, one per kind of row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from operator import attrgetter
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, and_, or_, select, true
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import NotFound, ResourceKind
from engine.models import (
    Account,
    AffinityGroup,
    Domain,
    Host,
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
from engine.principal import Principal
from engine.querying import (
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    Record,
    apply_criteria,
    owner_scope,
    paginate,
    query_key,
    record_columns,
    record_type,
    records,
)
from engine.services.instance_fields import INSTANCE_MORE_FIELDS
from engine.services.settings import Settings
from engine.states import VmState


@dataclass
class NicDetail:
    nic: Nic  # or its read-only record (same attributes)
    network: Network
    public_ip: PublicIp | None = None  # or its record
    vpc_sid: str | None = None  # the network's container, if it is a tier of one


@dataclass
class InstanceDetail:
    """An instance and the related facts both front ends render.

    Every row here (``instance``, ``zone`` ... ``host``, the rows in ``nics``,
    ``volumes``, ``security_groups``, ``tags``, ``affinity_groups``) is an ORM
    row or its read-only record (what :class:`InstanceReader` loads): read
    their column attributes, never change them or follow relationships.
    ``nics`` are ordered by device id, ``volumes`` by device id, ``tags`` by key,
    ``affinity_groups`` by name.
    """

    instance: Instance
    zone: Zone
    offering: ServiceOffering
    template: Template
    account: Account
    domain: Domain
    host: Host | None
    nics: list[NicDetail] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    security_groups: list[SecurityGroup] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    affinity_groups: list[AffinityGroup] = field(default_factory=list)

    @property
    def primary_nic(self) -> NicDetail | None:
        """The default NIC (else the first one, else None)."""
        for n in self.nics:
            if n.nic.is_default:
                return n
        return self.nics[0] if self.nics else None


def _security_group_names(values: Sequence[str]) -> object:
    return Instance.uuid.in_(
        select(InstanceSecurityGroup.instance_uuid)
        .join(SecurityGroup, SecurityGroup.uuid == InstanceSecurityGroup.group_uuid)
        .where(or_(SecurityGroup.name.in_(values), SecurityGroup.sid.in_(values)))
    )


def _private_ip(values: Sequence[str]) -> object:
    return Instance.uuid.in_(select(Nic.instance_uuid).where(Nic.ip_address.in_(values)))


def _public_ip(values: Sequence[str]) -> object:
    return Instance.uuid.in_(select(PublicIp.instance_uuid).where(PublicIp.address.in_(values)))


def _offering_name(values: Sequence[str]) -> object:
    return Instance.service_offering_uuid.in_(
        select(ServiceOffering.uuid).where(ServiceOffering.name.in_(values))
    )


def _template_sid(values: Sequence[str]) -> object:
    return Instance.template_uuid.in_(select(Template.uuid).where(Template.sid.in_(values)))


def _zone_name(values: Sequence[str]) -> object:
    return Instance.zone_uuid.in_(select(Zone.uuid).where(Zone.name.in_(values)))


def _host_name(values: Sequence[str]) -> object:
    return Instance.host_uuid.in_(select(Host.uuid).where(Host.name.in_(values)))


def _affinity_group_names(values: Sequence[str]) -> object:
    return Instance.uuid.in_(
        select(InstanceAffinityGroup.instance_uuid)
        .join(AffinityGroup, AffinityGroup.uuid == InstanceAffinityGroup.group_uuid)
        .where(or_(AffinityGroup.name.in_(values), AffinityGroup.sid.in_(values)))
    )


INSTANCE_FIELDS: FieldMap = {
    "uuid": Instance.uuid,
    "sid": Instance.sid,
    "name": Instance.name,
    "display_name": Instance.display_name,
    "state": Instance.state,
    "zone_uuid": Instance.zone_uuid,
    "zone_name": _zone_name,
    "host_uuid": Instance.host_uuid,
    "host_name": _host_name,
    "template_uuid": Instance.template_uuid,
    "template_sid": _template_sid,
    "offering_uuid": Instance.service_offering_uuid,
    "offering_name": _offering_name,
    "key_name": Instance.key_pair_name,
    "reservation_sid": Instance.reservation_sid,
    "account_uuid": Instance.account_uuid,
    "hypervisor": Instance.hypervisor,
    "launch_index": Instance.launch_index,
    "group": Instance.group_name,
    "private_ip": _private_ip,
    "public_ip": _public_ip,
    "security_group": _security_group_names,
    "affinity_group": _affinity_group_names,
    **INSTANCE_MORE_FIELDS,
}


@dataclass(frozen=True)
class InstanceQuery:
    criteria: tuple[Criterion, ...] = ()
    paging: Paging = Paging()
    list_all: bool = True
    include_expunged: bool = False  # recently terminated ones stay visible
    include_destroyed: bool = True
    count: bool = False
    # Items are InstanceSummary (engine.services.instance_summary: what a
    # list view shows, read with narrow queries) instead of InstanceDetail.
    summaries: bool = False


class InstanceReader:
    """Read side of instances: scoped, filtered, paged, fully loaded."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self._session = session
        self._settings = settings

    def list(self, principal: Principal, query: InstanceQuery) -> ListResult:
        """One page of the instances ``principal`` may see that match ``query``,
        oldest first, as :class:`InstanceDetail` (instance rows are records),
        or with ``query.summaries`` as :class:`InstanceSummary` (see
        :class:`~engine.services.instance_listing.InstanceLister`)."""
        if query.summaries:
            from engine.services.instance_listing import InstanceLister  # imports this module

            return InstanceLister(self._session, self._settings).read(principal, query)
        instance_record = record_type(Instance)
        page, among = self.page(principal, query, instance_record)
        page.items = self.details(page.items, among=among)
        return page

    def page(self, principal: Principal, query: InstanceQuery, record: type[Record], *,
             select_from: FromClause | None = None
             ) -> tuple[ListResult, ColumnElement[bool] | None]:
        """One page of the instances ``principal`` may see that match ``query``,
        oldest first, as ``record`` snapshots (a :func:`record_type` of
        ``Instance``, all its columns or some, ``uuid`` and ``created_at``
        among them; ``select_from``, if given, is ``instances`` joined to the
        tables of the record's other columns); and, for a big page, a
        condition on ``Instance`` that selects the page's instances (and
        maybe others, never hidden ones): the scope to read their related
        rows by (see :meth:`details`)."""
        if self._session.autoflush:
            self._session.flush()  # the record queries below do not autoflush
        stmt = select(*record_columns(record))
        if select_from is not None:
            stmt = stmt.select_from(select_from)
        stmt = stmt.where(
            owner_scope(Instance.account_uuid, principal, list_all=query.list_all)
        )
        if query.include_expunged:
            horizon = utcnow() - timedelta(seconds=self._settings.int("terminated.visible.seconds"))
            stmt = stmt.where(
                or_(
                    Instance.state != VmState.EXPUNGED,
                    and_(Instance.removed_at.is_not(None), Instance.removed_at > horizon),
                )
            )
        else:
            stmt = stmt.where(Instance.state.not_in((VmState.EXPUNGED, VmState.EXPUNGING)))
        if not query.include_destroyed:
            stmt = stmt.where(Instance.state != VmState.DESTROYED)
        stmt = apply_criteria(
            stmt, INSTANCE_FIELDS, query.criteria, uuid_column=Instance.uuid,
            kind=ResourceKind.INSTANCE,
        )
        key = query_key("instances", principal.account_uuid, query.criteria, query.list_all,
                        query.include_expunged)
        page = paginate(
            self._session, stmt, created_column=Instance.created_at, uuid_column=Instance.uuid,
            paging=query.paging, query_key=key, count=query.count, record=record,
        )
        items = page.items
        among = None
        if len(items) > SCOPED_PAGE:
            # A big page: related rows are read for the instances the page's own
            # conditions select between its first and last key (a subquery),
            # instead of binding a thousand uuids into each query.
            first, last = items[0], items[-1]
            among = and_(stmt.whereclause if stmt.whereclause is not None else true(),
                         _keyset_between(first.created_at, first.uuid,
                                         last.created_at, last.uuid))
        return page, among

    def get(self, principal: Principal, *, uuid: str | None = None, sid: str | None = None,
            include_expunged: bool = True) -> InstanceDetail:
        """One instance the principal may see, or NotFound."""
        crit = Criterion("uuid", (uuid,), False) if uuid else Criterion("sid", (sid or "",), False)
        page = self.list(principal, InstanceQuery(criteria=(crit,),
                                                  include_expunged=include_expunged))
        if not page.items:
            raise NotFound(ResourceKind.INSTANCE, uuid or sid)
        return page.items[0]  # type: ignore[no-any-return]

    def details(self, instances: Sequence[Instance], *,
                among: ColumnElement[bool] | None = None) -> list[InstanceDetail]:
        """Load the related rows of ``instances`` (ORM rows or records) as
        records, in a fixed number of statements (one per kind of row).

        ``among``, if given, is a condition on ``Instance`` that holds for every
        one of ``instances`` (and ideally no other): related rows are then read
        for the instances it selects (a subquery) rather than by listing uuids.
        """
        if not instances:
            return []
        s = self._session
        if s.autoflush:
            s.flush()
        uuids = [i.uuid for i in instances]
        scope = Scope(uuids, among)
        # The few rows instances share, by the uuids the page names: one small
        # statement per kind (joining them to the page's instances instead
        # costs the database far more than these lookups).
        zones = _by_uuid(s, Zone, {i.zone_uuid for i in instances})
        offerings = _by_uuid(s, ServiceOffering, {i.service_offering_uuid for i in instances})
        templates = _by_uuid(s, Template, {i.template_uuid for i in instances})
        accounts = _by_uuid(s, Account, {i.account_uuid for i in instances})
        domains = _by_uuid(s, Domain, {a.domain_uuid for a in accounts.values()})
        hosts = _by_uuid(s, Host, {i.host_uuid for i in instances})
        nics: dict[str, list[NicDetail]] = defaultdict(list)
        nic_t, ip_t = record_type(Nic), record_type(PublicIp)
        nic_rows = records(s, nic_t, order_by=[nic_t.column("device_id")],
                           scope=scope.of(nic_t.column("instance_uuid")))
        networks, containers = _networks(s, {n.network_uuid for n in nic_rows})
        public = {p.instance_uuid: p
                  for p in records(s, ip_t, scope=scope.of(ip_t.column("instance_uuid")))}
        for n in nic_rows:
            nics[n.instance_uuid or ""].append(NicDetail(
                n, networks[n.network_uuid], public.get(n.instance_uuid) if n.is_default else None,
                containers.get(n.network_uuid)))
        volume_t = record_type(Volume)
        volumes: dict[str, list[Volume]] = defaultdict(list)
        for v in records(s, volume_t, order_by=[volume_t.column("device_id")],
                         scope=scope.of(volume_t.column("instance_uuid"))):
            volumes[v.instance_uuid or ""].append(v)
        groups: dict[str, list[SecurityGroup]] = _memberships(
            s, scope, InstanceSecurityGroup.__table__, SecurityGroup)
        affinity: dict[str, list[AffinityGroup]] = _memberships(
            s, scope, InstanceAffinityGroup.__table__, AffinityGroup, order_by="name")
        tag_t = record_type(Tag)
        tags: dict[str, list[Tag]] = defaultdict(list)
        # Sorted here, not by the query: ORDER BY key would have the database
        # walk the key index over every tag of the cloud.
        for t in records(s, tag_t, tag_t.column("resource_kind") == ResourceKind.INSTANCE,
                         scope=scope.of(tag_t.column("resource_uuid"))):
            tags[t.resource_uuid].append(t)
        for listed in tags.values():
            if len(listed) > 1:
                listed.sort(key=_by_key)
        out = []
        for i in instances:
            account = accounts[i.account_uuid]
            host_uuid = i.host_uuid
            u = i.uuid
            out.append(
                InstanceDetail(
                    instance=i,
                    zone=zones[i.zone_uuid],
                    offering=offerings[i.service_offering_uuid],
                    template=templates[i.template_uuid],
                    account=account,
                    domain=domains[account.domain_uuid],
                    host=hosts.get(host_uuid) if host_uuid else None,
                    nics=nics.get(u, []),
                    affinity_groups=affinity.get(u, []),
                    volumes=volumes.get(u, []),
                    security_groups=groups.get(u, []),
                    tags=tags.get(u, []),
                )
            )
        return out


_by_key = attrgetter("key")
# Pages longer than this read their related rows through the page's query.
SCOPED_PAGE = 32
_SCOPED_PAGE = SCOPED_PAGE  # the former name


def _keyset_between(first_created: object, first_uuid: str, last_created: object,
                    last_uuid: str) -> ColumnElement[bool]:
    """Instances from (first_created, first_uuid) to (last_created, last_uuid), inclusive."""
    c, u = Instance.created_at, Instance.uuid
    return and_(or_(c > first_created, and_(c == first_created, u >= first_uuid)),
                or_(c < last_created, and_(c == last_created, u <= last_uuid)))


class Scope:
    """Which instances related rows are read for: those of ``uuids``, or (with
    ``among``) the instances under that condition; rows of other instances
    that the condition lets through are harmless (they are looked up by uuid)."""

    def __init__(self, uuids: list[str], among: ColumnElement[bool] | None) -> None:
        self._uuids = uuids
        self._chosen = None if among is None else select(_INSTANCES.c.uuid).where(among)

    def of(self, column: Any) -> Callable[[Select[Any]], Select[Any]]:
        """Narrow a statement to rows whose ``column`` names one of the instances."""
        chosen = self._chosen
        if chosen is None:
            uuids = self._uuids
            return lambda stmt: stmt.where(column.in_(uuids))
        return lambda stmt: stmt.where(column.in_(chosen))


_INSTANCES = Instance.__table__


def _by_uuid(session: Session, model: type, uuids: set[str | None]) -> dict[str, Any]:
    """Rows of ``model`` with these uuids (None ignored) as records keyed by
    uuid: one statement (none if there are no uuids)."""
    wanted = [u for u in uuids if u]
    if not wanted:
        return {}
    kind = record_type(model)
    return {r.uuid: r for r in records(session, kind, kind.column("uuid").in_(wanted))}


def _networks(session: Session, uuids: set[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Networks ``uuids`` as records by uuid, and the container sid of those
    that are tiers of one: one statement."""
    if not uuids:
        return {}, {}
    net_t = record_type(Network)
    networks, tiers, vpcs = Network.__table__, VpcTier.__table__, Vpc.__table__
    width = len(net_t._fields)
    stmt = (select(*record_columns(net_t), vpcs.c.sid)
            .select_from(networks.outerjoin(tiers, tiers.c.network_uuid == networks.c.uuid)
                         .outerjoin(vpcs, vpcs.c.uuid == tiers.c.vpc_uuid))
            .where(networks.c.uuid.in_(list(uuids))))
    found: dict[str, Any] = {}
    containers: dict[str, str] = {}
    for row in session.execute(stmt).all():
        rec = net_t(row[:width])
        found[rec.uuid] = rec
        if row[width] is not None:
            containers[rec.uuid] = row[width]
    return found, containers


def _memberships(session: Session, scope: Scope, link: Any, model: type,
                 order_by: str | None = None) -> dict[str, list[Any]]:
    """Per instance, the groups ``link`` (a table of (instance_uuid,
    group_uuid)) ties it to, as records of ``model`` (one record per group,
    shared), in one statement; ordered by ``order_by`` if given."""
    kind = record_type(model)
    groups = model.__table__  # type: ignore[attr-defined]
    stmt = scope.of(link.c.instance_uuid)(
        select(link.c.instance_uuid, *record_columns(kind))
        .select_from(link.join(groups, groups.c.uuid == link.c.group_uuid)))
    if order_by is not None:
        stmt = stmt.order_by(groups.c[order_by])
    shared: dict[str, Any] = {}
    out: dict[str, list[Any]] = defaultdict(list)
    for row in session.execute(stmt).all():
        rec = kind(row[1:])
        out[row[0]].append(shared.setdefault(rec.uuid, rec))
    return out
