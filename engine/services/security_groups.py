"""Security groups.

A group belongs to one account and, optionally, to one of the account's
containers (VPCs, ``vpc_uuid``); a group of no container (``vpc_uuid`` ``""``)
applies on the default containers' networks. Names are unique per account and
container. Each account has one default group of no container (``is_default``,
named ``default``), created on demand by :meth:`SecurityGroupService.ensure_default`;
each container has its own, made with it (:meth:`SecurityGroupService.create_container_default`)
and removed with it (:meth:`SecurityGroupService.remove_container_groups`).
Default groups are never deletable. The rule
methods (authorize, revoke, rules, list_rules) come from
:class:`engine.services.security_rules.SecurityRules`, whose names are
re-exported here.

Every method works in the caller's transaction and never commits; a group
whose rules change is locked first, so concurrent duplicate checks queue.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, String, and_, cast, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from engine.errors import Duplicate, IncorrectState, InUse, InvalidParameter, NotFound, ResourceKind
from engine.models import (
    Account,
    Domain,
    Instance,
    InstanceSecurityGroup,
    NicSecurityGroup,
    SecurityGroup,
    SecurityRule,
    Tag,
    Vpc,
    VpcTier,
)
from engine.principal import Principal
from engine.querying import (
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    apply_criteria,
    match_values,
    owner_scope,
    paginate,
    query_key,
    rows_by_uuid,
)
from engine.services.access import may_act, owner_account
from engine.services.events import record_event
from engine.services.security_rules import (  # re-exported: callers import them from here
    MAX_TEXT,
    NO_PAGING,
    PROTOCOLS,
    RULE_FIELDS,
    RuleDetail,
    RuleSpec,
    SecurityRules,
    check_text,
    owned_group,
    spec_of,
)
from engine.services.tags import apply_tags, remove_tags
from engine.states import RuleDirection, VmState

__all__ = [
    "ANYWHERE", "DEFAULT_DESCRIPTION", "DEFAULT_GROUP", "GROUP_FIELDS", "MAX_TEXT",
    "NETWORK_MISMATCH",
    "NO_PAGING", "PROTOCOLS", "RULE_FIELDS", "GroupDetail", "RuleDetail", "RuleSpec",
    "SecurityGroupService", "spec_of",
]

DEFAULT_GROUP = "default"
NETWORK_MISMATCH = "security_group.network"  # InvalidParameter name: group of another container
DEFAULT_DESCRIPTION = "Default Security Group"
ANYWHERE = "0.0.0.0/0"


@dataclass
class GroupDetail:
    """A group with its rules and what both front ends render with it."""

    group: SecurityGroup
    account: Account
    domain: Domain
    ingress: list[SecurityRule] = field(default_factory=list)
    egress: list[SecurityRule] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    peers: dict[str, SecurityGroup] = field(default_factory=dict)  # source groups by uuid
    peer_accounts: dict[str, Account] = field(default_factory=dict)  # their accounts by uuid
    instance_uuids: list[str] = field(default_factory=list)  # members not yet expunged
    vpc_sid: str | None = None  # the group's container; None: the default containers


def _ints(values: Sequence[str]) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError as exc:
        raise InvalidParameter("Filter", ",".join(values), "ports are integers") from exc


def _ports(column: object, values: Sequence[str]):  # type: ignore[no-untyped-def]
    """Port numbers, or ``*``/``?`` patterns over their decimal text."""
    patterns = [v for v in values if "*" in v or "?" in v]
    plain = [v for v in values if v not in patterns]
    conds = [column.in_(_ints(plain))] if plain else []  # type: ignore[attr-defined]
    if patterns:
        conds.append(match_values(cast(column, String(11)), patterns, True))  # type: ignore[arg-type]
    return or_(*conds)


def _rule_field(direction: RuleDirection, what: str):  # type: ignore[no-untyped-def]
    """A criterion on the group's rules of one direction (text values may be
    ``*``/``?`` patterns)."""
    def cond(values: Sequence[str]):  # type: ignore[no-untyped-def]
        c: ColumnElement[bool]
        match what:
            case "protocol":
                c = SecurityRule.protocol.in_([v.lower() for v in values])
            case "from_port":
                c = _ports(SecurityRule.start_port, values)
            case "to_port":
                c = _ports(SecurityRule.end_port, values)
            case "cidr":
                c = match_values(SecurityRule.cidr, values, True)
            case "description":
                c = match_values(SecurityRule.description, values, True)
            case "source_group_uuid":
                c = SecurityRule.source_group_uuid.in_(values)
            case "source_account_number":
                c = SecurityRule.source_group_uuid.in_(select(SecurityGroup.uuid).join(
                    Account, Account.uuid == SecurityGroup.account_uuid).where(
                    match_values(Account.number, values, True)))
            case _:
                src = aliased(SecurityGroup)
                col = src.sid if what == "source_group_sid" else src.name
                c = SecurityRule.source_group_uuid.in_(select(src.uuid).where(
                    match_values(col, values, True)))
        return exists().where(SecurityRule.group_uuid == SecurityGroup.uuid,
                              SecurityRule.direction == direction, c)
    return cond


def _instance_uuid(values: Sequence[str]):  # type: ignore[no-untyped-def]
    return SecurityGroup.uuid.in_(select(InstanceSecurityGroup.group_uuid).where(
        InstanceSecurityGroup.instance_uuid.in_(values)))


def _is_default(values: Sequence[str]):  # type: ignore[no-untyped-def]
    wanted = {v.lower() == "true" for v in values}
    return SecurityGroup.is_default.in_(wanted)


def _owner_number(values: Sequence[str]):  # type: ignore[no-untyped-def]
    return SecurityGroup.account_uuid.in_(select(Account.uuid).where(
        match_values(Account.number, values, True)))


def _vpc_sid(values: Sequence[str]):  # type: ignore[no-untyped-def]
    """Groups of the containers with these sids (patterns allowed); a default
    container's sid matches the groups of no container."""
    live = Vpc.removed_at.is_(None)
    return or_(
        SecurityGroup.vpc_uuid.in_(select(Vpc.uuid).where(
            live, match_values(Vpc.sid, values, True))),
        and_(SecurityGroup.vpc_uuid == "", exists().where(
            live, Vpc.is_default.is_(True), match_values(Vpc.sid, values, True))))


