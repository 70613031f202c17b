"""VM lifecycle through exoscale ``cs``: deploy, list, stop/start, reboot, destroy, jobs."""

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


def test_deploy_returns_id_and_jobid_then_runs(cs_submit: CloudStack, cs: CloudStack,
                                               catalog: Any) -> None:
    submitted = cs_submit.deployVirtualMachine(**catalog.args(name="web-a", displayname="Web A"))
    assert set(submitted) == {"id", "jobid"}
    result = cs._jobresult(submitted["jobid"])  # the polling cs does with fetch_result
    vm = result["virtualmachine"]
    assert vm["id"] == submitted["id"]
    assert vm["state"] == "Running"
    assert vm["name"] == "web-a" and vm["displayname"] == "Web A"
    assert vm["zoneid"] == catalog.zone_id and vm["templateid"] == catalog.template_id
    assert vm["serviceofferingid"] == catalog.offering_id
    assert vm["serviceofferingname"] == catalog.offering_name
    assert (vm["cpunumber"], vm["cpuspeed"], vm["memory"]) == (1, 1000, 1024)
    assert vm["rootdeviceid"] == 0
    assert vm["hostid"] and vm["instancename"].endswith("-VM")  # admin-only fields
    nic = vm["nic"][0]
    assert nic["isdefault"] is True and nic["traffictype"] == "Guest"
    assert nic["ipaddress"].startswith("172.31.") and nic["netmask"] == "255.255.0.0"
    assert vm["securitygroup"][0]["name"] == "default"
    assert registry.response_type_errors(registry.metadata("listVirtualMachines"), vm) == []
    assert vm["created"].endswith("+0000")

    job = cs.queryAsyncJobResult(jobid=submitted["jobid"], fetch_result=False)
    assert job["jobstatus"] == 1 and job["jobresultcode"] == 0
    assert job["jobinstancetype"] == "VirtualMachine" and job["jobinstanceid"] == vm["id"]
    assert job["jobresulttype"] == "object"
    assert job["cmd"] == "org.apache.cloudstack.api.command.user.vm.DeployVMCmd"
    assert job["account"] == "admin" and job["completed"]
    assert registry.response_type_errors(registry.metadata("queryAsyncJobResult"), job) == []


