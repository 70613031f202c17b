"""Security groups and their rules.

A group belongs to one account and has a unique name there. Each account has
one default group (``is_default``, named ``default``), created on demand by
:meth:`SecurityGroupService.ensure_default` and never deletable. Rules are
ingress or egress, for protocol ``tcp``, ``udp``, ``icmp`` or ``all``, and
allow either a CIDR or the members of a source group.

Ports: tcp/udp rules keep a port range 0..65535 in ``start_port``/``end_port``;
icmp rules keep the ICMP type and code there (-1: any); ``all`` rules keep none.

Every method works in the caller's transaction and never commits; a group
whose rules change is locked first, so concurrent duplicate checks queue.
"""

from __future__ import annotations

import builtins
import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from engine.errors import (
    ConflictingParameters,
    Duplicate,
    IncorrectState,
    InUse,
    InvalidParameter,
    MissingParameter,
    NotFound,
    ResourceKind,
)
from engine.models import (
    Account,
    Domain,
    Instance,
    InstanceSecurityGroup,
    Network,
    SecurityGroup,
    SecurityRule,
    Tag,
)
from engine.principal import Principal
from engine.querying import (
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    apply_criteria,
    owner_scope,
    paginate,
    query_key,
)
from engine.services.access import may_act
from engine.services.events import record_event
from engine.services.tags import apply_tags, remove_tags
from engine.states import RuleDirection, VmState

NO_PAGING = Paging()  # every match in one page
PROTOCOLS = ("tcp", "udp", "icmp", "all")
DEFAULT_GROUP = "default"
DEFAULT_DESCRIPTION = "Default Security Group"
ANYWHERE = "0.0.0.0/0"
MAX_TEXT = 255


@dataclass(frozen=True)
class RuleSpec:
    """One rule as callers describe it; exactly one of ``cidr``/``source_group_uuid``."""

    protocol: str
    from_port: int | None = None
    to_port: int | None = None
    cidr: str | None = None
    source_group_uuid: str | None = None
    description: str = ""

    @property
    def key(self) -> tuple[object, ...]:
        """What makes two rules the same (the description does not)."""
        return (self.protocol, self.from_port, self.to_port, self.cidr, self.source_group_uuid)

    def __str__(self) -> str:
        peer = self.cidr or f"group {self.source_group_uuid}"
        ports = "" if self.from_port is None else f" {self.from_port}-{self.to_port}"
        return f"{self.protocol}{ports} {peer}"


def spec_of(rule: SecurityRule) -> RuleSpec:
    return RuleSpec(rule.protocol, rule.start_port, rule.end_port, rule.cidr,
                    rule.source_group_uuid, rule.description)


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


def _direction(value: RuleDirection | str) -> RuleDirection:
    try:
        return RuleDirection(value)
    except ValueError as exc:
        raise InvalidParameter("direction", value, "ingress or egress") from exc


def _ints(values: Sequence[str]) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError as exc:
        raise InvalidParameter("Filter", ",".join(values), "ports are integers") from exc


def _rule_field(direction: RuleDirection, what: str):  # type: ignore[no-untyped-def]
    """A criterion on the group's rules of one direction."""
    def cond(values: Sequence[str]):  # type: ignore[no-untyped-def]
        match what:
            case "protocol":
                c = SecurityRule.protocol.in_([v.lower() for v in values])
            case "from_port":
                c = SecurityRule.start_port.in_(_ints(values))
            case "to_port":
                c = SecurityRule.end_port.in_(_ints(values))
            case "cidr":
                c = SecurityRule.cidr.in_(values)
            case "description":
                c = SecurityRule.description.in_(values)
            case "source_group_uuid":
                c = SecurityRule.source_group_uuid.in_(values)
            case "source_account_number":
                c = SecurityRule.source_group_uuid.in_(select(SecurityGroup.uuid).join(
                    Account, Account.uuid == SecurityGroup.account_uuid).where(
                    Account.number.in_(values)))
            case _:
                src = aliased(SecurityGroup)
                col = src.sid if what == "source_group_sid" else src.name
                c = SecurityRule.source_group_uuid.in_(select(src.uuid).where(col.in_(values)))
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
    return SecurityGroup.account_uuid.in_(select(Account.uuid).where(Account.number.in_(values)))


