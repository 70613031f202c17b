"""Projects: a shared home for resources, owned by a hidden account.

Each project has an account of its own (``Project.account_uuid``, a user-role
account that no one logs in as and that account listings leave out): what is
made in the project belongs to that account, so its resource limits are the
project's. Accounts join a project as members; its creator (or the account it
was made for) is its first Admin member. A member acts in the project through
:meth:`ProjectService.acting_principal`.
"""

from __future__ import annotations

import builtins
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
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
from engine.models import Account, Domain, Project, ProjectMember
from engine.principal import Principal
from engine.querying import like_pattern
from engine.services.access import owner_account
from engine.services.accounts import AccountService
from engine.services.events import record_event
from engine.services.resource_limits import Resource, enforce
from engine.states import Role

ACTIVE, SUSPENDED = "Active", "Suspended"
ADMIN, REGULAR = "Admin", "Regular"


@dataclass(frozen=True)
class ProjectQuery:
    """Which projects to list. Without ``list_all`` (or ``uuid``) only those
    the caller's account is a member of; with it, admins see every project of
    their domain (and below with ``recursive``; root admins: all)."""

    uuid: str | None = None
    name: str | None = None
    display_text: str | None = None
    state: str | None = None
    keyword: str | None = None
    domain_uuid: str | None = None
    recursive: bool = False
    list_all: bool = False
    member_account_uuid: str | None = None


@dataclass
class ProjectDetail:
    project: Project
    domain: Domain
    account: Account
    owners: list[Account] = field(default_factory=list)