def test_list_filters_stop_start_reboot_destroy(cs: CloudStack, catalog: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    vm = _deploy(cs, catalog, name=f"life-{tag}",
                 userdata=base64.b64encode(b"#!/bin/sh\necho hi").decode())
    listed = cs.listVirtualMachines(id=vm["id"])
    assert listed["count"] == 1 and listed["virtualmachine"][0]["state"] == "Running"
    assert cs.listVirtualMachines(name=tag)["virtualmachine"][0]["id"] == vm["id"]
    assert cs.listVirtualMachines(keyword=f"life-{tag}")["count"] == 1
    assert cs.listVirtualMachines(name=tag, state="stopped") == {}

    stopped = cs.stopVirtualMachine(id=vm["id"])["virtualmachine"]
    assert stopped["state"] == "Stopped"
    assert "hostid" not in stopped
    assert cs.listVirtualMachines(name=tag, state="Stopped")["count"] == 1
    # Stopping a stopped VM still answers with a (finished) job.
    assert cs.stopVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Stopped"

    assert cs.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    assert cs.rebootVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"

    destroyed = cs.destroyVirtualMachine(id=vm["id"])["virtualmachine"]
    assert destroyed["state"] == "Destroyed"
    recovered = cs.recoverVirtualMachine(id=vm["id"])["virtualmachine"]
    assert recovered["state"] == "Stopped"

    cs.destroyVirtualMachine(id=vm["id"], expunge=True)
    assert cs.listVirtualMachines(id=vm["id"]) == {}


def test_stopped_deploy_and_expunge(cs: CloudStack, catalog: Any) -> None:
    vm = _deploy(cs, catalog, startvm=False)
    assert vm["state"] == "Stopped"
    assert cs.expungeVirtualMachine(id=vm["id"]) == {"success": True}
    assert cs.listVirtualMachines(id=vm["id"]) == {}


def test_paging_and_counts(cs: CloudStack, catalog: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = {_deploy(cs, catalog, name=f"page-{tag}-{n}", startvm=False)["id"] for n in range(3)}
    first = cs.listVirtualMachines(name=tag, page=1, pagesize=2)
    second = cs.listVirtualMachines(name=tag, page=2, pagesize=2)
    assert first["count"] == second["count"] == 3
    assert len(first["virtualmachine"]) == 2 and len(second["virtualmachine"]) == 1
    assert {v["id"] for v in first["virtualmachine"] + second["virtualmachine"]} == ids
    fetched = cs.listVirtualMachines(name=tag, fetch_list=True)
    assert {v["id"] for v in fetched} == ids
    with pytest.raises(CloudStackApiException) as err:
        cs.listVirtualMachines(pagesize=2)
    assert err.value.error["errorcode"] == 431
    assert err.value.error["errortext"] == (
        '"page" parameter is required when "pagesize" is specified')
    for vm_id in ids:
        cs.expungeVirtualMachine(id=vm_id)


def test_tag_filter_sees_tags_set_through_ec2(server: Any, cs: CloudStack) -> None:
    ec2 = server.ec2()
    image = next(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]
                 if i["Name"].startswith("amzn2"))
    marker = uuid.uuid4().hex
    ec2.run_instances(ImageId=image, InstanceType="t2.micro", MinCount=1, MaxCount=1,
                      TagSpecifications=[{"ResourceType": "instance",
                                          "Tags": [{"Key": "team", "Value": marker}]}])
    found = cs.listVirtualMachines(**{"tags[0].key": "team", "tags[0].value": marker})
    assert found["count"] == 1
    vm = found["virtualmachine"][0]
    assert vm["tags"] == [{"key": "team", "value": marker, "resourcetype": "UserVm",
                           "resourceid": vm["id"], "account": "admin",
                           "domainid": vm["domainid"], "domain": "ROOT", "domainpath": "ROOT"}]
    assert cs.listVirtualMachines(**{"tags[0].key": "team", "tags[0].value": "other"}) == {}
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_failed_deploy_reports_error_job_and_vm(cs: CloudStack, catalog: Any,
                                                fail_spawns: Any) -> None:
    fail_spawns()
    with pytest.raises(CloudStackApiException) as err:
        _deploy(cs, catalog)
    assert err.value.error["errorcode"] == 530
    assert err.value.error["errortext"]
    jobid = err.value.response.json()["queryasyncjobresultresponse"]["jobid"]
    job = cs.queryAsyncJobResult(jobid=jobid, fetch_result=False)
    assert job["jobstatus"] == 2 and job["jobresultcode"] == 530
    vm = cs.listVirtualMachines(id=job["jobinstanceid"])["virtualmachine"][0]
    assert vm["state"] == "Error"
    cs.destroyVirtualMachine(id=vm["id"], expunge=True)


def test_capacity_failures_hide_details_from_users(cs_user: CloudStack, catalog: Any,
                                                   fail_spawns: Any) -> None:
    fail_spawns("capacity")
    with pytest.raises(CloudStackApiException) as err:
        _deploy(cs_user, catalog)
    assert err.value.error == {
        "errorcode": 533,
        "errortext": "Internal error executing command, please contact your system administrator"}
    job = err.value.response.json()["queryasyncjobresultresponse"]
    assert (job["jobstatus"], job["jobresultcode"]) == (2, 533)


def test_users_see_only_their_own_vms_and_no_admin_fields(
        cs: CloudStack, cs_user: CloudStack, catalog: Any) -> None:
    assert cs_user.listVirtualMachines() == {}
    admin_vm = _deploy(cs, catalog, startvm=False)
    mine = _deploy(cs_user, catalog)
    assert mine["account"].startswith("user-")
    assert "hostid" not in mine and "instancename" not in mine and "hostname" not in mine
    assert [v["id"] for v in cs_user.listVirtualMachines()["virtualmachine"]] == [mine["id"]]
    with pytest.raises(CloudStackApiException) as err:
        cs_user.stopVirtualMachine(id=admin_vm["id"])
    assert err.value.error["errorcode"] == 431
    assert f"value={admin_vm['id']} due to incorrect long value format" in (
        err.value.error["errortext"])
    # Admins see every account's VMs with listall.
    everyone = {v["id"] for v in cs.listVirtualMachines(listall=True, fetch_list=True)}
    assert {admin_vm["id"], mine["id"]} <= everyone
    assert mine["id"] not in {v["id"] for v in cs.listVirtualMachines(fetch_list=True)}
    cs.expungeVirtualMachine(id=admin_vm["id"])
    cs.destroyVirtualMachine(id=mine["id"], expunge=True)


def test_admin_only_commands_refuse_users(cs_user: CloudStack, catalog: Any) -> None:
    vm = _deploy(cs_user, catalog, startvm=False)
    with pytest.raises(CloudStackApiException) as err:
        cs_user.expungeVirtualMachine(id=vm["id"])
    assert err.value.error["errorcode"] == 531
    assert err.value.error["cserrorcode"] == 4365
    with pytest.raises(CloudStackApiException) as err:
        cs_user.destroyVirtualMachine(id=vm["id"], expunge=True)
    assert err.value.error["errorcode"] == 531
    names = {a["name"] for a in cs_user.listApis()["api"]}
    assert "deployVirtualMachine" in names
    assert "expungeVirtualMachine" not in names and "recoverVirtualMachine" not in names
    assert cs_user.destroyVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Destroyed"


def test_list_async_jobs(cs: CloudStack, cs_user: CloudStack, catalog: Any) -> None:
    vm = _deploy(cs_user, catalog, startvm=False)
    jobs = cs_user.listAsyncJobs()
    assert jobs["count"] == 1
    job = jobs["asyncjobs"][0]
    assert job["jobinstanceid"] == vm["id"] and job["jobstatus"] == 1
    assert job["jobresult"]["virtualmachine"]["id"] == vm["id"]
    assert registry.response_type_errors(registry.metadata("listAsyncJobs"), job) == []
    assert vm["id"] in {j.get("jobinstanceid") for j in cs.listAsyncJobs(
        listall=True, fetch_list=True)}
