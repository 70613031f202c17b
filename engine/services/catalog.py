"""Read access to what users choose from: regions, zones, offerings, OS types, templates."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from dataclasses import field as dc_field
from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Duplicate, InvalidParameter, NotFound, ResourceKind
from engine.hypervisors.registry import hypervisor_names
from engine.models import Account, Domain, Region, Zone
from engine.principal import Principal
from engine.querying import Criterion, ListResult, Paging, match_values, record_type
from engine.services import region_cache
from engine.settings import Settings
from engine.statements import Prepared, loaded, select_rows
from engine.states import AllocationState

if TYPE_CHECKING:
    from engine.models import (
        DiskOffering,
        Network,
        OsType,
        ServiceOffering,
        Tag,
        Template,
        TemplateZone,
    )
    from engine.services.catalog_templates import TemplateCatalog
    from engine.services.template_user_data import LinkedUserData

# Only the region, zone, cluster and account models are imported up here: a
# server's first call (DescribeRegions) needs no other. The offering, OS type
# and network models are imported in the methods that use them, templates are
# listed by engine.services.catalog_templates, and default containers are
# found by engine.services.default_vpcs, each loaded on first use.


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


@functools.cache
def _offering_by(by_uuid: bool) -> Prepared:
    """CatalogService.service_offering's query, by uuid (True) or name (False): ``p_ident``."""
    from engine.models import ServiceOffering

    return Prepared(select_rows(ServiceOffering).where(
        ServiceOffering.active.is_(True),
        (ServiceOffering.uuid if by_uuid else ServiceOffering.name) == bindparam("p_ident"))
        .limit(1))


class CatalogService:
    def __init__(self, session: Session) -> None:
        self._s = session

    @functools.cached_property
    def _templates(self) -> TemplateCatalog:
        from engine.services.catalog_templates import TemplateCatalog

        return TemplateCatalog(self._s)

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
        from engine.models import Network
        from engine.services.default_vpcs import default_vpc

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
        from engine.models import ServiceOffering

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
        from engine.models import ServiceOffering

        return loaded(self._s, ServiceOffering, self._offering_row(uuid, name))

    def offering_record(self, *, uuid: str | None = None, name: str | None = None) -> Any:
        """:meth:`service_offering` as a read-only record (a ``ServiceOffering``
        record), for callers that only read it."""
        from engine.models import ServiceOffering

        return record_type(ServiceOffering)(self._offering_row(uuid, name))

    def _offering_row(self, uuid: str | None, name: str | None) -> Any:
        row = _offering_by(bool(uuid)).execute(self._s, {"p_ident": uuid or name}).first()
        if row is None:
            raise NotFound(ResourceKind.SERVICE_OFFERING, uuid or name)
        return row

    def disk_offerings(self) -> list[DiskOffering]:
        from engine.models import DiskOffering

        return list(self._s.scalars(select(DiskOffering).where(DiskOffering.active.is_(True))
                                    .order_by(DiskOffering.size_gib)))

    def os_types(self) -> list[OsType]:
        from engine.models import OsType

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
        from engine.models import ServiceOffering

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
        from engine.models import DiskOffering

        offering = DiskOffering(name=spec.name, display_text=spec.display_text,
                                size_gib=0 if spec.customized else spec.size_gib,
                                customized=spec.customized, storage_tags=spec.storage_tags)
        self._add_offering(offering, ResourceKind.DISK_OFFERING)
        return offering

    def update_service_offering(self, uuid: str, changes: OfferingChanges) -> ServiceOffering:
        """Rename, retag or (de)activate a service offering (active or inactive)."""
        from engine.models import ServiceOffering

        offering = self._s.get(ServiceOffering, uuid)
        if offering is None:
            raise NotFound(ResourceKind.SERVICE_OFFERING, uuid)
        self._apply(offering, changes, ResourceKind.SERVICE_OFFERING)
        if changes.host_tags is not None:
            offering.host_tags = changes.host_tags
        return offering

    def update_disk_offering(self, uuid: str, changes: OfferingChanges) -> DiskOffering:
        """Rename, retag or (de)activate a disk offering."""
        from engine.models import DiskOffering

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
        from engine.models import DiskOffering

        offering = self._s.get(DiskOffering, uuid)
        if offering is None or not offering.active:
            raise NotFound(ResourceKind.DISK_OFFERING, uuid)
        offering.active = False

    # ------------------------------------------------------------ hypervisors, OS
    def cluster_hypervisors(self, zone_uuid: str | None = None) -> list[str]:
        """Distinct hypervisor types of the live clusters (of ``zone_uuid``), sorted.
        Without a zone and without clusters: every registered hypervisor type."""
        from engine.models import Cluster

        stmt = select(Cluster.hypervisor).where(Cluster.removed_at.is_(None)).distinct()
        if zone_uuid:
            self.zone(uuid=zone_uuid)
            stmt = stmt.where(Cluster.zone_uuid == zone_uuid)
        found = sorted(set(self._s.scalars(stmt)))
        return found if found or zone_uuid else list(hypervisor_names())

    def os_categories(self) -> list[str]:
        """Distinct OS-type categories, sorted."""
        from engine.models import OsType

        return sorted(set(self._s.scalars(select(OsType.category).distinct())))

    # -------------------------------------------------------------- templates
    def templates(self, principal: Principal, which: TemplateFilter,
                  criteria: tuple[Criterion, ...] = (), paging: Paging = Paging(),
                  count: bool = False, *, isos: bool = False) -> ListResult:
        """Templates visible to ``principal`` under ``which``, as TemplateDetail
        (ISO images instead with ``isos``; the two never mix)."""
        return self._templates.templates(principal, which, criteria, paging, count, isos)

    def template(self, principal: Principal, *, uuid: str | None = None,
                 sid: str | None = None) -> TemplateDetail:
        """The template with this uuid (or sid) ``principal`` may launch (root
        admins: any live one), or NotFound."""
        return self.template_details([self.template_row(principal, uuid=uuid, sid=sid)])[0]

    def template_row(self, principal: Principal, *, uuid: str | None = None,
                     sid: str | None = None) -> Template:
        """:meth:`template` without the related rows: one keyed query."""
        return self._templates.template_row(principal, uuid, sid)

    def template_record(self, principal: Principal, *, uuid: str | None = None,
                        sid: str | None = None) -> Any:
        """:meth:`template_row` as a read-only record (a ``Template``
        record), for callers that only read it."""
        return self._templates.template_record(principal, uuid, sid)

    def template_details(self, templates: list[Template]) -> list[TemplateDetail]:
        """Each template with its owner, OS type, zones, tags, user data and source snapshot."""
        return self._templates.template_details(templates)

    def account_domain(self, account_uuid: str) -> tuple[Account, Domain]:
        row = self._s.execute(select(Account, Domain).join(Domain, Domain.uuid == Account.domain_uuid)
                              .where(Account.uuid == account_uuid)).first()
        if row is None:
            raise NotFound(ResourceKind.ACCOUNT, account_uuid)
        return row[0], row[1]
