"""Read access to what users choose from: regions, zones, offerings, OS types, templates."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from engine.errors import NotFound, ResourceKind
from engine.models import (
    Account,
    DiskOffering,
    Domain,
    Network,
    OsType,
    Region,
    ServiceOffering,
    Template,
    TemplateZone,
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
from engine.services.template_access import shared_with
from engine.services.template_fields import TEMPLATE_MORE_FIELDS
from engine.settings import Settings
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


@dataclass(frozen=True)
class AccountOverview:
    """What an account may use in a region. Limits of -1 mean "no limit"."""

    instance_limit: int
    public_ip_limit: int
    default_network: Network | None  # the region's default guest network, if any


def _template_zone(values: object) -> object:
    return exists().where(TemplateZone.template_uuid == Template.uuid,
                          TemplateZone.zone_uuid.in_(values))  # type: ignore[arg-type]


def _template_owner_number(values: object) -> object:
    return Template.account_uuid.in_(select(Account.uuid).where(Account.number.in_(values)))  # type: ignore[arg-type]


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
        return AccountOverview(settings.int("max.account.user.vms"),
                               settings.int("max.account.public.ips"), network)

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
        stmt = select(ServiceOffering).where(ServiceOffering.active.is_(True))
        stmt = stmt.where(ServiceOffering.uuid == uuid) if uuid else stmt.where(
            ServiceOffering.name == name)
        o = self._s.scalar(stmt)
        if o is None:
            raise NotFound(ResourceKind.SERVICE_OFFERING, uuid or name)
        return o

    def disk_offerings(self) -> list[DiskOffering]:
        return list(self._s.scalars(select(DiskOffering).where(DiskOffering.active.is_(True))
                                    .order_by(DiskOffering.size_gib)))

    def os_types(self) -> list[OsType]:
        return list(self._s.scalars(select(OsType).order_by(OsType.name)))

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
        which = TemplateFilter.ALL if principal.is_root_admin else TemplateFilter.EXECUTABLE
        stmt = self._visible(principal, which, False)
        stmt = stmt.where(Template.uuid == uuid) if uuid else stmt.where(Template.sid == (sid or ""))
        found = self._s.scalars(stmt.limit(1)).first()
        if found is None:
            raise NotFound(ResourceKind.TEMPLATE, uuid or sid)
        return found

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
        return [TemplateDetail(t, owners[t.account_uuid], os_types[t.os_type_uuid],
                               zones.get(t.uuid, [])) for t in templates]

    def account_domain(self, account_uuid: str) -> tuple[Account, Domain]:
        row = self._s.execute(select(Account, Domain).join(Domain, Domain.uuid == Account.domain_uuid)
                              .where(Account.uuid == account_uuid)).first()
        if row is None:
            raise NotFound(ResourceKind.ACCOUNT, account_uuid)
        return row[0], row[1]
