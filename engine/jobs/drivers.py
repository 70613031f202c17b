"""Driver instances for hosts, one per (thread, host), built from host rows."""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Select, Table, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from engine.hypervisors.registry import load_driver
from engine.statements import Prepared
from engine.states import StorageScope

if TYPE_CHECKING:  # imported where used: a server loads it once a job needs a driver
    from engine.hypervisors.base import HostConnection, HypervisorDriver
    from engine.models import Host, StoragePool


@dataclass(frozen=True)
class HostAccess:
    """What is needed to reach a host, copied out of its row.

    ``storage_pools`` maps the uuid of every primary storage pool the host can
    reach to the pool's URL; drivers receive it as ``extra["storage_pools"]``
    and resolve a ``DiskSpec.pool_ref`` (a pool uuid) through it.
    """

    uuid: str
    hypervisor: str
    url: str
    username: str | None
    password: str | None = field(default=None, repr=False)
    storage_pools: Mapping[str, str] = field(default_factory=dict)


@functools.cache
def _pools_statement() -> Prepared:
    """The live pools a host can use: its cluster's, and the zone-wide ones for
    its hypervisor or for any (built on first use: the host and storage models
    are not on a server's first-call path)."""
    from engine.models import StoragePool

    pools: Table = StoragePool.__table__  # type: ignore[assignment]
    return Prepared(select(pools.c.uuid, pools.c.url).where(
        pools.c.zone_uuid == bindparam("p_zone"),
        pools.c.removed_at.is_(None),
        or_(pools.c.cluster_uuid == bindparam("p_cluster"),
            and_(pools.c.scope == StorageScope.ZONE,
                 or_(pools.c.hypervisor.is_(None), pools.c.hypervisor == "",
                     pools.c.hypervisor == bindparam("p_hypervisor"))))))


def pools_reachable(session: Session, zone_uuid: str, cluster_uuid: str,
                    hypervisor: str) -> dict[str, str]:
    """Pool uuid -> URL of the live pools a host of that zone, cluster and
    hypervisor can use."""
    params = {"p_zone": zone_uuid, "p_cluster": cluster_uuid, "p_hypervisor": hypervisor}
    rows = _pools_statement().execute(session, params).all()
    return {uuid: url for uuid, url in rows}


def reachable_pools(session: Session, host: Host) -> dict[str, str]:
    """Pool uuid -> URL of the live pools ``host`` can use."""
    return pools_reachable(session, host.zone_uuid, host.cluster_uuid, host.hypervisor)


def reachable_pool_uuids(session: Session, host_uuid: str) -> set[str]:
    """Uuids of the pools the host ``host_uuid`` can use (empty if no such host)."""
    from engine.models import Host

    host = session.get(Host, host_uuid)
    return set(reachable_pools(session, host)) if host is not None else set()


def hosts_reaching(session: Session, pool: StoragePool) -> Select[tuple[Host]]:
    """Live hosts that can use ``pool``: its cluster's, or for a zone-wide pool
    those of its zone whose hypervisor it serves."""
    from engine.models import Host

    stmt = select(Host).where(Host.zone_uuid == pool.zone_uuid, Host.removed_at.is_(None))
    if pool.cluster_uuid:
        return stmt.where(Host.cluster_uuid == pool.cluster_uuid)
    if pool.hypervisor:
        return stmt.where(Host.hypervisor == pool.hypervisor)
    return stmt


def host_access(session: Session, host: Host) -> HostAccess:
    """The ``HostAccess`` of a host row (with the storage pools it can reach)."""
    return HostAccess(host.uuid, host.hypervisor, host.url, host.username, host.password,
                      reachable_pools(session, host))


class DriverPool:
    """Caches a driver per thread and host; drivers need not be thread-safe."""

    def __init__(self, simulator_dir: Path) -> None:
        self._simulator_dir = simulator_dir
        self._local = threading.local()

    @property
    def simulator_dir(self) -> Path:
        """The simulator's state directory (its parent is the server's home)."""
        return self._simulator_dir

    def connection(self, host: HostAccess) -> HostConnection:
        from engine.hypervisors.base import HostConnection

        return HostConnection(
            url=host.url,
            username=host.username,
            password=host.password,
            extra={"state_dir": str(self._simulator_dir),
                   "storage_pools": dict(host.storage_pools)},
        )

    def get(self, host: HostAccess) -> HypervisorDriver:
        cache: dict[tuple[str, str], HypervisorDriver] = getattr(self._local, "drivers", None) or {}
        self._local.drivers = cache
        key = (host.uuid, host.url)
        driver = cache.get(key)
        if driver is None:
            driver = load_driver(host.hypervisor, self.connection(host))
            cache[key] = driver
        return driver

    def forget(self, host_uuid: str) -> None:
        """Drop this thread's cached driver for a host (after a connection failure)."""
        cache = getattr(self._local, "drivers", {})
        for key in [k for k in cache if k[0] == host_uuid]:
            try:
                cache.pop(key).close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail
                pass
