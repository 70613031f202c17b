"""A snapshot's ``revertable`` comes from its volume's hypervisor (the driver's
REVERT_SNAPSHOT capability), and revertSnapshot refuses a snapshot that is not
revertable with CloudStack's CloudRuntimeException (530) before queuing anything."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from engine.models import Instance
from tests.integration.nativeapi.clients import cs_client


def _hypervisor(server: Any, vm_id: str, value: str | None = None) -> str:
    """The instance's hypervisor type (set to ``value`` first, if given)."""
    with server.runtime.unit() as sv:
        inst = sv.session.get(Instance, vm_id)
        assert inst is not None
        if value is not None:
            inst.hypervisor = value
        return inst.hypervisor


@pytest.fixture
def stopped_vm_snapshot(cs: CloudStack, catalog: Any) -> Iterator[tuple[dict[str, Any], str]]:
    """A stopped VM and a snapshot of its root volume."""
    vm = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    root = cs.listVolumes(virtualmachineid=vm["id"])["volume"][0]
    snap = cs.createSnapshot(volumeid=root["id"])["snapshot"]
    cs.stopVirtualMachine(id=vm["id"])
    yield vm, snap["id"]
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_revertable_follows_the_hypervisor(server: Any, cs: CloudStack,
                                           stopped_vm_snapshot: tuple[dict[str, Any], str]
                                           ) -> None:
    vm, snap_id = stopped_vm_snapshot
    listed = cs.listSnapshots(id=snap_id)["snapshot"][0]
    assert listed["revertable"] is True  # the simulator reverts
    before = _hypervisor(server, vm["id"])
    _hypervisor(server, vm["id"], "KVM")  # a type whose driver declares no revert
    try:
        assert cs.listSnapshots(id=snap_id)["snapshot"][0]["revertable"] is False
        with pytest.raises(CloudStackApiException) as exc:
            cs.revertSnapshot(id=snap_id)
        err = exc.value.error
        assert (err["errorcode"], err["cserrorcode"]) == (530, 4250)
        assert err["errortext"] == (
            f"Revert snapshot command failed for snapshot with id {snap_id}, because this "
            "command is supported only for KVM hypervisor")
        # Nothing was queued: the volume stays Ready.
        root = cs.listVolumes(virtualmachineid=vm["id"])["volume"][0]
        assert root["state"] == "Ready"
    finally:
        _hypervisor(server, vm["id"], before)
    assert cs.revertSnapshot(id=snap_id)["snapshot"]["id"] == snap_id


def test_a_user_gets_the_generic_text(server: Any, catalog: Any, user: Any) -> None:
    mine = cs_client(server, user.key, user.secret, fetch_result=True)
    vm = mine.deployVirtualMachine(**catalog.args())["virtualmachine"]
    root = mine.listVolumes(virtualmachineid=vm["id"])["volume"][0]
    snap = mine.createSnapshot(volumeid=root["id"])["snapshot"]
    mine.stopVirtualMachine(id=vm["id"])
    before = _hypervisor(server, vm["id"])
    _hypervisor(server, vm["id"], "KVM")
    try:
        with pytest.raises(CloudStackApiException) as exc:
            mine.revertSnapshot(id=snap["id"])
        assert exc.value.error["errorcode"] == 530
        assert exc.value.error["errortext"] == (
            "Internal error executing command, please contact your system administrator")
    finally:
        _hypervisor(server, vm["id"], before)
    mine.destroyVirtualMachine(id=vm["id"])
