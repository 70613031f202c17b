"""Events: listEvents and listEventTypes."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.querying import Criterion
from nativeapi import views_resources as views
from nativeapi.commands import CsContext, Listing, invalid_value, paging
from nativeapi.commands.ownership import list_all, owner_criteria
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

_LEVELS = {"INFO", "WARN", "ERROR"}


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@command("listEvents")
def list_events(ctx: CsContext, p: CsParams) -> Listing:
    crit: list[Criterion] = []
    if p.uuid("id"):
        crit.append(Criterion("uuid", (p.uuid("id") or "",), False))
    if p.get("type"):
        crit.append(Criterion("type", (p.require("type").upper(),), False))
    if p.get("level"):
        level = p.require("level").upper()
        if level not in _LEVELS:
            raise invalid_value(f"Level should be one of {', '.join(sorted(_LEVELS))}")
        crit.append(Criterion("level", (level,), False))
    if p.get("state"):
        crit.append(Criterion("state", (p.require("state"),), False))
    if p.get("resourceid"):
        crit.append(Criterion("resource_uuid", (p.require("resourceid").lower(),), False))
    if p.get("resourcetype"):
        kind = views.TAG_RESOURCE_TYPES.get(p.require("resourcetype").lower())
        crit.append(Criterion("resource_kind", (kind.value if kind else "?",), False))
    if p.get("keyword"):
        crit.append(Criterion("description", (f"*{p.require('keyword')}*",)))
    start, end = p.date("startdate"), p.date("enddate")
    if start is not None and end is not None and start > end:
        raise invalid_value("Please specify a valid start date and end date, the start date "
                            "should not be after the end date")
    if start is not None:
        crit.append(Criterion("created_from", (_instant(start),), False))
    if end is not None:
        crit.append(Criterion("created_to", (_instant(end),), False))
    crit.extend(owner_criteria(ctx, p))
    page = ctx.services.events.list(ctx.principal, tuple(crit), paging(ctx, p), list_all(p),
                                    detailed=True)
    items = [views.event(d) for d in page.items]
    return Listing(items, page.total if page.total is not None else len(items))


@command("listEventTypes")
def list_event_types(ctx: CsContext, p: CsParams) -> Listing:
    names = ctx.services.events.types()
    return Listing([{"name": n} for n in names], len(names))
