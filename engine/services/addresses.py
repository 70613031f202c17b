"""Public addresses an account holds: allocate, associate (static NAT), disassociate, release.

An address belongs to an account once allocated (state Allocated, ``account_uuid``
set). Associating it with an instance sets ``instance_uuid`` and a fresh
``association_sid``; an address with an instance but no association sid was
assigned automatically with the instance and is not the account's to move.

Every method works in the caller's transaction and never commits. Rows that
change are locked (``FOR UPDATE`` on MySQL; SQLite writers are serialised by
``BEGIN IMMEDIATE``), so concurrent calls cannot hand out one address twice or
exceed the account's limit.
"""

from __future__ import annotations

import builtins
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from engine.allocators.addresses import PublicIpAllocator
from engine.errors import (
    ConflictingParameters,
    IncorrectState,
    InsufficientCapacity,
    InUse,
    InvalidParameter,
    MissingParameter,
    NotFound,
    PermissionDenied,
    ResourceKind,
    RuleConflict,
)
from engine.ids import new_sid
from engine.models import Account, Domain, Instance, Nic, PublicIp, Tag, Zone
from engine.principal import Principal
from engine.querying import (
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    apply_criteria,
    decode_token,
    encode_token,
    match_values,
    owner_scope,
    query_key,
    rows_by_uuid,
)
from engine.services.access import may_act, owner_account
from engine.services.events import record_event
from engine.services.public_ip_launch import remap_after_disassociation
from engine.services.resource_limits import Resource, enforce
from engine.services.rules import (
    has_load_balancers,
    has_port_forwarding,
    owned_address,
    revoke_nat_rules,
)
from engine.services.settings import Settings
from engine.services.tags import apply_tags, remove_tags
from engine.states import AllocationState, IpState, VmState

NO_PAGING = Paging()  # every match in one page
EVENT_ASSIGN = "IP.ASSIGN"
EVENT_RELEASE = "IP.RELEASE"
EVENT_ASSOCIATE = "STATICNAT.ENABLE"
EVENT_DISASSOCIATE = "STATICNAT.DISABLE"

LIMIT_SETTING = "max.account.public.ips"
# An instance in one of these states can take an address.
ASSOCIABLE = frozenset({VmState.STARTING, VmState.RUNNING, VmState.STOPPING, VmState.STOPPED,
                        VmState.MIGRATING})


@dataclass
class AddressDetail:
    """An allocated address and what both front ends render with it."""

    ip: PublicIp
    zone: Zone
    account: Account
    domain: Domain
    instance: Instance | None = None
    nic: Nic | None = None  # the instance's default NIC: its private address
    tags: list[Tag] = field(default_factory=list)

    @property
    def is_associated(self) -> bool:
        """Associated by the account (static NAT), not assigned with the instance."""
        return self.ip.association_sid is not None

    @property
    def is_elastic(self) -> bool:
        """Held by the account on its own: free or associated, never auto-assigned."""
        return not self.ip.is_source_nat and (
            self.ip.instance_uuid is None or self.ip.association_sid is not None)


_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def _is_host_name(name: str) -> bool:
    """At least two dot-separated labels of letters, digits and inner hyphens."""
    labels = name.split(".")
    return (len(name) <= 253 and len(labels) >= 2
            and all(_LABEL.fullmatch(label) for label in labels))


def _bool_values(column: object, name: str):  # type: ignore[no-untyped-def]
    def cond(values: Sequence[str]):  # type: ignore[no-untyped-def]
        wanted = set()
        for v in values:
            if v.lower() not in ("true", "false"):
                raise InvalidParameter("Filter", v, f"{name} takes true or false")
            wanted.add(v.lower() == "true")
        if len(wanted) == 2:
            return true()
        return column.is_(True) if wanted.pop() else column.is_(False)  # type: ignore[attr-defined]
    return cond


def _instance_sid(values: Sequence[str]):  # type: ignore[no-untyped-def]
    """Values may be ``*``/``?`` patterns, as for the other fields taking them."""
    return PublicIp.instance_uuid.in_(select(Instance.uuid).where(
        match_values(Instance.sid, values, True)))


def _private_ip(values: Sequence[str]):  # type: ignore[no-untyped-def]
    return PublicIp.instance_uuid.in_(select(Nic.instance_uuid).where(
        match_values(Nic.ip_address, values, True), Nic.is_default.is_(True)))


