"""NICs of a VM through exoscale ``cs``: addNicToVirtualMachine,
removeNicFromVirtualMachine, updateDefaultNicForVirtualMachine."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cs import CloudStack
from sqlalchemy import select

from engine.hypervisors.base import DomainRef
from engine.jobs.drivers import host_access
from engine.models import Host, Instance
from tests.integration.nativeapi.errors import api_error, type_errors


@pytest.fixture
def c(user: Any, make_cs: Any) -> CloudStack:
    return make_cs(user.key, user.secret, fetch_result=True)  # type: ignore[no-any-return]


def _network(c: CloudStack, zone_id: str, name: str = "extra") -> dict[str, Any]:
    offering = c.listNetworkOfferings(
        name="DefaultIsolatedNetworkOfferingWithSourceNatService")["networkoffering"][0]
    return c.createNetwork(zoneid=zone_id, name=name,  # type: ignore[no-any-return]
                           networkofferingid=offering["id"])["network"]


def _domain_macs(server: Any, vm_id: str) -> tuple[str, ...]:
    with server.runtime.unit(readonly=True) as services:
        s = services.session
        inst = s.scalar(select(Instance).where(Instance.uuid == vm_id))
        host = s.get(Host, inst.host_uuid or inst.last_host_uuid)
        driver = server.runtime.drivers.get(host_access(s, host))
        return driver.info(DomainRef(inst.domain_ref)).nic_macs  # type: ignore[no-any-return]


def test_add_make_default_and_remove_on_a_stopped_vm(c: CloudStack, catalog: Any) -> None:
    vm = c.deployVirtualMachine(**catalog.args(startvm=False))["virtualmachine"]
    net = _network(c, catalog.zone_id)
    body = c.addNicToVirtualMachine(virtualmachineid=vm["id"], networkid=net["id"])
    got = body["virtualmachine"]
    assert type_errors("addNicToVirtualMachine", got) == []
    assert len(got["nic"]) == 2
    [added] = [n for n in got["nic"] if n["networkid"] == net["id"]]
    assert added["isdefault"] is False and added["deviceid"] == "1"
    old_default = next(n for n in got["nic"] if n["isdefault"])
    listed = c.listNics(virtualmachineid=vm["id"], networkid=net["id"])["nic"]
    assert [n["id"] for n in listed] == [added["id"]]

    # One NIC per network (CloudRuntimeException: 530, text hidden from users).
    err = api_error(c.addNicToVirtualMachine, virtualmachineid=vm["id"], networkid=net["id"])
    assert err["errorcode"] == 530 and err["cserrorcode"] == 4250
    # The default NIC cannot be removed.
    err = api_error(c.removeNicFromVirtualMachine, virtualmachineid=vm["id"],
                    nicid=old_default["id"])
    assert err["errorcode"] == 431 and err["cserrorcode"] == 4350
    # Already default.
    err = api_error(c.updateDefaultNicForVirtualMachine, virtualmachineid=vm["id"],
                    nicid=old_default["id"])
    assert err["errorcode"] == 431

    swapped = c.updateDefaultNicForVirtualMachine(virtualmachineid=vm["id"],
                                                  nicid=added["id"])["virtualmachine"]
    assert type_errors("updateDefaultNicForVirtualMachine", swapped) == []
    by_id = {n["id"]: n for n in swapped["nic"]}
    assert by_id[added["id"]]["isdefault"] is True and by_id[added["id"]]["deviceid"] == "0"
    assert by_id[old_default["id"]]["isdefault"] is False

    removed = c.removeNicFromVirtualMachine(virtualmachineid=vm["id"],
                                            nicid=old_default["id"])["virtualmachine"]
    assert type_errors("removeNicFromVirtualMachine", removed) == []
    assert [n["id"] for n in removed["nic"]] == [added["id"]]
    # Its address went back to its network: it can be asked for again.
    again = c.addNicToVirtualMachine(virtualmachineid=vm["id"], networkid=old_default["networkid"],
                                     ipaddress=old_default["ipaddress"])["virtualmachine"]
    assert old_default["ipaddress"] in {n["ipaddress"] for n in again["nic"]}


def test_addresses_never_collide(c: CloudStack, catalog: Any) -> None:
    vm = c.deployVirtualMachine(**catalog.args(startvm=False))["virtualmachine"]
    other = c.deployVirtualMachine(**catalog.args(startvm=False))["virtualmachine"]
    net = _network(c, catalog.zone_id, "shared-ips")
    got = c.addNicToVirtualMachine(virtualmachineid=vm["id"], networkid=net["id"])[
        "virtualmachine"]
    ip = next(n["ipaddress"] for n in got["nic"] if n["networkid"] == net["id"])
    err = api_error(c.addNicToVirtualMachine, virtualmachineid=other["id"], networkid=net["id"],
                    ipaddress=ip)
    assert err["errorcode"] == 431
    # A secondary IP of the NIC is taken too.
    nic_id = next(n["id"] for n in got["nic"] if n["networkid"] == net["id"])
    secondary = c.addIpToNic(nicid=nic_id)["nicsecondaryip"]["ipaddress"]
    err = api_error(c.addNicToVirtualMachine, virtualmachineid=other["id"], networkid=net["id"],
                    ipaddress=secondary)
    assert err["errorcode"] == 431
    # Nothing was left behind by the refusals.
    assert len(c.listNics(virtualmachineid=other["id"])["nic"]) == 1


def test_hot_plug_on_a_running_vm(server: Any, c: CloudStack, catalog: Any) -> None:
    vm = c.deployVirtualMachine(**catalog.args())["virtualmachine"]
    assert vm["state"] == "Running"
    net = _network(c, catalog.zone_id, "hot")
    got = c.addNicToVirtualMachine(virtualmachineid=vm["id"], networkid=net["id"],
                                   macaddress="02:aa:bb:cc:dd:01")["virtualmachine"]
    added = next(n for n in got["nic"] if n["networkid"] == net["id"])
    assert added["macaddress"] == "02:aa:bb:cc:dd:01"
    assert "02:aa:bb:cc:dd:01" in _domain_macs(server, vm["id"])
    c.removeNicFromVirtualMachine(virtualmachineid=vm["id"], nicid=added["id"])
    assert "02:aa:bb:cc:dd:01" not in _domain_macs(server, vm["id"])
    assert len(c.listNics(virtualmachineid=vm["id"])["nic"]) == 1


def test_network_must_be_usable_by_the_owner(c: CloudStack, cs: CloudStack, make_cs: Any,
                                             server: Any, catalog: Any) -> None:
    vm = c.deployVirtualMachine(**catalog.args(startvm=False))["virtualmachine"]
    key, secret = server.new_user(f"other-{uuid.uuid4().hex[:8]}")
    theirs = _network(make_cs(key, secret, fetch_result=True), catalog.zone_id, "theirs")
    err = api_error(c.addNicToVirtualMachine, virtualmachineid=vm["id"], networkid=theirs["id"])
    assert err["errorcode"] == 531
    err = api_error(c.addNicToVirtualMachine, virtualmachineid=vm["id"],
                    networkid=str(uuid.uuid4()))
    assert err["errorcode"] == 431
    err = api_error(c.removeNicFromVirtualMachine, virtualmachineid=vm["id"],
                    nicid=str(uuid.uuid4()))
    assert err["errorcode"] == 431
    # Another account's VM is not found.
    other = make_cs(key, secret, fetch_result=True)
    err = api_error(other.addNicToVirtualMachine, virtualmachineid=vm["id"],
                    networkid=theirs["id"])
    assert err["errorcode"] == 431


def test_a_failed_hot_plug_leaves_nothing_behind(server: Any, c: CloudStack,
                                                 catalog: Any) -> None:
    vm = c.deployVirtualMachine(**catalog.args())["virtualmachine"]
    net = _network(c, catalog.zone_id, "fails")
    with server.runtime.unit(readonly=True) as services:
        s = services.session
        inst = s.scalar(select(Instance).where(Instance.uuid == vm["id"]))
        driver = server.runtime.drivers.get(host_access(s, s.get(Host, inst.host_uuid)))
    driver.configure(**{"fail.attach_nic": 1, "fail.attach_nic.count": 1,
                        "fail.attach_nic.error": "driver"})
    try:
        err = api_error(c.addNicToVirtualMachine, virtualmachineid=vm["id"], networkid=net["id"])
    finally:
        driver.clear_settings()
    assert err["errorcode"] == 530
    assert len(c.listNics(virtualmachineid=vm["id"])["nic"]) == 1
    # The address it had taken is free: the first one of the network is handed out again.
    first = c.addNicToVirtualMachine(virtualmachineid=vm["id"], networkid=net["id"])[
        "virtualmachine"]
    assert len(first["nic"]) == 2
