"""Affinity groups: named rules about which hosts an account's VMs may share.

Two policies, as CloudStack names them: ``host anti-affinity`` keeps the members
on distinct hosts, ``host affinity`` keeps them on one host. The planner asks
:func:`placement_rules` before it reserves a host for a member; that call locks
the group rows, so two launches into one group in concurrent transactions are
placed one after the other and cannot both pick the same host.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import (
    Duplicate,
    InsufficientCapacity,
    InUse,
    InvalidParameter,
    NotFound,
    ResourceKind,
)
from engine.models import Account, AffinityGroup, Domain, Instance, InstanceAffinityGroup
from engine.principal import Principal
from engine.querying import Criterion, FieldMap, ListResult, Paging, list_owned
from engine.services.access import may_act, owner_account
from engine.services.events import record_event
from engine.states import VmState, require

ANTI_AFFINITY = "host anti-affinity"
AFFINITY = "host affinity"
POLICIES = (ANTI_AFFINITY, AFFINITY)
MAX_NAME = 255

# Members that hold (or are about to hold) a host.
PLACED_STATES = (VmState.STARTING, VmState.RUNNING, VmState.STOPPING, VmState.MIGRATING)


def _member_of(values: Sequence[str]):  # type: ignore[no-untyped-def]
    return AffinityGroup.uuid.in_(select(InstanceAffinityGroup.group_uuid).where(
        InstanceAffinityGroup.instance_uuid.in_(values)))


AFFINITY_FIELDS: FieldMap = {
    "uuid": AffinityGroup.uuid,
    "sid": AffinityGroup.sid,
    "name": AffinityGroup.name,
    "policy": AffinityGroup.policy,
    "description": AffinityGroup.description,
    "account_uuid": AffinityGroup.account_uuid,
    "instance_uuid": _member_of,
}


@dataclass
class AffinityDetail:
    group: AffinityGroup
    account: Account
    domain: Domain
    instance_uuids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlacementRules:
    """What the groups of an instance demand of its host."""

    avoid: frozenset[str] = frozenset()
    host_uuid: str | None = None


class AffinityService:
    def __init__(self, session: Session) -> None:
        self._s = session

    # ------------------------------------------------------------------ reads
    def list(self, principal: Principal, criteria: Sequence[Criterion] = (),
             paging: Paging | None = None, *, list_all: bool = True,
             count: bool = False) -> ListResult:
        """Groups the principal may see, oldest first; items are :class:`AffinityDetail`.

        Fields: ``AFFINITY_FIELDS`` (``instance_uuid``: groups having that member).
        """
        page = list_owned(self._s, AffinityGroup, principal, kind=ResourceKind.AFFINITY_GROUP,
                          fields=AFFINITY_FIELDS, criteria=criteria, paging=paging,
                          list_all=list_all, count=count)
        page.items = self.details(page.items)
        return page

    def get(self, principal: Principal, *, uuid: str | None = None, name: str | None = None,
            sid: str | None = None, account_uuid: str | None = None) -> AffinityDetail:
        """One group by uuid, sid, or name (in ``account_uuid``, default the caller's)."""
        return self.details([self._find(principal, uuid=uuid, name=name, sid=sid,
                                        account_uuid=account_uuid)])[0]

    def details(self, rows: Sequence[AffinityGroup]) -> builtins.list[AffinityDetail]:
        if not rows:
            return []
        accounts = {a.uuid: a for a in self._s.scalars(select(Account).where(
            Account.uuid.in_({g.account_uuid for g in rows})))}
        domains = {d.uuid: d for d in self._s.scalars(select(Domain).where(
            Domain.uuid.in_({a.domain_uuid for a in accounts.values()})))}
        members: dict[str, builtins.list[str]] = defaultdict(list)
        for group_uuid, instance_uuid in self._s.execute(
                select(InstanceAffinityGroup.group_uuid, InstanceAffinityGroup.instance_uuid)
                .join(Instance, Instance.uuid == InstanceAffinityGroup.instance_uuid)
                .where(InstanceAffinityGroup.group_uuid.in_([g.uuid for g in rows]),
                       Instance.removed_at.is_(None))
                .order_by(Instance.created_at)):
            members[group_uuid].append(instance_uuid)
        return [AffinityDetail(g, accounts[g.account_uuid],
                               domains[accounts[g.account_uuid].domain_uuid],
                               members.get(g.uuid, [])) for g in rows]

    def _find(self, principal: Principal, *, uuid: str | None = None, name: str | None = None,
              sid: str | None = None, account_uuid: str | None = None) -> AffinityGroup:
        if uuid or sid:
            row = self._s.scalar(select(AffinityGroup).where(
                AffinityGroup.uuid == uuid if uuid else AffinityGroup.sid == sid))
        else:
            owner = owner_account(self._s, principal, account_uuid)
            row = self._s.scalar(select(AffinityGroup).where(
                AffinityGroup.account_uuid == owner, AffinityGroup.name == (name or "")))
        if row is None or not may_act(self._s, principal, row.account_uuid):
            raise NotFound(ResourceKind.AFFINITY_GROUP, uuid or sid or name)
        return row

    # ----------------------------------------------------------------- writes
    def create(self, principal: Principal, name: str, policy: str, description: str = "", *,
               account_uuid: str | None = None) -> AffinityGroup:
        """A new, empty group. InvalidParameter for a bad name or policy; Duplicate
        when the account already has a group of that name."""
        owner = owner_account(self._s, principal, account_uuid)
        if not name or len(name) > MAX_NAME:
            raise InvalidParameter("name", name, f"must be 1 to {MAX_NAME} characters")
        if policy not in POLICIES:
            raise InvalidParameter("type", policy, f"must be one of {', '.join(POLICIES)}")
        if self._s.scalar(select(AffinityGroup.uuid).where(
                AffinityGroup.account_uuid == owner, AffinityGroup.name == name)):
            raise Duplicate(ResourceKind.AFFINITY_GROUP, name)
        row = AffinityGroup(account_uuid=owner, name=name, policy=policy,
                            description=description)
        self._s.add(row)
        try:
            with self._s.begin_nested():
                self._s.flush()
        except IntegrityError as exc:  # a concurrent create of the same name won
            raise Duplicate(ResourceKind.AFFINITY_GROUP, name) from exc
        record_event(self._s, principal, "AG.CREATE", f"Created affinity group {name}",
                     ResourceKind.AFFINITY_GROUP, row.uuid)
        return row

    def delete(self, principal: Principal, uuid: str) -> None:
        """Delete a group; InUse while a live instance is still a member."""
        row = self._find(principal, uuid=uuid)
        live = self._s.scalar(select(func.count()).select_from(InstanceAffinityGroup).join(
            Instance, Instance.uuid == InstanceAffinityGroup.instance_uuid).where(
            InstanceAffinityGroup.group_uuid == row.uuid, Instance.removed_at.is_(None),
            Instance.state.not_in((VmState.DESTROYED, VmState.EXPUNGING))))
        if live:
            raise InUse(ResourceKind.AFFINITY_GROUP, row.uuid, "instances")
        self._s.execute(delete(InstanceAffinityGroup).where(
            InstanceAffinityGroup.group_uuid == row.uuid))
        self._s.delete(row)
        record_event(self._s, principal, "AG.DELETE", f"Deleted affinity group {row.name}",
                     ResourceKind.AFFINITY_GROUP, row.uuid)

    def resolve(self, principal: Principal, account_uuid: str,
                uuids: Sequence[str] = (), names: Sequence[str] = ()) -> builtins.list[str]:
        """Group uuids for a new member of ``account_uuid``: each must exist and
        belong to that account (CloudStack's rule)."""
        found: builtins.list[str] = []
        for uuid in uuids:
            found.append(self._find(principal, uuid=uuid).uuid)
        for name in names:
            found.append(self._find(principal, name=name, account_uuid=account_uuid).uuid)
        for uuid in found:
            group = self._s.get(AffinityGroup, uuid)
            assert group is not None
            if group.account_uuid != account_uuid:
                raise InvalidParameter("affinitygroupids", uuid,
                                       "the group belongs to another account")
        return list(dict.fromkeys(found))

    def update_instance(self, principal: Principal, instance_uuid: str,
                        uuids: Sequence[str] = (), names: Sequence[str] = ()) -> None:
        """Replace a stopped instance's groups (empty: none); the next start obeys them.

        NotFound for an instance the caller cannot act on; IncorrectState unless Stopped.
        """
        inst = self._s.scalar(select(Instance).where(
            Instance.uuid == instance_uuid, Instance.removed_at.is_(None)).with_for_update())
        if inst is None or not may_act(self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, instance_uuid)
        require(inst.state, (VmState.STOPPED,), ResourceKind.INSTANCE, inst.uuid)
        self.set_members(inst.uuid, self.resolve(principal, inst.account_uuid, uuids, names))

    def set_members(self, instance_uuid: str, group_uuids: Sequence[str]) -> None:
        """Make the instance a member of exactly ``group_uuids``."""
        self._s.execute(delete(InstanceAffinityGroup).where(
            InstanceAffinityGroup.instance_uuid == instance_uuid))
        for uuid in group_uuids:
            self._s.add(InstanceAffinityGroup(instance_uuid=instance_uuid, group_uuid=uuid))
        self._s.flush()


def member_groups(session: Session, instance_uuid: str) -> builtins.list[str]:
    """Uuids of the groups the instance belongs to."""
    return list(session.scalars(select(InstanceAffinityGroup.group_uuid).where(
        InstanceAffinityGroup.instance_uuid == instance_uuid)))


def placement_rules(session: Session, instance_uuid: str | None,
                    group_uuids: Sequence[str]) -> PlacementRules:
    """Lock the groups and say which hosts a member may take.

    Anti-affinity: avoid every host another placed member holds. Affinity: the
    host a placed member holds (if any). Raises InsufficientCapacity when two
    affinity groups demand different hosts.
    """
    if not group_uuids:
        return PlacementRules()
    groups = list(session.scalars(select(AffinityGroup).where(
        AffinityGroup.uuid.in_(group_uuids)).order_by(AffinityGroup.uuid).with_for_update()))
    avoid: set[str] = set()
    required: str | None = None
    for group in groups:
        stmt = (select(Instance.host_uuid)
                .join(InstanceAffinityGroup, InstanceAffinityGroup.instance_uuid == Instance.uuid)
                .where(InstanceAffinityGroup.group_uuid == group.uuid,
                       Instance.host_uuid.is_not(None), Instance.state.in_(PLACED_STATES),
                       Instance.removed_at.is_(None)))
        if instance_uuid:
            stmt = stmt.where(Instance.uuid != instance_uuid)
        hosts = {h for h in session.scalars(stmt) if h}
        if group.policy == ANTI_AFFINITY:
            avoid |= hosts
        elif hosts:
            host = sorted(hosts)[0]
            if required not in (None, host):
                raise InsufficientCapacity(ResourceKind.HOST,
                                           "the affinity groups demand different hosts")
            required = host
    if required is not None and required in avoid:
        raise InsufficientCapacity(ResourceKind.HOST, "the affinity groups contradict each other")
    return PlacementRules(frozenset(avoid), required)
