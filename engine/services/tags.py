"""Tags on any resource: key/value pairs in their own table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, LimitExceeded, ResourceKind
from engine.models import Tag
from engine.principal import Principal
from engine.querying import Criterion, FieldMap, ListResult, Paging, apply_criteria, owner_scope, paginate, query_key

MAX_TAGS_PER_RESOURCE = 50
RESERVED_PREFIX = "aws:"


def apply_tags(
    session: Session,
    principal: Principal,
    kind: ResourceKind,
    resource_uuids: Sequence[str],
    tags: Iterable[tuple[str, str]],
) -> None:
    """Create or overwrite tags on resources the caller already resolved.

    Raises InvalidParameter for an empty/reserved/too long key, LimitExceeded
    past 50 tags on one resource.
    """
    pairs = list(tags)
    for key, value in pairs:
        if not key or len(key) > 128:
            raise InvalidParameter("Tag.Key", key, "Tag keys must be 1 to 128 characters")
        if key.lower().startswith(RESERVED_PREFIX):
            raise InvalidParameter("Tag.Key", key, "Tag keys starting with 'aws:' are reserved")
        if len(value) > 256:
            raise InvalidParameter("Tag.Value", value, "Tag values may be 256 characters at most")
    for uuid in resource_uuids:
        existing = {t.key: t for t in session.scalars(select(Tag).where(Tag.resource_uuid == uuid))}
        owner = principal.account_uuid
        for key, value in pairs:
            row = existing.get(key)
            if row is None:
                row = Tag(resource_kind=kind, resource_uuid=uuid, account_uuid=owner, key=key,
                          value=value)
                session.add(row)
                existing[key] = row
            else:
                row.value = value
        if len(existing) > MAX_TAGS_PER_RESOURCE:
            raise LimitExceeded(ResourceKind.TAG, MAX_TAGS_PER_RESOURCE)


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


TAG_FIELDS: FieldMap = {
    "key": Tag.key,
    "value": Tag.value,
    "resource_uuid": Tag.resource_uuid,
    "resource_kind": Tag.resource_kind,
}


class TagService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def list(self, principal: Principal, criteria: tuple[Criterion, ...] = (),
             paging: Paging = Paging(), list_all: bool = True) -> ListResult:
        stmt = select(Tag).where(owner_scope(Tag.account_uuid, principal, list_all=list_all))
        stmt = apply_criteria(stmt, TAG_FIELDS, criteria, uuid_column=Tag.uuid,
                              kind=ResourceKind.TAG)
        return paginate(self._s, stmt, created_column=Tag.created_at, uuid_column=Tag.uuid,
                        paging=paging, query_key=query_key("tags", criteria), count=True)
