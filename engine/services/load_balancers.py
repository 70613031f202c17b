"""Load balancer rules on public addresses and the instances behind them.

A rule balances one public port of an address the account holds over the
same private port of its members, with an algorithm (roundrobin, leastconn,
source). Its network is the address's; an address not on a network yet joins
the one named in the request (or the account's only isolated network in the
address's zone). Members are (instance, guest IP) pairs: the instance must be
the rule owner's, not destroyed, with a NIC on the rule's network; the guest IP
is the NIC's address or one of its secondary addresses.

Conflicts follow the management server's check on one address: a balancer
and any port forwarding or balancer rule of the address may not share a public
port (whatever their protocols); an address with static NAT takes no balancer
(RuleConflict) and one with balancers takes no static NAT. All rules of one
address are on one network (RuleConflict otherwise).

With ``open_firewall`` an ingress firewall rule for the public port (tcp, any
source) is created with the rule and removed with it. Deleting a rule removes
its members; releasing the address, deleting the network or expunging a member
removes what depends on it (hooks in ``engine.services.rules`` and the address
allocator). Methods never commit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, NotFound, ResourceKind, RuleConflict
from engine.models import (
    Account,
    Domain,
    FirewallRule,
    Instance,
    LoadBalancerMember,
    LoadBalancerRule,
    Network,
    Nic,
    NicSecondaryIp,
    PortForwardingRule,
    PublicIp,
    Tag,
    Zone,
)
from engine.principal import Principal
from engine.querying import owner_scope, rows_by_uuid
from engine.services.access import may_act
from engine.services.events import record_event
from engine.services.instance_details import InstanceDetail, InstanceReader
from engine.services.rules import ANY_CIDR, RuleService, owned_address
from engine.services.settings import Settings
from engine.states import VmState

ALGORITHMS = ("roundrobin", "leastconn", "source")
PROTOCOLS = ("tcp", "udp", "tcp-proxy")
GONE = frozenset({VmState.DESTROYED, VmState.EXPUNGING, VmState.EXPUNGED})
# Members in these states are not listed (the balancer skips them).
UNLISTED = GONE | {VmState.ERROR}


@dataclass(frozen=True)
class LoadBalancerRequest:
    """What a new rule needs. ``network_uuid`` only matters for an address not
    on a network yet; an empty ``cidrs`` means any source."""

    name: str
    algorithm: str
    public_port: int
    private_port: int
    ip_uuid: str | None = None
    network_uuid: str | None = None
    protocol: str | None = None
    cidrs: tuple[str, ...] = ()
    open_firewall: bool = True
    description: str = ""
    for_display: bool = True


@dataclass(frozen=True)
class LoadBalancerQuery:
    """Filters of :meth:`LoadBalancerService.rules` (None: no filter);
    ``keyword`` and ``name`` match part of the name, case-insensitively."""

    uuid: str | None = None
    name: str | None = None
    keyword: str | None = None
    ip_uuid: str | None = None
    instance_uuid: str | None = None
    zone_uuid: str | None = None
    network_uuid: str | None = None
    account_uuid: str | None = None
    for_display: bool | None = None
    tags: tuple[tuple[str, str], ...] = ()
    list_all: bool = True


@dataclass
class LoadBalancerDetail:
    """A rule with what front ends render: its address, zone and owner."""

    rule: LoadBalancerRule
    ip: PublicIp
    zone: Zone
    account: Account
    domain: Domain


Target = tuple[str, str | None]  # (instance uuid, guest IP or None for the NIC's address)


def _port(name: str, value: int) -> int:
    if not 1 <= value <= 65535:
        raise InvalidParameter(name, value, f"{name} is an invalid value: {value}")
    return value


def _cidrs(raw: Sequence[str]) -> str:
    out = []
    for item in raw:
        c = item.strip()
        if not c:
            continue
        try:
            out.append(str(ipaddress.ip_network(c, strict=False)))
        except ValueError:
            raise InvalidParameter("cidrlist", c, f"CIDR [{c}] is invalid.") from None
    return ",".join(out)


class LoadBalancerService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self._s = session
        self._settings = settings

    # ------------------------------------------------------------------- rules
    def create(self, principal: Principal, req: LoadBalancerRequest) -> LoadBalancerDetail:
        """A balancer rule on an address the principal may act on.

        NotFound: the address or network. InvalidParameter: no address, bad
        ports/algorithm/protocol/CIDRs, an address on no network. RuleConflict:
        static NAT on the address, a port shared with another rule, a rule of
        the address on another network, or a clashing firewall rule.
        """
        if req.ip_uuid is None:
            raise InvalidParameter("publicipid", None, "Unable to create load balance rule; "
                                   "can't find/allocate source IP")
        public = _port("publicPort", req.public_port)
        private = _port("privatePort", req.private_port)
        algorithm = (req.algorithm or "").lower()
        if algorithm not in ALGORITHMS:
            raise InvalidParameter("algorithm", req.algorithm, f"Invalid algorithm: {req.algorithm}")
        protocol = (req.protocol or "tcp").lower()
        if protocol not in PROTOCOLS:
            raise InvalidParameter("protocol", req.protocol,
                                   f"Unsupported protocol {req.protocol}; use one of "
                                   + ", ".join(PROTOCOLS))
        cidrs = _cidrs(req.cidrs)
        ip = owned_address(self._s, principal, req.ip_uuid)
        if ip.association_sid is not None or ip.instance_uuid is not None:
            raise RuleConflict(f"Can't do load balance on ip address: {ip.address}")
        network = self._network_for(principal, ip, req.network_uuid)
        rule = LoadBalancerRule(
            account_uuid=ip.account_uuid or principal.account_uuid, public_ip_uuid=ip.uuid,
            network_uuid=network.uuid, name=req.name, description=req.description or "",
            algorithm=algorithm, protocol=protocol, public_port=public, private_port=private,
            cidr_list=cidrs, state="Add", for_display=req.for_display)
        self._check_conflicts(rule)
        ip.network_uuid = network.uuid
        self._s.add(rule)
        self._s.flush()
        if req.open_firewall:
            fw = FirewallRule(account_uuid=rule.account_uuid, public_ip_uuid=ip.uuid,
                              network_uuid=network.uuid, protocol="tcp", start_port=public,
                              end_port=public, cidr_list=ANY_CIDR, dest_cidr_list="",
                              traffic="Ingress", related_uuid=rule.uuid, state="Active")
            RuleService(self._s)._check_conflicts(fw)  # same checks as any firewall rule
            self._s.add(fw)
        rule.state = "Active"
        record_event(self._s, principal, "LB.CREATE",
                     f"Created load balancer rule {req.name} on {ip.address}:{public}",
                     ResourceKind.LOAD_BALANCER_RULE, rule.uuid, account_uuid=rule.account_uuid)
        self._s.flush()
        return self.rules(principal, LoadBalancerQuery(uuid=rule.uuid))[0]

    def delete(self, principal: Principal, uuid: str) -> None:
        """Remove the rule, its members and the firewall rule it opened."""
        rule = self._rule(principal, uuid)
        rule.state = "Revoke"
        record_event(self._s, principal, "LB.DELETE", f"Deleted load balancer rule {rule.name}",
                     ResourceKind.LOAD_BALANCER_RULE, rule.uuid, account_uuid=rule.account_uuid)
        self._s.execute(delete(LoadBalancerMember).where(LoadBalancerMember.rule_uuid == rule.uuid))
        self._s.execute(delete(FirewallRule).where(FirewallRule.related_uuid == rule.uuid))
        self._s.delete(rule)
        self._s.flush()

    def rules(self, principal: Principal, query: LoadBalancerQuery) -> list[LoadBalancerDetail]:
        """Rules the principal may see matching ``query``, oldest first."""
        R = LoadBalancerRule
        stmt = select(R).where(owner_scope(R.account_uuid, principal, list_all=query.list_all))
        for column, value in ((R.uuid, query.uuid), (R.public_ip_uuid, query.ip_uuid),
                              (R.network_uuid, query.network_uuid),
                              (R.account_uuid, query.account_uuid),
                              (R.for_display, query.for_display)):
            if value is not None:
                stmt = stmt.where(column == value)
        for text in (query.name, query.keyword):
            if text:
                stmt = stmt.where(func.lower(R.name).contains(text.lower(), autoescape=True))
        if query.instance_uuid is not None:
            stmt = stmt.where(R.uuid.in_(select(LoadBalancerMember.rule_uuid).where(
                LoadBalancerMember.instance_uuid == query.instance_uuid)))
        if query.zone_uuid is not None:
            stmt = stmt.where(R.public_ip_uuid.in_(select(PublicIp.uuid).where(
                PublicIp.zone_uuid == query.zone_uuid)))
        for key, value in query.tags:
            stmt = stmt.where(R.uuid.in_(select(Tag.resource_uuid).where(
                Tag.key == key, Tag.value == value)))
        return self._details(list(self._s.scalars(stmt.order_by(R.created_at, R.uuid))))

    # ----------------------------------------------------------------- members
    def assign(self, principal: Principal, uuid: str, instance_uuids: Sequence[str] = (),
               targets: Sequence[Target] = ()) -> LoadBalancerRule:
        """Add members: each of ``instance_uuids`` by its NIC's address, each
        ``targets`` pair by the given guest IP.

        InvalidParameter: nothing given, a destroyed instance, another account's
        instance, no NIC on the rule's network, a guest IP not of that NIC, a
        pair already a member. NotFound: the rule or an instance.
        """
        rule = self._rule(principal, uuid)
        pairs = self._pairs(principal, rule, instance_uuids, targets)
        existing = {(i, a) for i, a in self._s.execute(select(
            LoadBalancerMember.instance_uuid, LoadBalancerMember.instance_ip).where(
            LoadBalancerMember.rule_uuid == rule.uuid))}
        for inst_uuid, guest_ip in pairs:
            if (inst_uuid, guest_ip) in existing:
                raise InvalidParameter("virtualmachineids", inst_uuid,
                                       f"VM {inst_uuid} with {guest_ip} is already mapped to "
                                       "load balancer.")
        for inst_uuid, guest_ip in pairs:
            self._s.add(LoadBalancerMember(rule_uuid=rule.uuid, instance_uuid=inst_uuid,
                                           instance_ip=guest_ip))
        record_event(self._s, principal, "LB.ASSIGN.TO.RULE",
                     f"Assigned {len(pairs)} member(s) to load balancer rule {rule.name}",
                     ResourceKind.LOAD_BALANCER_RULE, rule.uuid, account_uuid=rule.account_uuid)
        self._s.flush()
        return rule

    def remove(self, principal: Principal, uuid: str, instance_uuids: Sequence[str] = (),
               targets: Sequence[Target] = ()) -> LoadBalancerRule:
        """Remove members: every pair of each of ``instance_uuids`` (none is
        fine) and each named ``targets`` pair (InvalidParameter if not a member)."""
        rule = self._rule(principal, uuid)
        if not instance_uuids and not targets:
            raise InvalidParameter("virtualmachineids", None,
                                   "Both instanceids and vmidipmap can't be null")
        M = LoadBalancerMember
        for inst_uuid, guest_ip in targets:
            if guest_ip is None:
                continue
            found = self._s.scalar(select(M).where(M.rule_uuid == rule.uuid,
                                                   M.instance_uuid == inst_uuid,
                                                   M.instance_ip == guest_ip))
            if found is None:
                raise InvalidParameter("vmidipmap", inst_uuid,
                                       f"The instance id: {inst_uuid} is not configured for "
                                       f"LB rule {rule.uuid}")
            self._s.delete(found)
        whole = set(instance_uuids) | {i for i, ip in targets if ip is None}
        if whole:
            self._s.execute(delete(M).where(M.rule_uuid == rule.uuid,
                                            M.instance_uuid.in_(whole)))
        record_event(self._s, principal, "LB.REMOVE.FROM.RULE",
                     f"Removed members from load balancer rule {rule.name}",
                     ResourceKind.LOAD_BALANCER_RULE, rule.uuid, account_uuid=rule.account_uuid)
        self._s.flush()
        return rule

    def members(self, principal: Principal, uuid: str, *,
                applied: bool = True) -> list[InstanceDetail]:
        """The rule's member instances (``applied``), or the owner's instances on
        the rule's network that are not members yet; destroyed and failed ones
        are left out. Oldest first."""
        rule = self._rule(principal, uuid, lock=False)
        mapped = select(LoadBalancerMember.instance_uuid).where(
            LoadBalancerMember.rule_uuid == rule.uuid)
        stmt = select(Instance).where(Instance.state.not_in(UNLISTED))
        if applied:
            stmt = stmt.where(Instance.uuid.in_(mapped))
        else:
            stmt = stmt.where(Instance.account_uuid == rule.account_uuid,
                              Instance.uuid.not_in(mapped),
                              Instance.uuid.in_(select(Nic.instance_uuid).where(
                                  Nic.network_uuid == rule.network_uuid)))
        rows = list(self._s.scalars(stmt.order_by(Instance.created_at, Instance.uuid)))
        return InstanceReader(self._s, self._settings).details(rows)

    def member_ips(self, rule_uuid: str, instance_uuid: str) -> list[str]:
        """The guest IPs of one member (for callers that already saw the rule)."""
        return list(self._s.scalars(select(LoadBalancerMember.instance_ip).where(
            LoadBalancerMember.rule_uuid == rule_uuid,
            LoadBalancerMember.instance_uuid == instance_uuid)
            .order_by(LoadBalancerMember.created_at)))

    # ----------------------------------------------------------------- helpers
    def _pairs(self, principal: Principal, rule: LoadBalancerRule,
               instance_uuids: Sequence[str], targets: Sequence[Target]) -> list[tuple[str, str]]:
        """Validated (instance uuid, guest IP) pairs to add, without duplicates."""
        if not instance_uuids and not targets:
            raise InvalidParameter("virtualmachineids", None,
                                   "Both instanceids and vmidipmap can't be null")
        wanted: list[tuple[str, str | None]] = [(u, None) for u in instance_uuids]
        wanted.extend(targets)
        out: list[tuple[str, str]] = []
        for ident, guest_ip in wanted:
            inst = self._instance(principal, rule, ident)
            nic = self._s.scalar(select(Nic).where(Nic.instance_uuid == inst.uuid,
                                                   Nic.network_uuid == rule.network_uuid))
            if nic is None:
                raise InvalidParameter("virtualmachineids", inst.uuid,
                                       "VM with id specified cannot be added because it "
                                       "doesn't belong in the same network.")
            address = guest_ip or nic.ip_address
            if address != nic.ip_address and self._s.scalar(select(NicSecondaryIp.uuid).where(
                    NicSecondaryIp.nic_uuid == nic.uuid,
                    NicSecondaryIp.ip_address == address)) is None:
                raise InvalidParameter("vmidipmap", address,
                                       f"VM ip {address} specified does not belong to nic in "
                                       f"network {rule.network_uuid}")
            if (inst.uuid, address) not in out:
                out.append((inst.uuid, address))
        return out

    def _instance(self, principal: Principal, rule: LoadBalancerRule, ident: str) -> Instance:
        inst = self._s.scalar(select(Instance).where(
            or_(Instance.uuid == ident, Instance.sid == ident)))
        if inst is None or inst.state == VmState.EXPUNGED or not may_act(
                self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, ident)
        if inst.state in GONE:
            raise InvalidParameter("virtualmachineids", ident, "Invalid instance id specified")
        if inst.account_uuid != rule.account_uuid:
            raise InvalidParameter("virtualmachineids", ident,
                                   f"New rule {rule.uuid} and vm id={inst.uuid} belong to "
                                   "different accounts")
        return inst

    def _network_for(self, principal: Principal, ip: PublicIp,
                     requested: str | None) -> Network:
        """The address's network; else the requested one; else the owner's only
        isolated network in the address's zone."""
        uuid = ip.network_uuid or requested
        if uuid is None:
            owned = list(self._s.scalars(select(Network).where(
                Network.account_uuid == ip.account_uuid, Network.zone_uuid == ip.zone_uuid,
                Network.removed_at.is_(None)).limit(2)))
            if len(owned) != 1:
                raise InvalidParameter("networkid", None,
                                       f"IP address ID={ip.uuid} is not associated with any "
                                       "network")
            return owned[0]
        network = self._s.scalar(select(Network).where(
            or_(Network.uuid == uuid, Network.sid == uuid), Network.removed_at.is_(None)))
        if network is None or (network.account_uuid is not None and not may_act(
                self._s, principal, network.account_uuid)):
            raise NotFound(ResourceKind.NETWORK, uuid)
        if network.account_uuid not in (None, ip.account_uuid):
            raise InvalidParameter("networkid", uuid,
                                   "The network and the address belong to different accounts")
        return network

    def _check_conflicts(self, new: LoadBalancerRule) -> None:
        """RuleConflict if a forwarding or balancer rule of the address shares
        the public port or is on another network."""
        others: list[PortForwardingRule | LoadBalancerRule] = []
        others.extend(self._s.scalars(select(PortForwardingRule).where(
            PortForwardingRule.public_ip_uuid == new.public_ip_uuid)))
        others.extend(self._s.scalars(select(LoadBalancerRule).where(
            LoadBalancerRule.public_ip_uuid == new.public_ip_uuid,
            LoadBalancerRule.state != "Revoke")))
        for old in others:
            if old is new:
                continue
            if old.network_uuid != new.network_uuid:
                raise RuleConflict(f"New rule is for a different network than what's specified "
                                   f"in rule {old.uuid}")
            start, end = ((old.public_start, old.public_end)
                          if isinstance(old, PortForwardingRule)
                          else (old.public_port, old.public_port))
            if start <= new.public_port <= end:
                raise RuleConflict(f"The range specified, {new.public_port}-{new.public_port}, "
                                   f"conflicts with rule {old.uuid} which has {start}-{end}")

    def _rule(self, principal: Principal, uuid: str, *, lock: bool = True) -> LoadBalancerRule:
        stmt = select(LoadBalancerRule).where(
            or_(LoadBalancerRule.uuid == uuid, LoadBalancerRule.sid == uuid))
        rule = self._s.scalar(stmt.with_for_update() if lock else stmt)
        if rule is None or not may_act(self._s, principal, rule.account_uuid):
            raise NotFound(ResourceKind.LOAD_BALANCER_RULE, uuid)
        return rule

    def _details(self, rows: Sequence[LoadBalancerRule]) -> list[LoadBalancerDetail]:
        if not rows:
            return []
        ips = rows_by_uuid(self._s, PublicIp, {r.public_ip_uuid for r in rows})
        zones = rows_by_uuid(self._s, Zone, {ip.zone_uuid for ip in ips.values()})
        accounts = rows_by_uuid(self._s, Account, {r.account_uuid for r in rows})
        domains = rows_by_uuid(self._s, Domain, {a.domain_uuid for a in accounts.values()})
        out = []
        for r in rows:
            ip, account = ips[r.public_ip_uuid], accounts[r.account_uuid]
            out.append(LoadBalancerDetail(rule=r, ip=ip, zone=zones[ip.zone_uuid],
                                          account=account, domain=domains[account.domain_uuid]))
        return out
