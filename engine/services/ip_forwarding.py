"""IP forwarding (one-to-one NAT) rules on addresses with static NAT.

A rule lets a port range (tcp or udp) of an address through, unchanged, to
the instance the address is associated with; the address must have static NAT
(else RuleConflict). Two rules of one protocol on one address may not overlap
(RuleConflict); rules of different protocols may. With ``open_firewall`` the
ingress firewall rule for the same ports (any source) is created with the rule
and removed with it. Ending the static NAT, releasing the address, deleting
its network or expunging the instance removes the rules (hooks in
``engine.services.rules``). Methods never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, NotFound, ResourceKind, RuleConflict
from engine.models import (
    Account,
    Domain,
    FirewallRule,
    Instance,
    IpForwardingRule,
    Nic,
    PublicIp,
)
from engine.principal import Principal
from engine.querying import owner_scope, rows_by_uuid
from engine.services.access import may_act
from engine.services.events import record_event
from engine.services.rules import ANY_CIDR, PF_PROTOCOLS, RuleService, owned_address


@dataclass(frozen=True)
class IpForwardingRequest:
    """``end_port`` defaults to ``start_port``."""

    ip_uuid: str
    protocol: str
    start_port: int
    end_port: int | None = None
    open_firewall: bool = True


@dataclass
class IpForwardingDetail:
    """A rule with its address, the address's instance and NIC (the guest IP),
    and the owner."""

    rule: IpForwardingRule
    ip: PublicIp
    instance: Instance | None
    nic: Nic | None
    account: Account
    domain: Domain


def _port(name: str, value: int) -> int:
    if not 1 <= value <= 65535:
        raise InvalidParameter(name, value, f"{name} is an invalid value: {value}")
    return value


class IpForwardingService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def create(self, principal: Principal, req: IpForwardingRequest) -> IpForwardingDetail:
        """A rule on an address with static NAT.

        NotFound: the address. InvalidParameter: a protocol other than tcp/udp,
        bad ports. RuleConflict: no static NAT on the address, an overlapping
        rule of the same protocol, or a clashing firewall rule.
        """
        protocol = req.protocol.lower()
        if protocol not in PF_PROTOCOLS:
            raise InvalidParameter("protocol", req.protocol,
                                   f"Protocol {req.protocol} is currently supported only for "
                                   "rules with purpose Firewall")
        start = _port("startport", req.start_port)
        end = _port("endport", req.start_port if req.end_port is None else req.end_port)
        if end < start:
            raise InvalidParameter("startport", start, "Start port can't be bigger than end port")
        ip = owned_address(self._s, principal, req.ip_uuid)
        if ip.association_sid is None or ip.instance_uuid is None or ip.is_source_nat:
            raise RuleConflict(f"Can't do static nat on ip address: {ip.address}")
        for old in self._s.scalars(select(IpForwardingRule).where(
                IpForwardingRule.public_ip_uuid == ip.uuid,
                IpForwardingRule.protocol == protocol)):
            if start <= old.end_port and old.start_port <= end:
                raise RuleConflict(f"The range specified, {start}-{end}, conflicts with rule "
                                   f"{old.uuid} which has {old.start_port}-{old.end_port}")
        rule = IpForwardingRule(account_uuid=ip.account_uuid or principal.account_uuid,
                                public_ip_uuid=ip.uuid, network_uuid=ip.network_uuid,
                                protocol=protocol, start_port=start, end_port=end, state="Add")
        self._s.add(rule)
        self._s.flush()
        if req.open_firewall:
            fw = FirewallRule(account_uuid=rule.account_uuid, public_ip_uuid=ip.uuid,
                              network_uuid=ip.network_uuid, protocol=protocol, start_port=start,
                              end_port=end, cidr_list=ANY_CIDR, dest_cidr_list="",
                              traffic="Ingress", related_uuid=rule.uuid, state="Active")
            RuleService(self._s)._check_conflicts(fw)  # same checks as any firewall rule
            self._s.add(fw)
        rule.state = "Active"
        record_event(self._s, principal, "NET.RULEADD",
                     f"Created IP forwarding rule {ip.address}:{start}-{end}",
                     ResourceKind.IP_FORWARDING_RULE, rule.uuid, account_uuid=rule.account_uuid)
        self._s.flush()
        return self.rules(principal, uuid=rule.uuid)[0]

    def delete(self, principal: Principal, uuid: str) -> None:
        """Remove the rule and the firewall rule it opened."""
        rule = self._s.scalar(select(IpForwardingRule).where(
            or_(IpForwardingRule.uuid == uuid, IpForwardingRule.sid == uuid)).with_for_update())
        if rule is None or not may_act(self._s, principal, rule.account_uuid):
            raise NotFound(ResourceKind.IP_FORWARDING_RULE, uuid)
        rule.state = "Revoke"
        record_event(self._s, principal, "NET.RULEDELETE", "Deleted IP forwarding rule",
                     ResourceKind.IP_FORWARDING_RULE, rule.uuid, account_uuid=rule.account_uuid)
        self._s.execute(delete(FirewallRule).where(FirewallRule.related_uuid == rule.uuid))
        self._s.delete(rule)
        self._s.flush()

    def rules(self, principal: Principal, *, uuid: str | None = None,
              ip_uuid: str | None = None, instance_uuid: str | None = None,
              account_uuid: str | None = None, list_all: bool = True) -> list[IpForwardingDetail]:
        """Rules the principal may see, oldest first (``instance_uuid``: rules of
        the addresses associated with that instance)."""
        R = IpForwardingRule
        stmt = select(R).where(owner_scope(R.account_uuid, principal, list_all=list_all))
        for column, value in ((R.uuid, uuid), (R.public_ip_uuid, ip_uuid),
                              (R.account_uuid, account_uuid)):
            if value is not None:
                stmt = stmt.where(column == value)
        if instance_uuid is not None:
            stmt = stmt.where(R.public_ip_uuid.in_(select(PublicIp.uuid).where(
                PublicIp.instance_uuid == instance_uuid)))
        return self._details(list(self._s.scalars(stmt.order_by(R.created_at, R.uuid))))

    def _details(self, rows: Sequence[IpForwardingRule]) -> list[IpForwardingDetail]:
        if not rows:
            return []
        ips = rows_by_uuid(self._s, PublicIp, {r.public_ip_uuid for r in rows})
        insts = rows_by_uuid(self._s, Instance, {ip.instance_uuid for ip in ips.values()})
        nics = {n.instance_uuid: n for n in self._s.scalars(select(Nic).where(
            Nic.instance_uuid.in_(list(insts)), Nic.is_default.is_(True)))} if insts else {}
        accounts = rows_by_uuid(self._s, Account, {r.account_uuid for r in rows})
        domains = rows_by_uuid(self._s, Domain, {a.domain_uuid for a in accounts.values()})
        out = []
        for r in rows:
            ip, account = ips[r.public_ip_uuid], accounts[r.account_uuid]
            inst = insts.get(ip.instance_uuid) if ip.instance_uuid else None
            out.append(IpForwardingDetail(
                rule=r, ip=ip, instance=inst, nic=nics.get(inst.uuid) if inst else None,
                account=account, domain=domains[account.domain_uuid]))
        return out
