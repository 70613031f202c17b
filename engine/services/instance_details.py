"""Listing instances, with everything a view needs loaded in a few batched queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import NotFound, ResourceKind
from engine.models import (
    Account,
    Domain,
    Host,
    Instance,
    InstanceSecurityGroup,
    Network,
    Nic,
    PublicIp,
    SecurityGroup,
    ServiceOffering,
    Tag,
    Template,
    Volume,
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
from engine.services.settings import Settings
from engine.states import VmState


@dataclass
class NicDetail:
    nic: Nic
    network: Network
    public_ip: PublicIp | None = None


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
        """Load the related rows of ``instances`` with one query per relation."""
        if not instances:
            return []
        s = self._session
        uuids = [i.uuid for i in instances]
        zones = rows_by_uuid(s, Zone, {i.zone_uuid for i in instances})
        offerings = rows_by_uuid(s, ServiceOffering, {i.service_offering_uuid for i in instances})
        templates = rows_by_uuid(s, Template, {i.template_uuid for i in instances})
        accounts = rows_by_uuid(s, Account, {i.account_uuid for i in instances})
        domains = rows_by_uuid(s, Domain, {a.domain_uuid for a in accounts.values()})
        hosts = rows_by_uuid(s, Host, {i.host_uuid for i in instances if i.host_uuid})
        nics: dict[str, list[NicDetail]] = defaultdict(list)
        nic_rows = list(s.scalars(select(Nic).where(Nic.instance_uuid.in_(uuids))))
        networks = rows_by_uuid(s, Network, {n.network_uuid for n in nic_rows})
        public = {
            p.instance_uuid: p
            for p in s.scalars(select(PublicIp).where(PublicIp.instance_uuid.in_(uuids)))
        }
        for n in sorted(nic_rows, key=lambda n: n.device_id):
            detail = NicDetail(n, networks[n.network_uuid])
            if n.is_default:
                detail.public_ip = public.get(n.instance_uuid)
            nics[n.instance_uuid or ""].append(detail)
        volumes: dict[str, list[Volume]] = defaultdict(list)
        for v in s.scalars(
            select(Volume).where(Volume.instance_uuid.in_(uuids)).order_by(Volume.device_id)
        ):
            volumes[v.instance_uuid or ""].append(v)
        groups: dict[str, list[SecurityGroup]] = defaultdict(list)
        for inst_uuid, group in s.execute(
            select(InstanceSecurityGroup.instance_uuid, SecurityGroup)
            .join(SecurityGroup, SecurityGroup.uuid == InstanceSecurityGroup.group_uuid)
            .where(InstanceSecurityGroup.instance_uuid.in_(uuids))
        ).all():
            groups[inst_uuid].append(group)
        tags: dict[str, list[Tag]] = defaultdict(list)
        for t in s.scalars(
            select(Tag).where(Tag.resource_uuid.in_(uuids), Tag.resource_kind == ResourceKind.INSTANCE)
            .order_by(Tag.key)
        ):
            tags[t.resource_uuid].append(t)
        out = []
        for i in instances:
            account = accounts[i.account_uuid]
            out.append(
                InstanceDetail(
                    instance=i,
                    zone=zones[i.zone_uuid],
                    offering=offerings[i.service_offering_uuid],
                    template=templates[i.template_uuid],
                    account=account,
                    domain=domains[account.domain_uuid],
                    host=hosts.get(i.host_uuid) if i.host_uuid else None,
                    nics=nics.get(i.uuid, []),
                    volumes=volumes.get(i.uuid, []),
                    security_groups=groups.get(i.uuid, []),
                    tags=tags.get(i.uuid, []),
                )
            )
        return out
