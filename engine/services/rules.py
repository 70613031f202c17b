"""Port forwarding and firewall rules on public addresses and guest networks.

A port forwarding rule maps a public port range of an address the account
holds onto an equally long private port range of one of its instances. An
ingress firewall rule opens a port range on an address; an egress rule lets a
guest network's traffic out. Every rule is owned by the address's (or the
network's) account.

Conflicts follow the management server's detection on one address: two
forwarding rules of one protocol may not overlap; two firewall rules of one
protocol overlap only when their source CIDR sets are equal; forwarding and
firewall rules never conflict with each other. An address with static NAT
takes no forwarding rule (and one with forwarding rules takes no static NAT).
A forwarding rule may not take a load balancer rule's public port, whatever
its protocol (``engine.services.load_balancers`` checks the other direction).

Rules apply at once (state ``Active``); deleting a rule removes its row.
Releasing an address (``engine.allocators.addresses``) removes the address's
rules; expunging an instance removes the rules forwarding to it
(:func:`revoke_instance_rules`); deleting a network removes its rules
(:func:`revoke_network_rules`). Methods never commit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, NotFound, ResourceKind, RuleConflict
from engine.models import (
    Account,
    Domain,
    FirewallRule,
    Instance,
    IpForwardingRule,
    LoadBalancerMember,
    LoadBalancerRule,
    Network,
    Nic,
    PortForwardingRule,
    PublicIp,
)
from engine.principal import Principal
from engine.querying import owner_scope, rows_by_uuid
from engine.services.access import may_act
from engine.services.events import record_event
from engine.states import IpState, VmState

PF_PROTOCOLS = ("tcp", "udp")
FW_PROTOCOLS = ("tcp", "udp", "icmp", "all")
ANY_CIDR = "0.0.0.0/0"
# An instance in one of these states can be the target of a forwarding rule.
FORWARDABLE = frozenset({VmState.STARTING, VmState.RUNNING, VmState.STOPPING, VmState.STOPPED,
                         VmState.MIGRATING})


@dataclass(frozen=True)
class PortForwardingRequest:
    """``public_end``/``private_end`` default to the start ports; an empty
    ``cidrs`` means any source; ``network_uuid``/``guest_ip`` pick the NIC."""

    ip_uuid: str
    instance_uuid: str
    protocol: str
    public_start: int
    private_start: int
    public_end: int | None = None
    private_end: int | None = None
    cidrs: tuple[str, ...] = ()
    network_uuid: str | None = None
    guest_ip: str | None = None
    open_firewall: bool = True
    for_display: bool = True


@dataclass(frozen=True)
class FirewallRequest:
    """Ingress on ``ip_uuid`` or egress from ``network_uuid`` (exactly one).
    Ports only for tcp/udp; icmp type/code only for icmp (None: any, -1)."""

    protocol: str
    ip_uuid: str | None = None
    network_uuid: str | None = None
    start_port: int | None = None
    end_port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    cidrs: tuple[str, ...] = ()
    dest_cidrs: tuple[str, ...] = ()
    for_display: bool = True


@dataclass
class RuleDetail:
    """A rule with what both kinds render: its address (None for egress), the
    target instance (forwarding rules only) and the owner."""

    rule: PortForwardingRule | FirewallRule
    ip: PublicIp | None
    instance: Instance | None
    account: Account
    domain: Domain


# --------------------------------------------------------------------- validation
def _port(name: str, value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 65535:
        raise InvalidParameter(name, value, f"{name} is an invalid value: {value}")
    return value


def _range(start_name: str, start: int, end: int | None) -> tuple[int, int]:
    _port(start_name, start)
    end = start if end is None else end
    _port(start_name.replace("start", "end") if "start" in start_name else start_name, end)
    if end < start:
        raise InvalidParameter(start_name, start, "Start port can't be bigger than end port")
    return start, end


def _cidrs(name: str, cidrs: Iterable[str], default: str) -> str:
    out = []
    for raw in cidrs:
        c = raw.strip()
        if not c:
            continue
        try:
            out.append(str(ipaddress.IPv4Network(c, strict=False)))
        except ValueError:
            raise InvalidParameter(name, c, f"Source cidrs formatting error {c}") from None
    return ",".join(out) if out else default


def _split(csv: str | None) -> frozenset[str]:
    return frozenset(c for c in (csv or "").split(",") if c)


def _overlap(a0: int | None, a1: int | None, b0: int | None, b1: int | None) -> bool:
    if None in (a0, a1, b0, b1):
        return False
    return a0 <= b1 and b0 <= a1  # type: ignore[operator]


class RuleService:
    def __init__(self, session: Session) -> None:
        self._s = session

    # ------------------------------------------------------------ port forwarding
    def create_port_forwarding(self, principal: Principal,
                               req: PortForwardingRequest) -> RuleDetail:
        """A forwarding rule (and, with ``open_firewall``, the ingress firewall
        rule for the same public ports, removed together with it).

        NotFound: the address (not allocated or not the caller's) or instance.
        InvalidParameter: bad protocol/ports/CIDRs, ranges of different sizes,
        static NAT on the address, an instance of another account or without a
        NIC on the address's network. RuleConflict: an overlapping rule.
        """
        protocol = req.protocol.lower()
        if protocol not in PF_PROTOCOLS:
            raise InvalidParameter("protocol", req.protocol,
                                   f"Invalid protocol {req.protocol} for a port forwarding rule")
        pub = _range("publicport", req.public_start, req.public_end)
        priv = _range("privateport", req.private_start, req.private_end)
        if pub[1] - pub[0] != priv[1] - priv[0]:
            raise InvalidParameter("privateendport", priv[1],
                                   "Private port range and public port range must be of "
                                   "the same size")
        cidrs = _cidrs("cidrlist", req.cidrs, ANY_CIDR)
        ip = self._ip(principal, req.ip_uuid)
        if ip.association_sid is not None or ip.instance_uuid is not None:
            raise InvalidParameter("ipaddressid", ip.uuid,
                                   f"Unable to create port forwarding rule; ip id={ip.uuid} "
                                   "has static nat enabled")
        inst = self._instance(principal, req.instance_uuid)
        if inst.account_uuid != ip.account_uuid:
            raise InvalidParameter("virtualmachineid", inst.uuid,
                                   "The instance and the address belong to different accounts")
        nic = self._nic(inst, ip.network_uuid or req.network_uuid, req.guest_ip)
        if ip.network_uuid is None:
            ip.network_uuid = nic.network_uuid  # the address joins the instance's network
        rule = PortForwardingRule(
            account_uuid=ip.account_uuid or principal.account_uuid, public_ip_uuid=ip.uuid,
            network_uuid=nic.network_uuid, instance_uuid=inst.uuid, nic_uuid=nic.uuid,
            private_ip=nic.ip_address, protocol=protocol, public_start=pub[0],
            public_end=pub[1], private_start=priv[0], private_end=priv[1], cidr_list=cidrs,
            state="Add", for_display=req.for_display)
        self._check_conflicts(rule)
        self._s.add(rule)
        self._s.flush()
        if req.open_firewall:
            fw = FirewallRule(account_uuid=rule.account_uuid, public_ip_uuid=ip.uuid,
                              network_uuid=nic.network_uuid, protocol=protocol,
                              start_port=pub[0], end_port=pub[1], cidr_list=cidrs,
                              dest_cidr_list="", traffic="Ingress", related_uuid=rule.uuid,
                              state="Active")
            self._check_conflicts(fw)
            self._s.add(fw)
        rule.state = "Active"
        record_event(self._s, principal, "NET.RULEADD",
                     f"Created port forwarding rule {ip.address}:{pub[0]}-{pub[1]}",
                     ResourceKind.PORT_FORWARDING_RULE, rule.uuid, account_uuid=rule.account_uuid)
        self._s.flush()
        return self.port_forwarding_rules(principal, uuid=rule.uuid)[0]

    def update_port_forwarding(self, principal: Principal, uuid: str, *,
                               private_start: int | None = None, private_end: int | None = None,
                               instance_uuid: str | None = None, guest_ip: str | None = None,
                               for_display: bool | None = None) -> RuleDetail:
        """Change a forwarding rule's private side (ports, target instance or its
        guest IP). The private range must stay as long as the public one."""
        rule = self._pf_rule(principal, uuid)
        if private_start is not None or private_end is not None:
            start = private_start if private_start is not None else rule.private_start
            end = private_end if private_end is not None else (
                start + rule.public_end - rule.public_start)
            start, end = _range("privateport", start, end)
            if end - start != rule.public_end - rule.public_start:
                raise InvalidParameter("privateendport", end,
                                       "Private port range and public port range must be of "
                                       "the same size")
            rule.private_start, rule.private_end = start, end
        if instance_uuid is not None or guest_ip is not None:
            inst = self._instance(principal, instance_uuid or rule.instance_uuid)
            if inst.account_uuid != rule.account_uuid:
                raise InvalidParameter("virtualmachineid", inst.uuid,
                                       "The instance and the rule belong to different accounts")
            nic = self._nic(inst, rule.network_uuid, guest_ip)
            rule.instance_uuid, rule.nic_uuid, rule.private_ip = inst.uuid, nic.uuid, nic.ip_address
        if for_display is not None:
            rule.for_display = for_display
        self._s.flush()
        return self.port_forwarding_rules(principal, uuid=rule.uuid)[0]

    def delete_port_forwarding(self, principal: Principal, uuid: str) -> None:
        """Remove a forwarding rule and the firewall rule it opened (NotFound if
        the caller may not see it)."""
        rule = self._pf_rule(principal, uuid)
        rule.state = "Revoke"
        self._s.execute(delete(FirewallRule).where(FirewallRule.related_uuid == rule.uuid))
        record_event(self._s, principal, "NET.RULEDELETE", "Deleted port forwarding rule",
                     ResourceKind.PORT_FORWARDING_RULE, rule.uuid, account_uuid=rule.account_uuid)
        self._s.delete(rule)
        self._s.flush()

    def port_forwarding_rules(self, principal: Principal, *, uuid: str | None = None,
                              ip_uuid: str | None = None, network_uuid: str | None = None,
                              instance_uuid: str | None = None, account_uuid: str | None = None,
                              list_all: bool = True) -> list[RuleDetail]:
        """Forwarding rules the principal may see, oldest first."""
        stmt = select(PortForwardingRule).where(
            owner_scope(PortForwardingRule.account_uuid, principal, list_all=list_all))
        for column, value in ((PortForwardingRule.uuid, uuid),
                              (PortForwardingRule.public_ip_uuid, ip_uuid),
                              (PortForwardingRule.network_uuid, network_uuid),
                              (PortForwardingRule.instance_uuid, instance_uuid),
                              (PortForwardingRule.account_uuid, account_uuid)):
            if value is not None:
                stmt = stmt.where(column == value)
        rows = list(self._s.scalars(stmt.order_by(PortForwardingRule.created_at,
                                                  PortForwardingRule.uuid)))
        return self._details(rows)

    # ------------------------------------------------------------------ firewall
    def create_firewall(self, principal: Principal, req: FirewallRequest) -> RuleDetail:
        """An ingress rule on an address (``ip_uuid``) or an egress rule of an
        isolated guest network (``network_uuid``).

        InvalidParameter: bad protocol, ports with icmp/all, icmp fields with
        tcp/udp, bad CIDRs, a shared network; NotFound: address or network;
        RuleConflict: an equal-CIDR rule of one protocol with overlapping ports.
        """
        protocol = req.protocol.lower()
        if protocol not in FW_PROTOCOLS:
            raise InvalidParameter("protocol", req.protocol,
                                   f"Invalid protocol {req.protocol}; use one of "
                                   + ", ".join(FW_PROTOCOLS))
        start, end = req.start_port, req.end_port
        icmp_type, icmp_code = req.icmp_type, req.icmp_code
        if protocol in ("tcp", "udp"):
            if icmp_type is not None or icmp_code is not None:
                raise InvalidParameter("icmptype", icmp_type,
                                       "Can specify icmpCode and icmpType for ICMP protocol only")
            if start is not None:
                start, end = _range("startport", start, end)
            elif end is not None:
                raise InvalidParameter("startport", None, "endport needs a startport")
        else:
            if start is not None or end is not None:
                raise InvalidParameter("startport", start,
                                       f"Can't specify start/end port when protocol is "
                                       f"{protocol.upper()}")
            if protocol == "icmp":
                icmp_type = -1 if icmp_type is None else icmp_type
                icmp_code = -1 if icmp_code is None else icmp_code
            elif icmp_type is not None or icmp_code is not None:
                raise InvalidParameter("icmptype", icmp_type,
                                       "Can specify icmpCode and icmpType for ICMP protocol only")
        if (req.ip_uuid is None) == (req.network_uuid is None):
            raise InvalidParameter("ipaddressid", req.ip_uuid,
                                   "Either an address or a network must be given")
        if req.ip_uuid is not None:
            ip = self._ip(principal, req.ip_uuid)
            rule = FirewallRule(account_uuid=ip.account_uuid or principal.account_uuid,
                                public_ip_uuid=ip.uuid, network_uuid=ip.network_uuid,
                                traffic="Ingress", dest_cidr_list="",
                                cidr_list=_cidrs("cidrlist", req.cidrs, ANY_CIDR))
        else:
            network = self._network(principal, req.network_uuid or "")
            rule = FirewallRule(account_uuid=network.account_uuid or principal.account_uuid,
                                network_uuid=network.uuid, traffic="Egress",
                                cidr_list=_cidrs("cidrlist", req.cidrs, network.cidr),
                                dest_cidr_list=_cidrs("destcidrlist", req.dest_cidrs, ""))
        rule.protocol, rule.start_port, rule.end_port = protocol, start, end
        rule.icmp_type, rule.icmp_code = icmp_type, icmp_code
        rule.for_display, rule.state = req.for_display, "Add"
        self._check_conflicts(rule)
        self._s.add(rule)
        rule.state = "Active"
        self._s.flush()
        record_event(self._s, principal,
                     "FIREWALL.EGRESS.OPEN" if rule.traffic == "Egress" else "FIREWALL.OPEN",
                     f"Created {rule.traffic.lower()} firewall rule",
                     ResourceKind.FIREWALL_RULE, rule.uuid, account_uuid=rule.account_uuid)
        return self.firewall_rules(principal, uuid=rule.uuid, egress=rule.traffic == "Egress")[0]

    def delete_firewall(self, principal: Principal, uuid: str, *, egress: bool) -> None:
        """Remove an ingress (``egress=False``) or egress firewall rule; a rule of
        the other direction is NotFound."""
        rule = self._fw_rule(principal, uuid, egress)
        rule.state = "Revoke"
        record_event(self._s, principal,
                     "FIREWALL.EGRESS.CLOSE" if egress else "FIREWALL.CLOSE",
                     "Deleted firewall rule", ResourceKind.FIREWALL_RULE, rule.uuid,
                     account_uuid=rule.account_uuid)
        self._s.delete(rule)
        self._s.flush()

    def firewall_rules(self, principal: Principal, *, egress: bool, uuid: str | None = None,
                       ip_uuid: str | None = None, network_uuid: str | None = None,
                       account_uuid: str | None = None,
                       list_all: bool = True) -> list[RuleDetail]:
        """Ingress or egress firewall rules the principal may see, oldest first."""
        stmt = select(FirewallRule).where(
            FirewallRule.traffic == ("Egress" if egress else "Ingress"),
            owner_scope(FirewallRule.account_uuid, principal, list_all=list_all))
        for column, value in ((FirewallRule.uuid, uuid),
                              (FirewallRule.public_ip_uuid, ip_uuid),
                              (FirewallRule.network_uuid, network_uuid),
                              (FirewallRule.account_uuid, account_uuid)):
            if value is not None:
                stmt = stmt.where(column == value)
        rows = list(self._s.scalars(stmt.order_by(FirewallRule.created_at, FirewallRule.uuid)))
        return self._details(rows)

    # ------------------------------------------------------------------- helpers
    def _check_conflicts(self, new: PortForwardingRule | FirewallRule) -> None:
        """RuleConflict (or InvalidParameter for duplicate icmp rules) when
        ``new`` clashes with a live rule on the same address/egress network."""
        ip_uuid = new.public_ip_uuid
        others: list[PortForwardingRule | FirewallRule] = []
        if ip_uuid is not None:
            others.extend(self._s.scalars(select(PortForwardingRule).where(
                PortForwardingRule.public_ip_uuid == ip_uuid,
                PortForwardingRule.state != "Revoke")))
            others.extend(self._s.scalars(select(FirewallRule).where(
                FirewallRule.public_ip_uuid == ip_uuid, FirewallRule.state != "Revoke")))
        else:
            others.extend(self._s.scalars(select(FirewallRule).where(
                FirewallRule.network_uuid == new.network_uuid, FirewallRule.traffic == "Egress",
                FirewallRule.state != "Revoke")))
        new_fw = isinstance(new, FirewallRule)
        n0, n1 = _ports(new)
        if not new_fw and ip_uuid is not None:
            # A balancer's public port is taken for forwarding rules of any protocol.
            for lb in self._s.scalars(select(LoadBalancerRule).where(
                    LoadBalancerRule.public_ip_uuid == ip_uuid)):
                if _overlap(n0, n1, lb.public_port, lb.public_port):
                    raise RuleConflict(f"The range specified, {n0}-{n1}, conflicts with rule "
                                       f"{lb.uuid} which has {lb.public_port}-{lb.public_port}")
        for old in others:
            if old is new or old.uuid == new.uuid:
                continue
            old_fw = isinstance(old, FirewallRule)
            if new_fw != old_fw or old.protocol != new.protocol:
                continue  # forwarding and firewall rules, or two protocols, never clash
            if new_fw:
                assert isinstance(old, FirewallRule) and isinstance(new, FirewallRule)
                same_cidrs = (_split(old.cidr_list) == _split(new.cidr_list)
                              and _split(old.dest_cidr_list) == _split(new.dest_cidr_list))
                if not same_cidrs:
                    continue
                if new.protocol == "icmp" and (old.icmp_type, old.icmp_code) == (
                        new.icmp_type, new.icmp_code):
                    raise InvalidParameter("icmptype", new.icmp_type,
                                           f"New rule conflicts with existing rule id={old.uuid}")
                if new.protocol == "all":
                    raise RuleConflict(f"There is already a firewall rule specified for all "
                                       f"protocols with the same cidrs, rule {old.uuid}")
            o0, o1 = _ports(old)
            if _overlap(n0, n1, o0, o1):
                raise RuleConflict(f"The range specified, {n0}-{n1}, conflicts with rule "
                                   f"{old.uuid} which has {o0}-{o1}")

    def _ip(self, principal: Principal, uuid: str) -> PublicIp:
        return owned_address(self._s, principal, uuid)

    def _instance(self, principal: Principal, uuid: str) -> Instance:
        inst = self._s.scalar(select(Instance).where(
            or_(Instance.uuid == uuid, Instance.sid == uuid)))
        if inst is None or inst.state in (VmState.EXPUNGED, VmState.EXPUNGING) or not may_act(
                self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, uuid)
        if inst.state not in FORWARDABLE:
            raise InvalidParameter("virtualmachineid", uuid,
                                   f"Invalid user vm: {inst.name} is in state {inst.state.value}")
        return inst

    def _nic(self, inst: Instance, network_uuid: str | None, guest_ip: str | None) -> Nic:
        nics = list(self._s.scalars(select(Nic).where(Nic.instance_uuid == inst.uuid)
                                    .order_by(Nic.is_default.desc(), Nic.device_id)))
        if network_uuid is not None:
            nics = [n for n in nics if n.network_uuid == network_uuid]
            if not nics:
                raise InvalidParameter("virtualmachineid", inst.uuid,
                                       f"Unable to find a NIC of vm {inst.name} on the "
                                       "address's network")
        if not nics:
            raise InvalidParameter("virtualmachineid", inst.uuid,
                                   f"Vm {inst.name} has no network interface")
        if guest_ip:
            found = [n for n in nics if n.ip_address == guest_ip]
            if not found:
                raise InvalidParameter("vmguestip", guest_ip,
                                       f"The vm guest ip {guest_ip} is not an address of the vm")
            return found[0]
        return nics[0]

    def _network(self, principal: Principal, uuid: str) -> Network:
        network = self._s.scalar(select(Network).where(
            or_(Network.uuid == uuid, Network.sid == uuid), Network.removed_at.is_(None)))
        if network is None or (network.account_uuid is not None and not may_act(
                self._s, principal, network.account_uuid)):
            raise NotFound(ResourceKind.NETWORK, uuid)
        if network.account_uuid is None or network.network_type == "Shared":
            raise InvalidParameter("networkid", uuid,
                                   "Egress firewall rules are not supported for Shared networks")
        return network

    def _pf_rule(self, principal: Principal, uuid: str) -> PortForwardingRule:
        rule = self._s.scalar(select(PortForwardingRule).where(
            or_(PortForwardingRule.uuid == uuid, PortForwardingRule.sid == uuid))
            .with_for_update())
        if rule is None or not may_act(self._s, principal, rule.account_uuid):
            raise NotFound(ResourceKind.PORT_FORWARDING_RULE, uuid)
        return rule

    def _fw_rule(self, principal: Principal, uuid: str, egress: bool) -> FirewallRule:
        rule = self._s.scalar(select(FirewallRule).where(
            or_(FirewallRule.uuid == uuid, FirewallRule.sid == uuid),
            FirewallRule.traffic == ("Egress" if egress else "Ingress")).with_for_update())
        if rule is None or not may_act(self._s, principal, rule.account_uuid):
            raise NotFound(ResourceKind.FIREWALL_RULE, uuid)
        return rule

    def _details(self, rows: Sequence[PortForwardingRule | FirewallRule]) -> list[RuleDetail]:
        if not rows:
            return []
        ips = rows_by_uuid(self._s, PublicIp, {r.public_ip_uuid for r in rows
                                               if r.public_ip_uuid})
        insts = rows_by_uuid(self._s, Instance, {r.instance_uuid for r in rows
                                                 if isinstance(r, PortForwardingRule)})
        accounts = rows_by_uuid(self._s, Account, {r.account_uuid for r in rows})
        domains = rows_by_uuid(self._s, Domain, {a.domain_uuid for a in accounts.values()})
        out = []
        for r in rows:
            account = accounts[r.account_uuid]
            out.append(RuleDetail(
                rule=r, ip=ips.get(r.public_ip_uuid) if r.public_ip_uuid else None,
                instance=insts.get(r.instance_uuid) if isinstance(r, PortForwardingRule)
                else None, account=account, domain=domains[account.domain_uuid]))
        return out


def _ports(rule: PortForwardingRule | FirewallRule) -> tuple[int | None, int | None]:
    if isinstance(rule, PortForwardingRule):
        return rule.public_start, rule.public_end
    return rule.start_port, rule.end_port


# ------------------------------------------------------------------ cleanup hooks
def has_port_forwarding(session: Session, ip_uuid: str) -> bool:
    """Whether any forwarding rule uses the address (static NAT is refused then)."""
    return session.scalar(select(PortForwardingRule.uuid).where(
        PortForwardingRule.public_ip_uuid == ip_uuid).limit(1)) is not None


def has_load_balancers(session: Session, ip_uuid: str) -> bool:
    """Whether any load balancer rule uses the address (static NAT is refused then)."""
    return session.scalar(select(LoadBalancerRule.uuid).where(
        LoadBalancerRule.public_ip_uuid == ip_uuid).limit(1)) is not None


def revoke_ip_rules(session: Session, ip_uuid: str) -> None:
    """Remove every rule on the address (it is being released)."""
    session.execute(delete(FirewallRule).where(FirewallRule.public_ip_uuid == ip_uuid))
    session.execute(delete(PortForwardingRule).where(PortForwardingRule.public_ip_uuid == ip_uuid))
    _revoke_balancers(session, LoadBalancerRule.public_ip_uuid == ip_uuid)
    session.execute(delete(IpForwardingRule).where(IpForwardingRule.public_ip_uuid == ip_uuid))


def revoke_nat_rules(session: Session, ip_uuid: str) -> None:
    """Remove the IP forwarding rules of the address and the firewall rules they
    opened (its static NAT ends)."""
    nat = select(IpForwardingRule.uuid).where(IpForwardingRule.public_ip_uuid == ip_uuid)
    session.execute(delete(FirewallRule).where(FirewallRule.related_uuid.in_(nat)))
    session.execute(delete(IpForwardingRule).where(IpForwardingRule.public_ip_uuid == ip_uuid))


def _revoke_balancers(session: Session, where: ColumnElement[bool]) -> None:
    """Remove the balancer rules matching ``where``, their members and firewall rules."""
    rules = list(session.scalars(select(LoadBalancerRule.uuid).where(where)))
    if rules:
        session.execute(delete(LoadBalancerMember).where(LoadBalancerMember.rule_uuid.in_(rules)))
        session.execute(delete(FirewallRule).where(FirewallRule.related_uuid.in_(rules)))
        session.execute(delete(LoadBalancerRule).where(LoadBalancerRule.uuid.in_(rules)))


def revoke_instance_rules(session: Session, instance_uuid: str) -> None:
    """Remove the forwarding rules to the instance and the firewall rules they opened
    (the instance is being expunged)."""
    pf = select(PortForwardingRule.uuid).where(PortForwardingRule.instance_uuid == instance_uuid)
    session.execute(delete(FirewallRule).where(FirewallRule.related_uuid.in_(pf)))
    session.execute(delete(PortForwardingRule).where(
        PortForwardingRule.instance_uuid == instance_uuid))
    session.execute(delete(LoadBalancerMember).where(
        LoadBalancerMember.instance_uuid == instance_uuid))
    for ip_uuid in list(session.scalars(select(PublicIp.uuid).where(
            PublicIp.instance_uuid == instance_uuid))):
        revoke_nat_rules(session, ip_uuid)


def revoke_network_rules(session: Session, network_uuid: str) -> None:
    """Remove every rule of the network (it is being deleted)."""
    session.execute(delete(FirewallRule).where(FirewallRule.network_uuid == network_uuid))
    session.execute(delete(PortForwardingRule).where(
        PortForwardingRule.network_uuid == network_uuid))
    _revoke_balancers(session, LoadBalancerRule.network_uuid == network_uuid)
    session.execute(delete(IpForwardingRule).where(IpForwardingRule.network_uuid == network_uuid))


def owned_address(session: Session, principal: Principal, ident: str) -> PublicIp:
    """The allocated address row (by uuid or sid), locked for update, if the
    principal may act on it; NotFound(PUBLIC_IP, ident) otherwise."""
    ip = session.scalar(select(PublicIp).where(
        or_(PublicIp.uuid == ident, PublicIp.sid == ident),
        PublicIp.state == IpState.ALLOCATED).with_for_update())
    if ip is None or not may_act(session, principal, ip.account_uuid):
        raise NotFound(ResourceKind.PUBLIC_IP, ident)
    return ip
