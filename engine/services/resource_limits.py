"""Resource limits: what an account (and the domains above it) may hold.

The limit of an account is its own ``resource_limits`` row, else the global
default setting ``max.account.<suffix>`` (``max.project.<suffix>`` for the
account of a project). A domain's is its own row, else ``max.domain.<suffix>``;
the ROOT domain is never limited. Root admin accounts are never limited.
A negative maximum means unlimited.

Enforcement (:func:`enforce`, :func:`admit`) is called by the services that
create resources, inside their transaction: it locks the account row (and the
row of every limited domain above it) ``FOR UPDATE`` before counting, so two
concurrent creations cannot both take the last slot. Usage is counted from the
resource tables themselves (nothing to drift). Units: memory in MiB, storage
limits in GiB (usage deltas in bytes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, NotFound, PermissionDenied, QuotaExceeded, ResourceKind
from engine.models import (
    Account,
    Domain,
    Instance,
    Network,
    Project,
    ProjectMember,
    PublicIp,
    ResourceLimit,
    Snapshot,
    Template,
    Volume,
    Vpc,
)
from engine.principal import Principal
from engine.querying import like_pattern
from engine.services.access import may_act
from engine.settings import LIMIT_SUFFIXES, Settings
from engine.states import IpState, Role, SnapshotState, VmState, VolumeState

GIB: Final = 1 << 30


class Resource(str, Enum):
    """Limited resources, in the order front ends number them."""

    INSTANCE = "instance"
    PUBLIC_IP = "public_ip"
    VOLUME = "volume"
    SNAPSHOT = "snapshot"
    TEMPLATE = "template"
    PROJECT = "project"
    NETWORK = "network"
    VPC = "vpc"
    CPU = "cpu"
    MEMORY = "memory"
    PRIMARY_STORAGE = "primary_storage"
    SECONDARY_STORAGE = "secondary_storage"


SUFFIX: Final[Mapping[Resource, str]] = dict(zip(Resource, LIMIT_SUFFIXES, strict=True))
# Usage units per limit unit (storage is counted in bytes, limited in GiB).
SCALE: Final[Mapping[Resource, int]] = {Resource.PRIMARY_STORAGE: GIB,
                                        Resource.SECONDARY_STORAGE: GIB}
KIND: Final[Mapping[Resource, ResourceKind]] = {
    Resource.INSTANCE: ResourceKind.INSTANCE, Resource.CPU: ResourceKind.INSTANCE,
    Resource.MEMORY: ResourceKind.INSTANCE, Resource.PUBLIC_IP: ResourceKind.PUBLIC_IP,
    Resource.VOLUME: ResourceKind.VOLUME, Resource.PRIMARY_STORAGE: ResourceKind.VOLUME,
    Resource.SNAPSHOT: ResourceKind.SNAPSHOT, Resource.SECONDARY_STORAGE: ResourceKind.SNAPSHOT,
    Resource.TEMPLATE: ResourceKind.TEMPLATE, Resource.PROJECT: ResourceKind.PROJECT,
    Resource.NETWORK: ResourceKind.NETWORK, Resource.VPC: ResourceKind.VPC,
}
_GONE_VMS: Final = (VmState.EXPUNGED, VmState.EXPUNGING, VmState.ERROR)
_GONE_VOLUMES: Final = (VolumeState.DESTROY, VolumeState.EXPUNGED, VolumeState.ERROR)


@dataclass(frozen=True)
class LimitInfo:
    """One limit as it applies: to ``account`` (None: to ``domain`` itself);
    ``project`` is set when the account is a project's. ``used`` is in usage units."""

    resource: Resource
    maximum: int
    domain: Domain
    account: Account | None = None
    project: Project | None = None
    used: int = 0


