"""VM attribute commands through exoscale ``cs``: change offering, update, user data,
SSH key reset, and delete protection on destroy."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from cs import CloudStack, CloudStackApiException

from nativeapi import registry


def _deploy(cs: CloudStack, catalog: Any, **extra: Any) -> dict[str, Any]:
    vm: dict[str, Any] = cs.deployVirtualMachine(**catalog.args(**extra))["virtualmachine"]
    return vm


def _stopped_vm(cs: CloudStack, catalog: Any, **extra: Any) -> dict[str, Any]:
    return _deploy(cs, catalog, startvm=False, **extra)


def _error(exc: pytest.ExceptionInfo[CloudStackApiException]) -> dict[str, Any]:
    body: dict[str, Any] = exc.value.error
    return body


def _types_ok(command: str, vm: dict[str, Any]) -> None:
    assert registry.response_type_errors(registry.metadata(command), vm) == []


def _other_offering(cs: CloudStack, current: str) -> dict[str, Any]:
    return next(o for o in cs.listServiceOfferings()["serviceoffering"]
                if o["id"] != current and o["name"].startswith("t2.") and not o.get("issystem"))


def test_change_service_of_stopped_vm(cs: CloudStack, catalog: Any) -> None:
    vm = _stopped_vm(cs, catalog)
    other = _other_offering(cs, catalog.offering_id)
    body = cs.changeServiceForVirtualMachine(id=vm["id"], serviceofferingid=other["id"])
    changed = body["virtualmachine"]
    _types_ok("changeServiceForVirtualMachine", changed)
    assert changed["serviceofferingid"] == other["id"]
    assert changed["serviceofferingname"] == other["name"]
    assert (changed["cpunumber"], changed["memory"]) == (other["cpunumber"], other["memory"])
    listed = cs.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
    assert listed["serviceofferingid"] == other["id"]
    # The same offering again is refused, as CloudStack does.
    with pytest.raises(CloudStackApiException) as exc:
        cs.changeServiceForVirtualMachine(id=vm["id"], serviceofferingid=other["id"])
    assert _error(exc)["errorcode"] == 431
    assert "already has the requested service offering" in _error(exc)["errortext"]
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_change_service_of_running_vm_is_431(cs: CloudStack, catalog: Any) -> None:
    vm = _deploy(cs, catalog)
    other = _other_offering(cs, catalog.offering_id)
    with pytest.raises(CloudStackApiException) as exc:
        cs.changeServiceForVirtualMachine(id=vm["id"], serviceofferingid=other["id"])
    err = _error(exc)
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)
    assert "Unable to upgrade virtual machine" in err["errortext"]
    assert "Running" in err["errortext"]
    assert cs.listVirtualMachines(id=vm["id"])["virtualmachine"][0][
        "serviceofferingid"] == catalog.offering_id
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_change_service_unknown_offering(cs: CloudStack, catalog: Any) -> None:
    vm = _stopped_vm(cs, catalog)
    with pytest.raises(CloudStackApiException) as exc:
        cs.changeServiceForVirtualMachine(id=vm["id"], serviceofferingid=str(uuid.uuid4()))
    assert _error(exc)["errorcode"] == 431
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_update_labels_and_delete_protection(cs: CloudStack, catalog: Any) -> None:
    vm = _deploy(cs, catalog)  # running: labels and protection change at once
    body = cs.updateVirtualMachine(id=vm["id"], displayname="Shiny", group="web",
                                   deleteprotection=True, haenable=False)
    updated = body["virtualmachine"]
    _types_ok("updateVirtualMachine", updated)
    assert updated["displayname"] == "Shiny" and updated["group"] == "web"
    assert updated["deleteprotection"] is True and updated["haenable"] is False
    assert updated["state"] == "Running"

    # CloudStack refuses to destroy a VM with delete protection (431).
    with pytest.raises(CloudStackApiException) as exc:
        cs.destroyVirtualMachine(id=vm["id"])
    assert (_error(exc)["errorcode"], _error(exc)["cserrorcode"]) == (431, 4350)
    with pytest.raises(CloudStackApiException) as exc:
        cs.destroyVirtualMachine(id=vm["id"], expunge=True)
    assert _error(exc)["errorcode"] == 431
    assert cs.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["state"] == "Running"

    cleared = cs.updateVirtualMachine(id=vm["id"], group="", deleteprotection=False)
    assert "group" not in cleared["virtualmachine"]
    assert cleared["virtualmachine"]["displayname"] == "Shiny"
    assert cleared["virtualmachine"]["deleteprotection"] is False
    assert cs.destroyVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Destroyed"
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_update_haenable_true_is_refused(cs: CloudStack, catalog: Any) -> None:
    vm = _stopped_vm(cs, catalog)
    with pytest.raises(CloudStackApiException) as exc:
        cs.updateVirtualMachine(id=vm["id"], haenable=True, displayname="never")
    assert _error(exc)["errorcode"] == 431
    assert cs.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["displayname"] != "never"
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_user_data_update_and_get(cs: CloudStack, catalog: Any) -> None:
    first = base64.b64encode(b"#!/bin/sh\necho one").decode()
    vm = _stopped_vm(cs, catalog, userdata=first)
    got = cs.getVirtualMachineUserData(virtualmachineid=vm["id"])
    assert set(got) == {"virtualmachineuserdata"}
    data = got["virtualmachineuserdata"]
    assert data == {"virtualmachineid": vm["id"], "userdata": first}
    assert registry.response_type_errors(registry.metadata("getVirtualMachineUserData"),
                                         data) == []

    second = base64.b64encode(b"#cloud-config\n{}").decode()
    cs.updateVirtualMachine(id=vm["id"], userdata=second)
    assert cs.getVirtualMachineUserData(virtualmachineid=vm["id"])[
        "virtualmachineuserdata"]["userdata"] == second

    with pytest.raises(CloudStackApiException) as exc:
        cs.updateVirtualMachine(id=vm["id"], userdata="not base64!")
    assert _error(exc)["errorcode"] == 431
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_user_data_absent_and_unknown_vm(cs: CloudStack, catalog: Any) -> None:
    vm = _stopped_vm(cs, catalog)
    data = cs.getVirtualMachineUserData(virtualmachineid=vm["id"])["virtualmachineuserdata"]
    assert data == {"virtualmachineid": vm["id"]}
    with pytest.raises(CloudStackApiException) as exc:
        cs.getVirtualMachineUserData(virtualmachineid=str(uuid.uuid4()))
    assert _error(exc)["errorcode"] == 431
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_user_cannot_touch_another_accounts_vm(cs: CloudStack, cs_user: CloudStack,
                                               catalog: Any) -> None:
    vm = _stopped_vm(cs, catalog)
    with pytest.raises(CloudStackApiException) as exc:
        cs_user.getVirtualMachineUserData(virtualmachineid=vm["id"])
    assert _error(exc)["errorcode"] == 431
    with pytest.raises(CloudStackApiException) as exc:
        cs_user.updateVirtualMachine(id=vm["id"], displayname="mine")
    assert _error(exc)["errorcode"] == 431
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_reset_ssh_key(cs_submit: CloudStack, cs: CloudStack, catalog: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    cs.createSSHKeyPair(name=f"old-{tag}")
    cs.createSSHKeyPair(name=f"new-{tag}")
    vm = _stopped_vm(cs, catalog, keypair=f"old-{tag}")
    assert vm["keypairs"] == f"old-{tag}"

    submitted = cs_submit.resetSSHKeyForVirtualMachine(id=vm["id"], keypair=f"new-{tag}")
    assert set(submitted) == {"jobid"}
    result = cs._jobresult(submitted["jobid"])
    reset = result["virtualmachine"]
    _types_ok("resetSSHKeyForVirtualMachine", reset)
    assert reset["id"] == vm["id"] and reset["keypairs"] == f"new-{tag}"
    assert cs.listVirtualMachines(keypair=f"new-{tag}")["virtualmachine"][0]["id"] == vm["id"]
    # The waiting client (mixed-case response key) gets the same VM.
    again = cs.resetSSHKeyForVirtualMachine(id=vm["id"], keypairs=f"old-{tag}")
    assert again["virtualmachine"]["keypairs"] == f"old-{tag}"

    with pytest.raises(CloudStackApiException) as exc:
        cs.resetSSHKeyForVirtualMachine(id=vm["id"], keypair=f"nope-{tag}")
    assert _error(exc)["errorcode"] == 431
    assert f"nope-{tag}" in _error(exc)["errortext"]
    with pytest.raises(CloudStackApiException) as exc:
        cs.resetSSHKeyForVirtualMachine(id=vm["id"])
    assert _error(exc)["errorcode"] == 431
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)
    cs.deleteSSHKeyPair(name=f"old-{tag}")
    cs.deleteSSHKeyPair(name=f"new-{tag}")


def test_reset_ssh_key_needs_stopped_vm(cs: CloudStack, catalog: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    cs.createSSHKeyPair(name=f"k-{tag}")
    vm = _deploy(cs, catalog)
    with pytest.raises(CloudStackApiException) as exc:
        cs.resetSSHKeyForVirtualMachine(id=vm["id"], keypair=f"k-{tag}")
    err = _error(exc)
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)
    assert "should be stopped" in err["errortext"]
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)
    cs.deleteSSHKeyPair(name=f"k-{tag}")
