"""Internet gateways and route tables of network containers.

Gateways: created detached; attached to one container at a time. A region's
default container has a gateway of its own, attached, whose sid is the
container's (:mod:`engine.services.default_vpcs`).

Route tables: each container has a main one (made with the container, with
the ``local`` route for its CIDR and a main association; a default
container's also routes ``0.0.0.0/0`` through its gateway). A default
container's gateway and main table belong to no account: everyone sees them
(owned, as the container, by the caller), only root admins act on them. More tables can be
created, associated with tiers of the same container and given routes through
an attached gateway. A route whose gateway is no longer attached is a
"blackhole" (``RouteDetail.active`` False).

Errors: NotFound(kind, sid) for what does not exist or may not be acted on;
IncorrectState(GATEWAY, sid, "attached"/"detached") for attaching an attached
gateway or detaching from a container it is not attached to;
IncorrectState(VPC, sid, "attached") when the container already has a gateway;
IncorrectState(NETWORK, sid, "associated") when a tier already has a table;
InUse for removing what something still depends on; Duplicate(ROUTE, cidr)
for a destination already routed.
"""

from __future__ import annotations

import builtins
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import (
    Duplicate,
    IncorrectState,
    InUse,
    InvalidParameter,
    NotFound,
    ResourceKind,
)
from engine.models import (
    Account,
    Gateway,
    Network,
    Route,
    RouteTable,
    RouteTableLink,
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
    match_values,
    owner_scope,
    query_key,
)
from engine.services.access import may_act, owned_live, the_one
from engine.services.tags import apply_tags
from engine.services.vpcs import VpcService, apply_fields, page_rows, tags_of


@dataclass
class GatewayDetail:
    uuid: str
    sid: str
    vpc_sid: str | None  # the container it is attached to
    account: Account | None  # None: a default container's gateway
    gateway: Gateway
    tags: list[Tag] = field(default_factory=list)


@dataclass
class RouteDetail:
    """A route; ``active`` unless its target is gone: the gateway was detached
    from the table's container (or removed). Such a route is a "blackhole"."""

    route: Route
    gateway_sid: str | None
    active: bool


@dataclass
class LinkDetail:
    link: RouteTableLink
    network_sid: str | None  # None: the main association


@dataclass
class RouteTableDetail:
    table: RouteTable
    vpc_sid: str
    account: Account | None  # None: a default container's table
    routes: list[RouteDetail]
    links: list[LinkDetail]
    tags: list[Tag] = field(default_factory=list)


