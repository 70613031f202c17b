"""Read access to what users choose from: regions, zones, offerings, OS types, templates."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from dataclasses import field as dc_field
from enum import Enum
from typing import Any

from sqlalchemy import Select, bindparam, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Duplicate, InvalidParameter, NotFound, ResourceKind
from engine.hypervisors.registry import hypervisor_names
from engine.models import (
    Account,
    Cluster,
    DiskOffering,
    Domain,
    Network,
    OsType,
    Region,
    ServiceOffering,
    Snapshot,
    Tag,
    Template,
    TemplateZone,
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
    match_values,
    paginate,
    query_key,
)
from engine.services import region_cache
from engine.services.default_vpcs import default_vpc
from engine.services.template_access import shared_with
from engine.services.template_fields import TEMPLATE_MORE_FIELDS
from engine.services.template_user_data import LinkedUserData, TemplateUserDataService
from engine.settings import Settings
from engine.statements import Prepared, loaded, select_rows
from engine.states import AllocationState, TemplateState


class TemplateFilter(str, Enum):
    """Which templates a list shows (CloudStack's ``templatefilter`` values)."""

    FEATURED = "featured"
    SELF = "self"
    SELF_EXECUTABLE = "selfexecutable"
    SHARED_EXECUTABLE = "sharedexecutable"
    EXECUTABLE = "executable"
    COMMUNITY = "community"
    ALL = "all"


@dataclass
class TemplateDetail:
    template: Template
    owner: Account
    os_type: OsType
    zones: list[tuple[Zone, TemplateZone]]
    tags: list[Tag] = dc_field(default_factory=list)
    user_data: LinkedUserData | None = None
    # (sid, volume type of the volume it was taken from) of the live snapshot
    # the template was made with (Template.source_snapshot_uuid), if any.
    source_snapshot: tuple[str, str] | None = None


@dataclass(frozen=True)
class AccountOverview:
    """What an account may use in a region. Limits of -1 mean "no limit"."""

    instance_limit: int
    public_ip_limit: int
    default_network: Network | None  # the region's default guest network, if any
    default_vpc_sid: str | None = None  # the region's default container, if any


def _template_zone(values: object) -> object:
    return exists().where(TemplateZone.template_uuid == Template.uuid,
                          TemplateZone.zone_uuid.in_(values))  # type: ignore[arg-type]


def _template_owner_number(values: object) -> object:
    return Template.account_uuid.in_(select(Account.uuid).where(
        match_values(Account.number, values, True)))  # type: ignore[arg-type]


TEMPLATE_FIELDS: FieldMap = {
    "uuid": Template.uuid,
    "sid": Template.sid,
    "name": Template.name,
    "description": Template.display_text,
    "is_public": Template.is_public,
    "hypervisor": Template.hypervisor,
    "arch": Template.arch,
    "format": Template.format,
    "template_type": Template.template_type,
    "owner_number": _template_owner_number,
    "zone_uuid": _template_zone,
    **TEMPLATE_MORE_FIELDS,
}


@dataclass(frozen=True)
class ServiceOfferingSpec:
    """A new service offering (``root_disk_gib`` 0: the template's size)."""

    name: str
    cpus: int
    cpu_mhz: int
    memory_mib: int
    display_text: str = ""
    root_disk_gib: int = 0
    network_mbps: int = 0
    host_tags: str = ""
    storage_tags: str = ""


@dataclass(frozen=True)
class DiskOfferingSpec:
    """A new disk offering: ``size_gib`` unless ``customized`` (size chosen per volume)."""

    name: str
    size_gib: int = 0
    customized: bool = False
    display_text: str = ""
    storage_tags: str = ""


@dataclass(frozen=True)
class OfferingChanges:
    """What an offering update changes; None leaves a field as it is (tags: storage
    tags; ``host_tags`` only applies to service offerings)."""

    name: str | None = None
    display_text: str | None = None
    host_tags: str | None = None
    storage_tags: str | None = None
    active: bool | None = None


class _BoundCaller:
    """Stands for a principal in :meth:`CatalogService._visible` with its
    account as the bound parameter ``p_account`` (a statement built once)."""

    def __init__(self, is_root_admin: bool) -> None:
        self.is_root_admin = is_root_admin
        self.account_uuid: Any = bindparam("p_account")


@functools.cache
def _template_row_stmt(root_admin: bool, by_uuid: bool) -> Select[Any]:
    """:meth:`CatalogService.template_row`'s query; the template is ``p_ident``."""
    which = TemplateFilter.ALL if root_admin else TemplateFilter.EXECUTABLE
    stmt = CatalogService._visible(_BoundCaller(root_admin), which, False)  # type: ignore[arg-type]
    column = Template.uuid if by_uuid else Template.sid
    return stmt.where(column == bindparam("p_ident")).limit(1)


@functools.lru_cache(maxsize=4)
def _template_row(root_admin: bool, by_uuid: bool) -> Prepared:
    """:func:`_template_row_stmt`, prepared (see :mod:`engine.statements`)."""
    return Prepared(select_rows(Template, _template_row_stmt(root_admin, by_uuid)))


# CatalogService.service_offering's query, by uuid (True) or name (False): ``p_ident``.
_OFFERING_BY = {by_uuid: Prepared(select_rows(ServiceOffering).where(
    ServiceOffering.active.is_(True),
    (ServiceOffering.uuid if by_uuid else ServiceOffering.name) == bindparam("p_ident")).limit(1))
    for by_uuid in (True, False)}


class CatalogService:
    def __init__(self, session: Session) -> None:
        self._s = session

    # ---------------------------------------------------------- regions/zones
    def regions(self, names: tuple[str, ...] = ()) -> list[Region]:
        """Regions ordered by name (those matching ``names``). Without ``names``
        they come from :mod:`engine.services.region_cache`: shared read-only
        objects, at most ``TTL_SECONDS`` old for changes made by other servers."""
        if not names:
            return region_cache.regions(self._s)
        stmt = select(Region).order_by(Region.name)
        if names:
            stmt = stmt.where(match_values(Region.name, names))
        return list(self._s.scalars(stmt))

    def zones(self, *, names: tuple[str, ...] = (), uuids: tuple[str, ...] = (),
              include_disabled: bool = True) -> list[tuple[Zone, Region]]:
        stmt = (select(Zone, Region).join(Region, Region.uuid == Zone.region_uuid)
                .where(Zone.removed_at.is_(None)).order_by(Zone.name))
        if names:
            stmt = stmt.where(match_values(Zone.name, names))
        if uuids:
            stmt = stmt.where(Zone.uuid.in_(uuids))
        if not include_disabled:
            stmt = stmt.where(Zone.allocation_state == AllocationState.ENABLED)
        return [(z, r) for z, r in self._s.execute(stmt).all()]

    def zone(self, *, uuid: str | None = None, name: str | None = None) -> Zone:
        stmt = select(Zone).where(Zone.removed_at.is_(None))
        stmt = stmt.where(Zone.uuid == uuid) if uuid else stmt.where(Zone.name == name)
        z = self._s.scalar(stmt)
        if z is None:
            raise NotFound(ResourceKind.ZONE, uuid or name)
        return z

    def account_overview(self, principal: Principal, region_name: str) -> AccountOverview:
        """Limits that apply to ``principal``'s account and the default guest network
        of ``region_name`` (that of its oldest zone that has one)."""
        settings = Settings(self._s)
        network = self._s.scalar(
            select(Network).join(Zone, Zone.uuid == Network.zone_uuid)
            .join(Region, Region.uuid == Zone.region_uuid)
            .where(Region.name == region_name, Network.is_default.is_(True),
                   Network.removed_at.is_(None), Zone.removed_at.is_(None))
            .order_by(Zone.created_at, Network.created_at).limit(1))
        region = self._s.scalar(select(Region.uuid).where(Region.name == region_name))
        container = default_vpc(self._s, region) if region else None
        return AccountOverview(settings.int("max.account.user.vms"),
                               settings.int("max.account.public.ips"), network,
                               container.sid if container is not None else None)

    # -------------------------------------------------------------- offerings
    def service_offerings(self, *, names: tuple[str, ...] = (), uuids: tuple[str, ...] = (),
                          keyword: str | None = None) -> list[ServiceOffering]:
        stmt = select(ServiceOffering).where(ServiceOffering.active.is_(True),
                                             ServiceOffering.is_system.is_(False))
        if names:
            stmt = stmt.where(match_values(ServiceOffering.name, names))
        if uuids:
            stmt = stmt.where(ServiceOffering.uuid.in_(uuids))
        if keyword:
            stmt = stmt.where(ServiceOffering.name.contains(keyword, autoescape=True))
        return list(self._s.scalars(stmt.order_by(ServiceOffering.cpus,
                                                  ServiceOffering.memory_mib,
                                                  ServiceOffering.name)))

    def service_offering(self, *, uuid: str | None = None, name: str | None = None) -> ServiceOffering:
        """The active offering with this uuid (else this name), or NotFound."""
        row = _OFFERING_BY[bool(uuid)].execute(self._s, {"p_ident": uuid or name}).first()
        if row is None:
            raise NotFound(ResourceKind.SERVICE_OFFERING, uuid or name)
        return loaded(self._s, ServiceOffering, row)

    def disk_offerings(self) -> list[DiskOffering]:
        return list(self._s.scalars(select(DiskOffering).where(DiskOffering.active.is_(True))
                                    .order_by(DiskOffering.size_gib)))

    def os_types(self) -> list[OsType]:
        return list(self._s.scalars(select(OsType).order_by(OsType.name)))

    # ----------------------------------------------------- offering administration
    def _add_offering(self, offering: ServiceOffering | DiskOffering,
                      kind: ResourceKind) -> None:
        if not offering.name.strip():
            raise InvalidParameter("name", offering.name, "a name is required")
        if self._s.scalar(select(type(offering).uuid).where(
                type(offering).name == offering.name)):
            raise Duplicate(kind, offering.name)
        try:
            with self._s.begin_nested():
                self._s.add(offering)
        except IntegrityError as exc:
            raise Duplicate(kind, offering.name) from exc

    def create_service_offering(self, spec: ServiceOfferingSpec) -> ServiceOffering:
        """A new offering; Duplicate for a taken name, InvalidParameter for a
        non-positive CPU count, speed or memory."""
        for field, value in (("cpunumber", spec.cpus), ("cpuspeed", spec.cpu_mhz),
                             ("memory", spec.memory_mib)):
            if value < 1:
                raise InvalidParameter(field, value, "must be a positive number")
        offering = ServiceOffering(
            name=spec.name, display_text=spec.display_text, cpus=spec.cpus,
            cpu_mhz=spec.cpu_mhz, memory_mib=spec.memory_mib, root_disk_gib=spec.root_disk_gib,
            network_mbps=spec.network_mbps, host_tags=spec.host_tags,
            storage_tags=spec.storage_tags)
        self._add_offering(offering, ResourceKind.SERVICE_OFFERING)
        return offering

    def create_disk_offering(self, spec: DiskOfferingSpec) -> DiskOffering:
        """A new disk offering: a fixed size > 0 or ``customized``."""
        if not spec.customized and spec.size_gib < 1:
            raise InvalidParameter("disksize", spec.size_gib,
                                   "a disk size > 0 is required unless customized")
        offering = DiskOffering(name=spec.name, display_text=spec.display_text,
                                size_gib=0 if spec.customized else spec.size_gib,
                                customized=spec.customized, storage_tags=spec.storage_tags)
        self._add_offering(offering, ResourceKind.DISK_OFFERING)
        return offering

    def update_service_offering(self, uuid: str, changes: OfferingChanges) -> ServiceOffering:
        """Rename, retag or (de)activate a service offering (active or inactive)."""
        offering = self._s.get(ServiceOffering, uuid)
        if offering is None:
            raise NotFound(ResourceKind.SERVICE_OFFERING, uuid)
        self._apply(offering, changes, ResourceKind.SERVICE_OFFERING)
        if changes.host_tags is not None:
            offering.host_tags = changes.host_tags
        return offering

    def update_disk_offering(self, uuid: str, changes: OfferingChanges) -> DiskOffering:
        """Rename, retag or (de)activate a disk offering."""
        offering = self._s.get(DiskOffering, uuid)
        if offering is None:
            raise NotFound(ResourceKind.DISK_OFFERING, uuid)
        self._apply(offering, changes, ResourceKind.DISK_OFFERING)
        return offering

    def _apply(self, offering: ServiceOffering | DiskOffering, changes: OfferingChanges,
               kind: ResourceKind) -> None:
        cls = type(offering)
        if changes.name is not None and changes.name != offering.name:
            if not changes.name.strip() or self._s.scalar(
                    select(cls.uuid).where(cls.name == changes.name)):
                raise Duplicate(kind, changes.name)
            offering.name = changes.name
        if changes.display_text is not None:
            offering.display_text = changes.display_text
        if changes.storage_tags is not None:
            offering.storage_tags = changes.storage_tags
        if changes.active is not None:
            offering.active = changes.active
        self._s.flush()

    def delete_service_offering(self, uuid: str) -> None:
        """Retire an active offering: it becomes inactive (instances using it keep
        it; nobody can choose it any more). System offerings cannot be deleted."""
        offering = self.service_offering(uuid=uuid)
        if offering.is_system:
            raise InvalidParameter("id", uuid, "a system offering cannot be deleted")
        offering.active = False

    def delete_disk_offering(self, uuid: str) -> None:
        """Retire an active disk offering (it becomes inactive, volumes keep it)."""
        offering = self._s.get(DiskOffering, uuid)
        if offering is None or not offering.active:
            raise NotFound(ResourceKind.DISK_OFFERING, uuid)
        offering.active = False

    # ------------------------------------------------------------ hypervisors, OS
    def cluster_hypervisors(self, zone_uuid: str | None = None) -> list[str]:
        """Distinct hypervisor types of the live clusters (of ``zone_uuid``), sorted.
        Without a zone and without clusters: every registered hypervisor type."""
        stmt = select(Cluster.hypervisor).where(Cluster.removed_at.is_(None)).distinct()
        if zone_uuid:
            self.zone(uuid=zone_uuid)
            stmt = stmt.where(Cluster.zone_uuid == zone_uuid)
        found = sorted(set(self._s.scalars(stmt)))
        return found if found or zone_uuid else list(hypervisor_names())

    def os_categories(self) -> list[str]:
        """Distinct OS-type categories, sorted."""
        return sorted(set(self._s.scalars(select(OsType.category).distinct())))

    # -------------------------------------------------------------- templates
    def templates(self, principal: Principal, which: TemplateFilter,
                  criteria: tuple[Criterion, ...] = (), paging: Paging = Paging(),
                  count: bool = False, *, isos: bool = False) -> ListResult:
        """Templates visible to ``principal`` under ``which``, as TemplateDetail
        (ISO images instead with ``isos``; the two never mix)."""
        stmt = apply_criteria(self._visible(principal, which, isos), TEMPLATE_FIELDS, criteria,
                              uuid_column=Template.uuid, kind=ResourceKind.TEMPLATE)
        page = paginate(self._s, stmt, created_column=Template.created_at,
                        uuid_column=Template.uuid, paging=paging,
                        query_key=query_key("isos" if isos else "templates", which, criteria),
                        count=count)
        page.items = self.template_details(page.items)
        return page

    @staticmethod
    def _visible(principal: Principal, which: TemplateFilter, isos: bool) -> Select[Any]:
        """The live templates (or ISOs) ``principal`` sees under ``which``."""
        stmt = select(Template).where(Template.removed_at.is_(None))
        stmt = stmt.where(Template.format == "ISO" if isos else Template.format != "ISO")
        mine = Template.account_uuid == principal.account_uuid
        ready = exists().where(TemplateZone.template_uuid == Template.uuid,
                               TemplateZone.state == TemplateState.READY)
        if which is TemplateFilter.FEATURED:
            stmt = stmt.where(Template.is_public.is_(True), Template.is_featured.is_(True))
        elif which is TemplateFilter.SELF:
            stmt = stmt.where(mine)
        elif which is TemplateFilter.SELF_EXECUTABLE:
            stmt = stmt.where(mine, ready)
        elif which is TemplateFilter.SHARED_EXECUTABLE:
            stmt = stmt.where(shared_with(principal), ready)
        elif which is TemplateFilter.EXECUTABLE:
            stmt = stmt.where(or_(mine, Template.is_public.is_(True), shared_with(principal)),
                              ready)
        elif which is TemplateFilter.COMMUNITY:
            stmt = stmt.where(Template.is_public.is_(True), Template.is_featured.is_(False))
        elif which is TemplateFilter.ALL and not principal.is_root_admin:
            stmt = stmt.where(or_(mine, Template.is_public.is_(True), shared_with(principal)))
        return stmt

    def template(self, principal: Principal, *, uuid: str | None = None,
                 sid: str | None = None) -> TemplateDetail:
        """The template with this uuid (or sid) ``principal`` may launch (root
        admins: any live one), or NotFound."""
        return self.template_details([self.template_row(principal, uuid=uuid, sid=sid)])[0]

    def template_row(self, principal: Principal, *, uuid: str | None = None,
                     sid: str | None = None) -> Template:
        """:meth:`template` without the related rows: one keyed query."""
        row = _template_row(principal.is_root_admin, bool(uuid)).execute(
            self._s, {"p_account": principal.account_uuid, "p_ident": uuid or sid or ""}).first()
        if row is None:
            raise NotFound(ResourceKind.TEMPLATE, uuid or sid)
        return loaded(self._s, Template, row)

    def template_details(self, templates: list[Template]) -> list[TemplateDetail]:
        if not templates:
            return []
        uuids = [t.uuid for t in templates]
        owners = {a.uuid: a for a in self._s.scalars(
            select(Account).where(Account.uuid.in_({t.account_uuid for t in templates})))}
        os_types = {o.uuid: o for o in self._s.scalars(
            select(OsType).where(OsType.uuid.in_({t.os_type_uuid for t in templates})))}
        zones: dict[str, list[tuple[Zone, TemplateZone]]] = {}
        for tz, z in self._s.execute(
            select(TemplateZone, Zone).join(Zone, Zone.uuid == TemplateZone.zone_uuid)
            .where(TemplateZone.template_uuid.in_(uuids)).order_by(Zone.name)
        ).all():
            zones.setdefault(tz.template_uuid, []).append((z, tz))
        tags: dict[str, list[Tag]] = {}
        for tag in self._s.scalars(select(Tag).where(Tag.resource_uuid.in_(uuids))
                                   .order_by(Tag.key)):
            tags.setdefault(tag.resource_uuid, []).append(tag)
        links = TemplateUserDataService(self._s).linked(uuids)
        backing = self._source_snapshots(templates)
        return [TemplateDetail(t, owners[t.account_uuid], os_types[t.os_type_uuid],
                               zones.get(t.uuid, []), tags.get(t.uuid, []), links.get(t.uuid),
                               backing.get(t.source_snapshot_uuid or ""))
                for t in templates]

    def _source_snapshots(self, templates: list[Template]) -> dict[str, tuple[str, str]]:
        """(sid, volume type) of the live source snapshots of ``templates``, by uuid."""
        wanted = {t.source_snapshot_uuid for t in templates if t.source_snapshot_uuid}
        if not wanted:
            return {}
        rows = self._s.execute(
            select(Snapshot.uuid, Snapshot.sid, Volume.volume_type)
            .outerjoin(Volume, Volume.uuid == Snapshot.volume_uuid)
            .where(Snapshot.uuid.in_(wanted), Snapshot.removed_at.is_(None))).all()
        return {u: (sid, volume_type or "") for u, sid, volume_type in rows}

    def account_domain(self, account_uuid: str) -> tuple[Account, Domain]:
        row = self._s.execute(select(Account, Domain).join(Domain, Domain.uuid == Account.domain_uuid)
                              .where(Account.uuid == account_uuid)).first()
        if row is None:
            raise NotFound(ResourceKind.ACCOUNT, account_uuid)
        return row[0], row[1]
