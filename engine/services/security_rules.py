"""Security group rules: their specs, validation, adding, revoking and listing.

Rules are ingress or egress, for protocol ``tcp``, ``udp``, ``icmp``,
``icmpv6``, ``all`` or another IP protocol given by its number (``"0"`` to
``"255"``), and allow either a CIDR or the members of a source group.

Ports: tcp/udp rules keep a port range 0..65535 in ``start_port``/``end_port``;
icmp/icmpv6 rules keep the ICMP type and code there (-1: any); ``all`` and
numbered protocols keep none.

:class:`SecurityRules` holds the rule methods of
:class:`engine.services.security_groups.SecurityGroupService`, which mixes it
in; every public name here is also importable from
``engine.services.security_groups``. Every method works in the caller's
transaction and never commits; a group whose rules change is locked first,
so concurrent duplicate checks queue.
"""

from __future__ import annotations

import builtins
import ipaddress
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.errors import (
    ConflictingParameters,
    Duplicate,
    InvalidParameter,
    MissingParameter,
    NotFound,
    ResourceKind,
)
from engine.models import Account, SecurityGroup, SecurityRule, Tag
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
    rows_by_uuid,
)
from engine.services.access import may_act
from engine.services.events import record_event
from engine.services.tags import apply_tags, remove_tags
from engine.states import RuleDirection

NO_PAGING = Paging()  # every match in one page
PROTOCOLS = ("tcp", "udp", "icmp", "icmpv6", "all")  # and numbers, see is_protocol
_ICMP = ("icmp", "icmpv6")


def is_protocol(name: str) -> bool:
    """Whether ``name`` (lower case) is a rule protocol: one of PROTOCOLS or an
    IP protocol number 0..255 written without sign or leading zeros."""
    return name in PROTOCOLS or (name.isdigit() and str(int(name)) == name
                                 and int(name) <= 255)


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


def _direction(value: RuleDirection | str) -> RuleDirection:
    try:
        return RuleDirection(value)
    except ValueError as exc:
        raise InvalidParameter("direction", value, "ingress or egress") from exc


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


def owned_group(session: Session, principal: Principal, uuid: str) -> SecurityGroup:
    """The group row, locked, if the principal may act on it; else NotFound."""
    group = session.scalar(select(SecurityGroup).where(SecurityGroup.uuid == uuid)
                           .with_for_update())
    if group is None or not may_act(session, principal, group.account_uuid):
        raise NotFound(ResourceKind.SECURITY_GROUP, uuid)
    return group


def check_text(name: str, value: str, *, required: bool = False) -> None:
    """MissingParameter for a blank required ``value``; InvalidParameter past MAX_TEXT."""
    if required and not (value or "").strip():
        raise MissingParameter(name)
    if len(value or "") > MAX_TEXT:
        raise InvalidParameter(name, value[:40] + "...", f"at most {MAX_TEXT} characters")


class SecurityRules:
    """The rule methods of the security group service; the host class sets ``_s``."""

    _s: Session

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
        groups = rows_by_uuid(self._s, SecurityGroup, {r.group_uuid for r in rules}
                          | {r.source_group_uuid for r in rules if r.source_group_uuid})
        accounts = rows_by_uuid(self._s, Account, {g.account_uuid for g in groups.values()})
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

    def authorize(self, principal: Principal, group_uuid: str, direction: RuleDirection | str,
                  rules: Sequence[RuleSpec], *,
                  tags: Sequence[tuple[str, str]] = ()) -> builtins.list[SecurityRule]:
        """Add rules to a group; all or none. ``tags`` go on every new rule.

        Raises InvalidParameter / MissingParameter / ConflictingParameters for a
        bad spec, NotFound(SECURITY_GROUP) for a source group the caller may not
        see, Duplicate(SECURITY_RULE) for a rule the group already has (or one
        given twice).
        """
        group = owned_group(self._s, principal, group_uuid)
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

    def modify_rules(self, principal: Principal, group_uuid: str,
                     changes: Sequence[tuple[str, RuleSpec]]) -> builtins.list[SecurityRule]:
        """Give rules of a group new specs in place, keeping their ids and
        directions; all or none. ``changes`` pairs a rule's uuid or sid with its
        new spec. Raises NotFound(SECURITY_RULE) for a rule not in the group,
        the spec errors of :meth:`authorize`, and Duplicate(SECURITY_RULE) when
        a new spec equals another rule's of the same direction.
        """
        group = owned_group(self._s, principal, group_uuid)
        if not changes:
            raise MissingParameter("rules")
        rows = {r.uuid: r for r in self._s.scalars(select(SecurityRule).where(
            SecurityRule.group_uuid == group.uuid))}
        by_ident = {**rows, **{r.sid: r for r in rows.values()}}
        planned: dict[str, RuleSpec] = {}
        for ident, spec in changes:
            rule = by_ident.get(ident)
            if rule is None:
                raise NotFound(ResourceKind.SECURITY_RULE, ident)
            planned[rule.uuid] = self._normalize(principal, spec, check_source=True)
        seen: set[tuple[object, ...]] = set()
        for r in rows.values():
            key = (r.direction, *(planned[r.uuid] if r.uuid in planned else spec_of(r)).key)
            if key in seen:
                raise Duplicate(ResourceKind.SECURITY_RULE, str(planned.get(r.uuid, spec_of(r))))
            seen.add(key)
        for uuid, spec in planned.items():
            r = rows[uuid]
            r.protocol, r.start_port, r.end_port = spec.protocol, spec.from_port, spec.to_port
            r.cidr, r.source_group_uuid = spec.cidr, spec.source_group_uuid
            r.description = spec.description
        record_event(self._s, principal, "SG.MODIFY",
                     f"Modified {len(planned)} rule(s) in {group.name}",
                     ResourceKind.SECURITY_GROUP, group.uuid, account_uuid=group.account_uuid)
        self._s.flush()
        return [rows[u] for u in planned]

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
            group = owned_group(self._s, principal, group_uuid)
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

    def _normalize(self, principal: Principal, spec: RuleSpec, *,
                   check_source: bool) -> RuleSpec:
        """Validate ``spec``; return it in stored form (lower-case protocol,
        canonical CIDR, ports as stored)."""
        proto = (spec.protocol or "").lower()
        if not is_protocol(proto):
            raise InvalidParameter("protocol", spec.protocol,
                                   f"one of {', '.join(PROTOCOLS)} or a number 0 to 255")
        lo, hi = spec.from_port, spec.to_port
        if proto in ("tcp", "udp"):
            if lo is None or hi is None:
                raise MissingParameter("from_port" if lo is None else "to_port")
            if not (0 <= lo <= 65535 and 0 <= hi <= 65535) or lo > hi:
                raise InvalidParameter("port range", f"{lo}-{hi}",
                                       "ports are 0 to 65535 and from_port <= to_port")
        elif proto in _ICMP:
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
        check_text("description", spec.description)
        return replace(spec, protocol=proto, from_port=lo, to_port=hi, cidr=cidr)

    def _add_rule(self, group: SecurityGroup, way: RuleDirection, spec: RuleSpec) -> SecurityRule:
        rule = SecurityRule(group_uuid=group.uuid, direction=way, protocol=spec.protocol,
                            start_port=spec.from_port, end_port=spec.to_port, cidr=spec.cidr,
                            source_group_uuid=spec.source_group_uuid,
                            description=spec.description)
        self._s.add(rule)
        return rule
