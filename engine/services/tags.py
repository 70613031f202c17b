"""Tags on any resource: key/value pairs in their own table.

A tag belongs to the account that owns the tagged resource (so the owner sees
tags an admin put on its resources). :class:`TagService` resolves the tagged
resources itself; the module functions are for services that already did.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, or_, select
from sqlalchemy.orm import Session

from engine.errors import (
    InvalidParameter,
    LimitExceeded,
    MissingParameter,
    NotFound,
    ResourceKind,
)
from engine.models import (
    Account,
    Domain,
    Gateway,
    Instance,
    KeyPair,
    Network,
    Nic,
    PublicIp,
    RouteTable,
    SecurityGroup,
    SecurityRule,
    Snapshot,
    Tag,
    Template,
    Volume,
    Vpc,
)
from engine.principal import Principal
from engine.querying import (
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    list_owned,
    match_values,
)
from engine.services.access import may_act
from engine.services.events import record_event
from engine.states import IpState, VmState

NO_PAGING = Paging()  # every match in one page
MAX_TAGS_PER_RESOURCE = 50
RESERVED_PREFIX = "aws:"


def apply_tags(
    session: Session,
    principal: Principal,
    kind: ResourceKind,
    resource_uuids: Sequence[str],
    tags: Iterable[tuple[str, str]],
    *,
    account_uuid: str | None = None,
    new_resources: bool = False,
) -> list[Tag]:
    """Create or overwrite tags on resources the caller already resolved;
    return the tag rows set (resource by resource, in ``tags`` order).

    New tags belong to ``account_uuid`` (default: the principal's account).
    ``new_resources`` says the resources were created in this transaction and
    have no tags yet (their existing tags are then not read).
    Raises InvalidParameter for an empty/reserved/too long key, LimitExceeded
    past 50 tags on one resource.
    """
    if new_resources:
        out = [Tag(**values) for values in new_tag_values(
            principal, kind, resource_uuids, tags, account_uuid=account_uuid)]
        session.add_all(out)
        return out
    pairs = _checked(tags)
    owner = account_uuid or principal.account_uuid
    out = []
    for uuid in resource_uuids:
        existing: dict[str, Tag] = {
            t.key: t for t in session.scalars(select(Tag).where(Tag.resource_uuid == uuid))}
        touched: dict[str, Tag] = {}
        for key, value in pairs:
            row = existing.get(key)
            if row is None:
                row = Tag(resource_kind=kind, resource_uuid=uuid, account_uuid=owner, key=key,
                          value=value)
                session.add(row)
                existing[key] = row
            else:
                row.value = value
            touched[key] = row
        if len(existing) > MAX_TAGS_PER_RESOURCE:
            raise LimitExceeded(ResourceKind.TAG, MAX_TAGS_PER_RESOURCE)
        out.extend(touched.values())
    return out


def new_tag_values(principal: Principal, kind: ResourceKind, resource_uuids: Sequence[str],
                   tags: Iterable[tuple[str, str]], *,
                   account_uuid: str | None = None) -> list[dict[str, Any]]:
    """The given columns (by attribute name) of the tag rows that
    :func:`apply_tags` with ``new_resources`` adds: for a caller that writes
    its rows itself (``engine.services.launch_rows``). Same checks and
    errors; a key given twice keeps its place and takes the last value."""
    pairs = _checked(tags)
    owner = account_uuid or principal.account_uuid
    latest = dict(pairs)
    if len(latest) > MAX_TAGS_PER_RESOURCE and resource_uuids:
        raise LimitExceeded(ResourceKind.TAG, MAX_TAGS_PER_RESOURCE)
    return [{"resource_kind": kind, "resource_uuid": uuid, "account_uuid": owner, "key": key,
             "value": value} for uuid in resource_uuids for key, value in latest.items()]


def _checked(tags: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs, each key and value checked (InvalidParameter)."""
    pairs = list(tags)
    for key, value in pairs:
        if not key or len(key) > 128:
            raise InvalidParameter("Tag.Key", key, "Tag keys must be 1 to 128 characters")
        if key.lower().startswith(RESERVED_PREFIX):
            raise InvalidParameter("Tag.Key", key, "Tag keys starting with 'aws:' are reserved")
        if len(value) > 256:
            raise InvalidParameter("Tag.Value", value, "Tag values may be 256 characters at most")
    return pairs


def remove_tags(
    session: Session, resource_uuids: Sequence[str], tags: Iterable[tuple[str, str | None]]
) -> None:
    """Delete tags: a None value deletes the key whatever its value."""
    pairs = list(tags)
    if not pairs:
        session.execute(delete(Tag).where(Tag.resource_uuid.in_(resource_uuids)))
        return
    for key, value in pairs:
        stmt = delete(Tag).where(Tag.resource_uuid.in_(resource_uuids), Tag.key == key)
        if value is not None:
            stmt = stmt.where(Tag.value == value)
        session.execute(stmt)


def _sid_models() -> dict[ResourceKind, Any]:
    """Models whose rows carry tags and a sid, by kind."""
    return {**{k: t.model for k, t in TAGGABLE.items()}, ResourceKind.SECURITY_RULE: SecurityRule}


def _resource_ref(values: Sequence[str]) -> ColumnElement[bool]:
    """Tags of resources named ``<kind>:<sid>``: the kind is a
    :class:`ResourceKind` value, the sid may hold ``*``/``?`` wildcards; an
    unknown kind matches nothing."""
    by_kind: dict[ResourceKind, list[str]] = {}
    for v in values:
        name, _, sid = v.partition(":")
        try:
            by_kind.setdefault(ResourceKind(name), []).append(sid)
        except ValueError:
            continue
    models = _sid_models()
    conds = [and_(Tag.resource_kind == kind, Tag.resource_uuid.in_(
        select(models[kind].uuid).where(match_values(models[kind].sid, sids, True))))
        for kind, sids in by_kind.items() if kind in models]
    return or_(false(), *conds)


TAG_FIELDS: FieldMap = {
    "key": Tag.key,
    "value": Tag.value,
    "resource_uuid": Tag.resource_uuid,
    "resource_ref": _resource_ref,
    "resource_kind": Tag.resource_kind,
    "account_uuid": Tag.account_uuid,
}


@dataclass(frozen=True)
class _Taggable:
    """How to find a live resource of one kind by uuid or sid."""

    model: Any
    live: Any  # a function of the model -> SQL condition, or None

    def condition(self) -> ColumnElement[bool] | None:
        return self.live(self.model) if self.live is not None else None


TAGGABLE: dict[ResourceKind, _Taggable] = {
    ResourceKind.INSTANCE: _Taggable(Instance, lambda m: m.state.not_in(
        (VmState.EXPUNGED, VmState.EXPUNGING))),
    ResourceKind.VOLUME: _Taggable(Volume, lambda m: m.removed_at.is_(None)),
    ResourceKind.SNAPSHOT: _Taggable(Snapshot, lambda m: m.removed_at.is_(None)),
    ResourceKind.SECURITY_GROUP: _Taggable(SecurityGroup, None),
    ResourceKind.PUBLIC_IP: _Taggable(PublicIp, lambda m: m.state == IpState.ALLOCATED),
    ResourceKind.TEMPLATE: _Taggable(Template, lambda m: m.removed_at.is_(None)),
    ResourceKind.KEY_PAIR: _Taggable(KeyPair, None),
    ResourceKind.NETWORK: _Taggable(Network, lambda m: m.removed_at.is_(None)),
    ResourceKind.VPC: _Taggable(Vpc, lambda m: m.removed_at.is_(None)),
    ResourceKind.GATEWAY: _Taggable(Gateway, lambda m: m.removed_at.is_(None)),
    ResourceKind.ROUTE_TABLE: _Taggable(RouteTable, lambda m: m.removed_at.is_(None)),
    ResourceKind.NIC: _Taggable(Nic, lambda m: m.account_uuid.is_not(None)),
}


@dataclass
class TagDetail:
    tag: Tag
    account: Account
    domain: Domain


class TagService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def list(self, principal: Principal, criteria: tuple[Criterion, ...] = (),
             paging: Paging = NO_PAGING, list_all: bool = True, *,
             detailed: bool = False) -> ListResult:
        """Tags the principal may see (by the tag's account), oldest first.

        Items are :class:`Tag` rows, or :class:`TagDetail` with ``detailed``.
        """
        page = list_owned(self._s, Tag, principal, kind=ResourceKind.TAG, fields=TAG_FIELDS,
                          criteria=criteria, paging=paging, list_all=list_all)
        if detailed:
            page.items = self.details(page.items)
        return page

    def details(self, tags: Sequence[Tag]) -> builtins.list[TagDetail]:
        accounts = {a.uuid: a for a in self._s.scalars(select(Account).where(
            Account.uuid.in_({t.account_uuid for t in tags})))} if tags else {}
        domains = {d.uuid: d for d in self._s.scalars(select(Domain).where(
            Domain.uuid.in_({a.domain_uuid for a in accounts.values()})))} if tags else {}
        return [TagDetail(t, accounts[t.account_uuid],
                          domains[accounts[t.account_uuid].domain_uuid]) for t in tags]

    def create(self, principal: Principal, kind: ResourceKind, idents: Sequence[str],
               tags: Sequence[tuple[str, str]]) -> builtins.list[str]:
        """Tag resources of one kind named by uuid or sid; return their uuids.

        All or none: raises MissingParameter (no resource, no tag), InvalidParameter
        (a kind that cannot be tagged, a bad key or value), NotFound(kind, ident)
        for a resource that does not exist or that the caller may not act on, and
        LimitExceeded past the per-resource limit. Each tag belongs to the
        resource's owner; an existing key is overwritten.
        """
        if not tags:
            raise MissingParameter("tags")
        owners = self._resolve(principal, kind, idents)
        for uuid, owner in owners.items():
            apply_tags(self._s, principal, kind, [uuid], tags, account_uuid=owner)
            record_event(self._s, principal, "TAG.CREATE",
                         f"Tagged {kind.value.replace('_', ' ')} {uuid}", kind, uuid,
                         account_uuid=owner)
        self._s.flush()
        return builtins.list(owners)

    def delete(self, principal: Principal, kind: ResourceKind, idents: Sequence[str],
               tags: Sequence[tuple[str, str | None]] = ()) -> builtins.list[str]:
        """Remove tags (all of them when ``tags`` is empty; a None value removes
        the key whatever its value) from resources named by uuid or sid.

        Raises as :meth:`create` for the resources; tags that are not there are
        ignored. Returns the resources' uuids.
        """
        owners = self._resolve(principal, kind, idents)
        remove_tags(self._s, builtins.list(owners), tags)
        for uuid, owner in owners.items():
            record_event(self._s, principal, "TAG.DELETE",
                         f"Removed tags of {kind.value.replace('_', ' ')} {uuid}", kind, uuid,
                         account_uuid=owner)
        self._s.flush()
        return builtins.list(owners)

    def _resolve(self, principal: Principal, kind: ResourceKind,
                 idents: Sequence[str]) -> dict[str, str]:
        """uuid -> owning account of each named resource, in the given order."""
        spec = TAGGABLE.get(kind)
        if spec is None:
            raise InvalidParameter("resource type", kind.value, "cannot be tagged")
        wanted = [i for i in dict.fromkeys(idents) if i]
        if not wanted:
            raise MissingParameter("resources")
        m = spec.model
        stmt = select(m).where(or_(m.uuid.in_(wanted), m.sid.in_(wanted)))
        live = spec.condition()
        if live is not None:
            stmt = stmt.where(live)
        rows = builtins.list(self._s.scalars(stmt))
        out: dict[str, str] = {}
        for ident in wanted:
            row = next((r for r in rows if ident in (r.uuid, r.sid)), None)
            if row is None or not may_act(self._s, principal, row.account_uuid):
                raise NotFound(kind, ident)
            out[row.uuid] = row.account_uuid
        return out

    def resource_sids(self, tags: Sequence[Tag]) -> dict[str, str]:
        """Resource uuid -> sid for the tagged resources that still exist."""
        wanted: dict[ResourceKind, set[str]] = {}
        for t in tags:
            wanted.setdefault(t.resource_kind, set()).add(t.resource_uuid)
        models = _sid_models()
        out: dict[str, str] = {}
        for kind, uuids in wanted.items():
            m = models.get(kind)
            if m is not None:
                out.update({u: sid for u, sid in self._s.execute(
                    select(m.uuid, m.sid).where(m.uuid.in_(uuids)))})
        return out
