"""Who may see and launch a template: its owner (and admins over the owner),
everyone when it is public, and the accounts it is shared with
(:class:`~engine.models.TemplatePermission`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from engine.errors import NotFound, PermissionDenied, ResourceKind
from engine.models import Account, Template, TemplatePermission
from engine.principal import Principal
from engine.services.access import may_act
from engine.services.sharing import may_use_shared
from engine.services.volume_queries import by_ident


def shared_with(principal: Principal) -> ColumnElement[bool]:
    """SQL: the template is shared with the principal's account."""
    return exists().where(TemplatePermission.template_uuid == Template.uuid,
                          TemplatePermission.account_uuid == principal.account_uuid)


def permission_match(values: Sequence[str], *, owner: ColumnElement[str],
                     public: ColumnElement[bool],
                     shared: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[bool]:
    """SQL for a list field "who may use it" of a shareable resource (a
    template, a snapshot), true when any value holds:

    * ``public``: everyone may;
    * ``account:<number>``: that account owns it or it is shared with it;
    * ``grant:<owner number>:<number>``: that owner's, shared with that account.

    ``owner`` is the row's account uuid column, ``public`` its public flag and
    ``shared(accounts)`` the condition that the row is shared with one of the
    account uuids the ``accounts`` select yields. Other values match nothing."""
    def accounts(number: str) -> Any:
        return select(Account.uuid).where(Account.number == number)

    conds: list[ColumnElement[bool]] = []
    for v in values:
        kind, _, rest = v.partition(":")
        if v == "public":
            conds.append(public.is_(True))
        elif kind == "account" and rest:
            conds.append(or_(owner.in_(accounts(rest)), shared(accounts(rest))))
        elif kind == "grant" and ":" in rest:
            by, _, to = rest.partition(":")
            conds.append(and_(owner.in_(accounts(by)), shared(accounts(to))))
    return or_(false(), *conds)


def launch_permission(values: Sequence[str]) -> ColumnElement[bool]:
    """:func:`permission_match` on templates (their launch permissions)."""
    return permission_match(values, owner=Template.account_uuid, public=Template.is_public,
                            shared=lambda accounts: exists().where(
                                TemplatePermission.template_uuid == Template.uuid,
                                TemplatePermission.account_uuid.in_(accounts)))


def may_launch(session: Session, principal: Principal, t: Template) -> bool:
    """Whether ``principal`` may see and launch the live template ``t``."""
    return may_use_shared(session, principal, t, TemplatePermission,
                          TemplatePermission.template_uuid)


def visible_template(session: Session, principal: Principal, ident: str, *,
                     lock: bool = False) -> Template:
    """The live template ``ident`` (uuid or sid) the principal may launch, else NotFound."""
    stmt = select(Template).where(by_ident(Template.uuid, Template.sid, ident))
    t = session.scalar(stmt.with_for_update() if lock else stmt)
    if t is None or not may_launch(session, principal, t):
        raise NotFound(ResourceKind.TEMPLATE, ident)
    return t


def owned_template(session: Session, principal: Principal, ident: str, action: str) -> Template:
    """The live template ``ident`` the principal may change: NotFound if it may
    not even see it, PermissionDenied if it sees it but does not own it."""
    t = visible_template(session, principal, ident, lock=True)
    if not may_act(session, principal, t.account_uuid):
        raise PermissionDenied(action, ResourceKind.TEMPLATE, ident)
    return t
