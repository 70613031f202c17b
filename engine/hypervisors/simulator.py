"""A simulated hypervisor, the default driver in tests (like CloudStack's simulator).

Hosts are named by URL: ``sim://<host>`` or CloudStack style
``http://sim/<cluster>/<host>[/cpucore=8&cpuspeed=2000&memory=8589934592&localstorage=...]``.
Settings come from (later wins) the URL's ``k=v`` path segment and query string,
``HostConnection.extra`` (flat keys, or a ``"simulator"`` sub-dict) and the runtime
settings stored with ``SimulatorDriver.configure`` (shared by all processes):

* host: ``cpucore`` (4), ``cpuspeed`` MHz (8000), ``memory`` bytes (8 GiB),
  ``localstorage`` bytes (1 TiB), ``arch`` (x86_64), ``version``;
* ``delay.<op>=<seconds>``: sleep before the operation;
* ``fail.<op>=1`` (always) or ``=<probability>``, narrowed by ``fail.<op>.match=<substring
  of the domain name or disk sid>`` and ``fail.<op>.count=<n>`` (only the next n matching
  calls, counted across processes); ``fail.<op>.error=driver|capacity|unavailable``;
* ``guest.acpi=0`` (the guest ignores graceful shutdown) or ``guest.shutdown_seconds``;
* ``capacity.enforce=1``: ``start`` refuses to overcommit the host's cores or memory.

``<op>`` is a driver method name (``define``, ``start``, ``stop``, ``attach_disk`` ...).
State lives in one sqlite file shared by all simulated hosts and processes, under
``extra["state_dir"]``, ``$NIMBOSTACK_SIM_DIR``, ``$NIMBOSTACK_HOME/simulator`` or
``~/.local/share/nimbostack/simulator``; it survives restarts. The file is the
simulator's own store, unrelated to the engine's database.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from engine.errors import (
    DriverError,
    IncorrectState,
    InsufficientCapacity,
    InUse,
    InvalidParameter,
    NotFound,
    ResourceKind,
    Unavailable,
)
from engine.hypervisors.base import (
    GIB,
    MIB,
    Capability,
    DiskInfo,
    DiskSpec,
    DomainInfo,
    DomainRef,
    DomainSpec,
    HostConnection,
    HostInfo,
    HostStats,
    HypervisorDriver,
    PowerState,
)

DB_FILE = "simulator.sqlite3"
CONSOLE_LIMIT = 64 * 1024
HOST_DEFAULTS: Mapping[str, str] = {
    "cpucore": "4", "cpuspeed": "8000", "memory": str(8 * GIB),
    "localstorage": str(1024 * GIB), "arch": "x86_64", "version": "1.0",
}  # fmt: skip
_VM, _VOL, _SNAP = ResourceKind.INSTANCE, ResourceKind.VOLUME, ResourceKind.SNAPSHOT
_TRUE = frozenset({"1", "true", "yes", "on"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS domains (
  host TEXT NOT NULL, uuid TEXT NOT NULL, name TEXT NOT NULL, power TEXT NOT NULL,
  cpus INTEGER NOT NULL, cpu_mhz INTEGER NOT NULL, memory_mib INTEGER NOT NULL,
  user_data BLOB, spec TEXT NOT NULL, console BLOB NOT NULL DEFAULT x'',
  boots INTEGER NOT NULL DEFAULT 0, last_stop TEXT, updated REAL NOT NULL,
  PRIMARY KEY (host, uuid), UNIQUE (host, name));
CREATE TABLE IF NOT EXISTS disks (
  sid TEXT PRIMARY KEY, host TEXT NOT NULL, pool TEXT, dom_host TEXT, dom_uuid TEXT,
  owned INTEGER NOT NULL, device_id INTEGER NOT NULL, size_bytes INTEGER NOT NULL,
  format TEXT NOT NULL, source TEXT, serial TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS disks_domain ON disks (dom_host, dom_uuid);
CREATE TABLE IF NOT EXISTS snapshots (
  sid TEXT PRIMARY KEY, disk_sid TEXT NOT NULL, size_bytes INTEGER NOT NULL,
  format TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS settings (
  host TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (host, key));
CREATE TABLE IF NOT EXISTS fault_counts (
  host TEXT NOT NULL, op TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (host, op));
"""


