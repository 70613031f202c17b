"""Users and their API keys, and the visibility rules shared with accounts.

:class:`UserManagement` is a mixin of :class:`engine.services.accounts.AccountService`
(callers reach these methods through ``Services.accounts``). Who may do what: root
admins anything; domain admins within their domain subtree; users only read and
change themselves (callers gate admin-only operations before calling).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.db import utcnow
from engine.errors import Duplicate, InvalidParameter, NotFound, PermissionDenied, ResourceKind
from engine.models import Account, Domain, User
from engine.principal import Principal
from engine.querying import like_pattern
from engine.services.access import may_act
from engine.services.sessions import (
    Authentication,
    check_password,
    hash_password,
    new_api_key,
    new_secret_key,
)
from engine.states import AccountState, Role

__all__ = ["UserChanges", "UserDetail", "UserManagement", "UserQuery", "UserRequest",
           "retire_user"]

@dataclass(frozen=True)
class UserQuery:
    uuid: str | None = None
    username: str | None = None
    account_name: str | None = None
    domain_uuid: str | None = None
    recursive: bool = False
    roles: tuple[Role, ...] = ()
    state: AccountState | None = None
    keyword: str | None = None


@dataclass(frozen=True)
class UserRequest:
    """Another user for the account ``account_name`` of ``domain_uuid``."""

    account_name: str
    username: str
    password: str
    domain_uuid: str | None = None
    first_name: str = ""
    last_name: str = ""
    email: str = ""


@dataclass(frozen=True)
class UserChanges:
    """What ``update_user`` changes; None leaves a field as it is."""

    username: str | None = None
    password: str | None = None
    current_password: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    api_key: str | None = None
    secret_key: str | None = None


@dataclass(frozen=True)
class UserDetail:
    user: User
    account: Account
    domain: Domain


class UserManagement(Authentication):
    """User lookups and administration, plus the scope helpers AccountService shares."""

    def register_keys(self, user_uuid: str) -> User:
        """Give the user a fresh key pair (the old one stops working)."""
        user = self._s.get(User, user_uuid)
        if user is None:
            raise NotFound(ResourceKind.USER, user_uuid)
        user.api_key, user.secret_key = new_api_key(), new_secret_key()
        return user

    def account_by_name(self, principal: Principal, name: str,
                        domain_uuid: str | None = None) -> Account:
        """The live account ``name`` in ``domain_uuid`` (default: the principal's
        domain). NotFound(ACCOUNT) if there is none or the principal may not act
        on it (same answer, so names do not leak)."""
        domain = domain_uuid or principal.domain_uuid
        account = self._s.scalar(select(Account).where(
            Account.name == name, Account.domain_uuid == domain, Account.removed_at.is_(None)))
        if account is None or not may_act(self._s, principal, account.uuid):
            raise NotFound(ResourceKind.ACCOUNT, name)
        return account

    def user_by_name(self, username: str) -> User:
        user = self._s.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(ResourceKind.USER, username)
        return user

    # Domains, accounts and users as an operator manages them. Who may do what:
    # root admins anything; domain admins within their domain subtree; users
    # only read themselves (callers gate admin-only operations before calling).
    # ---------------------------------------------------------------- scope

    def _in_scope(self, stmt: Any, principal: Principal, own: Any, domain_uuid: str | None,
                  subtree: bool) -> Any:
        """Users see their own row (``own``); admins a domain (default their own),
        or its whole subtree with ``subtree``. ``stmt`` joins ``Domain``."""
        if not (principal.is_root_admin or principal.is_domain_admin):
            return stmt.where(own)
        top = self.domain_for(principal, domain_uuid or principal.domain_uuid)
        return stmt.where(Domain.path.like(like_pattern(top.path) + "%", escape="\\")
                          if subtree else Domain.uuid == top.uuid)

    def _may_manage(self, principal: Principal, domain_path: str) -> bool:
        return principal.is_root_admin or (
            principal.is_domain_admin and domain_path.startswith(principal.domain_path))

    def _live_domain(self, uuid: str) -> Domain:
        domain = self._s.get(Domain, uuid)
        if domain is None or domain.removed_at is not None:
            raise NotFound(ResourceKind.DOMAIN, uuid)
        return domain

    def domain_for(self, principal: Principal, uuid: str) -> Domain:
        """A domain the principal may see (its own, or its subtree for admins)."""
        domain = self._live_domain(uuid)
        if domain.uuid != principal.domain_uuid and not self._may_manage(principal, domain.path):
            raise NotFound(ResourceKind.DOMAIN, uuid)
        return domain

    def _live_account(self, uuid: str) -> tuple[Account, Domain]:
        row = self._s.execute(select(Account, Domain).join(
            Domain, Domain.uuid == Account.domain_uuid).where(
            Account.uuid == uuid, Account.removed_at.is_(None))).first()
        if row is None:
            raise NotFound(ResourceKind.ACCOUNT, uuid)
        return row[0], row[1]

    def _check_username(self, username: str) -> None:
        if not username or self._s.scalar(select(User.uuid).where(User.username == username)):
            raise Duplicate(ResourceKind.USER, username)

    # ------------------------------------------------------------------- users
    def users(self, principal: Principal, query: UserQuery) -> list[UserDetail]:
        """Users the principal may see: itself only for users; for admins the
        users of the accounts ``accounts`` would show for the same scope."""
        stmt = (select(User, Account, Domain).join(Account, Account.uuid == User.account_uuid)
                .join(Domain, Domain.uuid == Account.domain_uuid)
                .where(User.removed_at.is_(None), Account.removed_at.is_(None))
                .order_by(User.created_at, User.uuid))
        stmt = self._in_scope(stmt, principal, User.uuid == principal.user_uuid,
                              query.domain_uuid, bool(query.recursive or query.uuid))
        if query.uuid:
            stmt = stmt.where(User.uuid == query.uuid)
        if query.username is not None:
            stmt = stmt.where(User.username == query.username)
        if query.account_name is not None:
            stmt = stmt.where(Account.name == query.account_name)
        if query.roles:
            stmt = stmt.where(Account.role.in_(query.roles))
        if query.state is not None:
            stmt = stmt.where(User.state == query.state)
        if query.keyword:
            stmt = stmt.where(User.username.contains(query.keyword, autoescape=True))
        return [UserDetail(u, a, d) for u, a, d in self._s.execute(stmt).all()
                if u.uuid == principal.user_uuid or self._may_manage(principal, d.path)]

    def add_user(self, principal: Principal, req: UserRequest) -> UserDetail:
        """Another user of an existing account (its own keys and password)."""
        account = self.account_by_name(principal, req.account_name, req.domain_uuid)
        account, domain = self._live_account(account.uuid)
        if not self._may_manage(principal, domain.path):
            raise PermissionDenied("create a user", ResourceKind.ACCOUNT, account.uuid)
        if not req.password:
            raise InvalidParameter("password", "", "a password is required")
        self._check_username(req.username)
        user = User(username=req.username, account_uuid=account.uuid,
                    password_hash=hash_password(req.password), first_name=req.first_name,
                    last_name=req.last_name, email=req.email, api_key=new_api_key(),
                    secret_key=new_secret_key())
        try:
            with self._s.begin_nested():
                self._s.add(user)
        except IntegrityError as exc:
            raise Duplicate(ResourceKind.USER, req.username) from exc
        return UserDetail(user, account, domain)

    def _user_for(self, principal: Principal, user_uuid: str) -> User:
        row = self._s.execute(select(User, Domain).join(
            Account, Account.uuid == User.account_uuid).join(
            Domain, Domain.uuid == Account.domain_uuid).where(
            User.uuid == user_uuid, User.removed_at.is_(None))).first()
        if row is None or not (row[0].uuid == principal.user_uuid
                               or self._may_manage(principal, row[1].path)):
            raise NotFound(ResourceKind.USER, user_uuid)
        return row[0]  # type: ignore[no-any-return]

    def user_keys(self, principal: Principal, user_uuid: str) -> User:
        """The user (with its keys) if it is the caller or one the caller manages."""
        return self._user_for(principal, user_uuid)

    def rotate_keys(self, principal: Principal, user_uuid: str) -> User:
        """``register_keys`` with the same visibility rule as ``user_keys``."""
        return self.register_keys(self._user_for(principal, user_uuid).uuid)

    def user_detail(self, principal: Principal, user_uuid: str) -> UserDetail:
        """The caller itself or a user it manages (NotFound otherwise)."""
        user = self._user_for(principal, user_uuid)
        account, domain = self._live_account(user.account_uuid)
        return UserDetail(user, account, domain)

    def user_by_api_key(self, principal: Principal, api_key: str) -> UserDetail:
        """The live user holding ``api_key`` (NotFound if none or not visible)."""
        uuid = self._s.scalar(select(User.uuid).where(User.api_key == api_key,
                                                      User.removed_at.is_(None)))
        if uuid is None:
            raise NotFound(ResourceKind.USER, api_key)
        return self.user_detail(principal, uuid)

    def update_user(self, principal: Principal, user_uuid: str, changes: UserChanges
                    ) -> UserDetail:
        """Change a user's profile, name, password or keys. A user may change only
        itself and must then give ``current_password`` with a new password
        (InvalidParameter when missing or wrong); admins may change the users they
        manage without it."""
        detail = self.user_detail(principal, user_uuid)
        user = detail.user
        if changes.password is not None:
            if not changes.password:
                raise InvalidParameter("password", "", "a password cannot be empty")
            if not (principal.is_root_admin or principal.is_domain_admin):
                if not changes.current_password:
                    raise InvalidParameter("currentpassword", "",
                                           "the current password is needed to set a new one")
                if not check_password(changes.current_password, user.password_hash):
                    raise InvalidParameter("currentpassword", "***",
                                           "the current password is incorrect")
            user.password_hash = hash_password(changes.password)
        if changes.username is not None and changes.username != user.username:
            self._check_username(changes.username)
            user.username = changes.username
        if (changes.api_key is None) != (changes.secret_key is None):
            raise InvalidParameter("userapikey", changes.api_key,
                                   "both the API key and the secret key must be given")
        if changes.api_key is not None and changes.secret_key is not None:
            if self._s.scalar(select(User.uuid).where(User.api_key == changes.api_key,
                                                      User.uuid != user.uuid)):
                raise Duplicate(ResourceKind.USER, "api key")
            user.api_key, user.secret_key = changes.api_key, changes.secret_key
        for attr in ("first_name", "last_name", "email"):
            value = getattr(changes, attr)
            if value is not None:
                setattr(user, attr, value)
        self._s.flush()
        return detail

    def _managed_user(self, principal: Principal, user_uuid: str, action: str) -> UserDetail:
        detail = self.user_detail(principal, user_uuid)
        if not self._may_manage(principal, detail.domain.path):
            raise NotFound(ResourceKind.USER, user_uuid)
        if detail.user.uuid == principal.user_uuid:
            raise PermissionDenied(f"{action} the calling user", ResourceKind.USER, user_uuid)
        return detail

    def set_user_state(self, principal: Principal, user_uuid: str,
                       state: AccountState) -> UserDetail:
        """Enable or disable another user (its keys and logins follow its state)."""
        detail = self._managed_user(principal, user_uuid, "change the state of")
        detail.user.state = state
        return detail

    def delete_user(self, principal: Principal, user_uuid: str) -> None:
        """Remove another user; its name and keys are freed at once."""
        detail = self._managed_user(principal, user_uuid, "delete")
        retire_user(detail.user, utcnow())


def retire_user(user: User, now: datetime) -> None:
    """Soft-delete a user and free its unique name and key."""
    user.removed_at = now
    user.state = AccountState.DISABLED
    user.api_key = None
    user.secret_key = None
    user.username = f"{user.username}~{user.sid}"[:255]
