"""Inventory: public IP ranges, guest networks and capacity."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, insert, literal, or_, select

from engine.db import utcnow
from engine.errors import Duplicate, InvalidParameter, NotFound, PermissionDenied, ResourceKind
from engine.ids import new_sid, new_uuid
from engine.models import (
    Account,
    Cluster,
    Domain,
    Host,
    ImageStore,
    Network,
    Nic,
    Pod,
    PublicIp,
    Region,
    StoragePool,
    Tag,
    VlanRange,
    Zone,
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
from engine.services.inventory_base import _filters, _ip_range
from engine.services.inventory_compute import ComputeInventory
from engine.settings import Settings
from engine.states import IpState


class CapacityKind(str, Enum):
    MEMORY = "memory"
    CPU = "cpu"
    STORAGE_USED = "storage_used"
    STORAGE_ALLOCATED = "storage_allocated"
    PUBLIC_IP = "public_ip"
    PRIVATE_IP = "private_ip"
    SECONDARY_STORAGE = "secondary_storage"


@dataclass(frozen=True)
class CapacityRow:
    """One kind of capacity summed over a zone (or the pod/cluster filtered on).
    CPU is in MHz, memory and storage in bytes, addresses in addresses; ``total``
    includes the overprovisioning factors."""

    kind: CapacityKind
    zone: Zone
    pod: Pod | None
    cluster: Cluster | None
    used: int
    total: int


@dataclass(frozen=True)
class VlanRangeRequest:
    zone_uuid: str
    gateway: str
    netmask: str
    start_ip: str
    end_ip: str
    vlan: str = "untagged"
    pod_uuid: str | None = None
    for_virtual_network: bool = True
    account_uuid: str | None = None


@dataclass(frozen=True)
class VlanRangeDetail:
    vlan_range: VlanRange
    zone: Zone
    pod: Pod | None
    account: Account | None
    domain: Domain | None


@dataclass(frozen=True)
class NetworkRequest:
    """A guest network: shared (no owner, root admins only) or the owner's isolated one."""

    zone_uuid: str
    name: str
    cidr: str = ""  # empty: the first /24 of the zone's guest CIDR
    display_text: str = ""
    gateway: str | None = None
    shared: bool = False
    vlan: str = ""


@dataclass(frozen=True)
class NetworkDetail:
    network: Network
    zone: Zone
    account: Account | None
    domain: Domain | None


@dataclass
class VisibleNetwork:
    """A guest network as its users see it. ``used_addresses`` counts its NIC
    rows (what the private-IP allocator treats as taken); ``account`` is None
    for a shared network."""

    network: Network
    zone: Zone
    region: Region
    account: Account | None
    used_addresses: int
    tags: list[Tag] = field(default_factory=list)

    @property
    def free_addresses(self) -> int:
        """Host addresses the allocator can still hand out: the CIDR less its
        network and broadcast addresses, the gateway and the used ones."""
        net = ipaddress.IPv4Network(self.network.cidr, strict=False)
        gateway_inside = ipaddress.IPv4Address(self.network.gateway) in net
        return max(0, net.num_addresses - 2 - int(gateway_inside) - self.used_addresses)


def _is_default(values: Sequence[str]) -> ColumnElement[bool]:
    wanted = {v.lower() in ("1", "true") for v in values}
    return Network.is_default.in_(sorted(wanted))


def _visible_network_fields(principal: Principal) -> FieldMap:
    """Fields of :meth:`NetworkInventory.networks_visible`. ``owner_number`` of a
    shared network is the caller's own account number."""
    return {
        "uuid": Network.uuid,
        "sid": Network.sid,
        "name": Network.name,
        "cidr": Network.cidr,
        "zone_name": Zone.name,
        "is_default": _is_default,
        "owner_number": func.coalesce(Account.number, literal(principal.account_number)),
    }