# -- host URLs and settings ---------------------------------------------------------


@dataclass(frozen=True)
class SimHost:
    """A parsed simulator URL: ``key`` identifies the host in the state file."""

    key: str
    name: str
    cluster: str | None
    settings: Mapping[str, str]

    @classmethod
    def from_url(cls, url: str) -> SimHost:
        """Parse ``sim://h`` or ``http://sim/<cluster>/<host>[/k=v&...]`` (+ ``?k=v``)."""
        parts = urlsplit(url.strip())
        scheme, netloc = parts.scheme.lower(), parts.netloc
        if scheme == "sim":
            names = [netloc] if netloc else []
        elif scheme in ("http", "https") and (parts.hostname or "").lower() == "sim":
            names = []
        else:
            raise InvalidParameter("url", url, "not a simulator URL (sim:// or http://sim/)")
        settings: dict[str, str] = {}
        for segment in parts.path.split("/"):
            if "=" in segment:
                settings.update(parse_qsl(segment, keep_blank_values=True))
            elif segment:
                names.append(unquote(segment))
        settings.update(parse_qsl(parts.query, keep_blank_values=True))
        if not names:
            raise InvalidParameter("url", url, "names no simulated host")
        cluster = names[-2] if len(names) > 1 else None
        return cls(key="/".join(names), name=names[-1], cluster=cluster, settings=settings)


def state_dir_for(conn: HostConnection | None = None) -> Path:
    """Where the state file lives for ``conn`` (see the module docstring)."""
    if conn is not None and conn.extra.get("state_dir"):
        return Path(str(conn.extra["state_dir"])).expanduser()
    if os.environ.get("NIMBOSTACK_SIM_DIR"):
        return Path(os.environ["NIMBOSTACK_SIM_DIR"]).expanduser()
    if os.environ.get("NIMBOSTACK_HOME"):
        return Path(os.environ["NIMBOSTACK_HOME"]).expanduser() / "simulator"
    return Path.home() / ".local" / "share" / "nimbostack" / "simulator"


def _text(value: object) -> str:
    return ("1" if value else "0") if isinstance(value, bool) else str(value)


