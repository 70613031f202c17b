"""What users choose from: regions, zones, templates, offerings, OS types."""

from __future__ import annotations

from engine.querying import Criterion, Paging
from engine.services.catalog import TemplateFilter
from nativeapi import views
from nativeapi.commands import CsContext, Listing, invalid_value, page_slice, paging
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command


def _keyword_match(text: str, keyword: str | None) -> bool:
    return keyword is None or keyword.lower() in text.lower()


@command("listRegions")
def list_regions(ctx: CsContext, p: CsParams) -> Listing:
    names = (p.require("name"),) if p.has("name") else ()
    rows = [views.region(r, n) for n, r in enumerate(ctx.services.catalog.regions(names), 1)]
    wanted = p.integer("id")
    keyword = p.get("keyword")
    rows = [r for r in rows if (wanted is None or r["id"] == wanted)
            and _keyword_match(r["name"], keyword)]
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


@command("listZones")
def list_zones(ctx: CsContext, p: CsParams) -> Listing:
    uuids = tuple(u for u in [p.uuid("id"), *p.uuid_list("ids")] if u)
    names = (p.require("name"),) if p.has("name") else ()
    # Only root admins see disabled zones, and not when asking for available ones.
    include_disabled = ctx.is_admin and not p.boolean("available", False)
    found = ctx.services.catalog.zones(names=names, uuids=uuids,
                                       include_disabled=include_disabled)
    keyword = p.get("keyword")
    kind = p.get("networktype")
    zones = [z for z, _region in found if _keyword_match(z.name, keyword)
             and (kind is None or z.network_type.lower() == kind.lower())]
    if not zones and p.uuid("id"):
        ctx.services.catalog.zone(uuid=p.uuid("id"))  # an unknown id is a 431, not {}
    return Listing([views.zone(z) for z in page_slice(zones, paging(ctx, p))], len(zones))


def add_zone_and_name(p: CsParams, criteria: list[Criterion]) -> str | None:
    """Append the ``zoneid`` (``-1`` meaning any), ``name`` and ``keyword``
    criteria of a template/ISO listing; returns the zone uuid asked for (or None)."""
    zone_uuid = p.uuid("zoneid")
    if zone_uuid and zone_uuid != "-1":
        criteria.append(Criterion("zone_uuid", (zone_uuid,), False))
    else:
        zone_uuid = None
    if p.has("name"):
        criteria.append(Criterion("name", (p.require("name"),), False))
    if p.get("keyword"):
        criteria.append(Criterion("name", (f"*{p.require('keyword')}*",)))
    return zone_uuid


@command("listTemplates")
def list_templates(ctx: CsContext, p: CsParams) -> Listing:
    raw_filter = p.require("templatefilter")
    try:
        which = TemplateFilter(raw_filter.lower())
    except ValueError:
        raise invalid_value(
            "TemplateFilter must be one of: featured, self, selfexecutable, "
            "sharedexecutable, executable, community, all"
        ) from None
    criteria: list[Criterion] = []
    uuids = [u for u in [p.uuid("id"), *p.uuid_list("ids")] if u]
    if uuids:
        criteria.append(Criterion("uuid", tuple(uuids), False))
    zone_uuid = add_zone_and_name(p, criteria)
    if p.get("hypervisor"):
        criteria.append(Criterion("hypervisor", (p.require("hypervisor"),), False))
    if p.get("templatetype"):
        criteria.append(Criterion("template_type", (p.require("templatetype").upper(),), False))
    page = ctx.services.catalog.templates(ctx.principal, which, tuple(criteria), Paging())
    rows = [row for d in page.items for row in views.template_rows(d, zone_uuid)]
    if not rows and p.uuid("id"):
        ctx.services.catalog.template(ctx.principal, uuid=p.uuid("id"))  # unknown id: 431
    ready = p.boolean("isready")
    if ready is not None:
        rows = [r for r in rows if r["isready"] is ready]
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


@command("listServiceOfferings")
def list_service_offerings(ctx: CsContext, p: CsParams) -> Listing:
    uuid = p.uuid("id")
    names = (p.require("name"),) if p.has("name") else ()
    offerings = ctx.services.catalog.service_offerings(
        names=names, uuids=(uuid,) if uuid else (), keyword=p.get("keyword"))
    for field, attr in (("cpunumber", "cpus"), ("memory", "memory_mib"), ("cpuspeed", "cpu_mhz")):
        wanted = p.integer(field)
        if wanted is not None:
            offerings = [o for o in offerings if getattr(o, attr) == wanted]
    if not offerings and uuid:
        ctx.services.catalog.service_offering(uuid=uuid)  # an unknown id is a 431
    rows = [views.service_offering(o) for o in offerings]
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


@command("listDiskOfferings")
def list_disk_offerings(ctx: CsContext, p: CsParams) -> Listing:
    uuid = p.uuid("id")
    name = p.get("name")
    keyword = p.get("keyword")
    offerings = [o for o in ctx.services.catalog.disk_offerings()
                 if (uuid is None or o.uuid == uuid) and (name is None or o.name == name)
                 and _keyword_match(o.name, keyword)]
    rows = [views.disk_offering(o) for o in offerings]
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


@command("listOsTypes")
def list_os_types(ctx: CsContext, p: CsParams) -> Listing:
    uuid = p.uuid("id")
    description = p.get("description")
    keyword = p.get("keyword")
    types = [o for o in ctx.services.catalog.os_types()
             if (uuid is None or o.uuid == uuid)
             and (description is None or description.lower() in o.name.lower())
             and _keyword_match(o.name, keyword)]
    rows = [views.os_type(o) for o in types]
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))
