"""Exoscale's ``cs`` client end to end, as a user account: every call is signed by
cs (signatureVersion=3 + expires) and async jobs are polled by cs's own loop
(``fetch_result=True``)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Account, Target, World, cs_client, unique
from cs import CloudStack, CloudStackApiException


def _public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()


def _error(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(CloudStackApiException) as err:
        call(**params)
    return err.value.error  # type: ignore[no-any-return]


@pytest.fixture
def vm(user_cs: CloudStack, admin: CloudStack, world: World) -> Any:
    created = user_cs.deployVirtualMachine(
        zoneid=world.zone_id, templateid=world.template_id,
        serviceofferingid=world.offering_id, name=unique("cs"))["virtualmachine"]
    yield created
    admin.destroyVirtualMachine(id=created["id"], expunge=True)


def test_deploy_stop_start_reboot_destroy(user_cs: CloudStack, admin: CloudStack, world: World,
                                          target: Target, account: Account) -> None:
    name = unique("cs")
    submit = cs_client(target, account.key, account.secret)  # no fetch_result: raw submit body
    submitted = submit.deployVirtualMachine(zoneid=world.zone_id, templateid=world.template_id,
                                            serviceofferingid=world.offering_id, name=name)
    assert set(submitted) >= {"id", "jobid"}
    vm = user_cs._jobresult(submitted["jobid"])["virtualmachine"]  # cs's own polling loop
    assert vm["id"] == submitted["id"] and vm["name"] == name and vm["state"] == "Running"
    assert vm["account"] == account.name and vm["zoneid"] == world.zone_id
    assert vm["nic"] and vm["nic"][0]["ipaddress"]

    listed = user_cs.listVirtualMachines(id=vm["id"])
    assert listed["count"] == 1 and listed["virtualmachine"][0]["state"] == "Running"
    assert user_cs.stopVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Stopped"
    assert user_cs.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    assert user_cs.rebootVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    jobs = user_cs.listAsyncJobs()
    assert jobs["count"] >= 4 and any(j.get("jobinstanceid") == vm["id"] for j in jobs["asyncjobs"])

    # Users may not expunge by default (allow.user.expunge.recover.vm=false): 531.
    assert _error(user_cs.destroyVirtualMachine, id=vm["id"], expunge=True)[
        "errorcode"] == 531
    assert user_cs.destroyVirtualMachine(id=vm["id"])["virtualmachine"]["state"] in (
        "Destroyed", "Expunging")
    admin.expungeVirtualMachine(id=vm["id"])
    assert user_cs.listVirtualMachines(id=vm["id"]) == {} or all(
        v["state"] == "Expunging" for v in user_cs.listVirtualMachines(id=vm["id"])[
            "virtualmachine"])


def test_volume_create_attach_detach_delete(user_cs: CloudStack, world: World, vm: Any) -> None:
    volume = user_cs.createVolume(name=unique("vol"), zoneid=world.zone_id,
                                  diskofferingid=world.disk_offering_id)["volume"]
    assert volume["type"] == "DATADISK" and isinstance(volume["size"], int)
    assert "virtualmachineid" not in volume
    attached = user_cs.attachVolume(id=volume["id"], virtualmachineid=vm["id"])["volume"]
    assert attached["virtualmachineid"] == vm["id"] and isinstance(attached["deviceid"], int)
    listed = user_cs.listVolumes(virtualmachineid=vm["id"])
    assert {v["type"] for v in listed["volume"]} == {"ROOT", "DATADISK"}
    # An attached volume cannot be deleted.
    assert _error(user_cs.deleteVolume, id=volume["id"])["errorcode"] in (431, 530, 536)
    detached = user_cs.detachVolume(id=volume["id"])["volume"]
    assert "virtualmachineid" not in detached
    assert user_cs.deleteVolume(id=volume["id"])["success"] is True
    assert volume["id"] not in {v["id"] for v in user_cs.listVolumes().get("volume", [])}


def test_public_ip_static_nat_and_port_forwarding(user_cs: CloudStack, world: World,
                                                  vm: Any) -> None:
    ip = user_cs.associateIpAddress(zoneid=world.zone_id)["ipaddress"]
    assert ip["state"] in ("Allocated", "Allocating") and ip["issourcenat"] is False
    listed = user_cs.listPublicIpAddresses(id=ip["id"])
    assert listed["count"] == 1 and listed["publicipaddress"][0]["ipaddress"] == ip["ipaddress"]

    rule = user_cs.createPortForwardingRule(ipaddressid=ip["id"], virtualmachineid=vm["id"],
                                            protocol="tcp", publicport=2222,
                                            privateport=22)["portforwardingrule"]
    # CloudStack sends forwarding-rule ports as strings.
    assert (rule["publicport"], rule["privateport"]) == ("2222", "22")
    rules = user_cs.listPortForwardingRules(ipaddressid=ip["id"])
    assert rules["count"] == 1 and rules["portforwardingrule"][0]["id"] == rule["id"]
    assert user_cs.deletePortForwardingRule(id=rule["id"])["success"] is True
    assert user_cs.listPortForwardingRules(ipaddressid=ip["id"]) == {}

    assert user_cs.enableStaticNat(ipaddressid=ip["id"], virtualmachineid=vm["id"])[
        "success"] is True
    nat = user_cs.listPublicIpAddresses(id=ip["id"])["publicipaddress"][0]
    assert nat["isstaticnat"] is True and nat["virtualmachineid"] == vm["id"]
    assert user_cs.disableStaticNat(ipaddressid=ip["id"])["success"] is True
    assert user_cs.listPublicIpAddresses(id=ip["id"])["publicipaddress"][0][
        "isstaticnat"] is False
    assert user_cs.disassociateIpAddress(id=ip["id"])["success"] is True


def test_ssh_key_pairs(user_cs: CloudStack, admin: CloudStack, world: World) -> None:
    made = user_cs.createSSHKeyPair(name=unique("kp"))["keypair"]
    assert made["privatekey"].startswith("-----BEGIN") and made["fingerprint"]
    imported = user_cs.registerSSHKeyPair(name=unique("kp"),
                                          publickey=_public_key())["keypair"]
    assert "privatekey" not in imported and imported["fingerprint"]
    names = {k["name"] for k in user_cs.listSSHKeyPairs()["sshkeypair"]}
    assert {made["name"], imported["name"]} <= names
    vm = user_cs.deployVirtualMachine(zoneid=world.zone_id, templateid=world.template_id,
                                      serviceofferingid=world.offering_id,
                                      keypair=imported["name"])["virtualmachine"]
    assert vm["keypairs"] == imported["name"] or vm.get("keypair") == imported["name"]
    admin.destroyVirtualMachine(id=vm["id"], expunge=True)
    for pair in (made, imported):
        assert user_cs.deleteSSHKeyPair(name=pair["name"])["success"] is True
    assert user_cs.listSSHKeyPairs(name=made["name"]) == {}


def test_tags_on_a_vm(user_cs: CloudStack, vm: Any) -> None:
    value = unique("v")
    assert user_cs.createTags(resourcetype="UserVm", resourceids=vm["id"],
                              tags=[{"key": "conformance", "value": value}])["success"] is True
    tags = user_cs.listTags(resourceid=vm["id"])["tag"]
    assert {(t["key"], t["value"], t["resourcetype"]) for t in tags} == {
        ("conformance", value, "UserVm")}
    found = user_cs.listVirtualMachines(tags=[{"key": "conformance", "value": value}])
    assert found["count"] == 1 and found["virtualmachine"][0]["id"] == vm["id"]
    assert {(t["key"], t["value"]) for t in found["virtualmachine"][0]["tags"]} == {
        ("conformance", value)}
    assert user_cs.deleteTags(resourcetype="UserVm", resourceids=vm["id"],
                              tags=[{"key": "conformance"}])["success"] is True
    assert user_cs.listTags(resourceid=vm["id"]) == {}


def test_security_groups(user_cs: CloudStack) -> None:
    group = user_cs.createSecurityGroup(name=unique("sg"), description="conformance")[
        "securitygroup"]
    assert group["ingressrule"] == [] or "ingressrule" not in group
    authorized = user_cs.authorizeSecurityGroupIngress(
        securitygroupid=group["id"], protocol="tcp", startport=22, endport=22,
        cidrlist="10.0.0.0/8")["securitygroup"]
    [rule] = authorized["ingressrule"]
    assert (rule["protocol"], rule["startport"], rule["endport"], rule["cidr"]) == (
        "tcp", 22, 22, "10.0.0.0/8")
    listed = user_cs.listSecurityGroups(id=group["id"])["securitygroup"][0]
    assert [r["ruleid"] for r in listed["ingressrule"]] == [rule["ruleid"]]
    assert user_cs.revokeSecurityGroupIngress(id=rule["ruleid"])["success"] is True
    assert user_cs.listSecurityGroups(id=group["id"])["securitygroup"][0].get(
        "ingressrule", []) == []
    assert user_cs.deleteSecurityGroup(id=group["id"])["success"] is True


def test_user_sees_only_own_resources(user_cs: CloudStack, admin: CloudStack, vm: Any,
                                      account: Account) -> None:
    mine = user_cs.listVirtualMachines()["virtualmachine"]
    assert all(v["account"] == account.name for v in mine)
    everything = admin.listVirtualMachines(listall=True)["virtualmachine"]
    assert vm["id"] in {v["id"] for v in everything}
