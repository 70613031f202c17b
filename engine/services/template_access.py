"""Who may see and launch a template: its owner (and admins over the owner),
everyone when it is public, and the accounts it is shared with
(:class:`~engine.models.TemplatePermission`)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from engine.errors import NotFound, PermissionDenied, ResourceKind
from engine.models import Template, TemplatePermission
from engine.principal import Principal
from engine.services.access import may_act
from engine.services.volume_queries import by_ident


def shared_with(principal: Principal) -> ColumnElement[bool]:
    """SQL: the template is shared with the principal's account."""
    return exists().where(TemplatePermission.template_uuid == Template.uuid,
                          TemplatePermission.account_uuid == principal.account_uuid)


def may_launch(session: Session, principal: Principal, t: Template) -> bool:
    """Whether ``principal`` may see and launch the live template ``t``."""
    if t.removed_at is not None:
        return False
    if t.is_public or may_act(session, principal, t.account_uuid):
        return True
    return session.scalar(select(TemplatePermission.uuid).where(
        TemplatePermission.template_uuid == t.uuid,
        TemplatePermission.account_uuid == principal.account_uuid)) is not None


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
