"""Network containers (VPCs) and their tiers (guest networks inside them).

A container is a :class:`Vpc` row with a CIDR, a main route table holding the
``local`` route and tiers whose CIDRs lie inside the container's and do not
overlap. A guest network that belongs to no container (one made by
``add_guest_network``) is listed as a container of its own, with itself as
its only tier and the same sid; such a "standalone" container cannot be
changed here, only its network can be removed (``delete_tier``).

A region's default container (:mod:`engine.services.default_vpcs`) holds the
zones' default networks, one per zone; everyone sees it, only root admins
may change it (others: Unsupported, or InUse for removing it).

Listing contracts (``list_vpcs``, ``list_tiers``): criteria fields are given
in each ``*_FIELDS`` docstring; ``tag:<k>``/``tag-key``/``tag-value`` match the
resource's tags; keyset paging over (created_at, uuid).
"""

from __future__ import annotations

import builtins
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import (
    Duplicate,
    InUse,
    InvalidParameter,
    NotFound,
    ResourceKind,
    Unsupported,
)
from engine.models import (
    Account,
    Domain,
    Gateway,
    Network,
    Nic,
    Region,
    Route,
    RouteTable,
    RouteTableLink,
    Tag,
    Vpc,
    VpcTier,
    Zone,
)
from engine.principal import Principal
from engine.querying import (
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    decode_token,
    encode_token,
    match_values,
    owner_scope,
    query_key,
)
from engine.services.access import may_act, owned_live, the_one
from engine.services.resource_limits import Resource, enforce
from engine.services.security_groups import SecurityGroupService
from engine.services.tags import apply_tags

CONTAINER_PREFIXES = range(16, 29)  # /16 ... /28, for containers and tiers alike
RESERVED_PER_TIER = 5  # network, gateway, two service addresses, broadcast


@dataclass
class VpcDetail:
    """A container as listed. ``vpc`` is None for a standalone network, whose
    ``network`` is then set; ``account`` is None for a shared network."""

    uuid: str
    sid: str
    cidr: str
    is_default: bool
    account: Account | None
    vpc: Vpc | None = None
    network: Network | None = None
    tags: list[Tag] = field(default_factory=list)

    @property
    def dns_support(self) -> bool:
        return self.vpc.dns_support if self.vpc is not None else True

    @property
    def dns_hostnames(self) -> bool:
        return self.vpc.dns_hostnames if self.vpc is not None else self.is_default


@dataclass
class TierDetail:
    """A guest network as a tier: its container's sid (its own when standalone)."""

    network: Network
    zone: Zone
    region: Region
    account: Account | None
    vpc_sid: str
    tier: VpcTier | None
    used_addresses: int
    tags: list[Tag] = field(default_factory=list)

    @property
    def free_addresses(self) -> int:
        net = ipaddress.IPv4Network(self.network.cidr, strict=False)
        if self.tier is not None:
            return max(0, net.num_addresses - RESERVED_PER_TIER - self.used_addresses)
        inside = ipaddress.IPv4Address(self.network.gateway) in net
        return max(0, net.num_addresses - 2 - int(inside) - self.used_addresses)


def parse_cidr(value: str, param: str) -> ipaddress.IPv4Network:
    """An IPv4 CIDR block of /16 to /28. InvalidParameter(``param``...) when the
    text is no CIDR at all ("cidr"), or the prefix is out of range (``param``)."""
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError as exc:
        raise InvalidParameter("cidr", value, "This is not a valid CIDR block.") from exc
    if "/" not in value or net.prefixlen not in CONTAINER_PREFIXES:
        raise InvalidParameter(param, value, f"The CIDR '{value}' is invalid.")
    return net


