"""The knobs behind the engine's back: runtime settings, injected delays and faults,
and test hooks that change simulated domains directly.

``SimulatorControls`` is the base of ``SimulatorDriver``; it owns the host's
identity (``host``, ``state_dir``) and its handle on the shared state file.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from engine.errors import DriverError, InsufficientCapacity, ResourceKind, Unavailable
from engine.hypervisors.base import DomainRef, HostConnection, HypervisorDriver, PowerState
from engine.hypervisors.simulator.host import (
    HOST_DEFAULTS,
    SimHost,
    flat_settings,
    fraction,
    setting_text,
    state_dir_for,
)
from engine.hypervisors.simulator.records import remove_domain, set_power
from engine.hypervisors.simulator.store import Db, store_at


class SimulatorControls(HypervisorDriver):
    """Settings, fault injection and test hooks of one simulated host (abstract)."""

    def __init__(self, conn: HostConnection) -> None:
        super().__init__(conn)
        self.host = SimHost.from_url(conn.url)
        self.state_dir = state_dir_for(conn)
        self._static = {**HOST_DEFAULTS, **self.host.settings, **flat_settings(conn.extra)}
        self._store = store_at(self.state_dir)

    def _tx(self) -> AbstractContextManager[Db]:
        return self._store.tx(self.host.key)

    def _read(self) -> Db:
        return self._store.read(self.host.key)

    # -- settings, delays and faults ----------------------------------------------

    def settings(self) -> dict[str, str]:
        """Effective settings: URL < extra < runtime (``configure``)."""
        rows = self._read().all("SELECT key, value FROM settings WHERE host=?", self.host.key)
        return {**self._static, **dict(rows)}

    def configure(self, **settings: object) -> None:
        """Store runtime settings for this host, seen by every process; None removes one.

        Pass dotted names as a dict: ``configure(**{"fail.start.match": "i-2-"})``.
        Setting ``fail.<op>`` again restarts its ``fail.<op>.count``.
        """
        with self._tx() as db:
            for key, value in settings.items():
                db.run("DELETE FROM settings WHERE host=? AND key=?", db.host, key)
                if value is not None:
                    db.run(
                        "INSERT INTO settings VALUES (?, ?, ?)", db.host, key, setting_text(value)
                    )
                if key.startswith("fail.") and key.count(".") == 1:
                    db.run("DELETE FROM fault_counts WHERE host=? AND op=?", db.host, key[5:])

    def clear_settings(self) -> None:
        """Forget all runtime settings and fault counters of this host."""
        with self._tx() as db:
            db.run("DELETE FROM settings WHERE host=?", db.host)
            db.run("DELETE FROM fault_counts WHERE host=?", db.host)

    def _prepare(self, op: str, subject: str | DomainRef | None = None) -> dict[str, str]:
        """Apply ``delay.<op>``, then raise the injected ``fail.<op>`` fault, if any."""
        settings = self.settings()
        fault = self._fault(op, subject, settings)
        if fault is not None:
            raise fault
        return settings

    def _fault(
        self, op: str, subject: str | DomainRef | None, settings: Mapping[str, str]
    ) -> Exception | None:
        """Sleep ``delay.<op>``; return the fault to raise for this call, if any."""
        if settings.get(f"delay.{op}"):
            time.sleep(float(settings[f"delay.{op}"]))
        chance = fraction(settings.get(f"fail.{op}", "0"))
        if chance <= 0.0 or (chance < 1.0 and random.random() >= chance):
            return None
        match = settings.get(f"fail.{op}.match")
        if match:
            name = subject
            if isinstance(subject, DomainRef):
                sql = "SELECT name FROM domains WHERE host=? AND uuid=?"
                row = self._read().one(sql, self.host.key, subject.ref)
                name = row[0] if row else subject.ref
            if not isinstance(name, str) or match not in name:
                return None
        limit = settings.get(f"fail.{op}.count")
        if limit is not None:
            with self._tx() as db:
                row = db.one("SELECT n FROM fault_counts WHERE host=? AND op=?", db.host, op)
                used = row[0] if row else 0
                if used >= int(limit):
                    return None
                db.run(
                    "INSERT OR REPLACE INTO fault_counts VALUES (?, ?, ?)", db.host, op, used + 1
                )
        kind, where = settings.get(f"fail.{op}.error", "driver"), f"simulated host {self.host.key}"
        if kind == "capacity":
            return InsufficientCapacity(ResourceKind.HOST, f"simulated failure of {op}")
        if kind == "unavailable":
            return Unavailable(where)
        return DriverError(self.name, op, f"simulated failure on {where}")

    # -- test hooks: change the "hypervisor" behind the engine's back -----------------

    def inject_power_state(self, name: str, state: PowerState) -> bool:
        """Set a domain's power state by name; MISSING makes it vanish (disks kept).

        Returns False if there is no such domain. No console output is written.
        """
        with self._tx() as db:
            row = db.one("SELECT uuid FROM domains WHERE host=? AND name=?", db.host, name)
            if row is None:
                return False
            if state is PowerState.MISSING:
                remove_domain(db, row[0], keep_owned=True)
            else:
                set_power(db, row[0], state)
            return True

    def inject_power_off(self, name: str) -> bool:
        """The domain ``name`` stops (as if it crashed or was shut down from inside)."""
        return self.inject_power_state(name, PowerState.STOPPED)

    def domain_record(self, name: str) -> dict[str, Any] | None:
        """Raw simulator record of a domain, for assertions in tests."""
        cols = ("uuid", "name", "power", "cpus", "cpu_mhz", "memory_mib", "user_data", "boots",
                "last_stop")  # fmt: skip
        sql = f"SELECT {', '.join(cols)} FROM domains WHERE host=? AND name=?"
        row = self._read().one(sql, self.host.key, name)
        return None if row is None else dict(zip(cols, row, strict=True))

    def wipe(self) -> None:
        """Remove every domain, free disk and runtime setting of this host."""
        with self._tx() as db:
            for (uuid,) in db.all("SELECT uuid FROM domains WHERE host=?", db.host):
                remove_domain(db, uuid, keep_owned=False)
            db.run("DELETE FROM disks WHERE host=? AND dom_uuid IS NULL", db.host)
        self.clear_settings()