GROUP_FIELDS: FieldMap = {
    "uuid": SecurityGroup.uuid,
    "sid": SecurityGroup.sid,
    "name": SecurityGroup.name,
    "description": SecurityGroup.description,
    "account_uuid": SecurityGroup.account_uuid,
    "vpc_uuid": SecurityGroup.vpc_uuid,
    "vpc_sid": _vpc_sid,
    "is_default": _is_default,
    "instance_uuid": _instance_uuid,
    "owner_number": _owner_number,
    **{f"{d.value}.{w}": _rule_field(d, w)
       for d in RuleDirection
       for w in ("protocol", "from_port", "to_port", "cidr", "description",
                 "source_group_uuid", "source_group_sid", "source_group_name",
                 "source_account_number")},
}


class SecurityGroupService(SecurityRules):
    def __init__(self, session: Session) -> None:
        self._s = session

    def resolve(self, principal: Principal, *, sids: Sequence[str] = (),
                names: Sequence[str] = (), uuids: Sequence[str] = ()) -> list[str]:
        """Uuids of the caller's groups named by sid, name or uuid; NotFound for any
        other. Names name groups of no container (those of a container go by id)."""
        wanted = list(sids) + list(names) + list(uuids)
        if not wanted:
            return []
        rows = list(self._s.scalars(select(SecurityGroup).where(
            SecurityGroup.account_uuid == principal.account_uuid,
            or_(SecurityGroup.sid.in_(sids),
                and_(SecurityGroup.name.in_(names), SecurityGroup.vpc_uuid == ""),
                SecurityGroup.uuid.in_(uuids)))))
        for s in sids:
            if not any(r.sid == s for r in rows):
                raise NotFound(ResourceKind.SECURITY_GROUP, s)
        for n in names:
            if not any(r.name == n for r in rows):
                if n == "default":
                    continue  # created on first launch
                raise NotFound(ResourceKind.SECURITY_GROUP, n)
        for u in uuids:
            if not any(r.uuid == u for r in rows):
                raise NotFound(ResourceKind.SECURITY_GROUP, u)
        return [r.uuid for r in rows]

    # ------------------------------------------------------------------ reads
    def list(self, principal: Principal, criteria: Sequence[Criterion] = (),
             paging: Paging = NO_PAGING, *, list_all: bool = True,
             count: bool = False) -> ListResult:
        """Groups the principal may see, oldest first; items are :class:`GroupDetail`.

        Fields: those of ``GROUP_FIELDS`` (``ingress.cidr``, ``egress.from_port``...
        match groups having such a rule) and the tag fields.
        """
        criteria = tuple(criteria)
        stmt = select(SecurityGroup).where(
            owner_scope(SecurityGroup.account_uuid, principal, list_all=list_all))
        stmt = apply_criteria(stmt, GROUP_FIELDS, criteria, uuid_column=SecurityGroup.uuid,
                              kind=ResourceKind.SECURITY_GROUP)
        key = query_key("security_groups", principal.account_uuid, criteria, list_all)
        page = paginate(self._s, stmt, created_column=SecurityGroup.created_at,
                        uuid_column=SecurityGroup.uuid, paging=paging, query_key=key,
                        count=count)
        page.items = self.details(page.items)
        return page

    def get(self, principal: Principal, *, uuid: str | None = None, sid: str | None = None,
            name: str | None = None, account_uuid: str | None = None) -> GroupDetail:
        """One group by uuid, sid, or name (names are looked up among the groups
        of no container of ``account_uuid``, default the principal's own account).
        NotFound if the caller may not see it."""
        if name is not None:
            owner = account_uuid or principal.account_uuid
            if not may_act(self._s, principal, owner):
                raise NotFound(ResourceKind.SECURITY_GROUP, name)
            group = self._s.scalar(select(SecurityGroup).where(
                SecurityGroup.account_uuid == owner, SecurityGroup.vpc_uuid == "",
                SecurityGroup.name == name))
            if group is None:
                raise NotFound(ResourceKind.SECURITY_GROUP, name)
            return self.details([group])[0]
        crit = Criterion("uuid", (uuid,), False) if uuid else Criterion("sid", (sid or "",), False)
        page = self.list(principal, (crit,))
        if not page.items:
            raise NotFound(ResourceKind.SECURITY_GROUP, uuid or sid)
        return page.items[0]  # type: ignore[no-any-return]

    def default_vpc_sids(self) -> builtins.list[str]:
        """Sids of the regions' default containers (VPCs), oldest first: groups
        are bound to no network and apply on each default network."""
        return builtins.list(self._s.scalars(select(Vpc.sid).where(
            Vpc.is_default.is_(True), Vpc.removed_at.is_(None))
            .order_by(Vpc.created_at, Vpc.uuid)))

    def details(self, groups: Sequence[SecurityGroup]) -> builtins.list[GroupDetail]:
        """Load rules, owners, tags and referenced groups with one query per relation."""
        if not groups:
            return []
        s = self._s
        uuids = [g.uuid for g in groups]
        rules: dict[str, builtins.list[SecurityRule]] = defaultdict(list)
        for r in s.scalars(select(SecurityRule).where(SecurityRule.group_uuid.in_(uuids))
                           .order_by(SecurityRule.created_at, SecurityRule.uuid)):
            rules[r.group_uuid].append(r)
        peer_uuids = {r.source_group_uuid for rs in rules.values() for r in rs
                      if r.source_group_uuid}
        peers = rows_by_uuid(s, SecurityGroup, peer_uuids)
        accounts = rows_by_uuid(s, Account, {g.account_uuid for g in groups}
                            | {p.account_uuid for p in peers.values()})
        domains = rows_by_uuid(s, Domain, {a.domain_uuid for a in accounts.values()})
        tags: dict[str, builtins.list[Tag]] = defaultdict(list)
        for t in s.scalars(select(Tag).where(
                Tag.resource_uuid.in_(uuids),
                Tag.resource_kind == ResourceKind.SECURITY_GROUP).order_by(Tag.key)):
            tags[t.resource_uuid].append(t)
        vpc_sids = dict(s.execute(select(Vpc.uuid, Vpc.sid).where(
            Vpc.uuid.in_({g.vpc_uuid for g in groups if g.vpc_uuid}))).all())
        members: dict[str, builtins.list[str]] = defaultdict(list)
        for group_uuid, instance_uuid in s.execute(
                select(InstanceSecurityGroup.group_uuid, InstanceSecurityGroup.instance_uuid)
                .join(Instance, Instance.uuid == InstanceSecurityGroup.instance_uuid)
                .where(InstanceSecurityGroup.group_uuid.in_(uuids),
                       Instance.state != VmState.EXPUNGED)
                .order_by(Instance.created_at, Instance.uuid)):
            members[group_uuid].append(instance_uuid)
        out = []
        for g in groups:
            mine = rules.get(g.uuid, [])
            used = {r.source_group_uuid for r in mine if r.source_group_uuid in peers}
            account = accounts[g.account_uuid]
            out.append(GroupDetail(
                group=g, account=account, domain=domains[account.domain_uuid],
                ingress=[r for r in mine if r.direction == RuleDirection.INGRESS],
                egress=[r for r in mine if r.direction == RuleDirection.EGRESS],
                tags=tags.get(g.uuid, []),
                peers={u: peers[u] for u in used if u},
                peer_accounts={peers[u].account_uuid: accounts[peers[u].account_uuid]
                               for u in used if u},
                instance_uuids=members.get(g.uuid, []),
                vpc_sid=vpc_sids.get(g.vpc_uuid)))
        return out

    # ----------------------------------------------------------------- groups
    def create(self, principal: Principal, name: str, description: str = "", *,
               open_egress: bool = True, account_uuid: str | None = None,
               tags: Sequence[tuple[str, str]] = (),
               vpc_ident: str | None = None) -> SecurityGroup:
        """A new group in the principal's account (or ``account_uuid``, for admins).

        ``vpc_ident`` (sid or uuid) names the container the group belongs to:
        a live one of the owner's account (NotFound(VPC) otherwise); a default
        container, or none, makes a group of no container. ``open_egress`` gives
        it one egress rule allowing all protocols to 0.0.0.0/0; without it the
        group starts with no rules. Raises Duplicate when the account has a group
        of that name in that container (``default`` included) and
        InvalidParameter for an empty or overlong name or description.
        """
        owner = owner_account(self._s, principal, account_uuid)
        check_text("name", name, required=True)
        check_text("description", description)
        vpc_uuid = self._container(owner, vpc_ident) if vpc_ident else ""
        group = None
        if name != DEFAULT_GROUP:  # default groups are only ever made by the engine
            group = self._insert(principal, owner, name, description, False, open_egress, False,
                                 vpc_uuid=vpc_uuid)
        if group is None:
            raise Duplicate(ResourceKind.SECURITY_GROUP, name)
        if tags:
            apply_tags(self._s, principal, ResourceKind.SECURITY_GROUP, [group.uuid], tags)
        return group

    def ensure_default(self, principal: Principal, *, account_uuid: str | None = None,
                       open_egress: bool = False, self_ingress: bool = False) -> SecurityGroup:
        """The account's default group, created now if it does not exist yet.

        The rule options apply only when it is created: ``open_egress`` adds an
        all-protocols egress rule to 0.0.0.0/0, ``self_ingress`` an all-protocols
        ingress rule from the group's own members.
        """
        owner = owner_account(self._s, principal, account_uuid)
        return self._ensure_default(principal, owner, open_egress=open_egress,
                                    self_ingress=self_ingress)

    def create_container_default(self, principal: Principal, vpc: Vpc) -> SecurityGroup:
        """The default group of a new container, owned by the container's
        account, with AWS's default rules (all traffic out to anywhere, all
        traffic in from the group's members). The caller makes the container."""
        assert vpc.account_uuid is not None, "a default container has no groups of its own"
        group = self._insert(principal, vpc.account_uuid, DEFAULT_GROUP, DEFAULT_DESCRIPTION,
                             True, True, True, vpc_uuid=vpc.uuid)
        if group is None:
            raise Duplicate(ResourceKind.SECURITY_GROUP, DEFAULT_GROUP)
        return group

    def default_for_network(self, principal: Principal, network_uuid: str, *,
                            account_uuid: str | None = None) -> SecurityGroup:
        """The default group an interface on ``network_uuid`` gets when none is
        named: its container's when the network is a tier of a container of the
        account (made now for a container older than its default group), else
        the account's default group of no container (AWS's default rules)."""
        owner = owner_account(self._s, principal, account_uuid)
        vpc = self._s.scalar(select(Vpc).join(VpcTier, VpcTier.vpc_uuid == Vpc.uuid).where(
            VpcTier.network_uuid == network_uuid, Vpc.is_default.is_(False),
            Vpc.account_uuid == owner, Vpc.removed_at.is_(None)))
        if vpc is None:
            return self._ensure_default(principal, owner, open_egress=True, self_ingress=True)
        found = self._s.scalar(select(SecurityGroup).where(
            SecurityGroup.vpc_uuid == vpc.uuid, SecurityGroup.account_uuid == owner,
            SecurityGroup.name == DEFAULT_GROUP))
        return found if found is not None else self.create_container_default(principal, vpc)

    def require_network(self, groups: Sequence[SecurityGroup], network_uuid: str) -> None:
        """InvalidParameter (``security_group.network``) unless every group is of
        the container of ``network_uuid`` (no container: a default or standalone
        network, whose groups are those of no container)."""
        container = self._s.scalar(select(Vpc.uuid).join(
            VpcTier, VpcTier.vpc_uuid == Vpc.uuid).where(
            VpcTier.network_uuid == network_uuid, Vpc.is_default.is_(False))) or ""
        for g in groups:
            if g.vpc_uuid != container:
                raise InvalidParameter(NETWORK_MISMATCH, g.sid,
                                       "the security group and the network belong to "
                                       "different containers")

    def remove_container_groups(self, principal: Principal, vpc: Vpc) -> None:
        """Remove a container's default group (with its rules and tags) as the
        container goes. InUse(VPC) while the container has any other group."""
        groups = builtins.list(self._s.scalars(select(SecurityGroup).where(
            SecurityGroup.vpc_uuid == vpc.uuid)))
        if any(not g.is_default for g in groups):
            raise InUse(ResourceKind.VPC, vpc.sid, "security groups")
        for group in groups:
            self._remove(principal, group)

    def delete(self, principal: Principal, group_uuid: str) -> None:
        """Remove a group with its rules and tags.

        A default group raises IncorrectState (state ``default``); a group used
        by a not yet expunged instance or by an interface, or named as the
        source of another group's rule, raises InUse.
        """
        group = owned_group(self._s, principal, group_uuid)
        if group.is_default:
            raise IncorrectState(ResourceKind.SECURITY_GROUP, group.name, "default")
        user = self._s.scalar(select(Instance.uuid).join(
            InstanceSecurityGroup, InstanceSecurityGroup.instance_uuid == Instance.uuid).where(
            InstanceSecurityGroup.group_uuid == group.uuid,
            Instance.state != VmState.EXPUNGED).limit(1))
        if user is not None:
            raise InUse(ResourceKind.SECURITY_GROUP, group.name, by=f"instance {user}")
        nic = self._s.scalar(select(NicSecurityGroup.nic_uuid).where(
            NicSecurityGroup.group_uuid == group.uuid).limit(1))
        if nic is not None:
            raise InUse(ResourceKind.SECURITY_GROUP, group.name, by=f"interface {nic}")
        referrer = self._s.scalar(select(SecurityRule.group_uuid).where(
            SecurityRule.source_group_uuid == group.uuid,
            SecurityRule.group_uuid != group.uuid).limit(1))
        if referrer is not None:
            raise InUse(ResourceKind.SECURITY_GROUP, group.name,
                        by=f"a rule of security group {referrer}")
        self._remove(principal, group)

    # ---------------------------------------------------------------- helpers
    def _remove(self, principal: Principal, group: SecurityGroup) -> None:
        remove_tags(self._s, builtins.list(self._s.scalars(select(SecurityRule.uuid).where(
            SecurityRule.group_uuid == group.uuid))), [])
        self._s.execute(delete(SecurityRule).where(SecurityRule.group_uuid == group.uuid))
        self._s.execute(delete(InstanceSecurityGroup).where(  # links of expunged instances
            InstanceSecurityGroup.group_uuid == group.uuid))
        self._s.execute(delete(NicSecurityGroup).where(  # links of removed interfaces
            NicSecurityGroup.group_uuid == group.uuid))
        remove_tags(self._s, [group.uuid], [])
        record_event(self._s, principal, "SG.DELETE", f"Deleted security group {group.name}",
                     ResourceKind.SECURITY_GROUP, group.uuid, account_uuid=group.account_uuid)
        self._s.delete(group)
        self._s.flush()

    def _container(self, owner: str, ident: str) -> str:
        """The uuid of the owner's live container ``ident`` ("" for a default one)."""
        vpc = self._s.scalar(select(Vpc).where(or_(Vpc.sid == ident, Vpc.uuid == ident),
                                               Vpc.removed_at.is_(None)))
        if vpc is not None and vpc.is_default:
            return ""
        if vpc is None or vpc.account_uuid != owner:
            raise NotFound(ResourceKind.VPC, ident)
        return vpc.uuid

    def _insert(self, principal: Principal, owner: str, name: str, description: str,
                is_default: bool, open_egress: bool, self_ingress: bool, *,
                vpc_uuid: str = "") -> SecurityGroup | None:
        """Insert a group (and its first rules); None if the name is taken."""
        group = SecurityGroup(account_uuid=owner, name=name, description=description,
                              is_default=is_default, vpc_uuid=vpc_uuid)
        try:
            with self._s.begin_nested():
                self._s.add(group)
                self._s.flush()
        except IntegrityError:
            return None
        if open_egress:
            self._add_rule(group, RuleDirection.EGRESS, RuleSpec("all", cidr=ANYWHERE))
        if self_ingress:
            self._add_rule(group, RuleDirection.INGRESS,
                           RuleSpec("all", source_group_uuid=group.uuid))
        record_event(self._s, principal, "SG.CREATE", f"Created security group {name}",
                     ResourceKind.SECURITY_GROUP, group.uuid, account_uuid=owner)
        self._s.flush()
        return group

    def _ensure_default(self, principal: Principal, owner: str, *, open_egress: bool,
                        self_ingress: bool) -> SecurityGroup:
        for _ in range(2):
            found = self._s.scalar(select(SecurityGroup).where(
                SecurityGroup.account_uuid == owner, SecurityGroup.vpc_uuid == "",
                SecurityGroup.name == DEFAULT_GROUP))
            if found is not None:
                return found
            made = self._insert(principal, owner, DEFAULT_GROUP, DEFAULT_DESCRIPTION, True,
                                open_egress, self_ingress)
            if made is not None:
                return made
        raise Duplicate(ResourceKind.SECURITY_GROUP, DEFAULT_GROUP)  # pragma: no cover

