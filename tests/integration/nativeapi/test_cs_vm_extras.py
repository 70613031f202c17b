"""VM extras through exoscale ``cs``: listNics, secondary IPs, instance groups, user data."""

from __future__ import annotations

import base64
import ipaddress
import uuid
from typing import Any

from cs import CloudStack

from tests.integration.nativeapi.errors import api_error, type_errors


def _vm(cs: CloudStack, catalog: Any, **extra: Any) -> dict[str, Any]:
    vm: dict[str, Any] = cs.deployVirtualMachine(
        **catalog.args(startvm=False, **extra))["virtualmachine"]
    return vm


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_list_nics_of_a_vm(cs: CloudStack, catalog: Any) -> None:
    vm = _vm(cs, catalog)
    body = cs.listNics(virtualmachineid=vm["id"])
    assert body["count"] == 1
    [nic] = body["nic"]
    assert type_errors("listNics", nic) == []
    assert nic["id"] == vm["nic"][0]["id"]
    assert nic["ipaddress"] == vm["nic"][0]["ipaddress"]
    assert nic["virtualmachineid"] == vm["id"] and nic["isdefault"] is True
    assert cs.listNics(virtualmachineid=vm["id"], nicid=nic["id"])["nic"][0]["id"] == nic["id"]
    assert "nic" not in cs.listNics(virtualmachineid=vm["id"], networkid=str(uuid.uuid4()))
    err = api_error(cs.listNics, virtualmachineid=str(uuid.uuid4()))
    assert err["errorcode"] == 431


def test_secondary_ips_are_added_listed_and_removed(cs: CloudStack, catalog: Any) -> None:
    vm = _vm(cs, catalog)
    nic = vm["nic"][0]
    added = cs.addIpToNic(nicid=nic["id"])["nicsecondaryip"]
    assert type_errors("addIpToNic", added) == []
    assert added["nicid"] == nic["id"] and added["virtualmachineid"] == vm["id"]
    assert added["networkid"] == nic["networkid"]
    net = ipaddress.ip_network(f"{nic['ipaddress']}/{nic['netmask']}", strict=False)
    assert ipaddress.ip_address(added["ipaddress"]) in net
    assert added["ipaddress"] != nic["ipaddress"]
    listed = cs.listNics(virtualmachineid=vm["id"])["nic"][0]
    assert listed["secondaryip"] == [{"id": added["id"], "ipaddress": added["ipaddress"]}]
    # The same address again, or the NIC's own, is refused: unique per network.
    for taken in (added["ipaddress"], nic["ipaddress"]):
        err = api_error(cs.addIpToNic, nicid=nic["id"], ipaddress=taken)
        assert err["errorcode"] == 431, err
    body = cs.removeIpFromNic(id=added["id"])
    assert body.get("success") in (True, "true") or body.get("jobstatus") == 1
    assert "secondaryip" not in cs.listNics(virtualmachineid=vm["id"])["nic"][0] or \
        cs.listNics(virtualmachineid=vm["id"])["nic"][0]["secondaryip"] == []
    # Released: the address may be asked for again.
    again = cs.addIpToNic(nicid=nic["id"], ipaddress=added["ipaddress"])["nicsecondaryip"]
    assert again["ipaddress"] == added["ipaddress"]
    assert api_error(cs.removeIpFromNic, id=str(uuid.uuid4()))["errorcode"] == 431


def test_other_accounts_cannot_touch_a_nic(cs: CloudStack, cs_user: CloudStack,
                                           catalog: Any) -> None:
    vm = _vm(cs, catalog)
    assert api_error(cs_user.listNics, virtualmachineid=vm["id"])["errorcode"] == 431
    assert api_error(cs_user.addIpToNic, nicid=vm["nic"][0]["id"])["errorcode"] == 431


def test_instance_groups_stored_and_derived(cs_user: CloudStack, catalog: Any) -> None:
    name = _name("grp")
    created = cs_user.createInstanceGroup(name=name)["instancegroup"]
    assert type_errors("createInstanceGroup", created) == []
    assert created["name"] == name and created["account"]
    err = api_error(cs_user.createInstanceGroup, name=name)
    assert err["errorcode"] == 431
    listed = cs_user.listInstanceGroups(id=created["id"])
    assert listed["count"] == 1 and listed["instancegroup"][0]["name"] == name
    # A VM naming a group that was never created shows it as a group too.
    derived = _name("vmgrp")
    _vm(cs_user, catalog, group=derived)
    groups = {g["name"]: g for g in cs_user.listInstanceGroups()["instancegroup"]}
    assert {name, derived} <= set(groups)
    again = cs_user.listInstanceGroups(id=groups[derived]["id"])["instancegroup"]
    assert [g["name"] for g in again] == [derived]
    assert api_error(cs_user.createInstanceGroup, name=derived)["errorcode"] == 431
    assert cs_user.listInstanceGroups(keyword=name[4:])["count"] == 1


def test_user_data_register_list_delete(cs_user: CloudStack, cs: CloudStack) -> None:
    name = _name("ud")
    text = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    made = cs_user.registerUserData(name=name, userdata=text, params="a,b")["userdata"]
    assert type_errors("registerUserData", made) == []
    assert made["name"] == name and made["userdata"] == text and made["params"] == "a,b"
    listed = cs_user.listUserData(id=made["id"])
    assert listed["count"] == 1 and listed["userdata"][0]["userdata"] == text
    assert api_error(cs_user.registerUserData, name=name, userdata=text)["errorcode"] == 431
    assert api_error(cs_user.registerUserData, name=_name("ud"),
                     userdata="not base64!!")["errorcode"] == 431
    # Another account's caller does not see it without listall; the admin with it does.
    assert "userdata" not in cs.listUserData(name=name)
    assert cs.listUserData(name=name, listall=True)["count"] == 1
    cs_user.deleteUserData(id=made["id"])
    assert "userdata" not in cs_user.listUserData(id=made["id"])
    assert api_error(cs_user.deleteUserData, id=made["id"])["errorcode"] == 431


def test_update_volume_renames(cs_user: CloudStack, cs: CloudStack, catalog: Any) -> None:
    vm = _vm(cs_user, catalog)
    root = cs_user.listVolumes(virtualmachineid=vm["id"])["volume"][0]
    name = _name("root")
    updated = cs_user.updateVolume(id=root["id"], name=name)["volume"]
    assert type_errors("updateVolume", updated) == []
    assert updated["id"] == root["id"] and updated["name"] == name
    assert cs_user.listVolumes(id=root["id"])["volume"][0]["name"] == name
    assert api_error(cs_user.updateVolume, id=str(uuid.uuid4()), name="x")["errorcode"] == 431
    assert api_error(cs_user.updateVolume, id=root["id"], path="/x")["errorcode"] == 431
