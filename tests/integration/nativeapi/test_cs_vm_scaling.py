"""scaleVirtualMachine, resetPasswordForVirtualMachine/getVMPassword,
migrateVirtualMachine and revertSnapshot through exoscale ``cs``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from engine.models import Instance, Template


def _err(exc: pytest.ExceptionInfo[CloudStackApiException]) -> dict[str, Any]:
    body: dict[str, Any] = exc.value.error
    return body


def _offering(cs: CloudStack, name: str) -> str:
    return next(o["id"] for o in cs.listServiceOfferings()["serviceoffering"]
                if o["name"] == name)


def _edit(server: Any, vm_id: str, **template: Any) -> None:
    with server.runtime.unit() as sv:
        inst = sv.session.get(Instance, vm_id)
        t = sv.session.get(Template, inst.template_uuid)
        for k, v in template.items():
            setattr(t, k, v)


def test_scale_stopped_then_running_refusals(cs: CloudStack, catalog: Any) -> None:
    vm = cs.deployVirtualMachine(**catalog.args(startvm=False))["virtualmachine"]
    small = _offering(cs, "t2.small")
    scaled = cs.scaleVirtualMachine(id=vm["id"], serviceofferingid=small)["virtualmachine"]
    assert scaled["serviceofferingid"] == small and scaled["memory"] == 2048
    with pytest.raises(CloudStackApiException) as exc:
        cs.scaleVirtualMachine(id=vm["id"], serviceofferingid=small)
    assert "already has the requested service offering" in _err(exc)["errortext"]
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)

    running = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    with pytest.raises(CloudStackApiException) as exc:
        cs.scaleVirtualMachine(id=running["id"], serviceofferingid=small)
    assert (_err(exc)["errorcode"], _err(exc)["cserrorcode"]) == (431, 4350)
    assert "does not have tools to support dynamic scaling" in _err(exc)["errortext"]
    cs.destroyVirtualMachine(id=running["id"], expunge=True)


def test_password_reset_and_get(server: Any, cs: CloudStack, catalog: Any) -> None:
    vm = cs.deployVirtualMachine(**catalog.args(startvm=False))["virtualmachine"]
    with pytest.raises(CloudStackApiException) as exc:
        cs.resetPasswordForVirtualMachine(id=vm["id"])
    assert _err(exc)["errortext"] == ("Fail to reset password for the virtual machine, the "
                                     "template is not password enabled")
    _edit(server, vm["id"], password_enabled=True)
    try:
        body = cs.resetPasswordForVirtualMachine(id=vm["id"])["virtualmachine"]
        assert body["id"] == vm["id"] and len(body["password"]) >= 6
        # Without a key pair, nothing can be read back.
        with pytest.raises(CloudStackApiException) as exc:
            cs.getVMPassword(id=vm["id"])
        assert _err(exc)["errortext"].startswith(f"No password for VM with id '{vm['id']}'")
    finally:
        _edit(server, vm["id"], password_enabled=False)
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_migrate_running_vm(cs: CloudStack, catalog: Any) -> None:
    vm = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    with pytest.raises(CloudStackApiException) as exc:
        cs.migrateVirtualMachine(virtualmachineid=vm["id"], hostid=vm["hostid"])
    assert "already present on this host" in _err(exc)["errortext"]
    target = next(h for h in cs.listHosts(type="Routing")["host"] if h["id"] != vm["hostid"])
    moved = cs.migrateVirtualMachine(virtualmachineid=vm["id"], hostid=target["id"])
    assert moved["virtualmachine"]["hostid"] == target["id"]
    assert moved["virtualmachine"]["state"] == "Running"
    cs.stopVirtualMachine(id=vm["id"])
    with pytest.raises(CloudStackApiException) as exc:
        cs.migrateVirtualMachine(virtualmachineid=vm["id"], hostid=vm["hostid"])
    assert _err(exc)["errortext"].startswith("VM is not Running, unable to migrate the vm")
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_revert_snapshot_needs_stopped_vm(cs: CloudStack, catalog: Any) -> None:
    vm = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    root = cs.listVolumes(virtualmachineid=vm["id"])["volume"][0]
    snap = cs.createSnapshot(volumeid=root["id"])["snapshot"]
    with pytest.raises(CloudStackApiException) as exc:
        cs.revertSnapshot(id=snap["id"])
    assert _err(exc)["errortext"] == ("The VM the specified disk is attached to is not in "
                                     "the shutdown state.")
    cs.stopVirtualMachine(id=vm["id"])
    reverted = cs.revertSnapshot(id=snap["id"])["snapshot"]
    assert reverted["id"] == snap["id"]
    assert cs.listVolumes(id=root["id"])["volume"][0]["state"] == "Ready"
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_user_cannot_migrate(cs_user: CloudStack, catalog: Any) -> None:
    with pytest.raises(CloudStackApiException) as exc:
        cs_user.migrateVirtualMachine(virtualmachineid=catalog.template_id, hostid=catalog.zone_id)
    assert _err(exc)["errorcode"] in (401, 531)
    assert json.dumps(_err(exc))
