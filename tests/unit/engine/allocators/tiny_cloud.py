"""A tiny cloud in a throwaway SQLite file, built row by row, for the allocator tests.

Zone ``z`` has one pod and two clusters (``c1`` with hosts h1, h2, h3 and ``c2``
with h4); every host has 4 cores x 1000 MHz and 4 GiB. There is one zone-wide
pool and one pool of cluster ``c1``, a public range of five addresses and a
guest network 10.0.0.0/29 (gateway .1, so .2-.6 are usable).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from engine.db import Base, connect
from engine.models import (
    Account,
    Cluster,
    Domain,
    Host,
    Network,
    Pod,
    PublicIp,
    Region,
    StoragePool,
    VlanRange,
    Zone,
)
from engine.settings import Settings
from engine.states import IpState, Role, StorageScope

GIB = 1024**3
T0 = datetime(2024, 1, 1)


@dataclass
class Cloud:
    session: Session
    settings: Settings
    zone: Zone
    c1: Cluster
    c2: Cluster
    hosts: dict[str, Host]
    zone_pool: StoragePool
    cluster_pool: StoragePool
    public_range: VlanRange
    network: Network
    account: Account
    other_account: Account

    def setting(self, name: str, value: str) -> None:
        self.settings.update(name, value)
        self.session.flush()


def _host(zone: Zone, cluster: Cluster, name: str, n: int) -> Host:
    return Host(zone_uuid=zone.uuid, pod_uuid=cluster.pod_uuid, cluster_uuid=cluster.uuid,
                name=name, url=f"sim://{name}", hypervisor="Simulator", cpu_cores=4,
                cpu_mhz=1000, memory_bytes=4 * GIB, created_at=T0 + timedelta(minutes=n))


def public_range(s: Session, zone: Zone, first: int, last: int,
                 account_uuid: str | None = None, *, prefix: str = "203.0.113") -> VlanRange:
    rng = VlanRange(zone_uuid=zone.uuid, gateway=f"{prefix}.1", netmask="255.255.255.0",
                    start_ip=f"{prefix}.{first}", end_ip=f"{prefix}.{last}",
                    account_uuid=account_uuid)
    s.add(rng)
    s.flush()
    for n in range(first, last + 1):
        s.add(PublicIp(vlan_range_uuid=rng.uuid, zone_uuid=zone.uuid, address=f"{prefix}.{n}",
                       state=IpState.FREE))
    s.flush()
    return rng


@contextmanager
def tiny_cloud(tmp_path: Path) -> Iterator[Cloud]:
    """Build the cloud; roll everything back afterwards."""
    db = connect(f"sqlite:///{tmp_path / 'allocators.sqlite'}")
    Base.metadata.create_all(db.engine)
    session = db.session()
    session.begin()
    try:
        domain = Domain(name="ROOT", path="/")
        session.add(domain)
        session.flush()
        account = Account(number="000000000001", domain_uuid=domain.uuid, name="a", role=Role.USER)
        other = Account(number="000000000002", domain_uuid=domain.uuid, name="b", role=Role.USER)
        region = Region(name="r")
        session.add_all([account, other, region])
        session.flush()
        zone = Zone(region_uuid=region.uuid, name="z")
        session.add(zone)
        session.flush()
        pod = Pod(zone_uuid=zone.uuid, name="p")
        session.add(pod)
        session.flush()
        c1 = Cluster(zone_uuid=zone.uuid, pod_uuid=pod.uuid, name="c1", hypervisor="Simulator")
        c2 = Cluster(zone_uuid=zone.uuid, pod_uuid=pod.uuid, name="c2", hypervisor="Simulator")
        session.add_all([c1, c2])
        session.flush()
        hosts = {name: _host(zone, c1 if n < 4 else c2, name, n)
                 for n, name in enumerate(("h1", "h2", "h3", "h4"), start=1)}
        session.add_all(hosts.values())
        zone_pool = StoragePool(zone_uuid=zone.uuid, scope=StorageScope.ZONE, name="zp",
                                url="nfs://zp", capacity_bytes=100 * GIB)
        cluster_pool = StoragePool(zone_uuid=zone.uuid, pod_uuid=pod.uuid, cluster_uuid=c1.uuid,
                                   scope=StorageScope.CLUSTER, name="cp", url="nfs://cp",
                                   capacity_bytes=100 * GIB)
        network = Network(zone_uuid=zone.uuid, name="n", cidr="10.0.0.0/29", gateway="10.0.0.1")
        session.add_all([zone_pool, cluster_pool, network])
        session.flush()
        rng = public_range(session, zone, 10, 14)
        yield Cloud(session, Settings(session), zone, c1, c2, hosts, zone_pool, cluster_pool,
                    rng, network, account, other)
    finally:
        session.rollback()
        session.close()
        db.dispose()
