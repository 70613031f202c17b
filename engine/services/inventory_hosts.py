"""Inventory: hypervisor hosts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select

from engine.db import utcnow
from engine.errors import (
    DriverError,
    Duplicate,
    InvalidParameter,
    MissingParameter,
    NotFound,
    ResourceKind,
    Unsupported,
)
from engine.hypervisors.base import HostConnection
from engine.hypervisors.registry import load_driver
from engine.models import Cluster, Host, Instance, Pod, Zone
from engine.services.inventory_base import _filters, _hypervisor
from engine.services.inventory_compute import ComputeInventory
from engine.settings import Settings
from engine.states import HostState, ResourceState, require


@dataclass(frozen=True)
class HostRequest:
    zone_uuid: str
    pod_uuid: str
    cluster_uuid: str
    url: str
    username: str | None = None
    password: str | None = None
    host_tags: str = ""


@dataclass(frozen=True)
class HostQuery:
    uuid: str | None = None
    name: str | None = None
    zone_uuid: str | None = None
    pod_uuid: str | None = None
    cluster_uuid: str | None = None
    state: HostState | None = None
    resource_state: ResourceState | None = None
    hypervisor: str | None = None
    instance_uuid: str | None = None
    keyword: str | None = None


@dataclass(frozen=True)
class HostDetail:
    host: Host
    zone: Zone
    pod: Pod
    cluster: Cluster
    cpu_factor: float
    memory_factor: float
    instances: int


class HostInventory(ComputeInventory):
    """Hosts (registering one may create its cluster, hence the base)."""

    def add_host(self, req: HostRequest) -> Host:
        """Connect to the host through its cluster's driver, record its capacity.

        Raises Unsupported for an unknown hypervisor, InvalidParameter when the
        host cannot be reached with the given URL and credentials.
        """
        cluster = self._s.get(Cluster, req.cluster_uuid)
        if cluster is None or cluster.removed_at is not None:
            raise NotFound(ResourceKind.CLUSTER, req.cluster_uuid)
        if self._s.scalar(select(Host.uuid).where(Host.url == req.url, Host.removed_at.is_(None))):
            raise Duplicate(ResourceKind.HOST, req.url)
        conn = HostConnection(url=req.url, username=req.username, password=req.password,
                              extra={"state_dir": self._simulator_dir})
        try:
            with load_driver(cluster.hypervisor, conn) as driver:
                info = driver.connect()
        except (Unsupported, InvalidParameter):
            raise
        except DriverError as exc:
            raise InvalidParameter("url", req.url, f"cannot reach the host: {exc.detail}") from exc
        host = Host(
            zone_uuid=cluster.zone_uuid, pod_uuid=cluster.pod_uuid, cluster_uuid=cluster.uuid,
            name=info.name, url=req.url, username=req.username, password=req.password,
            hypervisor=cluster.hypervisor, hypervisor_version=info.version,
            state=HostState.UP, cpu_cores=info.cpu_cores, cpu_mhz=info.cpu_mhz,
            memory_bytes=info.memory_bytes, local_storage_bytes=info.local_storage_bytes,
            arch=info.arch, host_tags=req.host_tags, last_seen_at=utcnow(),
        )
        self._s.add(host)
        self._s.flush()
        return host

    # ----------------------------------------------------------------- hosts
    def register_host(self, req: HostRequest, *, cluster_name: str | None = None,
                      hypervisor: str | None = None,
                      resource_state: ResourceState = ResourceState.ENABLED) -> HostDetail:
        """Connect a host and record its capacity. Without ``req.cluster_uuid`` the
        cluster ``cluster_name`` of the pod is used (created if missing)."""
        pod = self._live(Pod, req.pod_uuid, ResourceKind.POD)
        if pod.zone_uuid != req.zone_uuid:
            raise InvalidParameter("podid", req.pod_uuid, "the pod is not in that zone")
        cluster_uuid = req.cluster_uuid
        if not cluster_uuid:
            if not cluster_name or not hypervisor:
                raise MissingParameter("clusterid")
            found = self.clusters(pod_uuid=pod.uuid, name=cluster_name)
            cluster_uuid = (found[0].cluster.uuid if found else
                            self.add_cluster(pod.uuid, cluster_name, hypervisor).cluster.uuid)
        cluster = self._live(Cluster, cluster_uuid, ResourceKind.CLUSTER)
        if cluster.pod_uuid != pod.uuid:
            raise InvalidParameter("clusterid", cluster_uuid, "the cluster is not in that pod")
        if hypervisor and _hypervisor(hypervisor) != cluster.hypervisor:
            raise InvalidParameter("hypervisor", hypervisor,
                                   f"the cluster's hypervisor is {cluster.hypervisor}")
        host = self.add_host(HostRequest(req.zone_uuid, pod.uuid, cluster.uuid, req.url,
                                         req.username, req.password, req.host_tags))
        host.resource_state = resource_state
        return self.host(host.uuid)

    def hosts(self, query: HostQuery = HostQuery()) -> list[HostDetail]:
        settings = Settings(self._s)
        cpu, mem = (settings.float("cpu.overprovisioning.factor"),
                    settings.float("mem.overprovisioning.factor"))
        vms = (select(func.count()).where(Instance.host_uuid == Host.uuid)
               .correlate(Host).scalar_subquery())
        stmt = (select(Host, Zone, Pod, Cluster, vms)
                .join(Zone, Zone.uuid == Host.zone_uuid).join(Pod, Pod.uuid == Host.pod_uuid)
                .join(Cluster, Cluster.uuid == Host.cluster_uuid)
                .where(Host.removed_at.is_(None)).order_by(Host.created_at, Host.uuid))
        stmt = _filters(stmt, (Host.uuid, query.uuid), (Host.name, query.name),
                        (Host.zone_uuid, query.zone_uuid), (Host.pod_uuid, query.pod_uuid),
                        (Host.cluster_uuid, query.cluster_uuid), (Host.state, query.state),
                        (Host.resource_state, query.resource_state))
        if query.hypervisor:
            stmt = stmt.where(Host.hypervisor == _hypervisor(query.hypervisor))
        if query.instance_uuid:
            stmt = stmt.where(Host.uuid == select(Instance.host_uuid).where(
                Instance.uuid == query.instance_uuid).scalar_subquery())
        if query.keyword:
            stmt = stmt.where(Host.name.contains(query.keyword, autoescape=True))
        return [HostDetail(h, z, p, c, c.cpu_overcommit or cpu, c.memory_overcommit or mem,
                           int(n or 0)) for h, z, p, c, n in self._s.execute(stmt).all()]

    def host(self, uuid: str) -> HostDetail:
        found = self.hosts(HostQuery(uuid=uuid))
        if not found:
            raise NotFound(ResourceKind.HOST, uuid)
        return found[0]

    def _locked_host(self, uuid: str) -> Host:
        host = self._s.scalar(select(Host).where(Host.uuid == uuid).with_for_update())
        if host is None or host.removed_at is not None:
            raise NotFound(ResourceKind.HOST, uuid)
        return host

    def update_host(self, uuid: str, *, resource_state: ResourceState | None = None,
                    name: str | None = None, host_tags: str | None = None) -> HostDetail:
        """Enable/disable placement on a host (not while it is in maintenance)."""
        host = self._locked_host(uuid)
        if resource_state is not None and resource_state != host.resource_state:
            require(host.resource_state, frozenset({ResourceState.ENABLED,
                                                    ResourceState.DISABLED}),
                    ResourceKind.HOST, uuid)
            host.resource_state = resource_state
        if name:
            host.name = name
        if host_tags is not None:
            host.host_tags = host_tags
        return self.host(uuid)

    def start_host_maintenance(self, uuid: str) -> HostDetail:
        """Take a host out of placement. Refused (InvalidParameter) while VMs run
        on it: moving them away is not implemented."""
        host = self._locked_host(uuid)
        if host.resource_state == ResourceState.MAINTENANCE:
            return self.host(uuid)
        running = self._count(Instance, Instance.host_uuid == uuid)
        if running:
            raise InvalidParameter("id", uuid, f"the host has {running} virtual machines; "
                                   "stop or move them before maintenance")
        host.resource_state = ResourceState.MAINTENANCE
        return self.host(uuid)

    def end_host_maintenance(self, uuid: str) -> HostDetail:
        host = self._locked_host(uuid)
        require(host.resource_state, frozenset({ResourceState.MAINTENANCE}), ResourceKind.HOST,
                uuid)
        host.resource_state = ResourceState.ENABLED
        return self.host(uuid)

    def _driver_connection(self, host: Host) -> HostConnection:
        return HostConnection(url=host.url, username=host.username, password=host.password,
                              extra={"state_dir": self._simulator_dir})

    def reconnect_host(self, uuid: str) -> HostDetail:
        """Connect to a host again through its driver and refresh what it reports
        (capacity, version, arch); the host is Up afterwards. A driver failure
        (DriverError, Unavailable) propagates and leaves the host as it was."""
        host = self._locked_host(uuid)
        with load_driver(host.hypervisor, self._driver_connection(host)) as driver:
            info = driver.connect()
        host.hypervisor_version = info.version
        host.cpu_cores, host.cpu_mhz = info.cpu_cores, info.cpu_mhz
        host.memory_bytes, host.local_storage_bytes = info.memory_bytes, info.local_storage_bytes
        host.arch = info.arch
        host.state = HostState.UP
        host.last_seen_at = utcnow()
        self._s.flush()
        return self.host(uuid)

    def configure_simulated_hosts(self, query: HostQuery,
                                  settings: Mapping[str, object]) -> list[HostDetail]:
        """Store runtime ``settings`` (the simulator driver's ``configure``: ``fail.<op>``,
        ``delay.<op>``, host facts such as ``memory``) on every simulator host matching
        ``query``; other hosts are skipped. Returns the hosts configured."""
        done = []
        for d in self.hosts(query):
            with load_driver(d.host.hypervisor, self._driver_connection(d.host)) as driver:
                configure = getattr(driver, "configure", None)
                if configure is None:
                    continue
                configure(**settings)
            done.append(d)
        return done

    def delete_host(self, uuid: str, *, forced: bool = False) -> None:
        """Remove a host; it must be in maintenance (or ``forced``) and hold no VMs."""
        host = self._locked_host(uuid)
        if not forced:
            require(host.resource_state, frozenset({ResourceState.MAINTENANCE}),
                    ResourceKind.HOST, uuid)
        self._refuse_if_used(ResourceKind.HOST, host.name, {
            "virtual machines": self._count(Instance, Instance.host_uuid == uuid)})
        host.removed_at = utcnow()
        host.state = HostState.DISCONNECTED