GROUP_FIELDS: FieldMap = {
    "uuid": SecurityGroup.uuid,
    "sid": SecurityGroup.sid,
    "name": SecurityGroup.name,
    "description": SecurityGroup.description,
    "account_uuid": SecurityGroup.account_uuid,
    "is_default": _is_default,
    "instance_uuid": _instance_uuid,
    "owner_number": _owner_number,
    **{f"{d.value}.{w}": _rule_field(d, w)
       for d in RuleDirection
       for w in ("protocol", "from_port", "to_port", "cidr", "description",
                 "source_group_uuid", "source_group_sid", "source_group_name",
                 "source_account_number")},
}

RULE_FIELDS: FieldMap = {
    "uuid": SecurityRule.uuid,
    "sid": SecurityRule.sid,
    "direction": SecurityRule.direction,
    "group_uuid": SecurityRule.group_uuid,
    "group_sid": SecurityGroup.sid,
}


@dataclass
class RuleDetail:
    """One rule with its group, the group's owner, its tags and its source group."""

    rule: SecurityRule
    group: SecurityGroup
    account: Account
    tags: list[Tag] = field(default_factory=list)
    peer: SecurityGroup | None = None
    peer_account: Account | None = None


class SecurityGroupService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def resolve(self, principal: Principal, *, sids: Sequence[str] = (),
                names: Sequence[str] = (), uuids: Sequence[str] = ()) -> list[str]:
        """Uuids of the caller's groups named by sid, name or uuid; NotFound for any other."""
        wanted = list(sids) + list(names) + list(uuids)
        if not wanted:
            return []
        rows = list(self._s.scalars(select(SecurityGroup).where(
            SecurityGroup.account_uuid == principal.account_uuid,
            or_(SecurityGroup.sid.in_(sids), SecurityGroup.name.in_(names),
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
        """One group by uuid, sid, or name (names are looked up in ``account_uuid``,
        default the principal's own account). NotFound if the caller may not see it."""
        if name is not None:
            owner = account_uuid or principal.account_uuid
            if not may_act(self._s, principal, owner):
                raise NotFound(ResourceKind.SECURITY_GROUP, name)
            group = self._s.scalar(select(SecurityGroup).where(
                SecurityGroup.account_uuid == owner, SecurityGroup.name == name))
            if group is None:
                raise NotFound(ResourceKind.SECURITY_GROUP, name)
            return self.details([group])[0]
        crit = Criterion("uuid", (uuid,), False) if uuid else Criterion("sid", (sid or "",), False)
        page = self.list(principal, (crit,))
        if not page.items:
            raise NotFound(ResourceKind.SECURITY_GROUP, uuid or sid)
        return page.items[0]  # type: ignore[no-any-return]

    def rules(self, principal: Principal, group_uuids: Sequence[str], *,
              direction: RuleDirection | str | None = None) -> builtins.list[SecurityRule]:
        """The rules of the given groups, oldest first; NotFound for a group the
        principal may not see."""
        groups = {g.uuid: g for g in self._s.scalars(
            select(SecurityGroup).where(SecurityGroup.uuid.in_(group_uuids)))}
        for u in group_uuids:
            g = groups.get(u)
            if g is None or not may_act(self._s, principal, g.account_uuid):
                raise NotFound(ResourceKind.SECURITY_GROUP, u)
        stmt = select(SecurityRule).where(SecurityRule.group_uuid.in_(group_uuids))
        if direction is not None:
            stmt = stmt.where(SecurityRule.direction == _direction(direction))
        return list(self._s.scalars(stmt.order_by(SecurityRule.created_at, SecurityRule.uuid)))

    def list_rules(self, principal: Principal, criteria: Sequence[Criterion] = (),
                   paging: Paging = NO_PAGING, *, list_all: bool = True) -> ListResult:
        """Rules of the groups the principal may see, oldest first; items are
        :class:`RuleDetail`. Fields: ``RULE_FIELDS`` and the rules' own tags."""
        criteria = tuple(criteria)
        stmt = select(SecurityRule).join(
            SecurityGroup, SecurityGroup.uuid == SecurityRule.group_uuid).where(
            owner_scope(SecurityGroup.account_uuid, principal, list_all=list_all))
        stmt = apply_criteria(stmt, RULE_FIELDS, criteria, uuid_column=SecurityRule.uuid,
                              kind=ResourceKind.SECURITY_RULE)
        key = query_key("security_rules", principal.account_uuid, criteria, list_all)
        page = paginate(self._s, stmt, created_column=SecurityRule.created_at,
                        uuid_column=SecurityRule.uuid, paging=paging, query_key=key)
        rules: builtins.list[SecurityRule] = page.items
        groups = _by_uuid(self._s, SecurityGroup, {r.group_uuid for r in rules}
                          | {r.source_group_uuid for r in rules if r.source_group_uuid})
        accounts = _by_uuid(self._s, Account, {g.account_uuid for g in groups.values()})
        tags: dict[str, builtins.list[Tag]] = defaultdict(list)
        for t in self._s.scalars(select(Tag).where(
                Tag.resource_uuid.in_([r.uuid for r in rules]),
                Tag.resource_kind == ResourceKind.SECURITY_RULE).order_by(Tag.key)):
            tags[t.resource_uuid].append(t)
        out = []
        for r in rules:
            group, peer = groups[r.group_uuid], groups.get(r.source_group_uuid or "")
            out.append(RuleDetail(r, group, accounts[group.account_uuid], tags.get(r.uuid, []),
                                  peer, accounts.get(peer.account_uuid) if peer else None))
        page.items = out
        return page

    def network_sids(self) -> builtins.list[str]:
        """Sids of the zones' default guest networks, oldest first: groups are
        bound to no network and apply on each of them."""
        return builtins.list(self._s.scalars(select(Network.sid).where(
            Network.is_default.is_(True), Network.account_uuid.is_(None),
            Network.removed_at.is_(None)).order_by(Network.created_at, Network.uuid)))

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
        peers = _by_uuid(s, SecurityGroup, peer_uuids)
        accounts = _by_uuid(s, Account, {g.account_uuid for g in groups}
                            | {p.account_uuid for p in peers.values()})
        domains = _by_uuid(s, Domain, {a.domain_uuid for a in accounts.values()})
        tags: dict[str, builtins.list[Tag]] = defaultdict(list)
        for t in s.scalars(select(Tag).where(
                Tag.resource_uuid.in_(uuids),
                Tag.resource_kind == ResourceKind.SECURITY_GROUP).order_by(Tag.key)):
            tags[t.resource_uuid].append(t)
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
                instance_uuids=members.get(g.uuid, [])))
        return out

    # ----------------------------------------------------------------- groups
    def create(self, principal: Principal, name: str, description: str = "", *,
               open_egress: bool = True, account_uuid: str | None = None,
               tags: Sequence[tuple[str, str]] = ()) -> SecurityGroup:
        """A new group in the principal's account (or ``account_uuid``, for admins).

        ``open_egress`` gives it one egress rule allowing all protocols to
        0.0.0.0/0; without it the group starts with no rules. Raises Duplicate
        when the account has a group of that name (``default`` included) and
        InvalidParameter for an empty or overlong name or description.
        """
        owner = self._owner(principal, account_uuid)
        _check_text("name", name, required=True)
        _check_text("description", description)
        group = None
        if name != DEFAULT_GROUP:  # the default group is only ever made by ensure_default
            group = self._insert(principal, owner, name, description, False, open_egress, False)
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
        owner = self._owner(principal, account_uuid)
        return self._ensure_default(principal, owner, open_egress=open_egress,
                                    self_ingress=self_ingress)

    def delete(self, principal: Principal, group_uuid: str) -> None:
        """Remove a group with its rules and tags.

        The default group raises IncorrectState (state ``default``); a group used
        by a not yet expunged instance, or named as the source of another group's
        rule, raises InUse.
        """
        group = self._owned(principal, group_uuid)
        if group.is_default:
            raise IncorrectState(ResourceKind.SECURITY_GROUP, group.name, "default")
        user = self._s.scalar(select(Instance.uuid).join(
            InstanceSecurityGroup, InstanceSecurityGroup.instance_uuid == Instance.uuid).where(
            InstanceSecurityGroup.group_uuid == group.uuid,
            Instance.state != VmState.EXPUNGED).limit(1))
        if user is not None:
            raise InUse(ResourceKind.SECURITY_GROUP, group.name, by=f"instance {user}")
        referrer = self._s.scalar(select(SecurityRule.group_uuid).where(
            SecurityRule.source_group_uuid == group.uuid,
            SecurityRule.group_uuid != group.uuid).limit(1))
        if referrer is not None:
            raise InUse(ResourceKind.SECURITY_GROUP, group.name,
                        by=f"a rule of security group {referrer}")
        remove_tags(self._s, builtins.list(self._s.scalars(select(SecurityRule.uuid).where(
            SecurityRule.group_uuid == group.uuid))), [])
        self._s.execute(delete(SecurityRule).where(SecurityRule.group_uuid == group.uuid))
        self._s.execute(delete(InstanceSecurityGroup).where(  # links of expunged instances
            InstanceSecurityGroup.group_uuid == group.uuid))
        remove_tags(self._s, [group.uuid], [])
        record_event(self._s, principal, "SG.DELETE", f"Deleted security group {group.name}",
                     ResourceKind.SECURITY_GROUP, group.uuid, account_uuid=group.account_uuid)
        self._s.delete(group)
        self._s.flush()

    # ------------------------------------------------------------------ rules
    def authorize(self, principal: Principal, group_uuid: str, direction: RuleDirection | str,
                  rules: Sequence[RuleSpec], *,
                  tags: Sequence[tuple[str, str]] = ()) -> builtins.list[SecurityRule]:
        """Add rules to a group; all or none. ``tags`` go on every new rule.

        Raises InvalidParameter / MissingParameter / ConflictingParameters for a
        bad spec, NotFound(SECURITY_GROUP) for a source group the caller may not
        see, Duplicate(SECURITY_RULE) for a rule the group already has (or one
        given twice).
        """
        group = self._owned(principal, group_uuid)
        way = _direction(direction)
        if not rules:
            raise MissingParameter("rules")
        specs = [self._normalize(principal, r, check_source=True) for r in rules]
        seen = {spec_of(r).key for r in self._s.scalars(select(SecurityRule).where(
            SecurityRule.group_uuid == group.uuid, SecurityRule.direction == way))}
        for spec in specs:
            if spec.key in seen:
                raise Duplicate(ResourceKind.SECURITY_RULE, str(spec))
            seen.add(spec.key)
        created = [self._add_rule(group, way, spec) for spec in specs]
        if tags:
            self._s.flush()
            apply_tags(self._s, principal, ResourceKind.SECURITY_RULE,
                       [r.uuid for r in created], tags, account_uuid=group.account_uuid)
        record_event(self._s, principal, f"SG.AUTH.{way.name}",
                     f"Authorized {len(created)} {way.value} rule(s) in {group.name}",
                     ResourceKind.SECURITY_GROUP, group.uuid, account_uuid=group.account_uuid)
        self._s.flush()
        return created

    def revoke(self, principal: Principal, group_uuid: str | None,
               direction: RuleDirection | str, *, rules: Sequence[RuleSpec] = (),
               rule_ids: Sequence[str] = ()) -> builtins.list[SecurityRule]:
        """Remove rules named by spec (needs ``group_uuid``) or by uuid or sid.

        A rule that does not exist, is not of ``direction``, is not in
        ``group_uuid`` (when given) or is not the caller's raises
        NotFound(SECURITY_RULE). All or none are removed; the removed rows are
        returned.
        """
        way = _direction(direction)
        if not rules and not rule_ids:
            raise MissingParameter("rules")
        group = None
        if group_uuid is not None:
            group = self._owned(principal, group_uuid)
        elif rules:
            raise MissingParameter("group")
        doomed: dict[str, SecurityRule] = {}
        if rules:
            assert group is not None
            existing = {spec_of(r).key: r for r in self._s.scalars(select(SecurityRule).where(
                SecurityRule.group_uuid == group.uuid, SecurityRule.direction == way))}
            for r in rules:
                spec = self._normalize(principal, r, check_source=False)
                row = existing.get(spec.key)
                if row is None:
                    raise NotFound(ResourceKind.SECURITY_RULE, str(spec))
                doomed[row.uuid] = row
        if rule_ids:
            found = list(self._s.execute(select(SecurityRule, SecurityGroup).join(
                SecurityGroup, SecurityGroup.uuid == SecurityRule.group_uuid).where(
                or_(SecurityRule.uuid.in_(rule_ids), SecurityRule.sid.in_(rule_ids)))).all())
            for ident in rule_ids:
                match = next((row for row, g in found if ident in (row.uuid, row.sid)
                              and row.direction == way
                              and (group is None or g.uuid == group.uuid)
                              and may_act(self._s, principal, g.account_uuid)), None)
                if match is None:
                    raise NotFound(ResourceKind.SECURITY_RULE, ident)
                doomed[match.uuid] = match
        if doomed:
            remove_tags(self._s, builtins.list(doomed), [])
        for row in doomed.values():
            self._s.delete(row)
        if doomed:
            first = next(iter(doomed.values()))
            record_event(self._s, principal, f"SG.REVOKE.{way.name}",
                         f"Revoked {len(doomed)} {way.value} rule(s)",
                         ResourceKind.SECURITY_GROUP, first.group_uuid)
        self._s.flush()
        return list(doomed.values())

    # ---------------------------------------------------------------- helpers
    def _normalize(self, principal: Principal, spec: RuleSpec, *,
                   check_source: bool) -> RuleSpec:
        """Validate ``spec``; return it in stored form (lower-case protocol,
        canonical CIDR, ports as stored)."""
        proto = (spec.protocol or "").lower()
        if proto not in PROTOCOLS:
            raise InvalidParameter("protocol", spec.protocol, f"one of {', '.join(PROTOCOLS)}")
        lo, hi = spec.from_port, spec.to_port
        if proto in ("tcp", "udp"):
            if lo is None or hi is None:
                raise MissingParameter("from_port" if lo is None else "to_port")
            if not (0 <= lo <= 65535 and 0 <= hi <= 65535) or lo > hi:
                raise InvalidParameter("port range", f"{lo}-{hi}",
                                       "ports are 0 to 65535 and from_port <= to_port")
        elif proto == "icmp":
            lo = -1 if lo is None else lo
            hi = -1 if hi is None else hi
            if not (-1 <= lo <= 255 and -1 <= hi <= 255):
                raise InvalidParameter("icmp type/code", f"{lo}/{hi}", "-1 to 255")
            if lo == -1 and hi != -1:
                raise InvalidParameter("icmp code", hi, "any type (-1) takes any code (-1)")
        else:
            lo = hi = None
        if spec.cidr is not None and spec.source_group_uuid is not None:
            raise ConflictingParameters(("cidr", "source_group"))
        cidr = spec.cidr
        if cidr is not None:
            try:
                cidr = str(ipaddress.ip_network(cidr.strip(), strict=True))
            except ValueError as exc:
                raise InvalidParameter("cidr", spec.cidr, "not a valid CIDR block") from exc
        elif spec.source_group_uuid is None:
            raise MissingParameter("cidr")
        elif check_source:
            src = self._s.get(SecurityGroup, spec.source_group_uuid)
            if src is None or not may_act(self._s, principal, src.account_uuid):
                raise NotFound(ResourceKind.SECURITY_GROUP, spec.source_group_uuid)
        _check_text("description", spec.description)
        return replace(spec, protocol=proto, from_port=lo, to_port=hi, cidr=cidr)

    def _add_rule(self, group: SecurityGroup, way: RuleDirection, spec: RuleSpec) -> SecurityRule:
        rule = SecurityRule(group_uuid=group.uuid, direction=way, protocol=spec.protocol,
                            start_port=spec.from_port, end_port=spec.to_port, cidr=spec.cidr,
                            source_group_uuid=spec.source_group_uuid,
                            description=spec.description)
        self._s.add(rule)
        return rule

    def _insert(self, principal: Principal, owner: str, name: str, description: str,
                is_default: bool, open_egress: bool, self_ingress: bool) -> SecurityGroup | None:
        """Insert a group (and its first rules); None if the name is taken."""
        group = SecurityGroup(account_uuid=owner, name=name, description=description,
                              is_default=is_default)
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
                SecurityGroup.account_uuid == owner, SecurityGroup.name == DEFAULT_GROUP))
            if found is not None:
                return found
            made = self._insert(principal, owner, DEFAULT_GROUP, DEFAULT_DESCRIPTION, True,
                                open_egress, self_ingress)
            if made is not None:
                return made
        raise Duplicate(ResourceKind.SECURITY_GROUP, DEFAULT_GROUP)  # pragma: no cover

    def _owned(self, principal: Principal, uuid: str) -> SecurityGroup:
        """The group row, locked, if the principal may act on it."""
        group = self._s.scalar(select(SecurityGroup).where(SecurityGroup.uuid == uuid)
                               .with_for_update())
        if group is None or not may_act(self._s, principal, group.account_uuid):
            raise NotFound(ResourceKind.SECURITY_GROUP, uuid)
        return group

    def _owner(self, principal: Principal, account_uuid: str | None) -> str:
        if account_uuid is None or account_uuid == principal.account_uuid:
            return principal.account_uuid
        account = self._s.get(Account, account_uuid)
        if account is None or account.removed_at is not None or not may_act(
                self._s, principal, account_uuid):
            raise NotFound(ResourceKind.ACCOUNT, account_uuid)
        return account_uuid


def _check_text(name: str, value: str, *, required: bool = False) -> None:
    if required and not (value or "").strip():
        raise MissingParameter(name)
    if len(value or "") > MAX_TEXT:
        raise InvalidParameter(name, value[:40] + "...", f"at most {MAX_TEXT} characters")


def _by_uuid(session: Session, model: type, uuids: set[str]) -> dict[str, Any]:
    if not uuids:
        return {}
    rows: Iterable[Any] = session.scalars(select(model).where(
        model.uuid.in_(uuids)))  # type: ignore[attr-defined]
    return {row.uuid: row for row in rows}
