"""Inventory: zones, pods and clusters."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from engine.db import utcnow
from engine.errors import Duplicate, InvalidParameter, ResourceKind
from engine.models import (
    Cluster,
    Host,
    ImageStore,
    Instance,
    Network,
    PhysicalNetwork,
    Pod,
    Region,
    StoragePool,
    TemplateZone,
    VlanRange,
    Zone,
)
from engine.services.inventory_base import (
    InventoryBase,
    _cidr,
    _filters,
    _hypervisor,
    _ip_range,
    display_hypervisor,
)
from engine.settings import Settings
from engine.states import AllocationState, VmState


@dataclass(frozen=True)
class ZoneRequest:
    name: str
    network_type: str = "Advanced"
    description: str = ""
    dns1: str | None = None
    internal_dns1: str | None = None
    guest_cidr: str | None = None
    security_groups_enabled: bool = False
    allocation_state: AllocationState = AllocationState.DISABLED


@dataclass(frozen=True)
class ZoneChanges:
    """Fields to change on a zone; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    dns1: str | None = None
    internal_dns1: str | None = None
    guest_cidr: str | None = None
    allocation_state: AllocationState | None = None


@dataclass(frozen=True)
class PodDetail:
    pod: Pod
    zone: Zone


@dataclass(frozen=True)
class ClusterDetail:
    cluster: Cluster
    pod: Pod
    zone: Zone
    cpu_factor: float
    memory_factor: float