class ProjectService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def create(self, principal: Principal, name: str, display_text: str = "", *,
               account_uuid: str | None = None) -> ProjectDetail:
        """A project owned by the caller's account (or ``account_uuid``, which the
        caller must be allowed to act for), in that account's domain, with its
        own account. Duplicate for a live project of that name in the domain;
        QuotaExceeded past the owner's project limit."""
        name = name.strip()
        if not name:
            raise InvalidParameter("name", name, "a project name cannot be empty")
        owner = self._s.get(Account, owner_account(self._s, principal, account_uuid))
        assert owner is not None
        if self._project_of_account(owner.uuid) is not None:
            raise PermissionDenied("create a project for a project", ResourceKind.ACCOUNT,
                                   owner.uuid)
        enforce(self._s, owner.uuid, {Resource.PROJECT: 1})
        sid_free = secrets.token_hex(4)
        account = Account(name=f"PrjAcct-{name}-{sid_free}"[:255], role=Role.USER,
                          domain_uuid=owner.domain_uuid,
                          number=f"{secrets.randbelow(10**12):012d}")
        project = Project(name=name, display_text=display_text or name,
                          domain_uuid=owner.domain_uuid, account_uuid="", state=ACTIVE)
        try:
            with self._s.begin_nested():
                self._s.add(account)
                self._s.flush()
                project.account_uuid = account.uuid
                self._s.add(project)
                self._s.flush()
        except IntegrityError as exc:
            raise Duplicate(ResourceKind.PROJECT, name) from exc
        self._s.add(ProjectMember(project_uuid=project.uuid, account_uuid=owner.uuid,
                                  role=ADMIN))
        self._s.flush()
        record_event(self._s, principal, "PROJECT.CREATE", f"Created project {name}",
                     ResourceKind.PROJECT, project.uuid, account_uuid=owner.uuid)
        return self._details([project])[0]

    def list(self, principal: Principal, query: ProjectQuery) -> builtins.list[ProjectDetail]:
        """Live projects the caller may see (see :class:`ProjectQuery`), oldest first."""
        stmt = (select(Project).join(Domain, Domain.uuid == Project.domain_uuid)
                .where(Project.removed_at.is_(None))
                .order_by(Project.created_at, Project.uuid))
        admin = principal.is_root_admin or principal.is_domain_admin
        if admin and (query.list_all or query.uuid):
            top = principal.domain_path
            if query.domain_uuid:
                domain = self._s.get(Domain, query.domain_uuid)
                if domain is None or not domain.path.startswith(top):
                    raise NotFound(ResourceKind.DOMAIN, query.domain_uuid)
                stmt = stmt.where(Domain.path.like(like_pattern(domain.path) + "%", escape="\\")
                                  if query.recursive or query.list_all
                                  else Domain.uuid == domain.uuid)
            elif not principal.is_root_admin:
                stmt = stmt.where(Domain.path.like(like_pattern(top) + "%", escape="\\"))
        else:
            stmt = stmt.where(Project.uuid.in_(select(ProjectMember.project_uuid).where(
                ProjectMember.account_uuid == principal.account_uuid)))
        if query.member_account_uuid:
            stmt = stmt.where(Project.uuid.in_(select(ProjectMember.project_uuid).where(
                ProjectMember.account_uuid == query.member_account_uuid)))
        if query.uuid:
            stmt = stmt.where(Project.uuid == query.uuid)
        if query.name is not None:
            stmt = stmt.where(Project.name == query.name)
        if query.display_text is not None:
            stmt = stmt.where(Project.display_text == query.display_text)
        if query.state:
            stmt = stmt.where(Project.state == query.state.capitalize())
        if query.keyword:
            stmt = stmt.where(Project.name.contains(query.keyword, autoescape=True))
        return self._details(list(self._s.scalars(stmt)))

    def get(self, principal: Principal, uuid: str) -> ProjectDetail:
        """A project the caller is a member of or administers (NotFound otherwise)."""
        found = self.list(principal, ProjectQuery(uuid=uuid))
        if not found:
            raise NotFound(ResourceKind.PROJECT, uuid)
        return found[0]

    def acting_principal(self, principal: Principal, uuid: str) -> Principal:
        """The principal that acts in the project: the caller's user on behalf of
        the project's account (a user-role principal). NotFound unless the
        caller is a member or an admin over the project's domain;
        PermissionDenied while the project is suspended."""
        detail = self.get(principal, uuid)
        if detail.project.state != ACTIVE:
            raise PermissionDenied("act in a suspended project", ResourceKind.PROJECT, uuid)
        return Principal(
            user_uuid=principal.user_uuid, user_name=principal.user_name,
            account_uuid=detail.account.uuid, account_name=detail.account.name,
            account_number=detail.account.number, domain_uuid=detail.domain.uuid,
            domain_path=detail.domain.path, role=Role.USER)

    def member_principals(self, principal: Principal) -> builtins.list[Principal]:
        """:meth:`acting_principal` for every active project the caller's account
        is a member of."""
        return [self.acting_principal(principal, d.project.uuid)
                for d in self.list(principal, ProjectQuery(state=ACTIVE))]

    def set_state(self, principal: Principal, uuid: str, state: str) -> ProjectDetail:
        """Suspend or activate a project (its Admin members and admins only)."""
        if state not in (ACTIVE, SUSPENDED):
            raise InvalidParameter("state", state, "Active or Suspended")
        detail = self._managed(principal, uuid)
        detail.project.state = state
        return detail

    def update(self, principal: Principal, uuid: str, display_text: str) -> ProjectDetail:
        detail = self._managed(principal, uuid)
        detail.project.display_text = display_text
        return detail

    def delete(self, principal: Principal, uuid: str) -> None:
        """Remove a project and retire its account (which must own nothing:
        InUse otherwise, as for accounts)."""
        detail = self._managed(principal, uuid)
        owned = AccountService(self._s)._owned_resources(detail.account.uuid)
        if owned:
            raise InUse(ResourceKind.PROJECT, detail.project.name, ", ".join(owned))
        now = utcnow()
        detail.project.removed_at = now
        detail.project.name = f"{detail.project.name}~{detail.project.sid}"[:255]
        detail.account.removed_at = now
        detail.account.name = f"{detail.account.name}~{detail.account.sid}"[:255]
        self._s.flush()

    # ---------------------------------------------------------------- helpers
    def _managed(self, principal: Principal, uuid: str) -> ProjectDetail:
        detail = self.get(principal, uuid)
        is_owner = any(a.uuid == principal.account_uuid for a in detail.owners)
        if not (is_owner or principal.is_root_admin or (
                principal.is_domain_admin
                and detail.domain.path.startswith(principal.domain_path))):
            raise PermissionDenied("manage the project", ResourceKind.PROJECT, uuid)
        return detail

    def _project_of_account(self, account_uuid: str) -> Project | None:
        return self._s.scalar(select(Project).where(Project.account_uuid == account_uuid))

    def _details(self, projects: builtins.list[Project]) -> builtins.list[ProjectDetail]:
        if not projects:
            return []
        uuids = [p.uuid for p in projects]
        domains = {d.uuid: d for d in self._s.scalars(select(Domain).where(
            Domain.uuid.in_({p.domain_uuid for p in projects})))}
        accounts = {a.uuid: a for a in self._s.scalars(select(Account).where(
            Account.uuid.in_([p.account_uuid for p in projects])))}
        owners: dict[str, builtins.list[Account]] = {}
        for member, account in self._s.execute(
                select(ProjectMember, Account).join(
                    Account, Account.uuid == ProjectMember.account_uuid)
                .where(ProjectMember.project_uuid.in_(uuids), ProjectMember.role == ADMIN)
                .order_by(ProjectMember.created_at)).all():
            owners.setdefault(member.project_uuid, []).append(account)
        return [ProjectDetail(p, domains[p.domain_uuid], accounts[p.account_uuid],
                              owners.get(p.uuid, [])) for p in projects]
