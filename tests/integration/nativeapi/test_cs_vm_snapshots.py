"""VM snapshots and VM restore through exoscale ``cs``: createVMSnapshot,
listVMSnapshot, revertToVMSnapshot, deleteVMSnapshot, restoreVirtualMachine.

Disk content is checked on the simulator, which keeps each disk's size: a
root disk grown after a snapshot is back to its old size after the revert.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from cs import CloudStack
from sqlalchemy import func, select

from engine.errors import NotFound
from engine.jobs.drivers import HostAccess
from engine.models import Host, Job, StoragePool, VmSnapshot, VmSnapshotDisk, Volume
from engine.states import JobStatus
from tests.integration.hypervisors.support import wait_for
from tests.integration.nativeapi.errors import api_error, type_errors

GIB = 1024 ** 3


# ------------------------------------------------------------------ helpers
def _deploy(cs: CloudStack, catalog: Any, **extra: Any) -> dict[str, Any]:
    vm: dict[str, Any] = cs.deployVirtualMachine(**catalog.args(**extra))["virtualmachine"]
    return vm


def _snap(cs: CloudStack, vm_id: str, **extra: Any) -> dict[str, Any]:
    vs: dict[str, Any] = cs.createVMSnapshot(virtualmachineid=vm_id, **extra)["vmsnapshot"]
    return vs


def _snaps(cs: CloudStack, vm_id: str) -> dict[str, dict[str, Any]]:
    """The VM's snapshots by display name."""
    items = cs.listVMSnapshot(virtualmachineid=vm_id, listall=True).get("vmSnapshot", [])
    return {x["displayname"]: x for x in items}


def _volumes(cs: CloudStack, vm_id: str) -> list[dict[str, Any]]:
    vols: list[dict[str, Any]] = cs.listVolumes(virtualmachineid=vm_id, listall=True)["volume"]
    return vols


def _root(cs: CloudStack, vm_id: str) -> dict[str, Any]:
    return next(v for v in _volumes(cs, vm_id) if v["type"] == "ROOT")


def _simulated_disk_size(server: Any, volume_id: str) -> int | None:
    """The size the simulator holds for the volume's disk (None: no such disk)."""
    with server.runtime.unit(readonly=True) as services:
        sid = services.session.get(Volume, volume_id).sid
        host = next(h for h in services.session.scalars(select(Host).where(
            Host.url.like("http://sim/%"), Host.removed_at.is_(None))))
        access = HostAccess(host.uuid, host.hypervisor, host.url, host.username, host.password)
    try:
        return int(server.runtime.drivers.get(access).disk_info(sid).size_bytes)
    except NotFound:
        return None


def _simulated_snapshots(server: Any, vs_id: str) -> list[str]:
    """Member disk snapshots of a VM snapshot that the simulator still holds."""
    with server.runtime.unit(readonly=True) as services:
        sids = list(services.session.scalars(select(VmSnapshotDisk.snapshot_sid).where(
            VmSnapshotDisk.vm_snapshot_uuid == vs_id)))
    state = server.runtime.drivers.simulator_dir / "simulator.sqlite3"
    with sqlite3.connect(state) as conn:
        return [sid for sid in sids
                if conn.execute("SELECT 1 FROM snapshots WHERE sid=?", (sid,)).fetchone()]


def _jobs_done(server: Any, vm_id: str) -> bool:
    with server.runtime.unit(readonly=True) as services:
        pending = services.session.scalar(select(func.count()).select_from(Job).where(
            Job.resource_uuid == vm_id,
            Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING))))
    return not pending


def _pool_allocated(server: Any, pool_id: str) -> int:
    with server.runtime.unit(readonly=True) as services:
        return int(services.session.get(StoragePool, pool_id).allocated_bytes)