def _flat_settings(extra: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for source in (extra, extra.get("simulator") or {}):
        for key, value in source.items():
            if key != "state_dir" and isinstance(value, str | int | float | bool):
                out[key] = _text(value)
    return out


def _fraction(value: str) -> float:
    text = value.strip().lower()
    if text in _TRUE:
        return 1.0
    try:
        return float(text)
    except ValueError:
        return 0.0


# -- the store ----------------------------------------------------------------------


class _Db:
    """A connection seen from one host, with one-line query helpers."""

    __slots__ = ("conn", "host")

    def __init__(self, conn: sqlite3.Connection, host: str) -> None:
        self.conn, self.host = conn, host

    def one(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(sql, args).fetchone()
        return row

    def all(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, args).fetchall()

    def run(self, sql: str, *args: Any) -> None:
        self.conn.execute(sql, args)

    def domain(self, uuid: str, cols: str) -> tuple[Any, ...]:
        """Columns of this host's domain ``uuid``; ``NotFound`` if there is none."""
        row = self.one(f"SELECT {cols} FROM domains WHERE host=? AND uuid=?", self.host, uuid)
        if row is None:
            raise NotFound(_VM, uuid)
        return row

    def disk(self, sid: str, cols: str) -> tuple[Any, ...]:
        """Columns of disk ``sid`` (disks are shared storage: any host sees them)."""
        row = self.one(f"SELECT {cols} FROM disks WHERE sid=?", sid)
        if row is None:
            raise NotFound(_VOL, sid)
        return row

    def owner_name(self, host: str, uuid: str) -> str:
        row = self.one("SELECT name FROM domains WHERE host=? AND uuid=?", host, uuid)
        return f"domain {row[0] if row else uuid}"


class _Store:
    """One sqlite file; one connection per (process, thread); short transactions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._schema_ready = False
        self._orphans: list[sqlite3.Connection] = []  # inherited across fork: never used

    def conn(self) -> sqlite3.Connection:
        local, pid = self._local, os.getpid()
        if getattr(local, "pid", None) != pid:
            if getattr(local, "conn", None) is not None:
                self._orphans.append(local.conn)
            local.conn, local.pid = self._open(), pid
        conn: sqlite3.Connection = local.conn
        return conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 30000")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if not self._schema_ready:
            conn.executescript(_SCHEMA)
            self._schema_ready = True
        return conn

    @contextmanager
    def tx(self, host: str) -> Iterator[_Db]:
        """A write transaction (BEGIN IMMEDIATE: no lock upgrades, so no deadlocks)."""
        conn = self.conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"simulator state {self.path}") from exc
        try:
            yield _Db(conn, host)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


_stores: dict[Path, _Store] = {}
_stores_lock = threading.Lock()


def _store_at(directory: Path) -> _Store:
    path = (directory / DB_FILE).resolve()
    with _stores_lock:
        store = _stores.get(path)
        if store is None:
            store = _stores[path] = _Store(path)
        return store


# -- the console --------------------------------------------------------------------


def _boot_log(name: str, host: str, boot: int, dom: tuple[Any, ...], disks: list[str]) -> bytes:
    """A plausible serial console boot log; it echoes the user data it received.

    ``dom`` is (cpus, memory_mib, user_data, spec JSON) of the domain.
    """
    cpus, memory_mib, user_data, spec = dom[0], dom[1], dom[2], json.loads(dom[3])
    cmdline = (spec.get("boot") or {}).get("cmdline") or "console=ttyS0 root=/dev/vda1 ro"
    nics = spec.get("nics", ())
    lines = [
        f"[    0.000000] Linux version 6.1.0-sim (nimbostack simulator on {host}) boot {boot}",
        f"[    0.000000] Command line: {cmdline}",
        f"[    0.010000] Memory: {memory_mib * 1024}K available",
        f"[    0.020000] smp: Brought up 1 node, {cpus} CPUs",
        *(f"[    0.500000] virtio_blk {disk}" for disk in disks),
        *(f"[    0.600000] virtio_net eth{n['device_id']}: {n['mac']}" for n in nics),
        f"[    1.000000] cloud-init: {name} up; network:",
        *(f"ci-info: | eth{n['device_id']} | {n['ip'] or '-'} | {n['mac']} |" for n in nics),
    ]
    if user_data:
        lines.append(f"cloud-init: user-data ({len(user_data)} bytes):")
        try:
            lines.append(bytes(user_data).decode("utf-8"))
        except UnicodeDecodeError:
            lines.append("(binary user-data)")
    else:
        lines.append("cloud-init: no user-data")
    lines += [f"cloud-init: finished at boot {boot}", "", f"{name} login: ", ""]
    return "\n".join(lines).encode()


def _append(console: bytes, text: bytes) -> bytes:
    return (bytes(console) + text)[-CONSOLE_LIMIT:]


def _spec_json(spec: DomainSpec) -> str:
    boot = spec.boot
    return json.dumps({
        "nics": [
            {"mac": n.mac, "ip": n.ip, "device_id": n.device_id, "network": n.network_ref}
            for n in spec.nics
        ],
        "metadata": dict(spec.metadata),
        "boot": None if boot is None else {"kernel": boot.kernel, "cmdline": boot.cmdline},
    })  # fmt: skip


def _check_spec(spec: DomainSpec) -> None:
    if spec.cpus < 1 or spec.memory_mib < 1:
        raise InvalidParameter("spec", spec.name, "needs at least one CPU and 1 MiB of memory")
    for attr in ("disk_sid", "device_id"):
        values = [getattr(d, attr) for d in spec.disks]
        if len(set(values)) != len(values):
            raise InvalidParameter(attr, values, "must be unique within a domain")


# -- the driver ---------------------------------------------------------------------

_RUNNING, _STOPPED, _PAUSED = PowerState.RUNNING, PowerState.STOPPED, PowerState.PAUSED
_POWER_OFF_LOG = b"[  OK  ] Reached target System Power Off.\nreboot: Power down\n"


class SimulatorDriver(HypervisorDriver):
    """Simulated host; all state in the shared sqlite file, so any process may act."""

    name = "simulator"
    capabilities = frozenset(Capability)

    def __init__(self, conn: HostConnection) -> None:
        super().__init__(conn)
        self.host = SimHost.from_url(conn.url)
        self.state_dir = state_dir_for(conn)
        self._static = {**HOST_DEFAULTS, **self.host.settings, **_flat_settings(conn.extra)}
        self._store = _store_at(self.state_dir)

    def _tx(self) -> AbstractContextManager[_Db]:
        return self._store.tx(self.host.key)

    def _read(self) -> _Db:
        return _Db(self._store.conn(), self.host.key)

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
                    db.run("INSERT INTO settings VALUES (?, ?, ?)", db.host, key, _text(value))
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
        chance = _fraction(settings.get(f"fail.{op}", "0"))
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

    # -- host ---------------------------------------------------------------------

    def connect(self) -> HostInfo:
        s = self._prepare("connect")
        try:
            return HostInfo(
                hypervisor="Simulator", version=s["version"], cpu_cores=int(s["cpucore"]),
                cpu_mhz=int(s["cpuspeed"]), memory_bytes=int(s["memory"]),
                local_storage_bytes=int(s["localstorage"]), arch=s["arch"], name=self.host.name,
            )  # fmt: skip
        except ValueError as exc:
            raise DriverError(self.name, "connect", f"bad host setting: {exc}") from exc

    def host_stats(self) -> HostStats:
        self._prepare("host_stats")
        db = self._read()
        cpu, mem, running, defined = db.one(
            "SELECT COALESCE(SUM(CASE WHEN power='running' THEN cpus*cpu_mhz END), 0),"
            " COALESCE(SUM(CASE WHEN power='running' THEN memory_mib END), 0),"
            " COUNT(CASE WHEN power='running' THEN 1 END), COUNT(*)"
            " FROM domains WHERE host=?",
            db.host,
        ) or (0, 0, 0, 0)
        used = db.one("SELECT COALESCE(SUM(size_bytes), 0) FROM disks WHERE host=?", db.host)
        return HostStats(
            cpu_used_mhz=cpu, memory_used_bytes=mem * MIB, running_domains=running,
            defined_domains=defined, local_storage_used_bytes=used[0] if used else 0,
        )  # fmt: skip

    # -- domains ------------------------------------------------------------------

    def define(self, spec: DomainSpec) -> DomainRef:
        fault = self._fault("define", spec.name, self.settings())  # raised once disks exist
        _check_spec(spec)
        with self._tx() as db:
            if db.one("SELECT 1 FROM domains WHERE host=? AND uuid=?", db.host, spec.uuid):
                return DomainRef(spec.uuid)
            other = db.one("SELECT uuid FROM domains WHERE host=? AND name=?", db.host, spec.name)
            if other:
                raise DriverError(self.name, "define", f"{spec.name} exists with uuid {other[0]}")
            for disk in spec.disks:
                self._claim_disk(db, disk, spec.uuid, owned=True)
            db.run(
                "INSERT INTO domains (host, uuid, name, power, cpus, cpu_mhz, memory_mib,"
                " user_data, spec, updated) VALUES (?, ?, ?, 'stopped', ?, ?, ?, ?, ?, ?)",
                db.host, spec.uuid, spec.name, spec.cpus, spec.cpu_mhz, spec.memory_mib,
                spec.user_data, _spec_json(spec), time.time(),
            )  # fmt: skip
            if fault is not None:
                raise fault
        return DomainRef(spec.uuid)

    def start(self, ref: DomainRef) -> None:
        settings = self._prepare("start", ref)
        with self._tx() as db:
            power, name, boots = db.domain(ref.ref, "power, name, boots")
            if power == _RUNNING.value:
                return
            if power == _PAUSED.value:
                self._set_power(db, ref.ref, _RUNNING)
                return
            if settings.get("capacity.enforce", "0").lower() in _TRUE:
                self._check_capacity(db, ref.ref, settings)
            self._boot(db, ref.ref, name, boots + 1, b"")

    def stop(self, ref: DomainRef, *, timeout: float, force: bool = False) -> None:
        settings = self._prepare("stop", ref)
        graceful = not force
        if graceful and self._read().domain(ref.ref, "power")[0] == _RUNNING.value:
            needs = float(settings.get("guest.shutdown_seconds", "0"))
            if settings.get("guest.acpi", "1").lower() not in _TRUE:
                needs = float("inf")
            graceful = needs <= timeout
            time.sleep(max(0.0, min(needs, timeout)))
        with self._tx() as db:
            power, console = db.domain(ref.ref, "power, console")
            if power == _STOPPED.value:
                return
            graceful = graceful and power == _RUNNING.value
            db.run(
                "UPDATE domains SET power='stopped', last_stop=?, updated=?, console=?"
                " WHERE host=? AND uuid=?",
                "graceful" if graceful else "forced", time.time(),
                _append(console, _POWER_OFF_LOG if graceful else b""), db.host, ref.ref,
            )  # fmt: skip

    def reboot(self, ref: DomainRef) -> None:
        self._prepare("reboot", ref)
        with self._tx() as db:
            power, name, boots = db.domain(ref.ref, "power, name, boots")
            if power != _RUNNING.value:
                raise IncorrectState(_VM, ref.ref, power, [_RUNNING])
            self._boot(db, ref.ref, name, boots + 1, b"reboot: Restarting system\n")

    def destroy(self, ref: DomainRef) -> None:
        self._prepare("destroy", ref)
        with self._tx() as db:
            self._remove_domain(db, ref.ref, keep_owned=False)

    def info(self, ref: DomainRef) -> DomainInfo:
        self._prepare("info", ref)
        db = self._read()
        row = db.one(
            "SELECT power, cpus, memory_mib, name FROM domains WHERE host=? AND uuid=?",
            db.host, ref.ref,
        )  # fmt: skip
        if row is None:
            return DomainInfo(ref, PowerState.MISSING, 0, 0)
        disks = db.all(
            "SELECT sid FROM disks WHERE dom_host=? AND dom_uuid=? ORDER BY device_id",
            db.host, ref.ref,
        )  # fmt: skip
        sids = tuple(d[0] for d in disks)
        return DomainInfo(ref, PowerState(row[0]), row[1], row[2], row[3], sids)

    def list_domains(self) -> dict[str, PowerState]:
        self._prepare("list_domains")
        rows = self._read().all("SELECT name, power FROM domains WHERE host=?", self.host.key)
        return {name: PowerState(power) for name, power in rows}

    # -- disks --------------------------------------------------------------------

    def attach_disk(self, ref: DomainRef, disk: DiskSpec) -> None:
        self._prepare("attach_disk", disk.disk_sid)
        with self._tx() as db:
            db.domain(ref.ref, "1")
            self._claim_disk(db, disk, ref.ref, owned=False)

    def detach_disk(self, ref: DomainRef, disk_sid: str) -> None:
        self._prepare("detach_disk", disk_sid)
        with self._tx() as db:
            (power,) = db.domain(ref.ref, "power")
            dom_host, dom_uuid, device_id = db.disk(disk_sid, "dom_host, dom_uuid, device_id")
            if (dom_host, dom_uuid) != (db.host, ref.ref):
                raise NotFound(_VOL, disk_sid)
            if device_id == 0 and power != _STOPPED.value:
                raise InvalidParameter("disk_sid", disk_sid, "is the root disk of a running domain")
            db.run("UPDATE disks SET dom_host=NULL, dom_uuid=NULL, owned=0 WHERE sid=?", disk_sid)

    def resize_disk(self, ref: DomainRef | None, disk_sid: str, size_bytes: int) -> None:
        self._prepare("resize_disk", disk_sid)
        with self._tx() as db:
            (size,) = self._disk_of(db, ref, disk_sid, "size_bytes")
            if size_bytes < size:
                raise InvalidParameter("size", size_bytes, f"smaller than the current {size}")
            db.run("UPDATE disks SET size_bytes=? WHERE sid=?", size_bytes, disk_sid)

    def create_disk(self, disk: DiskSpec) -> None:
        self._prepare("create_disk", disk.disk_sid)
        with self._tx() as db:
            if not db.one("SELECT 1 FROM disks WHERE sid=?", disk.disk_sid):
                self._insert_disk(db, disk, None, owned=False)

    def delete_disk(self, disk_sid: str, *, pool_ref: str | None = None) -> None:
        self._prepare("delete_disk", disk_sid)
        with self._tx() as db:
            row = db.one("SELECT dom_host, dom_uuid FROM disks WHERE sid=?", disk_sid)
            if row is not None and row[1] is not None:
                raise InUse(_VOL, disk_sid, by=db.owner_name(*row))
            db.run("DELETE FROM disks WHERE sid=?", disk_sid)

    def disk_info(self, disk_sid: str, *, pool_ref: str | None = None) -> DiskInfo:
        self._prepare("disk_info", disk_sid)
        size, fmt, uuid = self._read().disk(disk_sid, "size_bytes, format, dom_uuid")
        return DiskInfo(disk_sid, size, fmt, DomainRef(uuid) if uuid else None)

    def snapshot_disk(
        self, ref: DomainRef | None, disk_sid: str, snapshot_sid: str, *,
        pool_ref: str | None = None,
    ) -> None:  # fmt: skip
        self._prepare("snapshot_disk", disk_sid)
        with self._tx() as db:
            size, fmt = self._disk_of(db, ref, disk_sid, "size_bytes, format")
            row = db.one("SELECT disk_sid FROM snapshots WHERE sid=?", snapshot_sid)
            if row is not None and row[0] != disk_sid:
                raise InvalidParameter("snapshot_sid", snapshot_sid, "used by another disk")
            if row is None:
                db.run(
                    "INSERT INTO snapshots VALUES (?, ?, ?, ?, ?)",
                    snapshot_sid, disk_sid, size, fmt, time.time(),
                )  # fmt: skip

    def delete_disk_snapshot(
        self, disk_sid: str, snapshot_sid: str, *, pool_ref: str | None = None
    ) -> None:
        self._prepare("delete_disk_snapshot", disk_sid)
        with self._tx() as db:
            db.run("DELETE FROM snapshots WHERE sid=? AND disk_sid=?", snapshot_sid, disk_sid)

    # -- other --------------------------------------------------------------------

    def console_output(self, ref: DomainRef) -> bytes:
        self._prepare("console_output", ref)
        return bytes(self._read().domain(ref.ref, "console")[0])

    def migrate(self, ref: DomainRef, dest: HostConnection) -> DomainRef:
        self._prepare("migrate", ref)
        target = SimHost.from_url(dest.url).key
        if state_dir_for(dest).resolve() != self.state_dir.resolve():
            raise DriverError(self.name, "migrate", "destination uses another state directory")
        with self._tx() as db:
            (name,) = db.domain(ref.ref, "name")
            if target == db.host:
                return ref
            sql = "SELECT 1 FROM domains WHERE host=? AND (name=? OR uuid=?)"
            if db.one(sql, target, name, ref.ref):
                raise DriverError(self.name, "migrate", f"{name} already exists on {target}")
            db.run("UPDATE domains SET host=? WHERE host=? AND uuid=?", target, db.host, ref.ref)
            sql = "UPDATE disks SET dom_host=? WHERE dom_host=? AND dom_uuid=?"
            db.run(sql, target, db.host, ref.ref)
        return DomainRef(ref.ref)

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
                self._remove_domain(db, row[0], keep_owned=True)
            else:
                self._set_power(db, row[0], state)
            return True

    def inject_power_off(self, name: str) -> bool:
        """The domain ``name`` stops (as if it crashed or was shut down from inside)."""
        return self.inject_power_state(name, _STOPPED)

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
                self._remove_domain(db, uuid, keep_owned=False)
            db.run("DELETE FROM disks WHERE host=? AND dom_uuid IS NULL", db.host)
        self.clear_settings()

    # -- internals ------------------------------------------------------------------

    def _disk_of(self, db: _Db, ref: DomainRef | None, sid: str, cols: str) -> tuple[Any, ...]:
        """Columns of disk ``sid``, which must be attached to ``ref`` when one is given."""
        row = db.disk(sid, f"dom_host, dom_uuid, {cols}")
        if ref is not None and row[:2] != (db.host, ref.ref):
            db.domain(ref.ref, "1")
            raise NotFound(_VOL, sid)
        return row[2:]

    @staticmethod
    def _set_power(db: _Db, uuid: str, state: PowerState) -> None:
        sql = "UPDATE domains SET power=?, updated=? WHERE host=? AND uuid=?"
        db.run(sql, state.value, time.time(), db.host, uuid)

    def _boot(self, db: _Db, uuid: str, name: str, boot: int, prefix: bytes) -> None:
        dom = db.domain(uuid, "cpus, memory_mib, user_data, spec, console")
        disks = [
            f"vd{chr(ord('a') + dev)}: {sid} serial={serial} {size} bytes"
            for dev, sid, serial, size in db.all(
                "SELECT device_id, sid, serial, size_bytes FROM disks"
                " WHERE dom_host=? AND dom_uuid=? ORDER BY device_id",
                db.host, uuid,
            )
        ]  # fmt: skip
        console = _append(dom[4], prefix + _boot_log(name, self.host.name, boot, dom, disks))
        sql = "UPDATE domains SET power='running', boots=?, console=?, updated=?"
        db.run(sql + " WHERE host=? AND uuid=?", boot, console, time.time(), db.host, uuid)

    @staticmethod
    def _check_capacity(db: _Db, uuid: str, settings: Mapping[str, str]) -> None:
        cpus, mem = db.one(
            "SELECT COALESCE(SUM(cpus), 0), COALESCE(SUM(memory_mib), 0) FROM domains"
            " WHERE host=? AND (power='running' OR uuid=?)",
            db.host, uuid,
        ) or (0, 0)  # fmt: skip
        if cpus > int(settings["cpucore"]) or mem * MIB > int(settings["memory"]):
            raise InsufficientCapacity(ResourceKind.HOST, f"simulated host {db.host} is full")

    def _claim_disk(self, db: _Db, disk: DiskSpec, uuid: str, *, owned: bool) -> None:
        """Attach ``disk`` to this host's domain ``uuid``, creating it if it does not exist."""
        row = db.one("SELECT dom_host, dom_uuid FROM disks WHERE sid=?", disk.disk_sid)
        if row is not None and row == (db.host, uuid):
            return
        if row is not None and row[1] is not None:
            raise InUse(_VOL, disk.disk_sid, by=db.owner_name(*row))
        sql = "SELECT sid FROM disks WHERE dom_host=? AND dom_uuid=? AND device_id=?"
        taken = db.one(sql, db.host, uuid, disk.device_id)
        if taken:
            raise InvalidParameter("device_id", disk.device_id, f"used by disk {taken[0]}")
        if row is None:
            self._insert_disk(db, disk, uuid, owned=owned)
        else:
            sql = "UPDATE disks SET dom_host=?, dom_uuid=?, device_id=? WHERE sid=?"
            db.run(sql, db.host, uuid, disk.device_id, disk.disk_sid)

    @staticmethod
    def _insert_disk(db: _Db, disk: DiskSpec, uuid: str | None, *, owned: bool) -> None:
        size, source = disk.size_bytes, disk.source_image
        if disk.source_snapshot is not None:
            snap = db.one("SELECT size_bytes FROM snapshots WHERE sid=?", disk.source_snapshot)
            if snap is None:
                raise NotFound(_SNAP, disk.source_snapshot)
            size, source = max(size, snap[0]), f"snapshot:{disk.source_snapshot}"
        if size <= 0:
            raise InvalidParameter("size_bytes", size, "must be positive")
        db.run(
            "INSERT INTO disks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            disk.disk_sid, db.host, disk.pool_ref, uuid and db.host, uuid, int(owned),
            disk.device_id, size, disk.format, source, disk.guest_serial,
        )  # fmt: skip

    @staticmethod
    def _remove_domain(db: _Db, uuid: str, *, keep_owned: bool) -> None:
        """Delete the domain; delete the disks it owns unless ``keep_owned``; free the rest."""
        if not keep_owned:
            db.run("DELETE FROM disks WHERE dom_host=? AND dom_uuid=? AND owned=1", db.host, uuid)
        sql = (
            "UPDATE disks SET dom_host=NULL, dom_uuid=NULL, owned=0 WHERE dom_host=? AND dom_uuid=?"
        )
        db.run(sql, db.host, uuid)
        db.run("DELETE FROM domains WHERE host=? AND uuid=?", db.host, uuid)


def inject_power_state(
    url: str, name: str, state: PowerState, *, state_dir: str | os.PathLike[str] | None = None
) -> bool:
    """Module-level form of ``SimulatorDriver.inject_power_state`` for the host ``url``."""
    extra = {} if state_dir is None else {"state_dir": os.fspath(state_dir)}
    return SimulatorDriver(HostConnection(url, extra=extra)).inject_power_state(name, state)
