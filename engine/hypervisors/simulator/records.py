"""Multi-row changes to the state file that several driver operations share.

Every function takes a ``Db`` (usually inside ``Store.tx``) and acts as the host
``db.host``; none commits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from engine.errors import InsufficientCapacity, InUse, InvalidParameter, NotFound, ResourceKind
from engine.hypervisors.base import MIB, DiskSpec, DomainRef, DomainSpec, PowerState
from engine.hypervisors.simulator.console import append, boot_log
from engine.hypervisors.simulator.store import Db


def spec_json(spec: DomainSpec) -> str:
    """The parts of ``spec`` kept in ``domains.spec``: NICs, metadata, boot."""
    boot = spec.boot
    return json.dumps({
        "nics": [
            {"mac": n.mac, "ip": n.ip, "device_id": n.device_id, "network": n.network_ref}
            for n in spec.nics
        ],
        "metadata": dict(spec.metadata),
        "boot": None if boot is None else {"kernel": boot.kernel, "cmdline": boot.cmdline},
    })  # fmt: skip


def spec_nics(spec: str) -> list[dict[str, Any]]:
    """The NICs kept in a ``domains.spec`` text, in device order."""
    nics: list[dict[str, Any]] = list(json.loads(spec or "{}").get("nics") or [])
    return sorted(nics, key=lambda n: int(n.get("device_id") or 0))


def set_spec_nics(db: Db, uuid: str, spec: str, nics: list[dict[str, Any]]) -> None:
    """Store ``nics`` as domain ``uuid``'s NIC list (the rest of ``spec`` unchanged)."""
    data = json.loads(spec or "{}")
    data["nics"] = nics
    db.run("UPDATE domains SET spec=?, updated=? WHERE host=? AND uuid=?",
           json.dumps(data), time.time(), db.host, uuid)


def check_spec(spec: DomainSpec) -> None:
    """``InvalidParameter`` unless ``spec`` has CPUs, memory and unique disk sids/devices."""
    if spec.cpus < 1 or spec.memory_mib < 1:
        raise InvalidParameter("spec", spec.name, "needs at least one CPU and 1 MiB of memory")
    for attr in ("disk_sid", "device_id"):
        values = [getattr(d, attr) for d in spec.disks]
        if len(set(values)) != len(values):
            raise InvalidParameter(attr, values, "must be unique within a domain")


def set_power(db: Db, uuid: str, state: PowerState) -> None:
    """Set the power state of domain ``uuid``; no console output."""
    sql = "UPDATE domains SET power=?, updated=? WHERE host=? AND uuid=?"
    db.run(sql, state.value, time.time(), db.host, uuid)


def boot(db: Db, uuid: str, name: str, host_name: str, boot_no: int, prefix: bytes) -> None:
    """Mark domain ``uuid`` running as boot ``boot_no``; append ``prefix`` and a boot log."""
    dom = db.domain(uuid, "cpus, memory_mib, user_data, spec, console")
    disks = [
        f"vd{chr(ord('a') + dev)}: {sid} serial={serial} {size} bytes"
        for dev, sid, serial, size in db.all(
            "SELECT device_id, sid, serial, size_bytes FROM disks"
            " WHERE dom_host=? AND dom_uuid=? ORDER BY device_id",
            db.host, uuid,
        )
    ]  # fmt: skip
    console = append(dom[4], prefix + boot_log(name, host_name, boot_no, dom, disks))
    sql = "UPDATE domains SET power='running', boots=?, console=?, updated=?"
    db.run(sql + " WHERE host=? AND uuid=?", boot_no, console, time.time(), db.host, uuid)


def check_capacity(db: Db, uuid: str, settings: Mapping[str, str]) -> None:
    """``InsufficientCapacity`` if running ``uuid`` too would overcommit cores or memory."""
    cpus, mem = db.one(
        "SELECT COALESCE(SUM(cpus), 0), COALESCE(SUM(memory_mib), 0) FROM domains"
        " WHERE host=? AND (power='running' OR uuid=?)",
        db.host, uuid,
    ) or (0, 0)  # fmt: skip
    if cpus > int(settings["cpucore"]) or mem * MIB > int(settings["memory"]):
        raise InsufficientCapacity(ResourceKind.HOST, f"simulated host {db.host} is full")


def disk_of(db: Db, ref: DomainRef | None, sid: str, cols: str) -> tuple[Any, ...]:
    """Columns of disk ``sid``, which must be attached to ``ref`` when one is given."""
    row = db.disk(sid, f"dom_host, dom_uuid, {cols}")
    if ref is not None and row[:2] != (db.host, ref.ref):
        db.domain(ref.ref, "1")
        raise NotFound(ResourceKind.VOLUME, sid)
    return row[2:]


def claim_disk(db: Db, disk: DiskSpec, uuid: str, *, owned: bool) -> None:
    """Attach ``disk`` to this host's domain ``uuid``, creating it if it does not exist.

    ``InUse`` if another domain has it; ``InvalidParameter`` if its device id is taken.
    """
    row = db.one("SELECT dom_host, dom_uuid FROM disks WHERE sid=?", disk.disk_sid)
    if row is not None and row == (db.host, uuid):
        return
    if row is not None and row[1] is not None:
        raise InUse(ResourceKind.VOLUME, disk.disk_sid, by=db.owner_name(*row))
    sql = "SELECT sid FROM disks WHERE dom_host=? AND dom_uuid=? AND device_id=?"
    taken = db.one(sql, db.host, uuid, disk.device_id)
    if taken:
        raise InvalidParameter("device_id", disk.device_id, f"used by disk {taken[0]}")
    if row is None:
        insert_disk(db, disk, uuid, owned=owned)
    else:
        sql = "UPDATE disks SET dom_host=?, dom_uuid=?, device_id=? WHERE sid=?"
        db.run(sql, db.host, uuid, disk.device_id, disk.disk_sid)


def insert_disk(db: Db, disk: DiskSpec, uuid: str | None, *, owned: bool) -> None:
    """Create ``disk`` (from its snapshot, if it names one), attached to ``uuid`` if given."""
    size, source = disk.size_bytes, disk.source_image
    if disk.source_snapshot is not None:
        snap = db.one("SELECT size_bytes FROM snapshots WHERE sid=?", disk.source_snapshot)
        if snap is None:
            raise NotFound(ResourceKind.SNAPSHOT, disk.source_snapshot)
        size, source = max(size, snap[0]), f"snapshot:{disk.source_snapshot}"
    if size <= 0:
        raise InvalidParameter("size_bytes", size, "must be positive")
    db.run(
        "INSERT INTO disks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        disk.disk_sid, db.host, disk.pool_ref, uuid and db.host, uuid, int(owned),
        disk.device_id, size, disk.format, source, disk.guest_serial,
    )  # fmt: skip


def remove_domain(db: Db, uuid: str, *, keep_owned: bool) -> None:
    """Delete the domain; delete the disks it owns unless ``keep_owned``; free the rest."""
    if not keep_owned:
        db.run("DELETE FROM disks WHERE dom_host=? AND dom_uuid=? AND owned=1", db.host, uuid)
    sql = "UPDATE disks SET dom_host=NULL, dom_uuid=NULL, owned=0 WHERE dom_host=? AND dom_uuid=?"
    db.run(sql, db.host, uuid)
    db.run("DELETE FROM domains WHERE host=? AND uuid=?", db.host, uuid)
