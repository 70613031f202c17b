"""Infrastructure administration: zones, pods, clusters, hosts, storage, IP ranges, networks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import (
    DriverError,
    Duplicate,
    InvalidParameter,
    NotFound,
    ResourceKind,
    Unsupported,
)
from engine.hypervisors.base import HostConnection
from engine.hypervisors.registry import canonical_name, load_driver
from engine.ids import new_sid, new_uuid
from engine.models import (
    Cluster,
    Host,
    ImageStore,
    Network,
    Pod,
    PublicIp,
    Region,
    StoragePool,
    VlanRange,
    Zone,
)
from engine.states import HostState, IpState, StorageScope

# How each hypervisor type is displayed (CloudStack's names).
HYPERVISOR_DISPLAY = {"simulator": "Simulator", "kvm": "KVM", "vmware": "VMware",
                      "xenserver": "XenServer"}


def display_hypervisor(name: str) -> str:
    """CloudStack's spelling of a hypervisor type; raises Unsupported for unknown ones."""
    return HYPERVISOR_DISPLAY[canonical_name(name)]


@dataclass(frozen=True)
class HostRequest:
    zone_uuid: str
    pod_uuid: str
    cluster_uuid: str
    url: str
    username: str | None = None
    password: str | None = None
    host_tags: str = ""


class InventoryService:
    def __init__(self, session: Session, *, simulator_dir: str = "") -> None:
        self._s = session
        self._simulator_dir = simulator_dir

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

    def add_storage_pool(self, zone: Zone, name: str, url: str, capacity_bytes: int, *,
                         cluster: Cluster | None = None, tags: str = "") -> StoragePool:
        pool = StoragePool(
            zone_uuid=zone.uuid, pod_uuid=cluster.pod_uuid if cluster else None,
            cluster_uuid=cluster.uuid if cluster else None,
            scope=StorageScope.CLUSTER if cluster else StorageScope.ZONE, name=name, url=url,
            hypervisor=cluster.hypervisor if cluster else None, capacity_bytes=capacity_bytes,
            tags=tags,
        )
        self._s.add(pool)
        self._s.flush()
        return pool

    def add_image_store(self, zone: Zone | None, name: str, url: str,
                        capacity_bytes: int = 0) -> ImageStore:
        store = ImageStore(zone_uuid=zone.uuid if zone else None, name=name, url=url,
                           protocol=url.split(":", 1)[0] if ":" in url else "nfs",
                           capacity_bytes=capacity_bytes)
        self._s.add(store)
        self._s.flush()
        return store

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
        return network
