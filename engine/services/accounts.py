"""Domains and accounts.

Users and their keys are managed by :mod:`engine.services.users` (a mixin of
``AccountService``); authentication and login sessions live in
:mod:`engine.services.sessions`. Their names are re-exported here, and
``AccountService`` offers all their methods.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import (
    Duplicate,
    InUse,
    InvalidParameter,
    NotFound,
    PermissionDenied,
    ResourceKind,
)
from engine.models import Account, Domain, User  # the others where used: not on a first call
from engine.principal import Principal
from engine.querying import like_pattern
from engine.services.sessions import (
    Authentication,
    Credentials,
    LoginSession,
    check_password,
    hash_password,
    new_api_key,
    new_secret_key,
    principal_of,
)
from engine.services.users import (
    UserChanges,
    UserDetail,
    UserManagement,
    UserQuery,
    UserRequest,
    retire_user,
)
from engine.states import AccountState, IpState, Role, VmState, VolumeState

__all__ = [
    "AccountDetail",
    "AccountQuery",
    "AccountRequest",
    "AccountService",
    "Authentication",
    "Credentials",
    "DomainDetail",
    "LoginSession",
    "UserChanges",
    "UserDetail",
    "UserQuery",
    "UserRequest",
    "check_password",
    "hash_password",
    "new_api_key",
    "new_secret_key",
    "principal_of",
]


@dataclass(frozen=True)
class DomainDetail:
    domain: Domain
    parent: Domain | None
    has_child: bool


@dataclass(frozen=True)
class AccountQuery:
    """Which accounts to list; ``domain_uuid`` None means the caller's domain."""

    uuid: str | None = None
    name: str | None = None
    domain_uuid: str | None = None
    recursive: bool = False
    roles: tuple[Role, ...] = ()
    state: AccountState | None = None
    keyword: str | None = None


@dataclass
class AccountDetail:
    account: Account
    domain: Domain
    users: list[User] = field(default_factory=list)
    vm_running: int = 0
    vm_stopped: int = 0
    vm_total: int = 0
    ip_total: int = 0


@dataclass(frozen=True)
class AccountRequest:
    """A new account and its first user. ``name`` defaults to ``username``."""

    username: str
    password: str
    role: Role = Role.USER
    name: str = ""
    domain_uuid: str | None = None
    first_name: str = ""
    last_name: str = ""
    email: str = ""


