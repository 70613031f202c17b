"""Events: an audit trail of what happened to which resource."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, ResourceKind
from engine.models import Account, Domain, Event, User
from engine.principal import Principal
from engine.querying import (
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    list_owned,
)

NO_PAGING = Paging()  # every match in one page

# Event types the engine records (``types()`` adds any other type found in the table).
KNOWN_TYPES: tuple[str, ...] = (
    "AG.CREATE", "AG.DELETE", "HOST.DISCONNECTED", "HOST.DOMAIN.STRAY", "HOST.DOWN", "HOST.UP",
    "VM.POWERSTATE", "IP.ASSIGN", "IP.RELEASE", "KEYPAIR.CREATE", "KEYPAIR.DELETE", "KEYPAIR.IMPORT",
    "SG.AUTH.EGRESS", "SG.AUTH.INGRESS", "SG.CREATE", "SG.DELETE", "SG.REVOKE.EGRESS",
    "SG.REVOKE.INGRESS", "SNAPSHOT.CREATE", "SNAPSHOT.DELETE", "STATICNAT.DISABLE",
    "STATICNAT.ENABLE", "TAG.CREATE", "TAG.DELETE", "VM.CREATE", "VM.DESTROY", "VM.EXPUNGE",
    "VM.REBOOT", "VM.START", "VM.STOP", "VOLUME.ATTACH", "VOLUME.CREATE", "VOLUME.DELETE",
    "VOLUME.DETACH", "VOLUME.RESIZE",
)


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
    event = Event(**event_values(principal, event_type, description, resource_kind,
                                 resource_uuid, level=level, account_uuid=account_uuid))
    session.add(event)
    return event


def event_values(
    principal: Principal | None,
    event_type: str,
    description: str,
    resource_kind: ResourceKind | None = None,
    resource_uuid: str | None = None,
    *,
    level: str = "INFO",
    account_uuid: str | None = None,
) -> dict[str, Any]:
    """The given columns of the event row :func:`record_event` adds (by
    attribute name; the others take their defaults), for a caller that writes
    its rows itself (``engine.services.launch_rows``)."""
    return {
        "event_type": event_type,
        "level": level,
        "description": description[:255],
        "account_uuid": account_uuid or (principal.account_uuid if principal else None) or None,
        "user_uuid": (principal.user_uuid if principal else None) or None,
        "resource_kind": resource_kind,
        "resource_uuid": resource_uuid,
    }


def _instant(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidParameter("date", value, "not an ISO 8601 date") from exc
    # Stored times are naive UTC.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _created(op: str):  # type: ignore[no-untyped-def]
    def cond(values: Sequence[str]) -> ColumnElement[bool]:
        bounds = [_instant(v) for v in values]
        if op == "from":
            return and_(*(Event.created_at >= b for b in bounds))
        return and_(*(Event.created_at <= b for b in bounds))
    return cond


EVENT_FIELDS: FieldMap = {
    "uuid": Event.uuid,
    "type": Event.event_type,
    "level": Event.level,
    "state": Event.state,
    "description": Event.description,
    "resource_uuid": Event.resource_uuid,
    "resource_kind": Event.resource_kind,
    "account_uuid": Event.account_uuid,
    "created_from": _created("from"),  # values: ISO 8601 instants, inclusive
    "created_to": _created("to"),
}


@dataclass
class EventDetail:
    """An event with its account, domain and user (each None if unknown)."""

    event: Event
    account: Account | None
    domain: Domain | None
    user: User | None


class EventService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def list(self, principal: Principal, criteria: tuple[Criterion, ...] = (),
             paging: Paging = NO_PAGING, list_all: bool = True, *,
             detailed: bool = False) -> ListResult:
        """Events of accounts the principal may see, newest first (as CloudStack lists them).

        Items are :class:`Event` rows, or :class:`EventDetail` with ``detailed``.
        """
        page = list_owned(self._s, Event, principal, kind=ResourceKind.EVENT,
                          fields=EVENT_FIELDS, criteria=criteria, paging=paging,
                          list_all=list_all, newest_first=True)
        if detailed:
            page.items = self.details(page.items)
        return page

    def details(self, events: Sequence[Event]) -> builtins.list[EventDetail]:
        if not events:
            return []
        s = self._s
        accounts = {a.uuid: a for a in s.scalars(select(Account).where(
            Account.uuid.in_({e.account_uuid for e in events if e.account_uuid})))}
        domains = {d.uuid: d for d in s.scalars(select(Domain).where(
            Domain.uuid.in_({a.domain_uuid for a in accounts.values()})))}
        users = {u.uuid: u for u in s.scalars(select(User).where(
            User.uuid.in_({e.user_uuid for e in events if e.user_uuid})))}
        out = []
        for e in events:
            account = accounts.get(e.account_uuid or "")
            out.append(EventDetail(e, account,
                                   domains.get(account.domain_uuid) if account else None,
                                   users.get(e.user_uuid or "")))
        return out

    def types(self) -> builtins.list[str]:
        """Every event type the engine records or has recorded, sorted."""
        seen = set(self._s.scalars(select(Event.event_type).distinct()))
        return sorted(seen | set(KNOWN_TYPES))
