"""The reconciler: a thread that keeps the engine's records in step with the hosts.

Each pass claims the hosts whose lease lapsed (see ``ownership``), then checks
every host this server holds, one after the other:

1. renew the host's lease (skip the host if another server took it);
2. outside any transaction, ask the driver for ``list_domains()``;
3. record the outcome on the host row (heartbeat: ``last_seen_at``, and the
   Up / Disconnected / Down transitions, each with an event);
4. read the engine's records of the host and :func:`compare` them with the
   report, then apply the corrections one short transaction at a time.

Nothing here double-counts: an out-of-band stop releases capacity through the
stop path's own function and only while the instance row (locked) is still
Running on this host with no job; a host's state never touches capacity,
volumes or addresses (the planner merely skips hosts that are not Up).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from engine.db import Database, utcnow
from engine.errors import EngineError
from engine.hypervisors.base import DomainRef, HypervisorDriver, PowerState
from engine.jobs.drivers import DriverPool, HostAccess, host_access
from engine.models import Host
from engine.reconciler.compare import (
    Correction,
    SetPower,
    StopOutOfBand,
    Stray,
    compare,
    unknown_power,
)
from engine.reconciler.corrections import Corrections
from engine.reconciler.deadline import DeadlineExceeded, call_with_deadline
from engine.reconciler.ownership import HostLeases
from engine.reconciler.records import host_records
from engine.settings import Settings
from engine.states import HostState
from engine.uow import unit_of_work

log = logging.getLogger("nimbostack.reconciler")

# The part of the interval the thread's passes spread their host checks over.
PASS_SPREAD = 0.5


@dataclass
class PassReport:
    """What one pass did (for logs and tests)."""

    hosts: list[str] = field(default_factory=list)  # hosts checked by this server
    host_states: dict[str, HostState] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)  # instances stopped out of band
    power_changed: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)  # "host-uuid/domain-name"
    destroyed: list[str] = field(default_factory=list)
    interval: float = 0.0  # seconds until the next pass


@dataclass(frozen=True)
class _Knobs:
    interval: float
    lease: float
    down_after: float
    destroy_strays: bool
    host_timeout: float = 30.0


class Reconciler:
    """Periodically compares each held host with the engine's records.

    ``owner`` is this management server's uuid (``Host.owner_server_uuid``,
    at most 36 characters). ``interval`` (seconds between passes) and
    ``lease_seconds`` (how long a host claim lasts; default three intervals)
    override the ``reconcile.interval`` setting, read at every pass otherwise.
    ``start()`` runs passes on a daemon thread, the first at once; ``stop()``
    ends it and gives the hosts back; ``run_once()`` runs one pass in the
    caller's thread. Driver calls are made outside any transaction.
    """

    def __init__(self, db: Database, drivers: DriverPool, owner: str, *,
                 interval: float | None = None, lease_seconds: float | None = None,
                 gate: Callable[[], bool] | None = None) -> None:
        self._db = db
        self._gate = gate  # a pass runs only while it answers True (one worker per server)
        self._active = False
        self._drivers = drivers
        self.leases = HostLeases(db.session, owner)
        self._corrections = Corrections(db.session, self.leases)
        self._interval = interval
        self._lease = lease_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: set[tuple[str, str]] = set()  # strays already reported

    @property
    def owner(self) -> str:
        return self.leases.owner

    # -------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current host check and release this server's hosts."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if not self._active:
            return  # another process of this server holds the hosts
        try:
            self.leases.release()
        except Exception:
            log.exception("releasing host leases failed")

    def _loop(self) -> None:
        while not self._stopping.is_set():
            interval = self._interval or 60.0
            if self._gate is not None and not self._gate():
                if self._stopping.wait(interval):
                    return
                continue
            began = time.monotonic()
            try:
                interval = self.run_once(spread=PASS_SPREAD).interval
            except Exception:
                log.exception("reconciler pass failed")
            # A pass begins every interval (its checks take part of it).
            if self._stopping.wait(max(interval - (time.monotonic() - began), 0.0)):
                return

    # ------------------------------------------------------------------- pass
    def _knobs(self) -> _Knobs:
        with unit_of_work(self._db.read_session) as s:
            settings = Settings(s)
            interval = self._interval or settings.float("reconcile.interval")
            return _Knobs(interval, self._lease or 3 * interval,
                          settings.float("host.down.after"),
                          settings.str("reconcile.destroy.strays").lower() == "true",
                          settings.float("reconcile.host.timeout"))

    def run_once(self, *, spread: float = 0.0) -> PassReport:
        """One pass over every host this server holds (claiming lapsed ones first).

        With ``spread`` (a fraction of the interval) the host checks are paced
        evenly over that part of the interval instead of made back to back: a
        check costs a few milliseconds per hundred instances, and a burst over
        a whole fleet would stall the requests this process serves meanwhile."""
        self._active = True
        knobs = self._knobs()
        report = PassReport(interval=knobs.interval)
        hosts = self.leases.claim(knobs.lease)
        pause = knobs.interval * spread / len(hosts) if hosts else 0.0
        for n, host_uuid in enumerate(hosts):
            if self._stopping.is_set() or (n and pause and self._stopping.wait(pause)):
                break
            try:
                self._check_host(host_uuid, knobs, report)
            except Exception:
                log.exception("reconciling host %s failed", host_uuid)
        return report

    def _check_host(self, host_uuid: str, knobs: _Knobs, report: PassReport) -> None:
        if not self.leases.renew(host_uuid, knobs.lease):
            return
        with unit_of_work(self._db.read_session) as s:
            host = s.get(Host, host_uuid)
            if host is None or host.removed_at is not None:
                return
            access, name = host_access(s, host), host.name
        report.hosts.append(host_uuid)
        observed_at = utcnow()
        driver, domains = self._ask(access, knobs.host_timeout)
        state = self._corrections.settle_host(host_uuid, reachable=domains is not None,
                                              down_after=knobs.down_after)
        if state is None:
            return
        report.host_states[host_uuid] = state
        with unit_of_work(self._db.read_session) as s:
            records = host_records(s, host_uuid)
        if domains is None:
            if state == HostState.DOWN:
                report.power_changed += self._corrections.record_power(
                    host_uuid, name, unknown_power(records), observed_at, refresh=False)
            return
        assert driver is not None
        self._apply(host_uuid, name, driver, compare(records, domains), observed_at, knobs,
                    report)

    def _ask(self, access: HostAccess, timeout: float) -> tuple[
            HypervisorDriver | None, dict[str, PowerState] | None]:
        """The host's driver and its domains, or (None, None) if it did not answer
        (within ``timeout`` seconds: a hung hypervisor does not stall the pass)."""
        try:
            driver = self._drivers.get(access)  # cached per thread: not on a helper thread
            return driver, call_with_deadline(driver.list_domains, timeout,
                                              name=f"list_domains {access.uuid}")
        except DeadlineExceeded as exc:
            log.warning("host %s did not answer: %s", access.uuid, exc)
        except EngineError as exc:
            log.warning("host %s did not answer: %s", access.uuid, exc)
        except Exception:
            log.exception("host %s did not answer", access.uuid)
        self._drivers.forget(access.uuid)
        return None, None

    def _apply(self, host_uuid: str, name: str, driver: HypervisorDriver,
               corrections: list[Correction], observed_at: datetime, knobs: _Knobs,
               report: PassReport) -> None:
        power = [c for c in corrections if isinstance(c, SetPower)]
        report.power_changed += self._corrections.record_power(host_uuid, name, power,
                                                               observed_at)
        for c in corrections:
            if isinstance(c, StopOutOfBand) and self._corrections.stop_out_of_band(
                    host_uuid, name, c, observed_at):
                report.stopped.append(c.instance_uuid)
        strays = [c for c in corrections if isinstance(c, Stray)]
        seen = {(host_uuid, s.name) for s in strays}
        self._reported = {k for k in self._reported if k[0] != host_uuid} | (
            self._reported & seen)
        for stray in strays:
            report.strays.append(f"{host_uuid}/{stray.name}")
            self._stray(host_uuid, name, driver, stray, knobs, report)

    def _stray(self, host_uuid: str, name: str, driver: HypervisorDriver, stray: Stray,
               knobs: _Knobs, report: PassReport) -> None:
        key = (host_uuid, stray.name)
        verdict = self._corrections.judge_stray(
            host_uuid, name, stray, destroy=knobs.destroy_strays,
            report=key not in self._reported)
        self._reported.add(key)
        if not verdict.destroyable:
            return
        ref = _verified_ref(driver, stray.name, verdict.candidate_refs)
        if ref is None:
            log.warning("stray domain %s on host %s: no handle found, left in place",
                        stray.name, host_uuid)
            return
        driver.destroy(ref)
        self._corrections.stray_destroyed(host_uuid, name, stray.name)
        self._reported.discard(key)
        report.destroyed.append(f"{host_uuid}/{stray.name}")


def _verified_ref(driver: HypervisorDriver, name: str,
                  candidates: tuple[str, ...]) -> DomainRef | None:
    """The first candidate handle that the driver confirms names domain ``name``
    (``list_domains`` gives names only; drivers differ in what a ref is)."""
    for candidate in candidates:
        ref = DomainRef(candidate)
        try:
            info = driver.info(ref)
        except Exception as exc:  # noqa: BLE001 - a handle the driver does not understand
            log.debug("domain handle %r not usable for %s: %s", candidate, name, exc)
            continue
        if info.power_state != PowerState.MISSING and info.name in ("", name):
            return ref
    return None
