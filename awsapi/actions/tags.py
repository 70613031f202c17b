"""Tags: CreateTags, DeleteTags, DescribeTags, and TagSpecifications parsing.

A resource id's prefix names its kind (``i-`` instance, ``vol-`` volume ...);
the engine checks that each resource exists and that the caller may act on
it, and answers NotFound with the kind, which the error table turns into the
kind's ``*.NotFound`` code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from awsapi import ids, views_security
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.actions.images import paging
from awsapi.errors_wire import Ec2Error
from awsapi.filters import tag_table_criteria
from awsapi.ids import Kind
from engine.errors import NotFound, ResourceKind

# EC2 id prefix -> engine kind, for the resources CreateTags/DeleteTags take.
# QUIRK(ec2): security group rules take tags at AuthorizeSecurityGroup* time only.
KIND_BY_PREFIX: Final[dict[str, ResourceKind]] = {
    wire.prefix: kind for kind, (wire, _) in views_security.TAGGABLE.items()
    if kind is not ResourceKind.SECURITY_RULE
}


def spec_tags(p: Params, resource_type: str) -> tuple[tuple[str, str], ...]:
    """The tags of ``TagSpecifications`` for ``resource_type`` (the only type the
    action accepts); any other type is InvalidParameterValue."""
    out: list[tuple[str, str]] = []
    for spec in p.get("TagSpecifications") or ():
        kind = spec.get("ResourceType")
        if kind != resource_type:
            raise Ec2Error("InvalidParameterValue",
                           f"'{kind}' is not a valid taggable resource type for this operation.")
        out.extend((t.get("Key", ""), t.get("Value", "")) for t in spec.get("Tags") or ())
    return tuple(out)


def _resources(resource_ids: Sequence[str]) -> dict[ResourceKind, list[tuple[str, str]]]:
    """Resource ids grouped by engine kind, as (sid, wire id); malformed ids raise
    their kind's Malformed code, unknown prefixes InvalidID."""
    out: dict[ResourceKind, list[tuple[str, str]]] = {}
    for rid in resource_ids:
        kind = KIND_BY_PREFIX.get(rid.partition("-")[0])
        if kind is None:
            raise Ec2Error("InvalidID", f"The ID '{rid}' is not valid")
        wire: Kind = views_security.TAGGABLE[kind][0]
        out.setdefault(kind, []).append((ids.parse(rid, wire), rid))
    return out


def _each_kind(ctx: RequestContext, p: Params, delete: bool) -> None:
    svc = ctx.services.tags
    for kind, refs in _resources(p.get("Resources") or ()).items():
        sids = [sid for sid, _ in refs]
        try:
            if delete:
                pairs = [(t.get("Key", ""), t.get("Value")) for t in p.get("Tags") or ()]
                svc.delete(ctx.principal, kind, sids, pairs)
            else:
                svc.create(ctx.principal, kind, sids,
                           [(t.get("Key", ""), t.get("Value") or "") for t in p["Tags"]])
        except NotFound as exc:
            wire_id = next((w for s, w in refs if s == exc.ident), exc.ident)
            raise NotFound(exc.kind, wire_id) from exc


@action("CreateTags")
def create_tags(ctx: RequestContext, p: Params) -> Result:
    _each_kind(ctx, p, delete=False)
    return {}


@action("DeleteTags")
def delete_tags(ctx: RequestContext, p: Params) -> Result:
    """A tag given with a Value (even empty) is deleted only when its value matches."""
    _each_kind(ctx, p, delete=True)
    return {}


@action("DescribeTags", readonly=True)
def describe_tags(ctx: RequestContext, p: Params) -> Result:
    svc = ctx.services.tags
    page = svc.list(ctx.principal, tag_table_criteria(p.get("Filters")), paging(p))
    sids = svc.resource_sids(page.items)
    return {"Tags": [views_security.tag_description(t, sids[t.resource_uuid])
                     for t in page.items
                     if t.resource_uuid in sids and t.resource_kind in views_security.TAGGABLE],
            "NextToken": page.next_token}