class RoutingService:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._vpcs = VpcService(session)

    # -------------------------------------------------------------- gateways
    def create_gateway(self, principal: Principal,
                       tags: Sequence[tuple[str, str]] = ()) -> GatewayDetail:
        gw = Gateway(account_uuid=principal.account_uuid)
        self._s.add(gw)
        self._s.flush()
        if tags:
            apply_tags(self._s, principal, ResourceKind.GATEWAY, [gw.uuid], tags)
            self._s.flush()
        return self.gateway(principal, gw.sid)

    def gateway(self, principal: Principal, ident: str) -> GatewayDetail:
        found = self.list_gateways(principal, [Criterion("sid", (ident,), False)]).items
        return the_one(found, ResourceKind.GATEWAY, ident)

    def _owned_gateway(self, principal: Principal, ident: str) -> Gateway:
        return owned_live(self._s, principal, Gateway, ident, ResourceKind.GATEWAY)

    def attach_gateway(self, principal: Principal, gateway_ident: str, vpc_ident: str) -> None:
        gw = self._owned_gateway(principal, gateway_ident)
        vpc = self._vpcs.owned_vpc(principal, vpc_ident)
        if gw.vpc_uuid is not None:
            raise IncorrectState(ResourceKind.GATEWAY, gw.sid, "attached")
        if self._s.scalar(select(Gateway.sid).where(Gateway.vpc_uuid == vpc.uuid,
                                                    Gateway.removed_at.is_(None))):
            raise IncorrectState(ResourceKind.VPC, vpc.sid, "attached")
        gw.vpc_uuid = vpc.uuid
        self._s.flush()

    def detach_gateway(self, principal: Principal, gateway_ident: str, vpc_ident: str) -> None:
        gw = self._owned_gateway(principal, gateway_ident)
        vpc = self._vpcs.owned_vpc(principal, vpc_ident)
        if gw.vpc_uuid != vpc.uuid:
            raise IncorrectState(ResourceKind.GATEWAY, gw.sid, "detached")
        gw.vpc_uuid = None
        self._s.flush()

    def delete_gateway(self, principal: Principal, ident: str) -> None:
        gw = self._owned_gateway(principal, ident)
        if gw.vpc_uuid is not None:
            raise InUse(ResourceKind.GATEWAY, gw.sid, "an attached network")
        self._s.execute(delete(Tag).where(Tag.resource_uuid == gw.uuid))
        gw.removed_at = utcnow()

    def list_gateways(self, principal: Principal, criteria: Sequence[Criterion] = (),
                      paging: Paging | None = None) -> ListResult:
        """Visible gateways as :class:`GatewayDetail`, oldest first.

        Fields: ``uuid``, ``sid``, ``vpc_sid`` (of the attachment), ``attached``
        (``available`` when attached), ``owner_number``.
        """
        fields: FieldMap = {
            "uuid": Gateway.uuid, "sid": Gateway.sid, "vpc_sid": Vpc.sid,
            "attached": lambda values: (Vpc.sid.is_not(None) if any(
                v in ("available", "attached") for v in values) else literal(False)),
            "owner_number": func.coalesce(Account.number, literal(principal.account_number)),
        }
        crit = tuple(criteria)
        stmt = (select(Gateway.uuid, Gateway.created_at)
                .outerjoin(Vpc, Vpc.uuid == Gateway.vpc_uuid)
                .outerjoin(Account, Account.uuid == Gateway.account_uuid)
                .where(Gateway.removed_at.is_(None), _visible(Gateway.account_uuid, principal)))
        stmt = apply_fields(stmt, fields, Gateway.uuid, crit)
        page = page_rows(self._s, stmt, created_column=Gateway.created_at,
                         uuid_column=Gateway.uuid, paging=paging or Paging(),
                         key=query_key("gateways", principal.account_uuid, crit))
        if not page.items:
            page.items = []
            return page
        heads = {g.uuid: (g, vsid, a) for g, vsid, a in self._s.execute(
            select(Gateway, Vpc.sid, Account)
            .outerjoin(Vpc, Vpc.uuid == Gateway.vpc_uuid)
            .outerjoin(Account, Account.uuid == Gateway.account_uuid)
            .where(Gateway.uuid.in_(page.items))).all()}
        tags = tags_of(self._s, page.items)
        page.items = [GatewayDetail(u, heads[u][0].sid, heads[u][1], heads[u][2], heads[u][0],
                                    tags.get(u, [])) for u in page.items]
        return page

    # ---------------------------------------------------------- route tables
    def create_route_table(self, principal: Principal, vpc_ident: str,
                           tags: Sequence[tuple[str, str]] = ()) -> RouteTableDetail:
        vpc = self._vpcs.owned_vpc(principal, vpc_ident)
        table = RouteTable(account_uuid=vpc.account_uuid, vpc_uuid=vpc.uuid, is_main=False)
        self._s.add(table)
        self._s.flush()
        self._s.add(Route(route_table_uuid=table.uuid, destination=vpc.cidr))
        if tags:
            apply_tags(self._s, principal, ResourceKind.ROUTE_TABLE, [table.uuid], tags,
                       account_uuid=vpc.account_uuid)
        self._s.flush()
        return self.route_table(principal, table.sid)

    def route_table(self, principal: Principal, ident: str) -> RouteTableDetail:
        found = self.list_route_tables(principal, [Criterion("sid", (ident,), False)]).items
        return the_one(found, ResourceKind.ROUTE_TABLE, ident)

    def _owned_table(self, principal: Principal, ident: str) -> RouteTable:
        return owned_live(self._s, principal, RouteTable, ident, ResourceKind.ROUTE_TABLE)

    def delete_route_table(self, principal: Principal, ident: str) -> None:
        """InUse for the main table or one still associated with tiers."""
        table = self._owned_table(principal, ident)
        links = self._s.scalar(select(func.count()).select_from(RouteTableLink).where(
            RouteTableLink.route_table_uuid == table.uuid))
        if table.is_main or links:
            raise InUse(ResourceKind.ROUTE_TABLE, table.sid, "associations")
        self._s.execute(delete(Route).where(Route.route_table_uuid == table.uuid))
        self._s.execute(delete(Tag).where(Tag.resource_uuid == table.uuid))
        table.removed_at = utcnow()

    def associate(self, principal: Principal, table_ident: str, network_ident: str) -> str:
        """Associate a table with a tier of its container; returns the link sid."""
        table = self._owned_table(principal, table_ident)
        net = owned_live(self._s, principal, Network, network_ident, ResourceKind.NETWORK)
        tier = self._s.get(VpcTier, net.uuid)
        if tier is None or tier.vpc_uuid != table.vpc_uuid:
            raise InvalidParameter(
                "SubnetId", network_ident,
                f"route table {table.sid} and subnet {net.sid} belong to different networks")
        if self._s.scalar(select(RouteTableLink.sid).where(
                RouteTableLink.network_uuid == net.uuid)):
            raise IncorrectState(ResourceKind.NETWORK, net.sid, "associated")
        link = RouteTableLink(route_table_uuid=table.uuid, network_uuid=net.uuid)
        self._s.add(link)
        self._s.flush()
        return link.sid

    def disassociate(self, principal: Principal, link_ident: str) -> None:
        """Remove a tier association (the main association cannot be removed)."""
        link = self._s.scalar(select(RouteTableLink).where(RouteTableLink.sid == link_ident))
        table = self._s.get(RouteTable, link.route_table_uuid) if link is not None else None
        if link is None or table is None or not may_act(self._s, principal, table.account_uuid):
            raise NotFound(ResourceKind.ROUTE_TABLE_LINK, link_ident)
        if link.network_uuid is None:
            raise InvalidParameter("AssociationId", link_ident,
                                   "cannot disassociate the main route table association")
        self._s.delete(link)
        self._s.flush()

    def add_route(self, principal: Principal, table_ident: str, destination: str,
                  gateway_ident: str) -> None:
        """A route to ``destination`` through a gateway attached to the table's container."""
        table = self._owned_table(principal, table_ident)
        dest = _cidr(destination)
        gw = self._owned_gateway(principal, gateway_ident)
        if gw.vpc_uuid != table.vpc_uuid:
            raise InvalidParameter(
                "GatewayId", gateway_ident,
                f"route table {table.sid} and network gateway {gw.sid} belong to different "
                "networks")
        if self._s.scalar(select(Route.uuid).where(Route.route_table_uuid == table.uuid,
                                                   Route.destination == dest)):
            raise Duplicate(ResourceKind.ROUTE, dest)
        self._s.add(Route(route_table_uuid=table.uuid, destination=dest, target="gateway",
                          gateway_uuid=gw.uuid))
        self._s.flush()

    def replace_route(self, principal: Principal, table_ident: str, destination: str,
                      gateway_ident: str) -> None:
        """Point the table's existing route to ``destination`` at another gateway
        attached to the table's container (NotFound without such a route; the
        local route cannot be replaced)."""
        table = self._owned_table(principal, table_ident)
        dest = _cidr(destination)
        gw = self._owned_gateway(principal, gateway_ident)
        route = self._s.scalar(select(Route).where(Route.route_table_uuid == table.uuid,
                                                   Route.destination == dest)
                               .with_for_update())
        if route is None:
            raise NotFound(ResourceKind.ROUTE, dest)
        if route.target == "local":
            raise InvalidParameter("DestinationCidrBlock", dest, "cannot replace local route")
        if gw.vpc_uuid != table.vpc_uuid:
            raise InvalidParameter(
                "GatewayId", gateway_ident,
                f"route table {table.sid} and network gateway {gw.sid} belong to different "
                "networks")
        route.target, route.gateway_uuid = "gateway", gw.uuid
        self._s.flush()

    def remove_route(self, principal: Principal, table_ident: str, destination: str) -> None:
        table = self._owned_table(principal, table_ident)
        dest = _cidr(destination)
        route = self._s.scalar(select(Route).where(Route.route_table_uuid == table.uuid,
                                                   Route.destination == dest))
        if route is None:
            raise NotFound(ResourceKind.ROUTE, dest)
        if route.target == "local":
            raise InvalidParameter("DestinationCidrBlock", dest, "cannot remove local route")
        self._s.delete(route)
        self._s.flush()

    def list_route_tables(self, principal: Principal, criteria: Sequence[Criterion] = (),
                          paging: Paging | None = None) -> ListResult:
        """Visible route tables as :class:`RouteTableDetail`, oldest first.

        Fields: ``uuid``, ``sid``, ``vpc_sid``, ``owner_number``, ``main``
        (``true``/``false``: has the main association), ``link_sid``,
        ``link_network_sid``, ``route_destination``, ``route_gateway_sid``,
        ``route_target`` (``local``/``gateway``), ``route_state`` (``active``:
        the container's own route or one through a gateway attached to the
        table's container; ``blackhole``: any other). The sid and destination
        fields take ``*``/``?`` wildcards; ``route_gateway_sid`` ``""`` is a
        route through no gateway.
        """
        def link_has(cond: Any) -> Any:
            return exists().where(RouteTableLink.route_table_uuid == RouteTable.uuid, cond)

        def route_has(cond: Any) -> Any:
            return exists().where(Route.route_table_uuid == RouteTable.uuid, cond)

        def main(values: Sequence[str]) -> Any:
            wanted = {v.lower() == "true" for v in values}
            conds = [RouteTable.is_main.is_(w) for w in wanted]
            return or_(*conds) if conds else literal(False)

        def linked_net(values: Sequence[str]) -> Any:
            return link_has(RouteTableLink.network_uuid.in_(
                select(Network.uuid).where(match_values(Network.sid, values, True))))

        def route_state(values: Sequence[str]) -> Any:
            wanted = {v for v in values if v in ("active", "blackhole")}
            conds = [_route_active() if w == "active" else ~_route_active() for w in wanted]
            return route_has(or_(*conds)) if conds else literal(False)

        def via_gateway(values: Sequence[str]) -> Any:
            conds = [Route.gateway_uuid.in_(
                select(Gateway.uuid).where(match_values(Gateway.sid, values, True)))]
            if "" in values:  # a route through no gateway (the container's own)
                conds.append(Route.gateway_uuid.is_(None))
            return route_has(or_(*conds))

        fields: FieldMap = {
            "uuid": RouteTable.uuid, "sid": RouteTable.sid, "vpc_sid": Vpc.sid,
            "owner_number": func.coalesce(Account.number, literal(principal.account_number)),
            "main": main,
            "link_sid": lambda v: link_has(match_values(RouteTableLink.sid, v, True)),
            "link_network_sid": linked_net,
            "route_destination": lambda v: route_has(match_values(Route.destination, v, True)),
            "route_gateway_sid": via_gateway,
            "route_target": lambda v: route_has(Route.target.in_(v)),
            "route_state": route_state,
        }
        crit = tuple(criteria)
        stmt = (select(RouteTable.uuid, RouteTable.created_at)
                .join(Vpc, Vpc.uuid == RouteTable.vpc_uuid)
                .outerjoin(Account, Account.uuid == RouteTable.account_uuid)
                .where(RouteTable.removed_at.is_(None),
                       _visible(RouteTable.account_uuid, principal)))
        stmt = apply_fields(stmt, fields, RouteTable.uuid, crit)
        page = page_rows(self._s, stmt, created_column=RouteTable.created_at,
                         uuid_column=RouteTable.uuid, paging=paging or Paging(),
                         key=query_key("route_tables", principal.account_uuid, crit))
        page.items = self._table_details(page.items)
        return page

    def _table_details(self, uuids: Sequence[str]) -> builtins.list[RouteTableDetail]:
        if not uuids:
            return []
        heads = {t.uuid: (t, vsid, a) for t, vsid, a in self._s.execute(
            select(RouteTable, Vpc.sid, Account).join(Vpc, Vpc.uuid == RouteTable.vpc_uuid)
            .outerjoin(Account, Account.uuid == RouteTable.account_uuid)
            .where(RouteTable.uuid.in_(uuids))).all()}
        routes: dict[str, builtins.list[RouteDetail]] = {}
        for r, gsid, gvpc in self._s.execute(
                select(Route, Gateway.sid, Gateway.vpc_uuid.label("gvpc"))
                .outerjoin(Gateway, and_(Gateway.uuid == Route.gateway_uuid,
                                         Gateway.removed_at.is_(None)))
                .where(Route.route_table_uuid.in_(uuids))
                .order_by(Route.created_at, Route.uuid)).all():
            table = heads[r.route_table_uuid][0]
            active = r.target == "local" or gvpc == table.vpc_uuid
            routes.setdefault(r.route_table_uuid, []).append(RouteDetail(r, gsid, active))
        links: dict[str, builtins.list[LinkDetail]] = {}
        for link, nsid in self._s.execute(
                select(RouteTableLink, Network.sid)
                .outerjoin(Network, Network.uuid == RouteTableLink.network_uuid)
                .where(RouteTableLink.route_table_uuid.in_(uuids))
                .order_by(RouteTableLink.created_at)).all():
            links.setdefault(link.route_table_uuid, []).append(LinkDetail(link, nsid))
        tags = tags_of(self._s, uuids)
        return [RouteTableDetail(heads[u][0], heads[u][1], heads[u][2], routes.get(u, []),
                                 links.get(u, []), tags.get(u, [])) for u in uuids]


def _route_active() -> Any:
    """A route of the outer RouteTable that carries traffic (see RouteDetail.active)."""
    return or_(Route.target == "local", Route.gateway_uuid.in_(
        select(Gateway.uuid).where(Gateway.vpc_uuid == RouteTable.vpc_uuid,
                                   Gateway.removed_at.is_(None))))


def _visible(account_column: Any, principal: Principal) -> Any:
    """What the principal may see: its scope, and what belongs to no account
    (a default container's gateway and tables)."""
    return or_(account_column.is_(None), owner_scope(account_column, principal))


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.IPv4Network(value, strict=False))
    except ValueError as exc:
        raise InvalidParameter("DestinationCidrBlock", value,
                               "This is not a valid CIDR block.") from exc


__all__ = ["GatewayDetail", "LinkDetail", "RouteDetail", "RouteTableDetail", "RoutingService"]
