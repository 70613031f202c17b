"""``SimulatorDriver``: the ``HypervisorDriver`` operations of a simulated host.

Every operation first applies the host's injected delay and fault for its name
(see ``controls``); all state lives in the shared sqlite file, so any process may act.
"""

from __future__ import annotations

import os
import time

from engine.errors import (
    DriverError,
    IncorrectState,
    InUse,
    InvalidParameter,
    NotFound,
    ResourceKind,
)
from engine.hypervisors.base import (
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
    NicSpec,
    PowerState,
)
from engine.hypervisors.simulator import records
from engine.hypervisors.simulator.console import POWER_OFF_LOG, REBOOT_LOG, append
from engine.hypervisors.simulator.controls import SimulatorControls
from engine.hypervisors.simulator.host import TRUE, SimHost, state_dir_for

_VM, _VOL = ResourceKind.INSTANCE, ResourceKind.VOLUME
_RUNNING, _STOPPED, _PAUSED = PowerState.RUNNING, PowerState.STOPPED, PowerState.PAUSED


class SimulatorDriver(SimulatorControls):
    """Simulated host; all state in the shared sqlite file, so any process may act."""

    name = "simulator"
    capabilities = frozenset(Capability)

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
        records.check_spec(spec)
        with self._tx() as db:
            if db.one("SELECT 1 FROM domains WHERE host=? AND uuid=?", db.host, spec.uuid):
                return DomainRef(spec.uuid)
            other = db.one("SELECT uuid FROM domains WHERE host=? AND name=?", db.host, spec.name)
            if other:
                raise DriverError(self.name, "define", f"{spec.name} exists with uuid {other[0]}")
            for disk in spec.disks:
                records.claim_disk(db, disk, spec.uuid, owned=True)
            db.run(
                "INSERT INTO domains (host, uuid, name, power, cpus, cpu_mhz, memory_mib,"
                " user_data, spec, updated) VALUES (?, ?, ?, 'stopped', ?, ?, ?, ?, ?, ?)",
                db.host, spec.uuid, spec.name, spec.cpus, spec.cpu_mhz, spec.memory_mib,
                spec.user_data, records.spec_json(spec), time.time(),
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
                records.set_power(db, ref.ref, _RUNNING)
                return
            if settings.get("capacity.enforce", "0").lower() in TRUE:
                records.check_capacity(db, ref.ref, settings)
            records.boot(db, ref.ref, name, self.host.name, boots + 1, b"")

    def stop(self, ref: DomainRef, *, timeout: float, force: bool = False) -> None:
        settings = self._prepare("stop", ref)
        graceful = not force
        if graceful and self._read().domain(ref.ref, "power")[0] == _RUNNING.value:
            needs = float(settings.get("guest.shutdown_seconds", "0"))
            if settings.get("guest.acpi", "1").lower() not in TRUE:
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
                append(console, POWER_OFF_LOG if graceful else b""), db.host, ref.ref,
            )  # fmt: skip

    def reboot(self, ref: DomainRef) -> None:
        self._prepare("reboot", ref)
        with self._tx() as db:
            power, name, boots = db.domain(ref.ref, "power, name, boots")
            if power != _RUNNING.value:
                raise IncorrectState(_VM, ref.ref, power, [_RUNNING])
            records.boot(db, ref.ref, name, self.host.name, boots + 1, REBOOT_LOG)

    def destroy(self, ref: DomainRef) -> None:
        self._prepare("destroy", ref)
        with self._tx() as db:
            records.remove_domain(db, ref.ref, keep_owned=False)

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
        (spec,) = db.domain(ref.ref, "spec")
        macs = tuple(n["mac"] for n in records.spec_nics(spec))
        return DomainInfo(ref, PowerState(row[0]), row[1], row[2], row[3], sids, macs)

    def list_domains(self) -> dict[str, PowerState]:
        self._prepare("list_domains")
        rows = self._read().all("SELECT name, power FROM domains WHERE host=?", self.host.key)
        return {name: PowerState(power) for name, power in rows}

    # -- disks --------------------------------------------------------------------

    def attach_disk(self, ref: DomainRef, disk: DiskSpec) -> None:
        self._prepare("attach_disk", disk.disk_sid)
        with self._tx() as db:
            db.domain(ref.ref, "1")
            records.claim_disk(db, disk, ref.ref, owned=False)

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
            (size,) = records.disk_of(db, ref, disk_sid, "size_bytes")
            if size_bytes < size:
                raise InvalidParameter("size", size_bytes, f"smaller than the current {size}")
            db.run("UPDATE disks SET size_bytes=? WHERE sid=?", size_bytes, disk_sid)

    def create_disk(self, disk: DiskSpec) -> None:
        self._prepare("create_disk", disk.disk_sid)
        with self._tx() as db:
            if not db.one("SELECT 1 FROM disks WHERE sid=?", disk.disk_sid):
                records.insert_disk(db, disk, None, owned=False)

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
            size, fmt = records.disk_of(db, ref, disk_sid, "size_bytes, format")
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

    def revert_disk_snapshot(
        self, ref: DomainRef | None, disk_sid: str, snapshot_sid: str, *,
        pool_ref: str | None = None,
    ) -> None:  # fmt: skip
        self._prepare("revert_disk_snapshot", disk_sid)
        with self._tx() as db:
            records.disk_of(db, ref, disk_sid, "1")
            if ref is not None and db.domain(ref.ref, "power")[0] != _STOPPED.value:
                raise IncorrectState(_VM, ref.ref, db.domain(ref.ref, "power")[0], [_STOPPED])
            row = db.one("SELECT size_bytes, format FROM snapshots WHERE sid=? AND disk_sid=?",
                         snapshot_sid, disk_sid)
            if row is None:
                raise NotFound(ResourceKind.SNAPSHOT, snapshot_sid)
            db.run("UPDATE disks SET size_bytes=?, format=? WHERE sid=?", row[0], row[1], disk_sid)

    def copy_disk_snapshot(
        self, disk_sid: str, snapshot_sid: str, new_snapshot_sid: str, *,
        pool_ref: str | None = None,
    ) -> None:  # fmt: skip
        self._prepare("copy_disk_snapshot", disk_sid)
        with self._tx() as db:
            row = db.one("SELECT size_bytes, format FROM snapshots WHERE sid=? AND disk_sid=?",
                         snapshot_sid, disk_sid)
            if row is None:
                raise NotFound(ResourceKind.SNAPSHOT, snapshot_sid)
            have = db.one("SELECT disk_sid FROM snapshots WHERE sid=?", new_snapshot_sid)
            if have is not None and have[0] != disk_sid:
                raise InvalidParameter("new_snapshot_sid", new_snapshot_sid,
                                       "used by another disk")
            if have is None:
                db.run("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?)",
                       new_snapshot_sid, disk_sid, row[0], row[1], time.time())

    # -- NICs ---------------------------------------------------------------------

    def attach_nic(self, ref: DomainRef, nic: NicSpec) -> None:
        self._prepare("attach_nic", ref)
        with self._tx() as db:
            (spec,) = db.domain(ref.ref, "spec")
            nics = records.spec_nics(spec)
            if any(n["mac"] == nic.mac for n in nics):
                return
            nics.append({"mac": nic.mac, "ip": nic.ip, "device_id": nic.device_id,
                         "network": nic.network_ref})
            records.set_spec_nics(db, ref.ref, spec, nics)

    def detach_nic(self, ref: DomainRef, mac: str) -> None:
        self._prepare("detach_nic", ref)
        with self._tx() as db:
            (spec,) = db.domain(ref.ref, "spec")
            nics = records.spec_nics(spec)
            kept = [n for n in nics if n["mac"] != mac]
            if len(kept) != len(nics):
                records.set_spec_nics(db, ref.ref, spec, kept)

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


def inject_power_state(
    url: str, name: str, state: PowerState, *, state_dir: str | os.PathLike[str] | None = None
) -> bool:
    """Module-level form of ``SimulatorDriver.inject_power_state`` for the host ``url``."""
    extra = {} if state_dir is None else {"state_dir": os.fspath(state_dir)}
    return SimulatorDriver(HostConnection(url, extra=extra)).inject_power_state(name, state)
