"""Events: an audit trail of what happened to which resource."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import ResourceKind
from engine.models import Event
from engine.principal import Principal
from engine.querying import Criterion, FieldMap, ListResult, Paging, apply_criteria, owner_scope, paginate, query_key


def record_event(
    session: Session,
    principal: Principal | None,
    event_type: str,
    description: str,
    resource_kind: ResourceKind | None = None,
    resource_uuid: str | None = None,
    *,
    level: str = "INFO",
    account_uuid: str | None = None,
) -> Event:
    """Add an event row to the caller's transaction."""
    event = Event(
        event_type=event_type,
        level=level,
        description=description[:255],
        account_uuid=account_uuid or (principal.account_uuid if principal else None) or None,
        user_uuid=(principal.user_uuid if principal else None) or None,
        resource_kind=resource_kind,
        resource_uuid=resource_uuid,
    )
    session.add(event)
    return event


EVENT_FIELDS: FieldMap = {
    "uuid": Event.uuid,
    "type": Event.event_type,
    "level": Event.level,
    "resource_uuid": Event.resource_uuid,
}


class EventService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def list(self, principal: Principal, criteria: tuple[Criterion, ...] = (),
             paging: Paging = Paging(), list_all: bool = True) -> ListResult:
        stmt = select(Event).where(owner_scope(Event.account_uuid, principal, list_all=list_all))
        stmt = apply_criteria(stmt, EVENT_FIELDS, criteria, uuid_column=Event.uuid,
                              kind=ResourceKind.EVENT)
        return paginate(self._s, stmt, created_column=Event.created_at, uuid_column=Event.uuid,
                        paging=paging, query_key=query_key("events", criteria), count=True)