class AccountService(UserManagement):
    def __init__(self, session: Session) -> None:
        self._s = session

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

    # ------------------------------------------------------------ administration
    # Domains and accounts as an operator manages them (scope rules: users.py).
    def domains(self, principal: Principal, *, uuid: str | None = None,
                name: str | None = None, level: int | None = None,
                subtree: bool = False) -> list[DomainDetail]:
        """Domains by path: the caller's own domain, or with ``subtree`` every
        domain below it too (users only ever see their own domain)."""
        top = self._live_domain(principal.domain_uuid)
        stmt = select(Domain).where(Domain.removed_at.is_(None)).order_by(Domain.path)
        if uuid is not None:
            stmt = stmt.where(Domain.uuid == uuid)
        elif subtree and (principal.is_root_admin or principal.is_domain_admin):
            stmt = stmt.where(Domain.path.like(like_pattern(top.path) + "%", escape="\\"))
        else:
            stmt = stmt.where(Domain.uuid == top.uuid)
        if name is not None:
            stmt = stmt.where(Domain.name == name)
        if level is not None:
            stmt = stmt.where(Domain.level == level)
        found = [d for d in self._s.scalars(stmt)
                 if d.uuid == top.uuid or self._may_manage(principal, d.path)]
        return self._domain_details(found)

    def _domain_details(self, domains: list[Domain]) -> list[DomainDetail]:
        parents = {d.uuid: d for d in self._s.scalars(select(Domain).where(
            Domain.uuid.in_({d.parent_uuid for d in domains if d.parent_uuid})))}
        with_children = set(self._s.scalars(select(Domain.parent_uuid).where(
            Domain.parent_uuid.in_([d.uuid for d in domains]), Domain.removed_at.is_(None))))
        return [DomainDetail(d, parents.get(d.parent_uuid or ""), d.uuid in with_children)
                for d in domains]

    def add_domain(self, principal: Principal, name: str,
                   parent_uuid: str | None = None) -> DomainDetail:
        """A child of ``parent_uuid`` (default ROOT); Duplicate for a taken sibling name."""
        parent = self._live_domain(parent_uuid) if parent_uuid else self.root_domain()
        if not self._may_manage(principal, parent.path):
            raise PermissionDenied("create a domain", ResourceKind.DOMAIN, parent.uuid)
        return self._domain_details([self.create_domain(name.strip(), parent)])[0]

    def delete_domain(self, principal: Principal, uuid: str, *, cleanup: bool = False) -> None:
        """Remove an empty domain. With ``cleanup`` its accounts (which must own
        nothing) and subdomains are removed first; otherwise any raises InUse."""
        domain = self._live_domain(uuid)
        if domain.path == "/" or not self._may_manage(principal, domain.path) or (
                domain.uuid == principal.domain_uuid):
            raise PermissionDenied("delete the domain", ResourceKind.DOMAIN, uuid)
        children = list(self._s.scalars(select(Domain).where(
            Domain.parent_uuid == domain.uuid, Domain.removed_at.is_(None))))
        accounts = list(self._s.scalars(select(Account).where(
            Account.domain_uuid == domain.uuid, Account.removed_at.is_(None))))
        if (children or accounts) and not cleanup:
            raise InUse(ResourceKind.DOMAIN, domain.name,
                        f"{len(children)} subdomains and {len(accounts)} accounts")
        for child in children:
            self.delete_domain(principal, child.uuid, cleanup=True)
        for account in accounts:
            self.delete_account(principal, account.uuid)
        domain.removed_at = utcnow()
        # Free the unique path; a retired path never ends in "/" so never collides.
        domain.path = f"{domain.path}~{domain.sid}"[:255]

    # ---------------------------------------------------------------- accounts
    def _managed_account(self, principal: Principal, uuid: str, action: str
                         ) -> tuple[Account, Domain]:
        account, domain = self._live_account(uuid)
        if not self._may_manage(principal, domain.path):
            raise NotFound(ResourceKind.ACCOUNT, uuid)
        if account.uuid == principal.account_uuid:
            raise PermissionDenied(f"{action} the caller's own account", ResourceKind.ACCOUNT,
                                   uuid)
        return account, domain

    def accounts(self, principal: Principal, query: AccountQuery) -> list[AccountDetail]:
        """Accounts the principal may see. Users see their own account only; admins
        see ``query.domain_uuid`` (default their own domain), and below it with
        ``query.recursive``."""
        from engine.models import Project

        stmt = (select(Account, Domain).join(Domain, Domain.uuid == Account.domain_uuid)
                .where(Account.removed_at.is_(None),
                       Account.uuid.not_in(select(Project.account_uuid)))  # projects' own
                .order_by(Account.created_at, Account.uuid))
        stmt = self._in_scope(stmt, principal, Account.uuid == principal.account_uuid,
                              query.domain_uuid, bool(query.recursive or query.uuid))
        if query.uuid:
            stmt = stmt.where(Account.uuid == query.uuid)
        if query.name is not None:
            stmt = stmt.where(Account.name == query.name)
        if query.roles:
            stmt = stmt.where(Account.role.in_(query.roles))
        if query.state is not None:
            stmt = stmt.where(Account.state == query.state)
        if query.keyword:
            stmt = stmt.where(Account.name.contains(query.keyword, autoescape=True))
        rows = [(a, d) for a, d in self._s.execute(stmt).all()
                if a.uuid == principal.account_uuid or self._may_manage(principal, d.path)]
        return self._account_details(rows)

    def _account_details(self, rows: list[tuple[Account, Domain]]) -> list[AccountDetail]:
        from engine.models import Instance, PublicIp

        uuids = [a.uuid for a, _ in rows]
        users: dict[str, list[User]] = {}
        for u in self._s.scalars(select(User).where(User.account_uuid.in_(uuids),
                                                    User.removed_at.is_(None))
                                 .order_by(User.created_at)):
            users.setdefault(u.account_uuid, []).append(u)
        vms: dict[tuple[str, VmState], int] = {
            (acct, state): n for acct, state, n in self._s.execute(
                select(Instance.account_uuid, Instance.state, func.count())
                .where(Instance.account_uuid.in_(uuids),
                       Instance.state.not_in((VmState.EXPUNGED, VmState.EXPUNGING)))
                .group_by(Instance.account_uuid, Instance.state)).all()}
        ips = dict(self._s.execute(
            select(PublicIp.account_uuid, func.count()).where(
                PublicIp.account_uuid.in_(uuids), PublicIp.state != IpState.FREE)
            .group_by(PublicIp.account_uuid)).all())
        out = []
        for account, domain in rows:
            mine = {s: n for (a, s), n in vms.items() if a == account.uuid}
            out.append(AccountDetail(
                account, domain, users.get(account.uuid, []),
                vm_running=mine.get(VmState.RUNNING, 0), vm_stopped=mine.get(VmState.STOPPED, 0),
                vm_total=sum(mine.values()), ip_total=int(ips.get(account.uuid, 0))))
        return out

    def account_detail(self, principal: Principal, uuid: str) -> AccountDetail:
        found = self.accounts(principal, AccountQuery(uuid=uuid, recursive=True))
        if not found:
            raise NotFound(ResourceKind.ACCOUNT, uuid)
        return found[0]

    def open_account(self, principal: Principal, req: AccountRequest) -> AccountDetail:
        """An account with its first user (password login, fresh API keys)."""
        domain = self._live_domain(req.domain_uuid) if req.domain_uuid else self.root_domain()
        if not self._may_manage(principal, domain.path) or (
                req.role is Role.ADMIN and not principal.is_root_admin):
            raise PermissionDenied("create an account", ResourceKind.DOMAIN, domain.uuid)
        if not req.password:
            raise InvalidParameter("password", "", "a password is required")
        self._check_username(req.username)
        account, user = self.create_account(req.name or req.username, req.role, domain,
                                            username=req.username, password=req.password)
        user.first_name, user.last_name, user.email = req.first_name, req.last_name, req.email
        return self._account_details([(account, domain)])[0]

    def delete_account(self, principal: Principal, uuid: str) -> None:
        """Remove an account that owns nothing (InUse otherwise); its users and
        keys stop working at once."""
        account, _domain = self._managed_account(principal, uuid, "delete")
        owned = self._owned_resources(account.uuid)
        if owned:
            raise InUse(ResourceKind.ACCOUNT, account.name, ", ".join(owned))
        now = utcnow()
        for user in self._s.scalars(select(User).where(User.account_uuid == account.uuid,
                                                       User.removed_at.is_(None))):
            retire_user(user, now)
        account.removed_at = now
        account.state = AccountState.DISABLED
        account.name = f"{account.name}~{account.sid}"[:255]

    def _owned_resources(self, account_uuid: str) -> list[str]:
        from engine.models import Instance, Network, PublicIp, Snapshot, Template, Volume

        checks = (
            ("virtual machines", select(func.count()).select_from(Instance).where(
                Instance.account_uuid == account_uuid, Instance.state != VmState.EXPUNGED)),
            ("volumes", select(func.count()).select_from(Volume).where(
                Volume.account_uuid == account_uuid, Volume.removed_at.is_(None),
                Volume.state != VolumeState.EXPUNGED)),
            ("snapshots", select(func.count()).select_from(Snapshot).where(
                Snapshot.account_uuid == account_uuid, Snapshot.removed_at.is_(None))),
            ("public IPs", select(func.count()).select_from(PublicIp).where(
                PublicIp.account_uuid == account_uuid, PublicIp.state != IpState.FREE)),
            ("templates", select(func.count()).select_from(Template).where(
                Template.account_uuid == account_uuid, Template.removed_at.is_(None))),
            ("networks", select(func.count()).select_from(Network).where(
                Network.account_uuid == account_uuid, Network.removed_at.is_(None))),
        )
        out = []
        for label, stmt in checks:
            n = int(self._s.scalar(stmt) or 0)
            if n:
                out.append(f"{n} {label}")
        return out

    def set_account_state(self, principal: Principal, uuid: str,
                          state: AccountState) -> AccountDetail:
        """Enable, disable or lock an account: its users' keys and logins follow."""
        account, domain = self._managed_account(principal, uuid, "set the state of")
        account.state = state
        return self._account_details([(account, domain)])[0]

    # ------------------------------------------------------- updates (admin API)
    def update_domain(self, principal: Principal, uuid: str, name: str) -> DomainDetail:
        """Rename a domain below ROOT (its subtree's paths follow); Duplicate for a
        taken sibling name, PermissionDenied for ROOT or a domain not managed."""
        domain = self._live_domain(uuid)
        if not self._may_manage(principal, domain.path):
            raise NotFound(ResourceKind.DOMAIN, uuid)
        name = name.strip()
        if domain.path == "/":
            raise PermissionDenied("rename the ROOT domain", ResourceKind.DOMAIN, uuid)
        if not name or "/" in name:
            raise InvalidParameter("name", name, "a domain name cannot contain '/'")
        old = domain.path
        new = old[: len(old) - len(domain.name) - 1] + name + "/"
        if new != old and self._s.scalar(select(Domain.uuid).where(Domain.path == new)):
            raise Duplicate(ResourceKind.DOMAIN, name)
        below = list(self._s.scalars(select(Domain).where(
            Domain.path.like(like_pattern(old) + "%", escape="\\"))))
        for d in below:
            d.path = new + d.path[len(old):]
        domain.name = name
        return self._domain_details([domain])[0]

    def update_account(self, principal: Principal, uuid: str, *, new_name: str | None = None,
                       role: Role | None = None) -> AccountDetail:
        """Rename an account or change its role; Duplicate for a taken name in its
        domain. Only root admins grant the admin role."""
        account, domain = self._live_account(uuid)
        if not self._may_manage(principal, domain.path):
            raise NotFound(ResourceKind.ACCOUNT, uuid)
        if role is not None and role is not account.role:
            if role is Role.ADMIN and not principal.is_root_admin:
                raise PermissionDenied("grant the admin role", ResourceKind.ACCOUNT, uuid)
            account.role = role
        if new_name is not None and new_name != account.name:
            if not new_name.strip():
                raise InvalidParameter("newname", new_name, "an account name cannot be empty")
            if self._s.scalar(select(Account.uuid).where(
                    Account.domain_uuid == domain.uuid, Account.name == new_name)):
                raise Duplicate(ResourceKind.ACCOUNT, new_name)
            account.name = new_name
        self._s.flush()
        return self._account_details([(account, domain)])[0]