def _usage_stmts(resource: Resource, owner: Any) -> list[Any]:
    """Scalar statements whose sum is the usage; ``owner(col)`` restricts an
    account-uuid column to the accounts counted."""
    count = func.count()
    match resource:
        case Resource.INSTANCE | Resource.CPU | Resource.MEMORY:
            what = {Resource.INSTANCE: count, Resource.CPU: func.sum(Instance.cpus),
                    Resource.MEMORY: func.sum(Instance.memory_mib)}[resource]
            return [select(what).select_from(Instance).where(
                owner(Instance.account_uuid), Instance.state.not_in(_GONE_VMS))]
        case Resource.PUBLIC_IP:  # the account's own; not those mapped with instances
            return [select(count).select_from(PublicIp).where(
                owner(PublicIp.account_uuid), PublicIp.state == IpState.ALLOCATED,
                or_(PublicIp.instance_uuid.is_(None), PublicIp.association_sid.is_not(None),
                    PublicIp.is_source_nat.is_(True)))]
        case Resource.VOLUME | Resource.PRIMARY_STORAGE:
            what = count if resource is Resource.VOLUME else func.sum(Volume.size_bytes)
            return [select(what).select_from(Volume).where(
                owner(Volume.account_uuid), Volume.removed_at.is_(None),
                Volume.state.not_in(_GONE_VOLUMES))]
        case Resource.SNAPSHOT | Resource.SECONDARY_STORAGE:
            what = count if resource is Resource.SNAPSHOT else func.sum(Snapshot.size_bytes)
            stmts = [select(what).select_from(Snapshot).where(
                owner(Snapshot.account_uuid), Snapshot.removed_at.is_(None),
                Snapshot.state.not_in((SnapshotState.DESTROYED, SnapshotState.ERROR)))]
            if resource is Resource.SECONDARY_STORAGE:
                stmts.append(select(func.sum(Template.size_bytes)).where(
                    owner(Template.account_uuid), Template.removed_at.is_(None)))
            return stmts
        case Resource.TEMPLATE:
            return [select(count).select_from(Template).where(
                owner(Template.account_uuid), Template.removed_at.is_(None))]
        case Resource.NETWORK:
            return [select(count).select_from(Network).where(
                owner(Network.account_uuid), Network.removed_at.is_(None))]
        case Resource.VPC:
            return [select(count).select_from(Vpc).where(
                owner(Vpc.account_uuid), Vpc.removed_at.is_(None))]
        case Resource.PROJECT:
            return [select(count).select_from(ProjectMember).join(
                Project, Project.uuid == ProjectMember.project_uuid).where(
                owner(ProjectMember.account_uuid), ProjectMember.role == "Admin",
                Project.removed_at.is_(None))]
    raise AssertionError(resource)


