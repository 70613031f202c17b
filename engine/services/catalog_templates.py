"""Listing and looking up templates (and ISO images): the template half of
:class:`~engine.services.catalog.CatalogService`, which hands its calls here.

A module of its own so that the catalog's regions and zones (a server's first
call) load without the template, snapshot, volume and tag models.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Select, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from engine.errors import NotFound, ResourceKind
from engine.models import Account, OsType, Snapshot, Tag, Template, TemplateZone, Volume, Zone
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
    record_type,
)
from engine.services.catalog import TemplateDetail, TemplateFilter
from engine.services.template_access import shared_with
from engine.statements import Prepared, loaded, row_keys, select_rows
from engine.states import TemplateState


def _template_zone(values: object) -> object:
    return exists().where(TemplateZone.template_uuid == Template.uuid,
                          TemplateZone.zone_uuid.in_(values))  # type: ignore[arg-type]


def _template_owner_number(values: object) -> object:
    return Template.account_uuid.in_(select(Account.uuid).where(
        match_values(Account.number, values, True)))  # type: ignore[arg-type]


@functools.cache
def template_fields() -> FieldMap:
    """The list fields of templates (built on first use)."""
    from engine.services.template_fields import TEMPLATE_MORE_FIELDS

    return {
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


class _BoundCaller:
    """Stands for a principal in :func:`visible` with its account as the bound
    parameter ``p_account`` (a statement built once)."""

    def __init__(self, is_root_admin: bool) -> None:
        self.is_root_admin = is_root_admin
        self.account_uuid: Any = bindparam("p_account")


def visible(principal: Principal, which: TemplateFilter, isos: bool) -> Select[Any]:
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


@functools.cache
def _template_row_stmt(root_admin: bool, by_uuid: bool) -> Select[Any]:
    """:meth:`TemplateCatalog.template_row`'s query; the template is ``p_ident``."""
    which = TemplateFilter.ALL if root_admin else TemplateFilter.EXECUTABLE
    stmt = visible(_BoundCaller(root_admin), which, False)  # type: ignore[arg-type]
    column = Template.uuid if by_uuid else Template.sid
    return stmt.where(column == bindparam("p_ident")).limit(1)


@functools.lru_cache(maxsize=4)
def _template_row(root_admin: bool, by_uuid: bool) -> Prepared:
    """:func:`_template_row_stmt`, prepared (see :mod:`engine.statements`)."""
    return Prepared(select_rows(Template, _template_row_stmt(root_admin, by_uuid)))


_TEMPLATE = record_type(Template)
assert _TEMPLATE._fields == row_keys(Template)  # a select_rows row is the record's values


class TemplateCatalog:
    """The template methods of :class:`~engine.services.catalog.CatalogService`
    (documented there)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def templates(self, principal: Principal, which: TemplateFilter,
                  criteria: tuple[Criterion, ...], paging: Paging, count: bool,
                  isos: bool) -> ListResult:
        stmt = apply_criteria(visible(principal, which, isos), template_fields(), criteria,
                              uuid_column=Template.uuid, kind=ResourceKind.TEMPLATE)
        page = paginate(self._s, stmt, created_column=Template.created_at,
                        uuid_column=Template.uuid, paging=paging,
                        query_key=query_key("isos" if isos else "templates", which, criteria),
                        count=count)
        page.items = self.template_details(page.items)
        return page

    def template_row(self, principal: Principal, uuid: str | None, sid: str | None) -> Template:
        return loaded(self._s, Template, self._row(principal, uuid, sid))

    def template_record(self, principal: Principal, uuid: str | None, sid: str | None) -> Any:
        return _TEMPLATE(self._row(principal, uuid, sid))

    def _row(self, principal: Principal, uuid: str | None, sid: str | None) -> Any:
        row = _template_row(principal.is_root_admin, bool(uuid)).execute(
            self._s, {"p_account": principal.account_uuid, "p_ident": uuid or sid or ""}).first()
        if row is None:
            raise NotFound(ResourceKind.TEMPLATE, uuid or sid)
        return row

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
        from engine.services.template_user_data import TemplateUserDataService

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