def _zone_name(values: Sequence[str]):  # type: ignore[no-untyped-def]
    return PublicIp.zone_uuid.in_(select(Zone.uuid).where(Zone.name.in_(values)))


def _has_instance(values: Sequence[str]):  # type: ignore[no-untyped-def]
    """Whether an instance holds the address (associated or assigned with it)."""
    wanted = set()
    for v in values:
        if v.lower() not in ("true", "false"):
            raise InvalidParameter("Filter", v, "has_instance takes true or false")
        wanted.add(v.lower() == "true")
    if len(wanted) == 2:
        return true()
    return PublicIp.instance_uuid.is_not(None) if wanted.pop() else PublicIp.instance_uuid.is_(None)


ADDRESS_FIELDS: FieldMap = {
    "uuid": PublicIp.uuid,
    "sid": PublicIp.sid,
    "address": PublicIp.address,
    "zone_uuid": PublicIp.zone_uuid,
    "zone_name": _zone_name,
    "account_uuid": PublicIp.account_uuid,
    "instance_uuid": PublicIp.instance_uuid,
    "instance_sid": _instance_sid,
    "association_sid": PublicIp.association_sid,
    "network_uuid": PublicIp.network_uuid,
    "vlan_range_uuid": PublicIp.vlan_range_uuid,
    "private_ip": _private_ip,
    "is_source_nat": _bool_values(PublicIp.is_source_nat, "is_source_nat"),
    "has_instance": _has_instance,
    "zone_pattern": lambda vs: PublicIp.zone_uuid.in_(
        select(Zone.uuid).where(match_values(Zone.name, vs, True))),
    "nic_sid": lambda vs: PublicIp.instance_uuid.in_(select(Nic.instance_uuid).where(
        Nic.is_default.is_(True), match_values(Nic.sid, vs, True))),
    "instance_owner_number": lambda vs: PublicIp.instance_uuid.in_(
        select(Instance.uuid).join(Account, Account.uuid == Instance.account_uuid)
        .where(match_values(Account.number, vs, True))),
}