# ------------------------------------------------------------------ create / list
def test_create_list_and_tree(cs: CloudStack, catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    first = _snap(cs, vm["id"], name="first", description="before the change")
    assert first["state"] == "Ready" and first["current"] is True
    assert first["displayname"] == "first" and first["type"] == "Disk"
    assert first["virtualmachineid"] == vm["id"] and "parent" not in first
    assert first["name"].endswith(first["name"][-14:]) and "_VS_" in first["name"]
    assert type_errors("createVMSnapshot", first) == []
    second = _snap(cs, vm["id"], name="second")
    assert second["parent"] == first["id"] and second["parentName"] == "first"
    snaps = _snaps(cs, vm["id"])
    assert set(snaps) == {"first", "second"}
    assert snaps["second"]["current"] is True and snaps["first"]["current"] is False
    for item in snaps.values():
        assert type_errors("listVMSnapshot", item) == []
    # Filters: id, name, state, keyword.
    by_id = cs.listVMSnapshot(vmsnapshotid=first["id"])["vmSnapshot"]
    assert [x["id"] for x in by_id] == [first["id"]]
    assert [x["id"] for x in cs.listVMSnapshot(virtualmachineid=vm["id"],
                                               name="second")["vmSnapshot"]] == [second["id"]]
    assert [x["id"] for x in cs.listVMSnapshot(virtualmachineid=vm["id"],
                                               keyword="the chan")["vmSnapshot"]] == [first["id"]]
    assert cs.listVMSnapshot(virtualmachineid=vm["id"], state="Error") == {}
    paged = cs.listVMSnapshot(virtualmachineid=vm["id"], page=1, pagesize=1)
    assert paged["count"] == 2 and len(paged["vmSnapshot"]) == 1


def test_snapshot_of_stopped_vm_and_default_name(cs: CloudStack, catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    cs.stopVirtualMachine(id=vm["id"])
    vs = _snap(cs, vm["id"])
    assert vs["state"] == "Ready"
    assert vs["displayname"] == vs["name"] and "_VS_" in vs["name"]


def test_create_refusals(cs: CloudStack, catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    _snap(cs, vm["id"], name="taken")
    err = api_error(cs.createVMSnapshot, virtualmachineid=vm["id"], name="taken")
    assert err["errorcode"] == 431 and "already exists" in err["errortext"]
    err = api_error(cs.createVMSnapshot, virtualmachineid=vm["id"], snapshotmemory=True)
    assert err["errorcode"] == 431 and "memory" in err["errortext"]
    err = api_error(cs.createVMSnapshot, virtualmachineid=str(uuid.uuid4()))
    assert err["errorcode"] == 431
    err = api_error(cs.createVMSnapshot)
    assert err["errorcode"] == 431
    cs.stopVirtualMachine(id=vm["id"])
    err = api_error(cs.createVMSnapshot, virtualmachineid=vm["id"], snapshotmemory=True)
    assert err["errorcode"] == 431 and "not Running" in err["errortext"]
    never_started = _deploy(cs, catalog, startvm=False)
    err = api_error(cs.createVMSnapshot, virtualmachineid=never_started["id"])
    assert err["errorcode"] == 431 and "not been created" in err["errortext"]


def test_other_account_cannot_see_or_snapshot(cs: CloudStack, cs_user: CloudStack,
                                              catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    vs = _snap(cs, vm["id"])
    assert api_error(cs_user.createVMSnapshot, virtualmachineid=vm["id"])["errorcode"] == 431
    assert cs_user.listVMSnapshot(listall=True) == {}
    assert api_error(cs_user.deleteVMSnapshot, vmsnapshotid=vs["id"])["errorcode"] == 431
    mine = _deploy(cs_user, catalog)
    own = _snap(cs_user, mine["id"], name="mine")
    assert [x["id"] for x in cs_user.listVMSnapshot()["vmSnapshot"]] == [own["id"]]
    assert own["account"] == cs_user.listAccounts()["account"][0]["name"]


# ------------------------------------------------------------------ revert
def test_revert_restores_disk_content_and_current(server: Any, cs: CloudStack,
                                                  catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    root = _root(cs, vm["id"])
    old_size = root["size"]
    assert _simulated_disk_size(server, root["id"]) == old_size
    first = _snap(cs, vm["id"], name="small")
    cs.resizeVolume(id=root["id"], size=old_size // GIB + 1)
    assert _simulated_disk_size(server, root["id"]) == old_size + GIB
    second = _snap(cs, vm["id"], name="big")

    err = api_error(cs.revertToVMSnapshot, vmsnapshotid=first["id"])
    assert err["errorcode"] == 431 and "stop" in err["errortext"]

    cs.stopVirtualMachine(id=vm["id"])
    reverted = cs.revertToVMSnapshot(vmsnapshotid=first["id"])["virtualmachine"]
    assert reverted["id"] == vm["id"] and reverted["state"] == "Stopped"
    assert type_errors("revertToVMSnapshot", reverted) == []
    assert _simulated_disk_size(server, root["id"]) == old_size
    assert _root(cs, vm["id"])["size"] == old_size
    snaps = _snaps(cs, vm["id"])
    assert snaps["small"]["current"] is True and snaps["big"]["current"] is False
    assert snaps["small"]["state"] == snaps["big"]["state"] == "Ready"

    cs.revertToVMSnapshot(vmsnapshotid=second["id"])
    assert _simulated_disk_size(server, root["id"]) == old_size + GIB
    assert _snaps(cs, vm["id"])["big"]["current"] is True
    started = cs.startVirtualMachine(id=vm["id"])["virtualmachine"]
    assert started["state"] == "Running"


def test_revert_refused_when_volumes_changed(cs: CloudStack, catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    vs = _snap(cs, vm["id"])
    offering = next(o for o in cs.listDiskOfferings()["diskoffering"] if not o["iscustomized"])
    data = cs.createVolume(name=f"d-{uuid.uuid4().hex[:6]}", zoneid=catalog.zone_id,
                           diskofferingid=offering["id"])["volume"]
    cs.attachVolume(id=data["id"], virtualmachineid=vm["id"])
    cs.stopVirtualMachine(id=vm["id"])
    err = api_error(cs.revertToVMSnapshot, vmsnapshotid=vs["id"])
    assert err["errorcode"] == 431 and "volumes changed" in err["errortext"]
    # A snapshot taken with the data volume covers both disks and reverts.
    both = _snap(cs, vm["id"], name="both")
    assert len(_volumes(cs, vm["id"])) == 2
    assert cs.revertToVMSnapshot(vmsnapshotid=both["id"])["virtualmachine"]["id"] == vm["id"]
    assert all(v["state"] == "Ready" for v in _volumes(cs, vm["id"]))


def test_revert_and_delete_unknown(cs: CloudStack) -> None:
    missing = str(uuid.uuid4())
    assert api_error(cs.revertToVMSnapshot, vmsnapshotid=missing)["errorcode"] == 431
    assert api_error(cs.deleteVMSnapshot, vmsnapshotid=missing)["errorcode"] == 431
    assert api_error(cs.revertToVMSnapshot)["errorcode"] == 431


# ------------------------------------------------------------------ delete
def test_delete_rebuilds_tree_and_frees_disk_snapshots(server: Any, cs: CloudStack,
                                                       catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    a = _snap(cs, vm["id"], name="a")
    b = _snap(cs, vm["id"], name="b")
    c = _snap(cs, vm["id"], name="c")
    assert _simulated_snapshots(server, b["id"])
    assert cs.deleteVMSnapshot(vmsnapshotid=b["id"])["success"] is True
    snaps = _snaps(cs, vm["id"])
    assert set(snaps) == {"a", "c"}
    assert snaps["c"]["parent"] == a["id"] and snaps["c"]["current"] is True
    assert _simulated_snapshots(server, b["id"]) == []
    cs.deleteVMSnapshot(vmsnapshotid=c["id"])
    snaps = _snaps(cs, vm["id"])
    assert set(snaps) == {"a"} and snaps["a"]["current"] is True
    assert api_error(cs.deleteVMSnapshot, vmsnapshotid=c["id"])["errorcode"] == 431


# ------------------------------------------------------------------ expunge
def test_expunge_removes_vm_snapshots(server: Any, cs: CloudStack, catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    one = _snap(cs, vm["id"], name="one")
    two = _snap(cs, vm["id"], name="two")
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)
    wait_for(lambda: _jobs_done(server, vm["id"]), timeout=20)
    assert cs.listVMSnapshot(virtualmachineid=vm["id"], listall=True) == {}
    assert _simulated_snapshots(server, one["id"]) == []
    assert _simulated_snapshots(server, two["id"]) == []
    with server.runtime.unit(readonly=True) as services:
        rows = list(services.session.scalars(select(VmSnapshot).where(
            VmSnapshot.instance_uuid == vm["id"])))
    assert rows and all(r.removed_at is not None and not r.current for r in rows)


# ------------------------------------------------------------------ restore
def test_restore_running_vm_keeps_ips_and_makes_fresh_root(server: Any, cs: CloudStack,
                                                           catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    old_root = _root(cs, vm["id"])
    with server.runtime.unit(readonly=True) as services:
        pool = services.session.get(Volume, old_root["id"]).pool_uuid
    before = _pool_allocated(server, pool)
    restored = cs.restoreVirtualMachine(virtualmachineid=vm["id"])["virtualmachine"]
    assert type_errors("restoreVirtualMachine", restored) == []
    assert restored["id"] == vm["id"] and restored["state"] == "Running"
    assert [n["ipaddress"] for n in restored["nic"]] == [n["ipaddress"] for n in vm["nic"]]
    assert [n["macaddress"] for n in restored["nic"]] == [n["macaddress"] for n in vm["nic"]]
    new_root = _root(cs, vm["id"])
    assert new_root["id"] != old_root["id"] and new_root["state"] == "Ready"
    assert new_root["size"] == old_root["size"]
    assert _simulated_disk_size(server, new_root["id"]) == new_root["size"]
    assert _simulated_disk_size(server, old_root["id"]) is None
    assert api_error(cs.listVolumes, id=old_root["id"], listall=True)["errorcode"] == 431
    assert _pool_allocated(server, pool) == before


def test_restore_stopped_vm_with_data_volume_and_size(server: Any, cs: CloudStack,
                                                      catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    offering = next(o for o in cs.listDiskOfferings()["diskoffering"] if not o["iscustomized"])
    data = cs.createVolume(name=f"d-{uuid.uuid4().hex[:6]}", zoneid=catalog.zone_id,
                           diskofferingid=offering["id"])["volume"]
    cs.attachVolume(id=data["id"], virtualmachineid=vm["id"])
    cs.stopVirtualMachine(id=vm["id"])
    old_root = _root(cs, vm["id"])
    restored = cs.restoreVirtualMachine(virtualmachineid=vm["id"],
                                        rootdisksize=old_root["size"] // GIB + 2)
    assert restored["virtualmachine"]["state"] == "Stopped"
    vols = {v["type"]: v for v in _volumes(cs, vm["id"])}
    assert vols["DATADISK"]["id"] == data["id"]
    assert vols["ROOT"]["id"] != old_root["id"]
    assert vols["ROOT"]["size"] == old_root["size"] + 2 * GIB
    assert _simulated_disk_size(server, old_root["id"]) is None
    started = cs.startVirtualMachine(id=vm["id"])["virtualmachine"]
    assert started["state"] == "Running"
    assert _simulated_disk_size(server, data["id"]) == data["size"]
    assert _simulated_disk_size(server, vols["ROOT"]["id"]) == old_root["size"] + 2 * GIB


def test_restore_refusals(cs: CloudStack, catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    _snap(cs, vm["id"])
    err = api_error(cs.restoreVirtualMachine, virtualmachineid=vm["id"])
    assert err["errorcode"] == 431 and "snapshot" in err["errortext"]
    other = _deploy(cs, catalog)
    err = api_error(cs.restoreVirtualMachine, virtualmachineid=other["id"], rootdisksize=0)
    assert err["errorcode"] == 431
    err = api_error(cs.restoreVirtualMachine, virtualmachineid=other["id"],
                    templateid=str(uuid.uuid4()))
    assert err["errorcode"] == 431
    assert api_error(cs.restoreVirtualMachine,
                     virtualmachineid=str(uuid.uuid4()))["errorcode"] == 431
    cs.destroyVirtualMachine(id=other["id"])
    err = api_error(cs.restoreVirtualMachine, virtualmachineid=other["id"])
    assert err["errorcode"] == 431