class NetworkInventory(ComputeInventory):
    """Public IP ranges, guest networks and capacity (which counts pods' ranges)."""

    def create_vlan_range(self, zone: Zone, *, gateway: str, netmask: str, start_ip: str,
                          end_ip: str, vlan: str = "untagged",
                          account_uuid: str | None = None) -> VlanRange:
        """A public range; one Free address row is inserted per address."""
        try:
            start, end = ipaddress.IPv4Address(start_ip), ipaddress.IPv4Address(end_ip)
            net = ipaddress.IPv4Network(f"{gateway}/{netmask}", strict=False)
        except ValueError as exc:
            raise InvalidParameter("startip", start_ip, str(exc)) from exc
        if end < start or start not in net or end not in net:
            raise InvalidParameter("endip", end_ip, f"the range must lie inside {net}")
        if int(end) - int(start) > 65535:
            raise InvalidParameter("endip", end_ip, "a range holds at most 65536 addresses")
        clash = self._s.scalar(select(PublicIp.address).where(
            PublicIp.address.in_([str(start), str(end)])))
        if clash:
            raise Duplicate(ResourceKind.PUBLIC_IP, clash)
        rng = VlanRange(zone_uuid=zone.uuid, vlan=vlan, gateway=gateway, netmask=netmask,
                        start_ip=start_ip, end_ip=end_ip, account_uuid=account_uuid)
        self._s.add(rng)
        self._s.flush()
        rows = [
            {"uuid": new_uuid(), "sid": new_sid(), "vlan_range_uuid": rng.uuid,
             "zone_uuid": zone.uuid, "address": str(ipaddress.IPv4Address(a)),
             "state": IpState.FREE, "is_source_nat": False}
            for a in range(int(start), int(end) + 1)
            if ipaddress.IPv4Address(a) != ipaddress.IPv4Address(gateway)
        ]
        for i in range(0, len(rows), 1000):
            self._s.execute(insert(PublicIp), rows[i:i + 1000])
        return rng

    def create_network(self, zone: Zone, name: str, cidr: str, *, gateway: str | None = None,
                       account_uuid: str | None = None, is_default: bool = False,
                       network_type: str = "Shared", vlan: str = "") -> Network:
        try:
            net = ipaddress.IPv4Network(cidr, strict=False)
        except ValueError as exc:
            raise InvalidParameter("cidr", cidr, str(exc)) from exc
        gw = gateway or str(net.network_address + 1)
        network = Network(zone_uuid=zone.uuid, account_uuid=account_uuid, name=name,
                          display_text=name, network_type=network_type, cidr=str(net),
                          gateway=gw, is_default=is_default, vlan=vlan)
        self._s.add(network)
        self._s.flush()
        if is_default:  # a tier of the region's default container
            from engine.services.default_vpcs import link_default_network
            link_default_network(self._s, network)
        return network

    # ------------------------------------------------------------ IP ranges
    def add_vlan_range(self, req: VlanRangeRequest) -> VlanRangeDetail:
        """A public range (one Free address row each); InvalidParameter when it
        overlaps another live range."""
        zone = self._live(Zone, req.zone_uuid, ResourceKind.ZONE)
        if req.pod_uuid and self._live(Pod, req.pod_uuid, ResourceKind.POD).zone_uuid != zone.uuid:
            raise InvalidParameter("podid", req.pod_uuid, "the pod is not in that zone")
        start, end = _ip_range(req.gateway, req.netmask, req.start_ip, req.end_ip)
        for other in self._s.scalars(select(VlanRange).where(VlanRange.removed_at.is_(None))):
            lo, hi = ipaddress.IPv4Address(other.start_ip), ipaddress.IPv4Address(other.end_ip)
            if start <= hi and lo <= end:
                raise InvalidParameter("startip", req.start_ip,
                                       f"overlaps the range {other.start_ip}-{other.end_ip}")
        rng = self.create_vlan_range(zone, gateway=req.gateway, netmask=req.netmask,
                                     start_ip=str(start), end_ip=str(end), vlan=req.vlan,
                                     account_uuid=req.account_uuid)
        rng.pod_uuid, rng.for_virtual_network = req.pod_uuid, req.for_virtual_network
        self._s.flush()
        return self.vlan_ranges(uuid=rng.uuid)[0]

    def vlan_ranges(self, *, uuid: str | None = None, zone_uuid: str | None = None,
                    pod_uuid: str | None = None, vlan: str | None = None,
                    for_virtual_network: bool | None = None) -> list[VlanRangeDetail]:
        stmt = (select(VlanRange, Zone, Pod, Account, Domain)
                .join(Zone, Zone.uuid == VlanRange.zone_uuid)
                .outerjoin(Pod, Pod.uuid == VlanRange.pod_uuid)
                .outerjoin(Account, Account.uuid == VlanRange.account_uuid)
                .outerjoin(Domain, Domain.uuid == Account.domain_uuid)
                .where(VlanRange.removed_at.is_(None))
                .order_by(VlanRange.created_at, VlanRange.uuid))
        stmt = _filters(stmt, (VlanRange.uuid, uuid), (VlanRange.zone_uuid, zone_uuid),
                        (VlanRange.pod_uuid, pod_uuid), (VlanRange.vlan, vlan),
                        (VlanRange.for_virtual_network, for_virtual_network))
        return [VlanRangeDetail(*row) for row in self._s.execute(stmt).all()]

    def delete_vlan_range(self, uuid: str) -> None:
        """Remove a range and its addresses; InUse while any address is taken."""
        rng = self._live(VlanRange, uuid, ResourceKind.VLAN_RANGE)
        self._refuse_if_used(ResourceKind.VLAN_RANGE, f"{rng.start_ip}-{rng.end_ip}", {
            "allocated addresses": self._count(PublicIp, PublicIp.vlan_range_uuid == uuid,
                                               PublicIp.state != IpState.FREE)})
        self._s.execute(delete(PublicIp).where(PublicIp.vlan_range_uuid == uuid,
                                               PublicIp.state == IpState.FREE))
        rng.removed_at = utcnow()

    # ------------------------------------------------------------- capacity
    def capacity(self, *, zone_uuid: str | None = None, pod_uuid: str | None = None,
                 cluster_uuid: str | None = None) -> list[CapacityRow]:
        """Capacity per zone, summed in SQL from hosts, pools, addresses and stores.

        With ``pod_uuid``/``cluster_uuid`` only that pod's/cluster's hosts and
        pools count, and zone-wide kinds (public IPs, secondary storage) are left out.
        """
        settings = Settings(self._s)
        cpu_f = func.coalesce(Cluster.cpu_overcommit, settings.float("cpu.overprovisioning.factor"))
        mem_f = func.coalesce(Cluster.memory_overcommit,
                              settings.float("mem.overprovisioning.factor"))
        pool_f = func.coalesce(StoragePool.overprovision_factor,
                               settings.float("storage.overprovisioning.factor"))
        zones = {z.uuid: z for z in self._s.scalars(select(Zone).where(
            Zone.removed_at.is_(None), *([Zone.uuid == zone_uuid] if zone_uuid else [])))}
        pod = self._live(Pod, pod_uuid, ResourceKind.POD) if pod_uuid else None
        cluster = self._live(Cluster, cluster_uuid, ResourceKind.CLUSTER) if cluster_uuid else None
        rows: list[CapacityRow] = []

        def add(kind: CapacityKind, stmt: Any) -> None:
            for z, used, total in self._s.execute(stmt).all():
                if z in zones:
                    rows.append(CapacityRow(kind, zones[z], pod, cluster, int(used or 0),
                                            int(total or 0)))

        host_scope = [Host.removed_at.is_(None),
                      *([Host.pod_uuid == pod_uuid] if pod_uuid else []),
                      *([Host.cluster_uuid == cluster_uuid] if cluster_uuid else [])]
        hosts = select(Host.zone_uuid).join(Cluster, Cluster.uuid == Host.cluster_uuid).where(
            *host_scope).group_by(Host.zone_uuid)
        add(CapacityKind.MEMORY, hosts.add_columns(
            func.sum(Host.memory_allocated_bytes), func.sum(Host.memory_bytes * mem_f)))
        add(CapacityKind.CPU, hosts.add_columns(
            func.sum(Host.cpu_allocated_mhz), func.sum(Host.cpu_cores * Host.cpu_mhz * cpu_f)))
        pool_scope = [StoragePool.removed_at.is_(None),
                      *([StoragePool.pod_uuid == pod_uuid] if pod_uuid else []),
                      *([StoragePool.cluster_uuid == cluster_uuid] if cluster_uuid else [])]
        pools = select(StoragePool.zone_uuid).where(*pool_scope).group_by(StoragePool.zone_uuid)
        add(CapacityKind.STORAGE_USED, pools.add_columns(
            func.sum(StoragePool.used_bytes), func.sum(StoragePool.capacity_bytes)))
        add(CapacityKind.STORAGE_ALLOCATED, pools.add_columns(
            func.sum(StoragePool.allocated_bytes), func.sum(StoragePool.capacity_bytes * pool_f)))
        if pod_uuid is None and cluster_uuid is None:
            add(CapacityKind.PUBLIC_IP, select(
                PublicIp.zone_uuid, func.sum(case((PublicIp.state != IpState.FREE, 1), else_=0)),
                func.count()).join(VlanRange, VlanRange.uuid == PublicIp.vlan_range_uuid).where(
                VlanRange.for_virtual_network.is_(True), VlanRange.removed_at.is_(None))
                .group_by(PublicIp.zone_uuid))
            add(CapacityKind.SECONDARY_STORAGE, select(
                ImageStore.zone_uuid, func.sum(ImageStore.used_bytes),
                func.sum(ImageStore.capacity_bytes)).where(ImageStore.removed_at.is_(None))
                .group_by(ImageStore.zone_uuid))
        if cluster_uuid is None:
            private: dict[str, int] = {}
            for p in self.pods(uuid=pod_uuid):
                if p.pod.start_ip and p.pod.end_ip:
                    size = (int(ipaddress.IPv4Address(p.pod.end_ip))
                            - int(ipaddress.IPv4Address(p.pod.start_ip)) + 1)
                    private[p.pod.zone_uuid] = private.get(p.pod.zone_uuid, 0) + size
            rows.extend(CapacityRow(CapacityKind.PRIVATE_IP, zones[z], pod, cluster, 0, n)
                        for z, n in private.items() if z in zones)
        return rows

    # ------------------------------------------------------------- networks
    def add_guest_network(self, principal: Principal, req: NetworkRequest) -> NetworkDetail:
        """A guest network. A shared one needs a root admin and becomes the zone's
        default (where VMs go without a network) if the zone has none yet; an
        isolated one belongs to the caller's account."""
        zone = self._live(Zone, req.zone_uuid, ResourceKind.ZONE)
        if req.shared and not principal.is_root_admin:
            raise PermissionDenied("create a shared network", ResourceKind.ZONE, zone.uuid)
        default = req.shared and not self._count(Network, Network.zone_uuid == zone.uuid,
                                                 Network.is_default.is_(True),
                                                 Network.removed_at.is_(None))
        cidr = req.cidr
        if not cidr:  # the first /24 of the zone's guest CIDR
            guest = ipaddress.IPv4Network(zone.guest_cidr, strict=False)
            cidr = str(next(guest.subnets(new_prefix=24)) if guest.prefixlen < 24 else guest)
        network = self.create_network(
            zone, req.name, cidr, gateway=req.gateway,
            account_uuid=None if req.shared else principal.account_uuid, is_default=default,
            network_type="Shared" if req.shared else "Isolated", vlan=req.vlan)
        network.display_text = req.display_text or req.name
        return self.networks(principal, uuid=network.uuid, list_all=True)[0]

    def networks(self, principal: Principal, *, uuid: str | None = None,
                 zone_uuid: str | None = None, shared: bool | None = None,
                 list_all: bool = False) -> list[NetworkDetail]:
        """Shared networks plus those of the accounts the principal may see
        (its own only, unless ``list_all``)."""
        stmt = (select(Network, Zone, Account, Domain).join(Zone, Zone.uuid == Network.zone_uuid)
                .outerjoin(Account, Account.uuid == Network.account_uuid)
                .outerjoin(Domain, Domain.uuid == Account.domain_uuid)
                .where(Network.removed_at.is_(None),
                       or_(Network.account_uuid.is_(None),
                           owner_scope(Network.account_uuid, principal, list_all=list_all)))
                .order_by(Network.created_at, Network.uuid))
        stmt = _filters(stmt, (Network.uuid, uuid), (Network.zone_uuid, zone_uuid))
        if shared is not None:
            stmt = stmt.where(Network.account_uuid.is_(None) if shared
                              else Network.account_uuid.is_not(None))
        return [NetworkDetail(*row) for row in self._s.execute(stmt).all()]

    def networks_visible(self, principal: Principal, criteria: Sequence[Criterion] = (),
                         paging: Paging | None = None) -> ListResult:
        """Shared networks plus those of the accounts the principal may see,
        oldest first, as :class:`VisibleNetwork` items; NIC counts come from SQL.

        Fields: ``uuid``, ``sid``, ``name``, ``cidr``, ``zone_name``,
        ``is_default`` (values ``1``/``0`` or ``true``/``false``), ``owner_number``
        and tags (``ResourceKind.NETWORK``). Keyset paging; unknown fields raise
        InvalidParameter.
        """
        criteria = tuple(criteria)
        stmt = (select(Network)
                .join(Zone, Zone.uuid == Network.zone_uuid)
                .outerjoin(Account, Account.uuid == Network.account_uuid)
                .where(Network.removed_at.is_(None),
                       or_(Network.account_uuid.is_(None),
                           owner_scope(Network.account_uuid, principal))))
        stmt = apply_criteria(stmt, _visible_network_fields(principal), criteria,
                              uuid_column=Network.uuid, kind=ResourceKind.NETWORK)
        key = query_key("networks_visible", principal.account_uuid, criteria)
        page = paginate(self._s, stmt, created_column=Network.created_at,
                        uuid_column=Network.uuid, paging=paging or Paging(), query_key=key)
        wanted = [n.uuid for n in page.items]
        used = (select(Nic.network_uuid.label("network_uuid"), func.count().label("n"))
                .where(Nic.network_uuid.in_(wanted)).group_by(Nic.network_uuid).subquery())
        found = {n.uuid: VisibleNetwork(n, z, r, a, int(used_n)) for n, z, r, a, used_n in
                 self._s.execute(
                     select(Network, Zone, Region, Account, func.coalesce(used.c.n, 0))
                     .join(Zone, Zone.uuid == Network.zone_uuid)
                     .join(Region, Region.uuid == Zone.region_uuid)
                     .outerjoin(Account, Account.uuid == Network.account_uuid)
                     .outerjoin(used, used.c.network_uuid == Network.uuid)
                     .where(Network.uuid.in_(wanted))).all()} if wanted else {}
        rows = [found[u] for u in wanted]
        tags: dict[str, list[Tag]] = {}
        if rows:
            for t in self._s.scalars(select(Tag).where(
                    Tag.resource_kind == ResourceKind.NETWORK,
                    Tag.resource_uuid.in_([v.network.uuid for v in rows])).order_by(Tag.key)):
                tags.setdefault(t.resource_uuid, []).append(t)
        for v in rows:
            v.tags = tags.get(v.network.uuid, [])
        page.items = rows
        return page

    def delete_network(self, principal: Principal, uuid: str) -> None:
        """Remove a guest network no NIC uses (InUse otherwise)."""
        found = self.networks(principal, uuid=uuid, list_all=True)
        if not found or (found[0].network.account_uuid is None
                         and not principal.is_root_admin):
            raise NotFound(ResourceKind.NETWORK, uuid)
        network = found[0].network
        self._refuse_if_used(ResourceKind.NETWORK, network.name, {
            "NICs": self._count(Nic, Nic.network_uuid == uuid, Nic.instance_uuid.is_not(None))})
        network.removed_at = utcnow()
        network.is_default = False