class AddressService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self._s = session
        self._settings = settings
        self._allocator = PublicIpAllocator(session)

    # ------------------------------------------------------------------ reads
    def list(self, principal: Principal, criteria: Sequence[Criterion] = (),
             paging: Paging = NO_PAGING, *, list_all: bool = True, count: bool = False,
             elastic_only: bool = False) -> ListResult:
        """Allocated addresses the principal may see, oldest allocation first.

        ``elastic_only`` leaves out source-NAT addresses and those assigned
        automatically with an instance. Items are :class:`AddressDetail`.
        """
        criteria = tuple(criteria)
        stmt = select(PublicIp).where(
            PublicIp.state == IpState.ALLOCATED,
            owner_scope(PublicIp.account_uuid, principal, list_all=list_all))
        if elastic_only:
            stmt = stmt.where(PublicIp.is_source_nat.is_(False), or_(
                PublicIp.instance_uuid.is_(None), PublicIp.association_sid.is_not(None)))
        stmt = apply_criteria(stmt, ADDRESS_FIELDS, criteria, uuid_column=PublicIp.uuid,
                              kind=ResourceKind.PUBLIC_IP)
        key = query_key("addresses", principal.account_uuid, criteria, list_all, elastic_only)
        page = self._page(stmt, paging, key, count)
        page.items = self.details(page.items)
        return page

    def get(self, principal: Principal, *, uuid: str | None = None, sid: str | None = None,
            address: str | None = None, association_sid: str | None = None) -> AddressDetail:
        """The one allocated address named by exactly one identifier, or NotFound."""
        given = [(f, v) for f, v in (("uuid", uuid), ("sid", sid), ("address", address),
                                     ("association_sid", association_sid)) if v is not None]
        if not given:
            raise MissingParameter("address")
        if len(given) > 1:
            raise ConflictingParameters([f for f, _ in given])
        name, value = given[0]
        page = self.list(principal, (Criterion(name, (value,), wildcards=False),))
        if not page.items:
            raise NotFound(ResourceKind.PUBLIC_IP, value)
        return page.items[0]  # type: ignore[no-any-return]

    def details(self, ips: Sequence[PublicIp]) -> builtins.list[AddressDetail]:
        """Load what ``ips`` refer to with one query per relation."""
        if not ips:
            return []
        s = self._s
        zones = rows_by_uuid(s, Zone, {i.zone_uuid for i in ips})
        accounts = rows_by_uuid(s, Account, {i.account_uuid for i in ips if i.account_uuid})
        domains = rows_by_uuid(s, Domain, {a.domain_uuid for a in accounts.values()})
        inst_uuids = {i.instance_uuid for i in ips if i.instance_uuid}
        instances = rows_by_uuid(s, Instance, inst_uuids)
        nics = {n.instance_uuid: n for n in s.scalars(select(Nic).where(
            Nic.instance_uuid.in_(inst_uuids), Nic.is_default.is_(True)))} if inst_uuids else {}
        tags: dict[str, builtins.list[Tag]] = defaultdict(list)
        for t in s.scalars(select(Tag).where(
                Tag.resource_uuid.in_([i.uuid for i in ips]),
                Tag.resource_kind == ResourceKind.PUBLIC_IP).order_by(Tag.key)):
            tags[t.resource_uuid].append(t)
        out = []
        for ip in ips:
            account = accounts[ip.account_uuid or ""]
            out.append(AddressDetail(
                ip=ip, zone=zones[ip.zone_uuid], account=account,
                domain=domains[account.domain_uuid],
                instance=instances.get(ip.instance_uuid) if ip.instance_uuid else None,
                nic=nics.get(ip.instance_uuid) if ip.instance_uuid else None,
                tags=tags.get(ip.uuid, [])))
        return out

    # ----------------------------------------------------------------- writes
    def allocate(self, principal: Principal, zone_uuid: str | None = None,
                 address: str | None = None, *,
                 tags: tuple[tuple[str, str], ...] = (),
                 account_uuid: str | None = None) -> PublicIp:
        """Take a free address for the principal's account, or for ``account_uuid``
        when the principal may act for it (tagged with ``tags``).

        Without ``zone_uuid`` the zone is the requested ``address``'s, or else
        the oldest enabled zone. Raises NotFound (zone), LimitExceeded (the
        ``max.account.public.ips`` setting; negative means unlimited),
        InvalidParameter (``address`` not free or not public) and
        InsufficientCapacity (no free address in the zone). The address gets a
        new ``sid`` on every allocation (sids are never handed out twice).
        """
        owner = owner_account(self._s, principal, account_uuid)
        zone = self._zone(principal, zone_uuid, address)
        self._check_limit(owner)
        ip = self._allocator.allocate(zone.uuid, owner, address)
        # Each allocation is its own: a released address that comes back to
        # an account gets a new sid, so an old allocation id never names it.
        ip.sid = new_sid()
        ip.reverse_dns_name = None  # a PTR name set by an earlier holder goes
        if tags:
            apply_tags(self._s, principal, ResourceKind.PUBLIC_IP, [ip.uuid], tags,
                       account_uuid=owner)
        record_event(self._s, principal, EVENT_ASSIGN, f"Allocated public address {ip.address}",
                     ResourceKind.PUBLIC_IP, ip.uuid)
        return ip

    def associate(self, principal: Principal, ip_uuid: str, instance_uuid: str, *,
                  allow_reassociation: bool = False) -> str:
        """Associate the address with the instance (static NAT); return the association sid.

        The instance must belong to the address's account, be in its zone and
        not be destroyed (IncorrectState). An address associated with another
        instance raises InUse unless ``allow_reassociation``. Whatever address
        the instance held before is let go: an associated one stays allocated
        to the account, one assigned with the instance returns to the pool.
        Associating again with the same instance returns the existing sid.
        """
        ip = self._owned(principal, ip_uuid)
        if ip.is_source_nat:
            raise InvalidParameter("address", ip.address,
                                   "the source NAT address cannot be associated")
        if has_port_forwarding(self._s, ip.uuid):
            raise InvalidParameter("address", ip.address,
                                   "the address has port forwarding rules")
        if has_load_balancers(self._s, ip.uuid):
            raise RuleConflict(f"Failed to enable static nat for the ip address {ip.address} "
                               "as it already has LoadBalancing rules assigned")
        inst = self._instance(principal, instance_uuid)
        if inst.account_uuid != ip.account_uuid:
            raise InvalidParameter("instance", instance_uuid,
                                   "the instance and the address belong to different accounts")
        if inst.zone_uuid != ip.zone_uuid:
            raise InvalidParameter("instance", instance_uuid,
                                   "the instance is not in the address's zone")
        if ip.instance_uuid == inst.uuid and ip.association_sid is not None:
            return ip.association_sid
        if ip.instance_uuid is not None and (not allow_reassociation
                                             or ip.association_sid is None):
            raise InUse(ResourceKind.PUBLIC_IP, ip.address, by=f"instance {ip.instance_uuid}")
        held = self._s.scalars(select(PublicIp).where(
            PublicIp.instance_uuid == inst.uuid, PublicIp.uuid != ip.uuid,
            PublicIp.is_source_nat.is_(False)).with_for_update())
        for other in list(held):
            if other.association_sid is None:
                self._allocator.release(other)
            else:
                self._detach(principal, other)
        nic = self._s.scalar(select(Nic).where(Nic.instance_uuid == inst.uuid,
                                               Nic.is_default.is_(True)))
        ip.instance_uuid = inst.uuid
        ip.association_sid = new_sid()
        ip.network_uuid = nic.network_uuid if nic is not None else None
        record_event(self._s, principal, EVENT_ASSOCIATE,
                     f"Associated {ip.address} with {inst.name}", ResourceKind.PUBLIC_IP, ip.uuid)
        self._s.flush()
        return ip.association_sid

    def disassociate(self, principal: Principal, *, ip_uuid: str | None = None,
                     association_sid: str | None = None, missing_ok: bool = True) -> PublicIp:
        """End an association named by the address or by the association sid.

        An unknown association sid raises NotFound(PUBLIC_IP, sid). An address
        with no association is left as it is, or with ``missing_ok=False``
        raises InvalidParameter. The address stays allocated. The instance gets a
        fresh mapped address when its network maps them at launch
        (:func:`engine.services.public_ip_launch.remap_after_disassociation`).
        """
        if (ip_uuid is None) == (association_sid is None):
            if ip_uuid is None:
                raise MissingParameter("association")
            raise ConflictingParameters(("address", "association"))
        if association_sid is not None:
            ip = self._s.scalar(select(PublicIp).where(
                PublicIp.association_sid == association_sid).with_for_update())
            if ip is None or not may_act(self._s, principal, ip.account_uuid):
                raise NotFound(ResourceKind.PUBLIC_IP, association_sid)
        else:
            assert ip_uuid is not None
            ip = self._owned(principal, ip_uuid)
            if ip.association_sid is None:
                if missing_ok:
                    return ip
                raise InvalidParameter("address", ip.address,
                                       "the address is not associated with any instance")
        instance_uuid = ip.instance_uuid
        self._detach(principal, ip)
        if instance_uuid is not None:  # a fresh mapped address, as the network says
            remap_after_disassociation(self._s, principal, instance_uuid)
        return ip

    def release(self, principal: Principal, ip_uuid: str, *, disassociate: bool = False) -> None:
        """Give the address back to the pool. Associated (or source NAT) -> InUse.

        With ``disassociate`` an address the account associated with an instance
        is disassociated first instead (one assigned with the instance is still InUse).
        """
        ip = self._owned(principal, ip_uuid)
        if disassociate and ip.association_sid is not None:
            self._detach(principal, ip)
        if ip.instance_uuid is not None:
            raise InUse(ResourceKind.PUBLIC_IP, ip.address, by=f"instance {ip.instance_uuid}")
        if ip.is_source_nat:
            raise InUse(ResourceKind.PUBLIC_IP, ip.address, by="a network's source NAT")
        remove_tags(self._s, [ip.uuid], [])
        ip.reverse_dns_name = None
        record_event(self._s, principal, EVENT_RELEASE, f"Released public address {ip.address}",
                     ResourceKind.PUBLIC_IP, ip.uuid, account_uuid=ip.account_uuid)
        self._allocator.release(ip)

    def set_reverse_dns(self, principal: Principal, ip_uuid: str,
                        name: str | None) -> tuple[str | None, PublicIp]:
        """Give the address the reverse DNS (PTR) name ``name`` (a lower-case
        host name without the final dot, at most 255 characters; None: back to
        the default name). Returns the name it had before (None: the default)
        and the address. InvalidParameter for a name that is not a host name;
        NotFound(PUBLIC_IP) for an address the principal may not act on."""
        ip = self._owned(principal, ip_uuid)
        if name is not None:
            name = name.rstrip(".").lower()
            if not _is_host_name(name):
                raise InvalidParameter("DomainName", name, "not a valid domain name")
        before, ip.reverse_dns_name = ip.reverse_dns_name, name
        self._s.flush()
        return before, ip

    # ---------------------------------------------------------------- helpers
    def _detach(self, principal: Principal, ip: PublicIp) -> None:
        record_event(self._s, principal, EVENT_DISASSOCIATE,
                     f"Disassociated {ip.address}", ResourceKind.PUBLIC_IP, ip.uuid,
                     account_uuid=ip.account_uuid)
        revoke_nat_rules(self._s, ip.uuid)  # its IP forwarding rules go with it
        ip.instance_uuid = ip.association_sid = ip.network_uuid = None

    def _owned(self, principal: Principal, uuid: str) -> PublicIp:
        return owned_address(self._s, principal, uuid)

    def _instance(self, principal: Principal, uuid: str) -> Instance:
        inst = self._s.scalar(select(Instance).where(
            or_(Instance.uuid == uuid, Instance.sid == uuid)).with_for_update())
        if inst is None or inst.state == VmState.EXPUNGED or not may_act(
                self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, uuid)
        if inst.state not in ASSOCIABLE:
            raise IncorrectState(ResourceKind.INSTANCE, uuid, inst.state, ASSOCIABLE)
        return inst

    def _zone(self, principal: Principal, zone_uuid: str | None, address: str | None) -> Zone:
        if zone_uuid is None and address is not None:
            zone_uuid = self._s.scalar(select(PublicIp.zone_uuid).where(
                PublicIp.address == address))
            if zone_uuid is None:
                raise InvalidParameter("address", address, "not an address of any public range")
        if zone_uuid is not None:
            zone = self._s.get(Zone, zone_uuid)
            if zone is None or zone.removed_at is not None:
                raise NotFound(ResourceKind.ZONE, zone_uuid)
            if zone.allocation_state != AllocationState.ENABLED and not principal.is_root_admin:
                raise PermissionDenied("allocate addresses in a disabled zone",
                                       ResourceKind.ZONE, zone_uuid)
            return zone
        zone = self._s.scalar(select(Zone).where(
            Zone.removed_at.is_(None), Zone.allocation_state == AllocationState.ENABLED,
        ).order_by(Zone.created_at).limit(1))
        if zone is None:
            raise InsufficientCapacity(ResourceKind.PUBLIC_IP, "no zone is enabled")
        return zone

    def _check_limit(self, account_uuid: str) -> None:
        """LimitExceeded if the account holds its limit; locks the account row so
        concurrent allocations of one account count one after another."""
        enforce(self._s, account_uuid, {Resource.PUBLIC_IP: 1}, self._settings)

    def _page(self, stmt, paging: Paging, key: str, count: bool) -> ListResult:  # type: ignore[no-untyped-def]
        """Keyset paging over (allocated_at, uuid): addresses have no created_at."""
        total = None
        if count:
            total = self._s.scalar(select(func.count()).select_from(
                stmt.order_by(None).subquery()))
        stmt = stmt.order_by(PublicIp.allocated_at, PublicIp.uuid)
        if paging.token:
            after, uuid = decode_token(paging.token, key)
            stmt = stmt.where(or_(PublicIp.allocated_at > after, and_(
                PublicIp.allocated_at == after, PublicIp.uuid > uuid)))
        elif paging.offset:
            stmt = stmt.offset(paging.offset)
        if paging.limit is not None:
            stmt = stmt.limit(paging.limit + 1)
        items = list(self._s.scalars(stmt))
        next_token = None
        if paging.limit is not None and len(items) > paging.limit:
            items = items[:paging.limit]
            last = items[-1]
            assert last.allocated_at is not None
            next_token = encode_token(last.allocated_at, last.uuid, key)
        return ListResult(items=items, next_token=next_token, total=total)
