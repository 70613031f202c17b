"""Listing instances, with everything a view needs loaded in a few batched queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

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
    apply_criteria,
    owner_scope,
    paginate,
    query_key,
    rows_by_uuid,
)
from engine.services.instance_fields import INSTANCE_MORE_FIELDS
from engine.services.settings import Settings
from engine.states import VmState

T = TypeVar("T")


@dataclass
class NicDetail:
    nic: Nic
    network: Network
    public_ip: PublicIp | None = None
    vpc_sid: str | None = None  # the network's container, if it is a tier of one


@dataclass
class InstanceDetail:
    """An instance and the related facts both front ends render."""

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
        return next((n for n in self.nics if n.nic.is_default), self.nics[0] if self.nics else None)


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


class InstanceReader:
    """Read side of instances: scoped, filtered, paged, fully loaded."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self._session = session
        self._settings = settings

    def list(self, principal: Principal, query: InstanceQuery) -> ListResult:
        stmt = select(Instance).where(
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
            paging=query.paging, query_key=key, count=query.count,
        )
        page.items = self.details(page.items)
        return page

    def get(self, principal: Principal, *, uuid: str | None = None, sid: str | None = None,
            include_expunged: bool = True) -> InstanceDetail:
        """One instance the principal may see, or NotFound."""
        crit = Criterion("uuid", (uuid,), False) if uuid else Criterion("sid", (sid or "",), False)
        page = self.list(principal, InstanceQuery(criteria=(crit,),
                                                  include_expunged=include_expunged))
        if not page.items:
            raise NotFound(ResourceKind.INSTANCE, uuid or sid)
        return page.items[0]  # type: ignore[no-any-return]

    def details(self, instances: Sequence[Instance]) -> list[InstanceDetail]:
        """Load the related rows of ``instances`` with one query per relation
        (rows the session already holds, such as a launch's zone and offering,
        are not fetched again)."""
        if not instances:
            return []
        s = self._session
        uuids = [i.uuid for i in instances]
        zones = _rows(s, Zone, {i.zone_uuid for i in instances})
        offerings = _rows(s, ServiceOffering, {i.service_offering_uuid for i in instances})
        templates = _rows(s, Template, {i.template_uuid for i in instances})
        accounts = _rows(s, Account, {i.account_uuid for i in instances})
        domains = _rows(s, Domain, {a.domain_uuid for a in accounts.values()})
        hosts = _rows(s, Host, {i.host_uuid for i in instances if i.host_uuid})
        nics: dict[str, list[NicDetail]] = defaultdict(list)
        nic_rows = list(s.scalars(select(Nic).where(Nic.instance_uuid.in_(uuids))))
        networks = _rows(s, Network, {n.network_uuid for n in nic_rows})
        public = {
            p.instance_uuid: p
            for p in s.scalars(select(PublicIp).where(PublicIp.instance_uuid.in_(uuids)))
        }
        containers = dict(s.execute(select(VpcTier.network_uuid, Vpc.sid).join(
            Vpc, Vpc.uuid == VpcTier.vpc_uuid).where(
            VpcTier.network_uuid.in_(list(networks)))).all()) if networks else {}
        for n in sorted(nic_rows, key=lambda n: n.device_id):
            detail = NicDetail(n, networks[n.network_uuid],
                               vpc_sid=containers.get(n.network_uuid))
            if n.is_default:
                detail.public_ip = public.get(n.instance_uuid)
            nics[n.instance_uuid or ""].append(detail)
        volumes: dict[str, list[Volume]] = defaultdict(list)
        for v in s.scalars(
            select(Volume).where(Volume.instance_uuid.in_(uuids)).order_by(Volume.device_id)
        ):
            volumes[v.instance_uuid or ""].append(v)
        # Memberships as plain (instance, group) uuid pairs, the few groups by uuid:
        # far cheaper than one ORM entity per membership row.
        group_pairs = s.execute(
            select(InstanceSecurityGroup.instance_uuid, InstanceSecurityGroup.group_uuid)
            .join(SecurityGroup, SecurityGroup.uuid == InstanceSecurityGroup.group_uuid)
            .where(InstanceSecurityGroup.instance_uuid.in_(uuids))
        ).all()
        group_rows = _rows(s, SecurityGroup, {g for _, g in group_pairs})
        groups: dict[str, list[SecurityGroup]] = defaultdict(list)
        for inst_uuid, group_uuid in group_pairs:
            groups[inst_uuid].append(group_rows[group_uuid])
        affinity_pairs = s.execute(
            select(InstanceAffinityGroup.instance_uuid, InstanceAffinityGroup.group_uuid)
            .join(AffinityGroup, AffinityGroup.uuid == InstanceAffinityGroup.group_uuid)
            .where(InstanceAffinityGroup.instance_uuid.in_(uuids))
            .order_by(AffinityGroup.name)
        ).all()
        affinity_rows = _rows(s, AffinityGroup, {g for _, g in affinity_pairs})
        affinity: dict[str, list[AffinityGroup]] = defaultdict(list)
        for inst_uuid, group_uuid in affinity_pairs:
            affinity[inst_uuid].append(affinity_rows[group_uuid])
        tags: dict[str, list[Tag]] = defaultdict(list)
        for t in s.scalars(
            select(Tag).where(Tag.resource_uuid.in_(uuids), Tag.resource_kind == ResourceKind.INSTANCE)
            .order_by(Tag.key)
        ):
            tags[t.resource_uuid].append(t)
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


def _rows(session: Session, model: type[T], uuids: set[str]) -> dict[str, T]:
    """Like :func:`rows_by_uuid`, but rows already in the session's identity map
    are taken from there instead of being queried again."""
    found: dict[str, T] = {}
    identity = session.identity_map
    missing = set()
    for uuid in uuids:
        if not uuid:
            continue
        obj = identity.get(identity_key(model, uuid))
        if obj is None:
            missing.add(uuid)
        else:
            found[uuid] = obj
    if missing:
        found.update(rows_by_uuid(session, model, missing))
    return found
