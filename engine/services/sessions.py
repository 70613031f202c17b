"""Authentication: passwords, API keys, the principal behind a user, login sessions.

Its methods reach callers through :class:`engine.services.accounts.AccountService`,
which re-exports the names defined here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import PermissionDenied
from engine.models import Account, Domain, User
from engine.principal import Principal
from engine.settings import SESSION_SECRET, Settings
from engine.states import AccountState


@dataclass(frozen=True)
class Credentials:
    principal: Principal
    secret_key: str


@dataclass(frozen=True)
class LoginSession:
    """An opened session: ``key`` authenticates later calls for ``timeout`` seconds."""

    principal: Principal
    user: User
    account: Account
    key: str = field(repr=False)
    timeout: int = 1800


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


class Authentication:
    """Key, password and session checks; a mixin of AccountService."""

    _s: Session

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

    # ---------------------------------------------------------------- sessions
    # A session key is stateless: "<user uuid>.<expiry>.<nonce>.<mac>", the MAC
    # an HMAC-SHA256 under a secret kept in the settings table (so every server
    # process and restart accepts it) over those fields and a fingerprint of the
    # user's password hash (a password change ends the user's sessions).

    def start_session(self, username: str, password: str, *, domain_path: str | None = None,
                      domain_uuid: str | None = None) -> LoginSession:
        """Check the password and open a session; PermissionDenied on any mismatch
        (unknown user, wrong password, wrong domain, disabled user or account)."""
        if domain_uuid:
            domain = self._s.get(Domain, domain_uuid)
            if domain is None or domain.removed_at is not None:
                raise PermissionDenied("log in")
            domain_path = domain.path
        principal = self.login(username, password, domain_path or "/")
        user = self._s.get(User, principal.user_uuid)
        account = self._s.get(Account, principal.account_uuid)
        assert user is not None and account is not None
        if user.state != AccountState.ENABLED or account.state != AccountState.ENABLED:
            raise PermissionDenied("log in")
        settings = Settings(self._s)
        secret = settings.secret(SESSION_SECRET, create=True) or ""
        timeout = settings.int("session.timeout")
        expires = int(time.time()) + timeout
        body = f"{user.uuid}.{expires}.{secrets.token_urlsafe(12)}"
        key = f"{body}.{_session_mac(secret, body, user.password_hash)}"
        return LoginSession(principal, user, account, key, timeout)

    def resume_session(self, key: str) -> Principal | None:
        """The principal of a valid, unexpired session key; None otherwise."""
        parts = key.split(".")
        if len(parts) != 4 or not parts[1].isdigit() or int(parts[1]) < time.time():
            return None
        secret = Settings(self._s).secret(SESSION_SECRET, create=False)
        if not secret:
            return None
        row = self._s.execute(select(User, Account).join(
            Account, Account.uuid == User.account_uuid).where(
            User.uuid == parts[0], User.removed_at.is_(None))).first()
        if row is None:
            return None
        user, account = row
        body = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], _session_mac(secret, body, user.password_hash)):
            return None
        if user.state != AccountState.ENABLED or account.state != AccountState.ENABLED:
            return None
        return principal_of(self._s, user)


def _session_mac(secret: str, body: str, password_hash: str | None) -> str:
    binding = hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]
    digest = hmac.new(secret.encode(), f"{body}|{binding}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