def tag_criterion(uuid_column: Any, crit: Criterion) -> ColumnElement[bool] | None:
    """SQL for a tag criterion on resources of any kind (uuids are unique)."""
    if crit.field.startswith("tag:"):
        cond = and_(Tag.key == crit.field[4:], match_values(Tag.value, crit.values, crit.wildcards))
    elif crit.field == "tag-key":
        cond = match_values(Tag.key, crit.values, crit.wildcards)
    elif crit.field == "tag-value":
        cond = match_values(Tag.value, crit.values, crit.wildcards)
    else:
        return None
    return exists().where(Tag.resource_uuid == uuid_column, cond)


def apply_fields(stmt: Any, fields: FieldMap, uuid_column: Any,
                 criteria: Iterable[Criterion]) -> Any:
    """AND the criteria onto ``stmt`` (unknown fields: InvalidParameter)."""
    for crit in criteria:
        cond = tag_criterion(uuid_column, crit)
        if cond is None:
            target = fields.get(crit.field)
            if target is None:
                raise InvalidParameter("Filter", crit.field,
                                       f"The filter '{crit.field}' is invalid")
            cond = (target(crit.values) if callable(target) and not hasattr(target, "like")
                    else match_values(target, crit.values, crit.wildcards))  # type: ignore[arg-type]
        stmt = stmt.where(cond)
    return stmt


def page_rows(session: Session, stmt: Any, *, created_column: Any, uuid_column: Any,
              paging: Paging, key: str) -> ListResult:
    """Keyset paging like :func:`engine.querying.paginate` for statements whose
    rows are plain columns: ``stmt`` must select ``uuid`` and ``created_at``;
    items are the rows' uuids."""
    if paging.limit is not None and paging.limit <= 0:
        return ListResult(items=[])
    stmt = stmt.order_by(created_column, uuid_column)
    if paging.token:
        created, uuid = decode_token(paging.token, key)
        stmt = stmt.where(or_(created_column > created,
                              and_(created_column == created, uuid_column > uuid)))
    elif paging.offset:
        stmt = stmt.offset(paging.offset)
    if paging.limit is not None:
        stmt = stmt.limit(paging.limit + 1)
    rows = list(session.execute(stmt).all())
    token = None
    if paging.limit is not None and len(rows) > paging.limit:
        rows = rows[:paging.limit]
        token = encode_token(rows[-1].created_at, rows[-1].uuid, key)
    return ListResult(items=[r.uuid for r in rows], next_token=token)


def tags_of(session: Session, uuids: Sequence[str]) -> dict[str, builtins.list[Tag]]:
    out: dict[str, builtins.list[Tag]] = {}
    if uuids:
        for t in session.scalars(select(Tag).where(Tag.resource_uuid.in_(uuids))
                                 .order_by(Tag.key)):
            out.setdefault(t.resource_uuid, []).append(t)
    return out


def _bools(column: Any) -> Any:
    def cond(values: Sequence[str]) -> ColumnElement[bool]:
        wanted = {v.lower() in ("1", "true") for v in values}
        return column.in_(sorted(wanted)) if wanted else false()
    return cond


