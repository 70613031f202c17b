"""Public IP addresses and static NAT through the CloudStack API (cs and libcloud)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from cs import CloudStack, CloudStackApiException
from libcloud.compute.providers import get_driver
from libcloud.compute.types import Provider

from nativeapi import registry


def _error(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(CloudStackApiException) as err:
        call(**params)
    return err.value.error  # type: ignore[no-any-return]


def test_associate_returns_id_and_jobid_then_the_job_shows_the_address(
        server: Any, user: Any, make_cs: Any, catalog: Any) -> None:
    submit = make_cs(user.key, user.secret)
    submitted = submit.associateIpAddress(zoneid=catalog.zone_id)
    assert set(submitted) == {"id", "jobid"}
    job = submit.queryAsyncJobResult(jobid=submitted["jobid"])
    assert job["jobstatus"] == 1 and job["jobinstancetype"] == "IpAddress"
    ip = job["jobresult"]["ipaddress"]
    assert ip["id"] == submitted["id"] and ip["state"] == "Allocated"
    assert ip["account"] == user.name and ip["isstaticnat"] is False
    assert ip["issourcenat"] is False and ip["zoneid"] == catalog.zone_id
    assert registry.response_type_errors(registry.metadata("listPublicIpAddresses"), ip) == []

    listed = submit.listPublicIpAddresses()
    assert listed["count"] == 1 and listed["publicipaddress"][0]["ipaddress"] == ip["ipaddress"]
    assert submit.listPublicIpAddresses(ipaddress=ip["ipaddress"])["count"] == 1
    assert submit.listPublicIpAddresses(isstaticnat=True) == {}
    assert submit.listPublicIpAddresses(state="Free") == {}

    done = submit.disassociateIpAddress(id=ip["id"])
    assert set(done) == {"jobid"}
    assert submit.queryAsyncJobResult(jobid=done["jobid"])["jobresult"] == {"success": True}
    assert submit.listPublicIpAddresses() == {}


def test_static_nat_enable_disable_and_release(user: Any, make_cs: Any, catalog: Any) -> None:
    c = make_cs(user.key, user.secret, fetch_result=True)
    vm = c.deployVirtualMachine(**catalog.args())["virtualmachine"]
    ip = c.associateIpAddress(zoneid=catalog.zone_id)["ipaddress"]
    assert c.enableStaticNat(ipaddressid=ip["id"], virtualmachineid=vm["id"]) == {
        "success": True}
    [row] = c.listPublicIpAddresses(isstaticnat=True)["publicipaddress"]
    assert (row["id"], row["virtualmachineid"]) == (ip["id"], vm["id"])
    assert row["vmipaddress"] == vm["nic"][0]["ipaddress"] and row["purpose"] == "StaticNat"
    assert c.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["publicip"] == ip[
        "ipaddress"]

    assert c.disableStaticNat(ipaddressid=ip["id"]) == {"success": True}
    assert c.listPublicIpAddresses(isstaticnat=True) == {}
    err = _error(c.disableStaticNat, ipaddressid=ip["id"])
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)

    # QUIRK(cloudstack): releasing an address with static NAT disables it first.
    c.enableStaticNat(ipaddressid=ip["id"], virtualmachineid=vm["id"])
    assert c.disassociateIpAddress(ipaddress=ip["ipaddress"]) == {"success": True}
    assert c.listPublicIpAddresses(id=ip["id"]) == {}
    assert "publicip" not in c.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
    c.destroyVirtualMachine(id=vm["id"])


def test_errors(cs: CloudStack, user: Any, make_cs: Any, catalog: Any) -> None:
    c = make_cs(user.key, user.secret, fetch_result=True)
    err = _error(c.disassociateIpAddress)
    assert err["errorcode"] == 431
    err = _error(c.enableStaticNat, ipaddressid=str(uuid.uuid4()))
    assert err["errortext"].endswith("due to missing parameter virtualmachineid")
    missing = str(uuid.uuid4())
    err = _error(c.disableStaticNat, ipaddressid=missing)
    assert f"Invalid parameter ipaddressid value={missing} due to" in err["errortext"]

    # Another account's address and VM are not the user's to use.
    admin_ip = cs.associateIpAddress(zoneid=catalog.zone_id)["ipaddress"]
    vm = c.deployVirtualMachine(**catalog.args())["virtualmachine"]
    err = _error(c.enableStaticNat, ipaddressid=admin_ip["id"], virtualmachineid=vm["id"])
    assert err["errorcode"] == 431 and f"value={admin_ip['id']} due to" in err["errortext"]
    err = _error(c.disassociateIpAddress, id=admin_ip["id"])
    assert err["errorcode"] == 431
    assert admin_ip["id"] not in {a["id"] for a in c.listPublicIpAddresses(
        listall=True, fetch_list=True)}
    cs.disassociateIpAddress(id=admin_ip["id"])
    c.destroyVirtualMachine(id=vm["id"])


def test_libcloud_allocate_list_release(server: Any, user: Any) -> None:
    url = urlsplit(server.url)
    driver = get_driver(Provider.CLOUDSTACK)(user.key, user.secret, host=url.hostname,
                                             port=url.port, secure=False, path="/client/api")
    driver.connection.poll_interval = 0.05
    address = driver.ex_allocate_public_ip()
    assert address.address.count(".") == 3
    [listed] = driver.ex_list_public_ips()
    assert (listed.id, listed.address) == (address.id, address.address)
    assert driver.ex_release_public_ip(address) is True
    assert driver.ex_list_public_ips() == []


def test_address_from_cloudstack_is_visible_to_ec2(server: Any, user: Any, make_cs: Any,
                                                   catalog: Any) -> None:
    c = make_cs(user.key, user.secret, fetch_result=True)
    ip = c.associateIpAddress(zoneid=catalog.zone_id)["ipaddress"]
    ec2 = server.ec2(user.key, user.secret)
    [seen] = ec2.describe_addresses(PublicIps=[ip["ipaddress"]])["Addresses"]
    assert seen["PublicIp"] == ip["ipaddress"] and "InstanceId" not in seen
    ec2.release_address(AllocationId=seen["AllocationId"])
    assert c.listPublicIpAddresses() == {}