class ComputeInventory(InventoryBase):
    """Zones, pods and clusters."""

    def region(self, name: str, endpoint: str = "") -> Region:
        r = self._s.scalar(select(Region).where(Region.name == name))
        if r is None:
            r = Region(name=name, endpoint=endpoint)
            self._s.add(r)
            self._s.flush()
        return r

    def create_zone(self, region: Region, name: str, **fields: object) -> Zone:
        if self._s.scalar(select(Zone).where(Zone.name == name, Zone.removed_at.is_(None))):
            raise Duplicate(ResourceKind.ZONE, name)
        zone = Zone(region_uuid=region.uuid, name=name, **fields)
        self._s.add(zone)
        self._s.flush()
        return zone

    def create_pod(self, zone: Zone, name: str, **fields: object) -> Pod:
        pod = Pod(zone_uuid=zone.uuid, name=name, **fields)
        self._s.add(pod)
        self._s.flush()
        return pod

    def create_cluster(self, pod: Pod, name: str, hypervisor: str) -> Cluster:
        cluster = Cluster(zone_uuid=pod.zone_uuid, pod_uuid=pod.uuid, name=name,
                          hypervisor=display_hypervisor(hypervisor))
        self._s.add(cluster)
        self._s.flush()
        return cluster

    # ----------------------------------------------------------------- zones
    def add_zone(self, req: ZoneRequest) -> Zone:
        """A zone in the oldest region; Duplicate for a taken name."""
        region = self._s.scalar(select(Region).order_by(Region.created_at)) or self.region(
            "region1")
        fields = {k: v for k, v in (("dns1", req.dns1), ("internal_dns1", req.internal_dns1),
                                    ("guest_cidr", _cidr("guestcidraddress", req.guest_cidr)))
                  if v}
        return self.create_zone(region, req.name, description=req.description,
                                network_type=req.network_type,
                                security_groups_enabled=req.security_groups_enabled,
                                allocation_state=req.allocation_state, **fields)

    def update_zone(self, uuid: str, changes: ZoneChanges) -> Zone:
        zone = self._live(Zone, uuid, ResourceKind.ZONE)
        if changes.name and changes.name != zone.name and self._count(
                Zone, Zone.name == changes.name, Zone.removed_at.is_(None)):
            raise Duplicate(ResourceKind.ZONE, changes.name)
        _cidr("guestcidraddress", changes.guest_cidr)
        for attr in ("name", "description", "dns1", "internal_dns1", "guest_cidr",
                     "allocation_state"):
            value = getattr(changes, attr)
            if value is not None:
                setattr(zone, attr, value)
        return zone

    def delete_zone(self, uuid: str) -> None:
        zone = self._live(Zone, uuid, ResourceKind.ZONE)
        self._refuse_if_used(ResourceKind.ZONE, zone.name, {
            "pods": self._count(Pod, Pod.zone_uuid == uuid, Pod.removed_at.is_(None)),
            "primary storage pools": self._count(StoragePool, StoragePool.zone_uuid == uuid,
                                                 StoragePool.removed_at.is_(None)),
            "image stores": self._count(ImageStore, ImageStore.zone_uuid == uuid,
                                        ImageStore.removed_at.is_(None)),
            "IP ranges": self._count(VlanRange, VlanRange.zone_uuid == uuid,
                                     VlanRange.removed_at.is_(None)),
            "networks": self._count(Network, Network.zone_uuid == uuid,
                                    Network.removed_at.is_(None)),
            "virtual machines": self._count(Instance, Instance.zone_uuid == uuid,
                                            Instance.state != VmState.EXPUNGED),
            "physical networks": self._count(PhysicalNetwork, PhysicalNetwork.zone_uuid == uuid,
                                             PhysicalNetwork.removed_at.is_(None)),
        })
        self._s.execute(delete(TemplateZone).where(TemplateZone.zone_uuid == uuid))
        zone.removed_at = utcnow()
        zone.name = f"{zone.name}~{zone.sid}"[:64]  # frees the unique name

    # ------------------------------------------------------------------ pods
    def add_pod(self, zone_uuid: str, name: str, *, gateway: str = "", netmask: str = "",
                start_ip: str = "", end_ip: str = "",
                allocation_state: AllocationState = AllocationState.ENABLED) -> PodDetail:
        """A pod; its management range (``start_ip``..``end_ip``) must lie in gateway/netmask."""
        zone = self._live(Zone, zone_uuid, ResourceKind.ZONE)
        if start_ip or end_ip:
            _ip_range(gateway, netmask, start_ip, end_ip or start_ip)
        if self._count(Pod, Pod.zone_uuid == zone.uuid, Pod.name == name,
                       Pod.removed_at.is_(None)):
            raise Duplicate(ResourceKind.POD, name)
        pod = self.create_pod(zone, name, gateway=gateway, netmask=netmask, start_ip=start_ip,
                              end_ip=end_ip or start_ip, allocation_state=allocation_state)
        return PodDetail(pod, zone)

    def pods(self, *, uuid: str | None = None, zone_uuid: str | None = None,
             name: str | None = None, allocation_state: AllocationState | None = None,
             keyword: str | None = None) -> list[PodDetail]:
        stmt = (select(Pod, Zone).join(Zone, Zone.uuid == Pod.zone_uuid)
                .where(Pod.removed_at.is_(None)).order_by(Pod.created_at, Pod.uuid))
        stmt = _filters(stmt, (Pod.uuid, uuid), (Pod.zone_uuid, zone_uuid), (Pod.name, name),
                        (Pod.allocation_state, allocation_state))
        if keyword:
            stmt = stmt.where(Pod.name.contains(keyword, autoescape=True))
        return [PodDetail(p, z) for p, z in self._s.execute(stmt).all()]

    def update_pod(self, uuid: str, *, name: str | None = None, gateway: str | None = None,
                   netmask: str | None = None, start_ip: str | None = None,
                   end_ip: str | None = None,
                   allocation_state: AllocationState | None = None) -> PodDetail:
        """Change a pod; None leaves a field as it is. The resulting management
        range must lie in the resulting gateway/netmask (InvalidParameter);
        Duplicate for a name another pod of the zone has."""
        pod = self._live(Pod, uuid, ResourceKind.POD)
        if name and name != pod.name and self._count(
                Pod, Pod.zone_uuid == pod.zone_uuid, Pod.name == name, Pod.removed_at.is_(None)):
            raise Duplicate(ResourceKind.POD, name)
        new_gateway = pod.gateway if gateway is None else gateway
        new_netmask = pod.netmask if netmask is None else netmask
        new_start = pod.start_ip if start_ip is None else start_ip
        new_end = (pod.end_ip if end_ip is None else end_ip) or new_start
        if new_start or end_ip:
            _ip_range(new_gateway, new_netmask, new_start, new_end)
        pod.gateway, pod.netmask = new_gateway, new_netmask
        pod.start_ip, pod.end_ip = new_start, new_end if new_start else ""
        if name:
            pod.name = name
        if allocation_state is not None:
            pod.allocation_state = allocation_state
        self._s.flush()
        zone = self._s.get(Zone, pod.zone_uuid)
        assert zone is not None
        return PodDetail(pod, zone)

    def delete_pod(self, uuid: str) -> None:
        pod = self._live(Pod, uuid, ResourceKind.POD)
        self._refuse_if_used(ResourceKind.POD, pod.name, {
            "clusters": self._count(Cluster, Cluster.pod_uuid == uuid,
                                    Cluster.removed_at.is_(None)),
            "IP ranges": self._count(VlanRange, VlanRange.pod_uuid == uuid,
                                     VlanRange.removed_at.is_(None)),
        })
        pod.removed_at = utcnow()

    # -------------------------------------------------------------- clusters
    def add_cluster(self, pod_uuid: str, name: str, hypervisor: str, *,
                    zone_uuid: str | None = None,
                    allocation_state: AllocationState = AllocationState.ENABLED
                    ) -> ClusterDetail:
        pod = self._live(Pod, pod_uuid, ResourceKind.POD)
        if zone_uuid and pod.zone_uuid != zone_uuid:
            raise InvalidParameter("podid", pod_uuid, "the pod is not in that zone")
        if self._count(Cluster, Cluster.pod_uuid == pod.uuid, Cluster.name == name,
                       Cluster.removed_at.is_(None)):
            raise Duplicate(ResourceKind.CLUSTER, name)
        cluster = self.create_cluster(pod, name, _hypervisor(hypervisor))
        cluster.allocation_state = allocation_state
        return self.clusters(uuid=cluster.uuid)[0]

    def clusters(self, *, uuid: str | None = None, zone_uuid: str | None = None,
                 pod_uuid: str | None = None, name: str | None = None,
                 hypervisor: str | None = None,
                 allocation_state: AllocationState | None = None,
                 keyword: str | None = None) -> list[ClusterDetail]:
        settings = Settings(self._s)
        cpu, mem = (settings.float("cpu.overprovisioning.factor"),
                    settings.float("mem.overprovisioning.factor"))
        stmt = (select(Cluster, Pod, Zone).join(Pod, Pod.uuid == Cluster.pod_uuid)
                .join(Zone, Zone.uuid == Cluster.zone_uuid)
                .where(Cluster.removed_at.is_(None)).order_by(Cluster.created_at, Cluster.uuid))
        stmt = _filters(stmt, (Cluster.uuid, uuid), (Cluster.zone_uuid, zone_uuid),
                        (Cluster.pod_uuid, pod_uuid), (Cluster.name, name),
                        (Cluster.allocation_state, allocation_state))
        if hypervisor:
            stmt = stmt.where(Cluster.hypervisor == _hypervisor(hypervisor))
        if keyword:
            stmt = stmt.where(Cluster.name.contains(keyword, autoescape=True))
        return [ClusterDetail(c, p, z, c.cpu_overcommit or cpu, c.memory_overcommit or mem)
                for c, p, z in self._s.execute(stmt).all()]

    def update_cluster(self, uuid: str, *, allocation_state: AllocationState | None = None,
                       cpu_factor: float | None = None,
                       memory_factor: float | None = None,
                       name: str | None = None) -> ClusterDetail:
        """Change a cluster; the overcommit factors override the global settings
        for its hosts (placement reads them at once). Duplicate for a ``name``
        another cluster of the pod has."""
        cluster = self._live(Cluster, uuid, ResourceKind.CLUSTER)
        if name and name != cluster.name and self._count(
                Cluster, Cluster.pod_uuid == cluster.pod_uuid, Cluster.name == name,
                Cluster.removed_at.is_(None)):
            raise Duplicate(ResourceKind.CLUSTER, name)
        for what, value in (("cpu", cpu_factor), ("memory", memory_factor)):
            if value is not None and not value > 0:
                raise InvalidParameter(f"{what} overcommit", value, "must be a positive number")
        if name:
            cluster.name = name
        if allocation_state is not None:
            cluster.allocation_state = allocation_state
        if cpu_factor is not None:
            cluster.cpu_overcommit = cpu_factor
        if memory_factor is not None:
            cluster.memory_overcommit = memory_factor
        self._s.flush()
        return self.clusters(uuid=uuid)[0]

    def delete_cluster(self, uuid: str) -> None:
        cluster = self._live(Cluster, uuid, ResourceKind.CLUSTER)
        self._refuse_if_used(ResourceKind.CLUSTER, cluster.name, {
            "hosts": self._count(Host, Host.cluster_uuid == uuid, Host.removed_at.is_(None)),
            "primary storage pools": self._count(StoragePool, StoragePool.cluster_uuid == uuid,
                                                 StoragePool.removed_at.is_(None)),
        })
        cluster.removed_at = utcnow()