class VpcService:
    def __init__(self, session: Session) -> None:
        self._s = session

    # ------------------------------------------------------------ containers
    def create_vpc(self, principal: Principal, cidr: str, *, tenancy: str = "default",
                   tags: Sequence[tuple[str, str]] = (), name: str = "",
                   display_text: str = "", zone_uuid: str | None = None) -> VpcDetail:
        """A container for the caller's account with its main route table (one
        ``local`` route for ``cidr``) and its default security group. InvalidParameter("vpc.cidr") outside /16../28.
        With ``zone_uuid`` (uuid or name) the container is made for that zone
        and lives in its region (NotFound for no such live zone); else in the
        oldest region."""
        net = parse_cidr(cidr, "vpc.cidr")
        zone = None
        if zone_uuid:
            zone = self._s.scalar(select(Zone).where(
                or_(Zone.uuid == zone_uuid, Zone.name == zone_uuid), Zone.removed_at.is_(None)))
            if zone is None:
                raise NotFound(ResourceKind.ZONE, zone_uuid)
            region = self._s.get(Region, zone.region_uuid)
        else:
            region = self._s.scalar(select(Region).order_by(Region.created_at))
        if region is None:
            raise NotFound(ResourceKind.REGION, "default")
        enforce(self._s, principal.account_uuid, {Resource.VPC: 1})
        vpc = Vpc(account_uuid=principal.account_uuid, region_uuid=region.uuid, cidr=str(net),
                  tenancy=tenancy, name=name, display_text=display_text or name,
                  zone_uuid=zone.uuid if zone is not None else None)
        self._s.add(vpc)
        self._s.flush()
        table = RouteTable(account_uuid=principal.account_uuid, vpc_uuid=vpc.uuid, is_main=True)
        self._s.add(table)
        self._s.flush()
        self._s.add_all([Route(route_table_uuid=table.uuid, destination=str(net)),
                         RouteTableLink(route_table_uuid=table.uuid, network_uuid=None)])
        SecurityGroupService(self._s).create_container_default(principal, vpc)
        if tags:
            apply_tags(self._s, principal, ResourceKind.VPC, [vpc.uuid], tags)
        self._s.flush()
        return self.vpc(principal, vpc.sid)

    def vpc(self, principal: Principal, ident: str) -> VpcDetail:
        """One visible container by sid (NotFound otherwise)."""
        found = self.list_vpcs(principal, [Criterion("sid", (ident,), False)]).items
        return the_one(found, ResourceKind.VPC, ident)

    def owned_vpc(self, principal: Principal, ident: str, *,
                  default_refusal: Exception | None = None) -> Vpc:
        """A live container row the principal may act on, by sid or uuid. A
        default container is root admins' to act on; for others it raises
        ``default_refusal`` (NotFound when None)."""
        vpc = self._s.scalar(select(Vpc).where(or_(Vpc.sid == ident, Vpc.uuid == ident),
                                               Vpc.removed_at.is_(None)))
        if vpc is not None and vpc.is_default and default_refusal is not None \
                and not principal.is_root_admin:
            raise default_refusal
        if vpc is None or not may_act(self._s, principal, vpc.account_uuid):
            raise NotFound(ResourceKind.VPC, ident)
        return vpc

    def container_zone(self, vpc_uuid: str, zone_ident: str | None = None) -> Zone:
        """The zone a container is shown in: ``zone_ident`` (uuid or name) when
        given (NotFound unless a live zone of its region), else the zone it was
        made for, else the zone of its oldest live tier, else its region's
        oldest live zone."""
        vpc = self._s.get(Vpc, vpc_uuid)
        if vpc is None:
            raise NotFound(ResourceKind.VPC, vpc_uuid)
        if not zone_ident and vpc.zone_uuid:
            zone_ident = vpc.zone_uuid
        if not zone_ident:
            tier_zone = self._s.scalar(select(Zone).join(
                Network, Network.zone_uuid == Zone.uuid).join(
                VpcTier, VpcTier.network_uuid == Network.uuid).where(
                VpcTier.vpc_uuid == vpc.uuid, Network.removed_at.is_(None))
                .order_by(Network.created_at))
            if tier_zone is not None:
                return tier_zone
        return self._zone(vpc, zone_ident)

    def owner_domains(self, account_uuids: Iterable[str]) -> dict[str, Domain]:
        """account uuid -> its domain, for the given accounts."""
        wanted = set(account_uuids)
        if not wanted:
            return {}
        rows = self._s.execute(select(Account.uuid, Domain).join(
            Domain, Domain.uuid == Account.domain_uuid).where(Account.uuid.in_(wanted))).all()
        return {a: d for a, d in rows}

    def _standalone(self, principal: Principal, ident: str) -> Network | None:
        net = self._s.scalar(select(Network).where(
            Network.sid == ident, Network.removed_at.is_(None),
            ~exists().where(VpcTier.network_uuid == Network.uuid)))
        if net is None or (net.account_uuid is not None
                           and not may_act(self._s, principal, net.account_uuid)):
            return None
        return net

    def delete_vpc(self, principal: Principal, ident: str) -> None:
        """Remove an empty container with its default security group. InUse
        while tiers, attached gateways, route tables other than the main one or
        security groups other than the default one remain; a standalone network
        always has its tier, so it is InUse too."""
        if self._s.scalar(select(Vpc.uuid).where(Vpc.sid == ident)) is None:
            if self._standalone(principal, ident) is not None:
                raise InUse(ResourceKind.VPC, ident, "its subnet")
            raise NotFound(ResourceKind.VPC, ident)
        vpc = self.owned_vpc(principal, ident,
                             default_refusal=InUse(ResourceKind.VPC, ident, "its subnets"))
        tiers = self._s.scalar(select(func.count()).select_from(VpcTier).join(
            Network, Network.uuid == VpcTier.network_uuid).where(
            VpcTier.vpc_uuid == vpc.uuid, Network.removed_at.is_(None)))
        gateways = self._s.scalar(select(func.count()).select_from(Gateway).where(
            Gateway.vpc_uuid == vpc.uuid, Gateway.removed_at.is_(None)))
        tables = self._s.scalar(select(func.count()).select_from(RouteTable).where(
            RouteTable.vpc_uuid == vpc.uuid, RouteTable.removed_at.is_(None),
            RouteTable.is_main.is_(False)))
        for what, n in (("subnets", tiers), ("internet gateways", gateways),
                        ("route tables", tables)):
            if n:
                raise InUse(ResourceKind.VPC, vpc.sid, what)
        SecurityGroupService(self._s).remove_container_groups(principal, vpc)
        now = utcnow()
        for table in self._s.scalars(select(RouteTable).where(RouteTable.vpc_uuid == vpc.uuid,
                                                               RouteTable.removed_at.is_(None))):
            table.removed_at = now
            self._s.execute(delete(RouteTableLink).where(
                RouteTableLink.route_table_uuid == table.uuid))
        self._s.execute(delete(Tag).where(Tag.resource_uuid == vpc.uuid))
        vpc.removed_at = now

    def set_vpc_attributes(self, principal: Principal, ident: str, *,
                           dns_support: bool | None = None,
                           dns_hostnames: bool | None = None) -> VpcDetail:
        """Change the DNS settings of a container (Unsupported for a standalone one)."""
        if self._s.scalar(select(Vpc.uuid).where(Vpc.sid == ident)) is None \
                and self._standalone(principal, ident) is not None:
            raise Unsupported("changing the DNS settings of this network")
        vpc = self.owned_vpc(principal, ident, default_refusal=Unsupported(
            "changing the DNS settings of the default network"))
        if dns_support is not None:
            vpc.dns_support = dns_support
        if dns_hostnames is not None:
            vpc.dns_hostnames = dns_hostnames
        self._s.flush()
        return self.vpc(principal, vpc.sid)

    def list_vpcs(self, principal: Principal, criteria: Sequence[Criterion] = (),
                  paging: Paging | None = None) -> ListResult:
        """Visible containers (own and, for admins, their domain's; default
        containers and shared standalone networks to everyone) as
        :class:`VpcDetail`, oldest first.

        Fields: ``uuid``, ``sid``, ``cidr``, ``is_default`` (``1``/``0``,
        ``true``/``false``), ``owner_number``, ``dns_support``, ``dns_hostnames``.
        """
        contained = exists().where(VpcTier.network_uuid == Network.uuid)
        u = union_all(
            select(Vpc.uuid, Vpc.sid, Vpc.created_at, Vpc.cidr, Vpc.is_default,
                   Vpc.account_uuid, Vpc.dns_support, Vpc.dns_hostnames).where(
                Vpc.removed_at.is_(None),
                or_(Vpc.is_default.is_(True), owner_scope(Vpc.account_uuid, principal))),
            select(Network.uuid, Network.sid, Network.created_at, Network.cidr,
                   Network.is_default, Network.account_uuid, literal(True),
                   Network.is_default).where(
                Network.removed_at.is_(None), ~contained,
                or_(Network.account_uuid.is_(None),
                    owner_scope(Network.account_uuid, principal))),
        ).subquery()
        fields: FieldMap = {
            "uuid": u.c.uuid, "sid": u.c.sid, "cidr": u.c.cidr,
            "is_default": _bools(u.c.is_default),
            "dns_support": _bools(u.c.dns_support),
            "dns_hostnames": _bools(u.c.dns_hostnames),
            "owner_number": func.coalesce(Account.number, literal(principal.account_number)),
        }
        crit = tuple(criteria)
        stmt = select(u.c.uuid, u.c.created_at).outerjoin(
            Account, Account.uuid == u.c.account_uuid)
        stmt = apply_fields(stmt, fields, u.c.uuid, crit)
        page = page_rows(self._s, stmt, created_column=u.c.created_at, uuid_column=u.c.uuid,
                         paging=paging or Paging(),
                         key=query_key("vpcs", principal.account_uuid, crit))
        page.items = self._vpc_details(page.items)
        return page

    def _vpc_details(self, uuids: Sequence[str]) -> builtins.list[VpcDetail]:
        if not uuids:
            return []
        vpcs = {v.uuid: v for v in self._s.scalars(select(Vpc).where(Vpc.uuid.in_(uuids)))}
        nets = {n.uuid: n for n in self._s.scalars(select(Network).where(
            Network.uuid.in_(uuids)))}
        owners = {v.account_uuid for v in vpcs.values() if v.account_uuid} | {
            n.account_uuid for n in nets.values() if n.account_uuid}
        accounts = {a.uuid: a for a in self._s.scalars(select(Account).where(
            Account.uuid.in_(owners)))} if owners else {}
        tags = tags_of(self._s, uuids)
        out: builtins.list[VpcDetail] = []
        for u in uuids:
            row: Any = vpcs.get(u) or nets[u]
            out.append(VpcDetail(
                uuid=u, sid=row.sid, cidr=row.cidr,
                is_default=bool(getattr(row, "is_default", False)),
                account=accounts.get(row.account_uuid or ""),
                vpc=vpcs.get(u), network=nets.get(u), tags=tags.get(u, [])))
        return out

    # ----------------------------------------------------------------- tiers
    def create_tier(self, principal: Principal, vpc_ident: str, cidr: str, *,
                    zone_uuid: str | None = None, name: str = "",
                    tags: Sequence[tuple[str, str]] = (), gateway: str | None = None,
                    display_text: str = "", offering_uuid: str | None = None) -> TierDetail:
        """A guest network inside a container, in ``zone_uuid`` (default: the
        container's zone, else the region's first zone). InvalidParameter
        ("network.cidr") when the block is not a /16../28 inside the container;
        Duplicate(NETWORK, cidr) when it overlaps a tier of the container;
        InvalidParameter("gateway") for a ``gateway`` (default: the block's
        first address) that is not a host address of the block."""
        if self._s.scalar(select(Vpc.uuid).where(Vpc.sid == vpc_ident)) is None:
            alone = self._standalone(principal, vpc_ident)
            if alone is None:
                raise NotFound(ResourceKind.VPC, vpc_ident)
            net = parse_cidr(cidr, "network.cidr")
            if net.overlaps(ipaddress.IPv4Network(alone.cidr, strict=False)):
                raise Duplicate(ResourceKind.NETWORK, cidr)
            raise InvalidParameter("network.cidr", cidr, f"The CIDR '{cidr}' is invalid.")
        vpc = self.owned_vpc(principal, vpc_ident, default_refusal=Unsupported(
            "adding subnets to the default network"))
        net = parse_cidr(cidr, "network.cidr")
        if not net.subnet_of(ipaddress.IPv4Network(vpc.cidr)):
            raise InvalidParameter("network.cidr", cidr, f"The CIDR '{cidr}' is invalid.")
        for other in self._s.scalars(select(Network.cidr).join(
                VpcTier, VpcTier.network_uuid == Network.uuid).where(
                VpcTier.vpc_uuid == vpc.uuid, Network.removed_at.is_(None))):
            if net.overlaps(ipaddress.IPv4Network(other, strict=False)):
                raise Duplicate(ResourceKind.NETWORK, cidr)
        gw = str(net.network_address + 1)
        if gateway:
            try:
                given = ipaddress.IPv4Address(gateway)
            except ValueError:
                given = None
            if given is None or given not in net or given in (net.network_address,
                                                              net.broadcast_address):
                raise InvalidParameter("gateway", gateway,
                                       f"The gateway {gateway} is not an address of {net}.")
            gw = str(given)
        zone = self._zone(vpc, zone_uuid or vpc.zone_uuid)
        network = Network(zone_uuid=zone.uuid, account_uuid=vpc.account_uuid,
                          name=name or str(net), display_text=display_text or name or str(net),
                          network_type="Isolated", cidr=str(net), gateway=gw,
                          network_offering_uuid=offering_uuid,
                          next_ip_offset=RESERVED_PER_TIER - 2)  # first address handed: .4
        self._s.add(network)
        self._s.flush()
        self._s.add(VpcTier(network_uuid=network.uuid, vpc_uuid=vpc.uuid))
        if tags:
            apply_tags(self._s, principal, ResourceKind.NETWORK, [network.uuid], tags,
                       account_uuid=vpc.account_uuid)
        self._s.flush()
        return self.tier(principal, network.sid)

    def _zone(self, vpc: Vpc, zone_uuid: str | None) -> Zone:
        stmt = select(Zone).where(Zone.removed_at.is_(None), Zone.region_uuid == vpc.region_uuid)
        if zone_uuid:
            stmt = stmt.where(or_(Zone.uuid == zone_uuid, Zone.name == zone_uuid))
        zone = self._s.scalar(stmt.order_by(Zone.created_at))
        if zone is None:
            raise NotFound(ResourceKind.ZONE, zone_uuid or "default")
        return zone

    def tier(self, principal: Principal, ident: str) -> TierDetail:
        found = self.list_tiers(principal, [Criterion("sid", (ident,), False)]).items
        return the_one(found, ResourceKind.NETWORK, ident)

    def _owned_network(self, principal: Principal, ident: str) -> Network:
        return owned_live(self._s, principal, Network, ident, ResourceKind.NETWORK)

    def delete_tier(self, principal: Principal, ident: str) -> None:
        """Remove a tier (or a standalone network) no instance uses (InUse)."""
        net = self._owned_network(principal, ident)
        nics = self._s.scalar(select(func.count()).select_from(Nic).where(
            Nic.network_uuid == net.uuid, Nic.instance_uuid.is_not(None)))
        if nics:
            raise InUse(ResourceKind.NETWORK, net.sid, "instances")
        self._s.execute(delete(RouteTableLink).where(
            RouteTableLink.network_uuid == net.uuid))
        self._s.execute(delete(Tag).where(Tag.resource_uuid == net.uuid))
        net.removed_at = utcnow()
        net.is_default = False

    def set_tier_attributes(self, principal: Principal, ident: str, *,
                            map_public_ip: bool | None = None) -> TierDetail:
        """Change tier settings (Unsupported for a standalone network)."""
        net = self._owned_network(principal, ident)
        tier = self._s.get(VpcTier, net.uuid)
        if tier is None:
            raise Unsupported("changing the settings of this network")
        if map_public_ip is not None:
            tier.map_public_ip = map_public_ip
        self._s.flush()
        return self.tier(principal, ident)

    def list_tiers(self, principal: Principal, criteria: Sequence[Criterion] = (),
                   paging: Paging | None = None) -> ListResult:
        """Visible guest networks as :class:`TierDetail`, oldest first.

        Fields: ``uuid``, ``sid``, ``vpc_sid``, ``vpc_uuid``, ``cidr``, ``zone_name``,
        ``is_default``, ``owner_number``, ``map_public_ip``.
        """
        vpc_sid = func.coalesce(Vpc.sid, Network.sid)
        fields: FieldMap = {
            "uuid": Network.uuid, "sid": Network.sid, "vpc_sid": vpc_sid, "vpc_uuid": Vpc.uuid,
            "cidr": Network.cidr, "zone_name": Zone.name,
            "is_default": _bools(Network.is_default),
            "map_public_ip": _bools(func.coalesce(VpcTier.map_public_ip, false())),
            "owner_number": func.coalesce(Account.number, literal(principal.account_number)),
            "free_addresses": lambda values: Network.uuid.in_(self._with_free(values)),
        }
        crit = tuple(criteria)
        stmt = (select(Network.uuid, Network.created_at)
                .join(Zone, Zone.uuid == Network.zone_uuid)
                .outerjoin(Account, Account.uuid == Network.account_uuid)
                .outerjoin(VpcTier, VpcTier.network_uuid == Network.uuid)
                .outerjoin(Vpc, Vpc.uuid == VpcTier.vpc_uuid)
                .where(Network.removed_at.is_(None),
                       or_(Network.account_uuid.is_(None),
                           owner_scope(Network.account_uuid, principal))))
        stmt = apply_fields(stmt, fields, Network.uuid, crit)
        page = page_rows(self._s, stmt, created_column=Network.created_at,
                         uuid_column=Network.uuid, paging=paging or Paging(),
                         key=query_key("tiers", principal.account_uuid, crit))
        page.items = self._tier_details(page.items)
        return page

    def _with_free(self, values: Sequence[str]) -> builtins.list[str]:
        """Live networks whose count of free addresses matches any of
        ``values`` (numbers, or ``*``/``?`` patterns over their digits)."""
        live = builtins.list(self._s.scalars(select(Network.uuid).where(
            Network.removed_at.is_(None))))
        return [d.network.uuid for d in self._tier_details(live)
                if any(fnmatchcase(str(d.free_addresses), v) for v in values)]

    def _tier_details(self, uuids: Sequence[str]) -> builtins.list[TierDetail]:
        if not uuids:
            return []
        used = (select(Nic.network_uuid.label("network_uuid"), func.count().label("n"))
                .where(Nic.network_uuid.in_(uuids)).group_by(Nic.network_uuid).subquery())
        rows = self._s.execute(
            select(Network, Zone, Region, Account, VpcTier, Vpc.sid, func.coalesce(used.c.n, 0))
            .join(Zone, Zone.uuid == Network.zone_uuid)
            .join(Region, Region.uuid == Zone.region_uuid)
            .outerjoin(Account, Account.uuid == Network.account_uuid)
            .outerjoin(VpcTier, VpcTier.network_uuid == Network.uuid)
            .outerjoin(Vpc, Vpc.uuid == VpcTier.vpc_uuid)
            .outerjoin(used, used.c.network_uuid == Network.uuid)
            .where(Network.uuid.in_(uuids))).all()
        tags = tags_of(self._s, uuids)
        found = {n.uuid: TierDetail(n, z, r, a, vsid or n.sid, t, int(k), tags.get(n.uuid, []))
                 for n, z, r, a, t, vsid, k in rows}
        return [found[u] for u in uuids]


__all__ = ["TierDetail", "VpcDetail", "VpcService", "parse_cidr"]
