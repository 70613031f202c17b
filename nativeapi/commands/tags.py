"""Resource tags: createTags, deleteTags, listTags.

``resourcetype`` takes CloudStack's names in any case (UserVm, Volume, Snapshot,
SecurityGroup, PublicIpAddress, Template, SSHKeyPair); ``resourceids`` is a
comma-separated list of uuids.
"""

from __future__ import annotations

from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from nativeapi import views_resources as views
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    finished,
    invalid_value,
    paging,
    tag_criteria_pairs,
)
from nativeapi.commands.ownership import list_all, owner_criteria
from nativeapi.errors_wire import CloudStackError
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command


def _kind(p: CsParams) -> ResourceKind:
    name = p.require("resourcetype")
    kind = views.TAG_RESOURCE_TYPES.get(name.lower())
    if kind is None:
        raise invalid_value(f"Invalid resource type {name}")
    return kind


def _not_found(exc: NotFound, p: CsParams) -> CloudStackError:
    return invalid_value(f"Unable to find resource by id {exc.ident} and type "
                         f"{p.require('resourcetype')}")


@command("createTags", is_async=True)
def create_tags(ctx: CsContext, p: CsParams) -> Submitted:
    kind = _kind(p)
    pairs = tag_criteria_pairs(p)
    if not pairs:
        raise p.missing("tags")
    try:
        uuids = ctx.services.tags.create(ctx.principal, kind, p.list("resourceids"), pairs)
    except NotFound as exc:
        raise _not_found(exc, p) from exc
    return Submitted(finished(ctx, kind, uuids[0]))


@command("deleteTags", is_async=True)
def delete_tags(ctx: CsContext, p: CsParams) -> Submitted:
    kind = _kind(p)
    pairs: list[tuple[str, str | None]] = []
    for entry in p.map("tags"):
        low = {k.lower(): v for k, v in entry.items()}
        if not low.get("key"):
            raise invalid_value("Tag key must be specified in tags[i].key")
        pairs.append((low["key"], low.get("value") or None))
    try:
        uuids = ctx.services.tags.delete(ctx.principal, kind, p.list("resourceids"), pairs)
    except NotFound as exc:
        raise _not_found(exc, p) from exc
    return Submitted(finished(ctx, kind, uuids[0]))


@command("listTags")
def list_tags(ctx: CsContext, p: CsParams) -> Listing:
    crit: list[Criterion] = []
    if p.get("resourcetype"):
        crit.append(Criterion("resource_kind", (_kind(p).value,), False))
    if p.get("resourceid"):
        crit.append(Criterion("resource_uuid", (p.require("resourceid").lower(),), False))
    for param, field in (("key", "key"), ("value", "value")):
        if p.get(param):
            crit.append(Criterion(field, (p.require(param),), False))
    if p.get("keyword"):
        crit.append(Criterion("key", (f"*{p.require('keyword')}*",)))
    crit.extend(owner_criteria(ctx, p))
    page = ctx.services.tags.list(ctx.principal, tuple(crit), paging(ctx, p), list_all(p),
                                  detailed=True)
    items = [views.tag(d) for d in page.items]
    return Listing(items, page.total if page.total is not None else len(items))
