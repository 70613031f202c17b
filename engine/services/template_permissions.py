"""Sharing templates: launch permissions for other accounts and the public,
featured and extractable flags. Only the owner (or an admin over it) changes
them; accounts are named by name (within the owner's domain) or by number."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, PermissionDenied, ResourceKind
from engine.models import Account, Template, TemplatePermission
from engine.principal import Principal
from engine.services.sharing import PermissionRows, ShareOp
from engine.services.template_access import owned_template

# add, remove, reset (no shared accounts; not public, not featured).
PermissionOp = ShareOp


class AccountKey(str, Enum):
    """How ``PermissionChange.accounts`` names accounts."""

    NAME = "name"
    NUMBER = "number"


@dataclass(frozen=True)
class PermissionChange:
    op: PermissionOp | None = None
    accounts: tuple[str, ...] = ()
    key: AccountKey = AccountKey.NAME
    is_public: bool | None = None
    is_featured: bool | None = None
    is_extractable: bool | None = None


@dataclass
class TemplateSharing:
    """A template and the accounts (other than its owner) it is shared with."""

    template: Template
    accounts: list[Account]


class TemplatePermissionService:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._rows = PermissionRows(session, TemplatePermission,
                                    TemplatePermission.template_uuid, Account.name)

    def get(self, principal: Principal, ident: str) -> TemplateSharing:
        """Who may launch the template. Raises NotFound and PermissionDenied
        (callers who do not own it)."""
        t = owned_template(self._s, principal, ident, "list the template's permissions")
        return TemplateSharing(t, self._accounts(t.uuid))

    def change(self, principal: Principal, ident: str, change: PermissionChange) -> TemplateSharing:
        """Apply ``change``. Raises NotFound, PermissionDenied (not the owner;
        featured by a non-admin) and InvalidParameter (unknown account, the
        owner's own account, accounts without an operation)."""
        t = owned_template(self._s, principal, ident, "change the template's permissions")
        if change.accounts and change.op in (None, PermissionOp.RESET):
            raise InvalidParameter("op", change.op.value if change.op else "",
                                   "accounts need the operation add or remove")
        if change.is_featured is not None and change.is_featured != t.is_featured and \
                not principal.is_root_admin:
            raise PermissionDenied("change whether a template is featured",
                                   ResourceKind.TEMPLATE, ident)
        if change.op is PermissionOp.RESET:
            t.is_public = t.is_featured = False
            self.drop_all(t.uuid)
        elif change.accounts and change.op is not None:
            self._rows.apply(change.op, t.uuid, self._resolve(t, change.accounts, change.key))
        if change.is_public is not None:
            t.is_public = change.is_public
        if change.is_featured is not None:
            t.is_featured = change.is_featured
        if change.is_extractable is not None:
            t.is_extractable = change.is_extractable
        self._s.flush()
        return TemplateSharing(t, self._accounts(t.uuid))

    def drop_all(self, template_uuid: str) -> None:
        self._rows.drop_all(template_uuid)

    def _accounts(self, template_uuid: str) -> list[Account]:
        return self._rows.accounts(template_uuid)

    def _resolve(self, t: Template, names: tuple[str, ...], key: AccountKey) -> list[Account]:
        owner = self._s.get(Account, t.account_uuid)
        assert owner is not None
        out = []
        for name in names:
            stmt = select(Account).where(Account.removed_at.is_(None))
            if key is AccountKey.NUMBER:
                stmt = stmt.where(Account.number == name)
            else:
                stmt = stmt.where(Account.name == name, Account.domain_uuid == owner.domain_uuid)
            account = self._s.scalar(stmt)
            if account is None:
                raise InvalidParameter("accounts", name, "no such account")
            if account.uuid == owner.uuid:
                continue  # the owner always may launch its own template
            out.append(account)
        return out
