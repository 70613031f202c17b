"""A template made from a snapshot (createTemplate snapshotid=) deploys with the
snapshot's disk as its root, not a blank one (the simulated hypervisor records
where each disk came from)."""

from __future__ import annotations

import uuid
from typing import Any

from cs import CloudStack
from sqlalchemy import select

from engine.jobs.drivers import HostAccess
from engine.models import Host, Snapshot, Volume


def _sid(server: Any, model: type, uuid_: str) -> str:
    with server.runtime.unit(readonly=True) as sv:
        row = sv.session.get(model, uuid_)
        assert row is not None
        return str(row.sid)


def _disk_source(server: Any, disk_sid: str) -> str | None:
    with server.runtime.unit(readonly=True) as sv:
        hosts = [HostAccess(h.uuid, h.hypervisor, h.url, h.username, h.password)
                 for h in sv.session.scalars(select(Host))]
    for h in hosts:
        row = server.runtime.drivers.get(h)._read().one(
            "SELECT source FROM disks WHERE sid=?", disk_sid)
        if row is not None:
            return row[0]  # type: ignore[no-any-return]
    raise AssertionError(f"no disk {disk_sid}")


def test_a_vm_of_a_template_from_a_snapshot_boots_the_snapshots_disk(
        server: Any, cs: CloudStack, catalog: Any) -> None:
    ostype = cs.listOsTypes()["ostype"][0]["id"]
    vm = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    root = cs.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    snap = cs.createSnapshot(volumeid=root["id"])["snapshot"]
    template = cs.createTemplate(name=f"snap-{uuid.uuid4().hex[:8]}", displaytext="from snap",
                                 ostypeid=ostype, snapshotid=snap["id"])["template"]
    vm2 = cs.deployVirtualMachine(**catalog.args(templateid=template["id"]))["virtualmachine"]
    assert vm2["state"] == "Running"
    root2 = cs.listVolumes(virtualmachineid=vm2["id"], type="ROOT")["volume"][0]
    assert _disk_source(server, _sid(server, Volume, root2["id"])) == (
        f"snapshot:{_sid(server, Snapshot, snap['id'])}")
    for v in (vm, vm2):
        cs.destroyVirtualMachine(id=v["id"], expunge="true")
    cs.deleteTemplate(id=template["id"])
