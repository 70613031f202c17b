"""Domains, accounts, users and their API keys; authentication lookups."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Duplicate, InvalidParameter, NotFound, PermissionDenied, ResourceKind
from engine.models import Account, Domain, User
from engine.principal import Principal
from engine.states import AccountState, Role


@dataclass(frozen=True)
class Credentials:
    principal: Principal
    secret_key: str


def new_api_key() -> str:
    """An access key in the AWS style (20 upper-case characters, AKIA prefix)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))


def new_secret_key() -> str:
    return secrets.token_urlsafe(30)[:40]


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000)
    return f"pbkdf2_sha256$100000${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        _, rounds, salt, digest = stored.split("$")
    except ValueError:
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(got.hex(), digest)


def principal_of(session: Session, user: User) -> Principal:
    account = session.get(Account, user.account_uuid)
    assert account is not None
    domain = session.get(Domain, account.domain_uuid)
    assert domain is not None
    return Principal(
        user_uuid=user.uuid, user_name=user.username, account_uuid=account.uuid,
        account_name=account.name, account_number=account.number, domain_uuid=domain.uuid,
        domain_path=domain.path, role=account.role,
    )


class AccountService:
    def __init__(self, session: Session) -> None:
        self._s = session

    # ---------------------------------------------------------- authentication
    def credentials_for_key(self, api_key: str) -> Credentials | None:
        """The principal and secret behind an API key, if the key is valid and
        its user and account are enabled; None otherwise."""
        if not api_key:
            return None
        row = self._s.execute(
            select(User, Account).join(Account, Account.uuid == User.account_uuid)
            .where(User.api_key == api_key, User.removed_at.is_(None))
        ).first()
        if row is None:
            return None
        user, account = row
        if user.state != AccountState.ENABLED or account.state != AccountState.ENABLED:
            return None
        if user.secret_key is None:
            return None
        return Credentials(principal_of(self._s, user), user.secret_key)

    def login(self, username: str, password: str, domain_path: str = "/") -> Principal:
        user = self._s.scalar(select(User).where(User.username == username,
                                                 User.removed_at.is_(None)))
        if user is None or not check_password(password, user.password_hash):
            raise PermissionDenied("log in")
        principal = principal_of(self._s, user)
        wanted = domain_path if domain_path.endswith("/") else domain_path + "/"
        if wanted not in ("/", "//") and principal.domain_path != wanted.replace("/ROOT/", "/", 1):
            raise PermissionDenied("log in")
        return principal

    # ---------------------------------------------------------------- creation
    def root_domain(self) -> Domain:
        d = self._s.scalar(select(Domain).where(Domain.path == "/"))
        if d is None:
            raise NotFound(ResourceKind.DOMAIN, "ROOT")
        return d

    def create_domain(self, name: str, parent: Domain | None = None) -> Domain:
        parent = parent or self.root_domain()
        if not name or "/" in name:
            raise InvalidParameter("name", name, "a domain name cannot contain '/'")
        domain = Domain(name=name, path=f"{parent.path}{name}/", parent_uuid=parent.uuid,
                        level=parent.level + 1)
        try:
            with self._s.begin_nested():
                self._s.add(domain)
        except IntegrityError as exc:
            raise Duplicate(ResourceKind.DOMAIN, name) from exc
        return domain

    def create_account(self, name: str, role: Role, domain: Domain | None = None, *,
                       username: str | None = None, password: str | None = None,
                       api_key: str | None = None, secret_key: str | None = None,
                       ) -> tuple[Account, User]:
        """An account with its first user, who gets API keys."""
        domain = domain or self.root_domain()
        account = Account(name=name, role=role, domain_uuid=domain.uuid,
                          number=f"{secrets.randbelow(10**12):012d}")
        user = User(username=username or name, account_uuid="",
                    password_hash=hash_password(password) if password else None,
                    api_key=api_key or new_api_key(), secret_key=secret_key or new_secret_key())
        try:
            with self._s.begin_nested():
                self._s.add(account)
                self._s.flush()
                user.account_uuid = account.uuid
                self._s.add(user)
                self._s.flush()
        except IntegrityError as exc:
            raise Duplicate(ResourceKind.ACCOUNT, name) from exc
        return account, user

    def register_keys(self, user_uuid: str) -> User:
        """Give the user a fresh key pair (the old one stops working)."""
        user = self._s.get(User, user_uuid)
        if user is None:
            raise NotFound(ResourceKind.USER, user_uuid)
        user.api_key, user.secret_key = new_api_key(), new_secret_key()
        return user

    def user_by_name(self, username: str) -> User:
        user = self._s.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(ResourceKind.USER, username)
        return user
