"""Who may act on whose resources (shared by every service)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound, ResourceKind
from engine.models import Account, Domain
from engine.principal import Principal


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
        return path is not None and path.startswith(principal.domain_path)
    return False


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
