"""Who may act on whose resources (shared by every service)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound, ResourceKind
from engine.models import Account, Domain
from engine.principal import Principal
from engine.states import Role, VmState

if TYPE_CHECKING:  # the instance and project models load where used (not on a server's first call)
    from engine.models import Instance

T = TypeVar("T")


def may_act(session: Session, principal: Principal, account_uuid: str | None) -> bool:
    """Root admins act on anything; domain admins within their domain subtree;
    users on their own account's resources only."""
    if principal.is_root_admin or (account_uuid is not None and principal.account_uuid == account_uuid):
        return True
    if principal.is_domain_admin and account_uuid is not None:
        path = session.scalar(
            select(Domain.path)
            .join(Account, Account.domain_uuid == Domain.uuid)
            .where(Account.uuid == account_uuid)
        )
        if path is not None and path.startswith(principal.domain_path):
            return True
    return account_uuid is not None and _project_member(session, principal, account_uuid)


def own_account_only(principal: Principal) -> Principal:
    """``principal`` narrowed to what its own account may see: an admin's (root
    or domain) role becomes a user's, so every listing and lookup made with the
    result answers the account's own resources (plus the public and shared
    ones a user sees), never other accounts'. Users are returned unchanged."""
    return principal if principal.role is Role.USER else _as_user(principal)


@functools.lru_cache(maxsize=1024)
def _as_user(principal: Principal) -> Principal:
    return replace(principal, role=Role.USER)


def _project_member(session: Session, principal: Principal, account_uuid: str) -> bool:
    """Whether ``account_uuid`` is a project's account and the principal's account
    one of its members (members act on the project's resources)."""
    from engine.models import Project, ProjectMember

    return session.scalar(select(ProjectMember.uuid).join(
        Project, Project.uuid == ProjectMember.project_uuid).where(
        Project.account_uuid == account_uuid, Project.removed_at.is_(None),
        ProjectMember.account_uuid == principal.account_uuid).limit(1)) is not None


def owner_account(session: Session, principal: Principal, account_uuid: str | None) -> str:
    """The account a resource is made for: the caller's own, or ``account_uuid``
    if the caller may act for it (NotFound otherwise, as if it did not exist)."""
    if account_uuid is None or account_uuid == principal.account_uuid:
        return principal.account_uuid
    account = session.get(Account, account_uuid)
    if account is None or account.removed_at is not None or not may_act(
            session, principal, account_uuid):
        raise NotFound(ResourceKind.ACCOUNT, account_uuid)
    return account_uuid


def owned_live(session: Session, principal: Principal, model: type[T], ident: str,
               kind: ResourceKind) -> T:
    """The live row of ``model`` (``sid == ident``, ``removed_at`` NULL) whose
    account the principal may act on; NotFound(kind, ident) otherwise."""
    cols: Any = model
    row = session.scalar(select(cols).where(cols.sid == ident, cols.removed_at.is_(None)))
    if row is None or not may_act(session, principal, row.account_uuid):
        raise NotFound(kind, ident)
    return row  # type: ignore[no-any-return]


def the_one(found: Sequence[T], kind: ResourceKind, ident: str) -> T:
    """The first of ``found`` (a by-sid listing); NotFound(kind, ident) when empty."""
    if not found:
        raise NotFound(kind, ident)
    return found[0]


def owned_instance(session: Session, principal: Principal, uuid: str) -> Instance:
    """The instance row by uuid, locked for update, unless it is expunged or the
    principal may not act on it (NotFound(INSTANCE, uuid) then)."""
    from engine.models import Instance

    inst = session.scalar(select(Instance).where(Instance.uuid == uuid).with_for_update())
    if inst is None or inst.state == VmState.EXPUNGED or not may_act(
            session, principal, inst.account_uuid):
        raise NotFound(ResourceKind.INSTANCE, uuid)
    return inst