class ResourceLimitService:
    def __init__(self, session: Session, settings: Settings | None = None) -> None:
        self._s = session
        self._settings = settings or Settings(session)

    # ------------------------------------------------------------------ reads
    def usage(self, resource: Resource, *, account_uuid: str | None = None,
              domain: Domain | None = None) -> int:
        """What the account (or every account of the domain's subtree) holds now."""
        if account_uuid is not None:
            def owner(col: Any) -> Any:
                return col == account_uuid
        else:
            assert domain is not None
            below = select(Account.uuid).join(Domain, Domain.uuid == Account.domain_uuid).where(
                Domain.path.like(like_pattern(domain.path) + "%", escape="\\"))

            def owner(col: Any) -> Any:
                return col.in_(below)
        return sum(int(self._s.scalar(stmt) or 0) for stmt in _usage_stmts(resource, owner))

    def account_limit(self, account: Account, resource: Resource) -> int:
        """The account's maximum (see the module docstring); -1 for root admins."""
        if account.role is Role.ADMIN:
            return -1
        row = self._s.scalar(select(ResourceLimit.maximum).where(
            ResourceLimit.account_uuid == account.uuid, ResourceLimit.resource == resource.value))
        if row is not None:
            return int(row)
        is_project = self._project_of(account.uuid) is not None
        if is_project and resource is Resource.PROJECT:
            return -1
        return self._settings.int(
            f"max.{'project' if is_project else 'account'}.{SUFFIX[resource]}")

    def domain_limit(self, domain: Domain, resource: Resource) -> int:
        if domain.path == "/":
            return -1
        row = self._s.scalar(select(ResourceLimit.maximum).where(
            ResourceLimit.domain_uuid == domain.uuid, ResourceLimit.resource == resource.value))
        return int(row) if row is not None else self._settings.int(
            f"max.domain.{SUFFIX[resource]}")

    def limits(self, principal: Principal, *, account_uuid: str | None = None,
               domain_uuid: str | None = None, resources: Iterable[Resource] = tuple(Resource)
               ) -> list[LimitInfo]:
        """The limits of an account (default the caller's) or, with ``domain_uuid``
        alone, of a domain. NotFound if the caller may not see it (a project's
        account is visible to the project's members)."""
        if account_uuid is None and domain_uuid is not None:
            domain = self._visible_domain(principal, domain_uuid)
            return [LimitInfo(r, self.domain_limit(domain, r), domain,
                              used=self.usage(r, domain=domain)) for r in resources]
        account, domain = self._visible_account(principal, account_uuid or principal.account_uuid)
        project = self._project_of(account.uuid)
        return [LimitInfo(r, self.account_limit(account, r), domain, account, project,
                          self.usage(r, account_uuid=account.uuid)) for r in resources]

    # ---------------------------------------------------------------- updates
    def set_limit(self, principal: Principal, resource: Resource, maximum: int, *,
                  account_uuid: str | None = None, domain_uuid: str | None = None
                  ) -> LimitInfo:
        """Store an account's (or, root admins only, a domain's) maximum.
        Users may not set limits; domain admins set those of accounts in their
        subtree other than their own (PermissionDenied otherwise)."""
        if maximum < -1:
            raise InvalidParameter("max", maximum, "a limit is -1 (unlimited) or more")
        if not (principal.is_root_admin or principal.is_domain_admin):
            raise PermissionDenied("update resource limits")
        if account_uuid is None:
            if domain_uuid is None:
                raise InvalidParameter("domainid", None, "an account or a domain is needed")
            domain = self._visible_domain(principal, domain_uuid)
            if not principal.is_root_admin:
                raise PermissionDenied("update the limits of a domain", ResourceKind.DOMAIN,
                                       domain_uuid)
            self._store(resource, maximum, domain_uuid=domain.uuid)
            return LimitInfo(resource, maximum, domain, used=self.usage(resource, domain=domain))
        account, domain = self._visible_account(principal, account_uuid)
        if account.role is Role.ADMIN or (
                not principal.is_root_admin and account.uuid == principal.account_uuid):
            raise PermissionDenied("update the limits of this account", ResourceKind.ACCOUNT,
                                   account.uuid)
        self._store(resource, maximum, account_uuid=account.uuid)
        return LimitInfo(resource, maximum, domain, account, self._project_of(account.uuid),
                         self.usage(resource, account_uuid=account.uuid))

    def _store(self, resource: Resource, maximum: int, **owner: str) -> None:
        (col, value), = owner.items()
        row = self._s.scalar(select(ResourceLimit).where(
            getattr(ResourceLimit, col) == value, ResourceLimit.resource == resource.value)
            .with_for_update())
        if row is None:
            self._s.add(ResourceLimit(resource=resource.value, maximum=maximum, **owner))
        else:
            row.maximum = maximum
        self._s.flush()

    # ------------------------------------------------------------ enforcement
    def admit(self, account_uuid: str, per_unit: Mapping[Resource, int], min_count: int = 1,
              max_count: int = 1, *, account: Any = None) -> int:
        """How many units (``min_count``..``max_count``) of ``per_unit`` the
        account may still take: QuotaExceeded if fewer than ``min_count``. Locks
        the account row, and the rows of limited domains above it, but only when
        a limit applies: unlimited accounts (the default) do not serialize their
        creations on the account row. ``account`` is the account's row (its
        object or its read-only record) if the caller read it already; else it
        is read here."""
        if account is None:
            account = self._s.get(Account, account_uuid)
        if account is None or account.role is Role.ADMIN:
            return max_count
        wanted = {r: n for r, n in per_unit.items() if n > 0}
        domains = self._ancestors(account.domain_uuid)
        account_max, domain_max = self._effective_limits(account, domains, wanted)
        if all(m < 0 for m in account_max.values()) and all(m < 0 for m in domain_max.values()):
            return max_count
        self._s.execute(select(Account.uuid).where(Account.uuid == account_uuid)
                        .with_for_update())
        allowed = max_count
        for resource, each in wanted.items():
            limit = account_max[resource]
            if limit >= 0:
                free = limit * SCALE.get(resource, 1) - self.usage(resource,
                                                                   account_uuid=account.uuid)
                allowed = min(allowed, max(free, 0) // each)
                if allowed < min_count:
                    self._exceeded(resource, limit, account)
            for domain in domains:
                limit = domain_max[(domain.uuid, resource)]
                if limit < 0:
                    continue
                self._s.execute(select(Domain.uuid).where(Domain.uuid == domain.uuid)
                                .with_for_update())
                free = limit * SCALE.get(resource, 1) - self.usage(resource, domain=domain)
                allowed = min(allowed, max(free, 0) // each)
                if allowed < min_count:
                    self._exceeded(resource, limit, account, domain)
        return allowed

    def _effective_limits(self, account: Account, domains: list[Domain],
                          resources: Iterable[Resource]) -> tuple[
                              dict[Resource, int], dict[tuple[str, Resource], int]]:
        """:meth:`account_limit` and :meth:`domain_limit` for several resources at
        once, with one query for the stored rows (the launch path calls this)."""
        resources = list(resources)
        owners = [account.uuid, *(d.uuid for d in domains)]
        stored: dict[tuple[str, str], int] = {}
        for acct, dom, res, maximum in self._s.execute(select(
                ResourceLimit.account_uuid, ResourceLimit.domain_uuid, ResourceLimit.resource,
                ResourceLimit.maximum).where(
                (ResourceLimit.account_uuid.in_(owners)) | (ResourceLimit.domain_uuid.in_(owners)))):
            stored[(acct or dom or "", res)] = int(maximum)
        scope = "project" if self._project_of(account.uuid) is not None else "account"
        account_max = {r: stored.get((account.uuid, r.value), -1 if (
            scope == "project" and r is Resource.PROJECT) else self._settings.int(
            f"max.{scope}.{SUFFIX[r]}")) for r in resources}
        domain_max = {(d.uuid, r): stored.get((d.uuid, r.value), self._settings.int(
            f"max.domain.{SUFFIX[r]}")) for d in domains if d.path != "/" for r in resources}
        return account_max, domain_max

    def _exceeded(self, resource: Resource, limit: int, account: Account,
                  domain: Domain | None = None) -> None:
        project = self._project_of(account.uuid)
        raise QuotaExceeded(resource.value, limit, KIND[resource], account_name=account.name,
                            domain_uuid=domain.uuid if domain else account.domain_uuid,
                            domain_limited=domain is not None,
                            project_name=project.name if project else "")

    # ---------------------------------------------------------------- helpers
    def _ancestors(self, domain_uuid: str) -> list[Domain]:
        """The domain and its parents below ROOT, top first."""
        out: list[Domain] = []
        current = self._s.get(Domain, domain_uuid)
        while current is not None and current.path != "/":
            out.append(current)
            current = self._s.get(Domain, current.parent_uuid) if current.parent_uuid else None
        return out[::-1]

    def _project_of(self, account_uuid: str) -> Project | None:
        return self._s.scalar(select(Project).where(Project.account_uuid == account_uuid))

    def _visible_account(self, principal: Principal, uuid: str) -> tuple[Account, Domain]:
        row = self._s.execute(select(Account, Domain).join(
            Domain, Domain.uuid == Account.domain_uuid).where(
            Account.uuid == uuid, Account.removed_at.is_(None))).first()
        if row is None:
            raise NotFound(ResourceKind.ACCOUNT, uuid)
        if not may_act(self._s, principal, uuid) and self._s.scalar(
                select(ProjectMember.uuid).join(Project, Project.uuid == ProjectMember.project_uuid)
                .where(Project.account_uuid == uuid,
                       ProjectMember.account_uuid == principal.account_uuid)) is None:
            raise NotFound(ResourceKind.ACCOUNT, uuid)
        return row[0], row[1]

    def _visible_domain(self, principal: Principal, uuid: str) -> Domain:
        domain = self._s.get(Domain, uuid)
        if domain is None or domain.removed_at is not None or not (
                domain.uuid == principal.domain_uuid or principal.is_root_admin or (
                    principal.is_domain_admin and domain.path.startswith(principal.domain_path))):
            raise NotFound(ResourceKind.DOMAIN, uuid)
        return domain


def admit(session: Session, account_uuid: str, per_unit: Mapping[Resource, int],
          min_count: int = 1, max_count: int = 1, settings: Settings | None = None, *,
          account: Any = None) -> int:
    """:meth:`ResourceLimitService.admit` for services that create resources."""
    return ResourceLimitService(session, settings).admit(account_uuid, per_unit, min_count,
                                                         max_count, account=account)


def enforce(session: Session, account_uuid: str, per_unit: Mapping[Resource, int],
            settings: Settings | None = None) -> None:
    """QuotaExceeded unless the account (and its domains) can take one more
    ``per_unit`` (e.g. ``{Resource.VOLUME: 1, Resource.PRIMARY_STORAGE: size}``)."""
    admit(session, account_uuid, per_unit, 1, 1, settings)
