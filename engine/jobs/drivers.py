"""Driver instances for hosts, one per (thread, host), built from host rows."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from engine.hypervisors.base import HostConnection, HypervisorDriver
from engine.hypervisors.registry import load_driver


@dataclass(frozen=True)
class HostAccess:
    """What is needed to reach a host, copied out of its row."""

    uuid: str
    hypervisor: str
    url: str
    username: str | None
    password: str | None


class DriverPool:
    """Caches a driver per thread and host; drivers need not be thread-safe."""

    def __init__(self, simulator_dir: Path) -> None:
        self._simulator_dir = simulator_dir
        self._local = threading.local()

    def connection(self, host: HostAccess) -> HostConnection:
        return HostConnection(
            url=host.url,
            username=host.username,
            password=host.password,
            extra={"state_dir": str(self._simulator_dir)},
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
