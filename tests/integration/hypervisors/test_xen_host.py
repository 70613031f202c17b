"""A XenServer host end to end, against the XAPI protocol double run as its own process
(``python -m tests.xapi``): added through the CloudStack API (a wrong password is a clean
CloudStack error), then a guest launched, given a hot-plugged volume, stopped, started and
terminated through boto3,
checked on the "hypervisor" side with the real ``XenAPI`` client.

XenServer is only ever tested against this double, never a real XAPI."""

from __future__ import annotations

import base64
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import XenAPI
from cs import CloudStackApiException

from tests.integration.hypervisors.support import add_ready_template, wait_for
from tests.integration.nativeapi.clients import cs_client
from tests.support import LiveServer
from tests.xapi import LOCAL_SR, TEMPLATE

ROOT = Path(__file__).resolve().parents[3]
USER = "root"
MIB = 1024**2


@pytest.fixture(scope="module")
def xapi_process() -> Iterator[dict[str, str]]:
    """The double in a separate process; yields its url and password."""
    password = secrets.token_hex(8)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.xapi", "--port", "0", "--user", USER,
         "--password", password], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line
        yield {"url": line.rsplit(" ", 1)[1].strip(), "password": password}
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def xenapi(xapi_process: dict[str, str]) -> Iterator[Any]:
    session = XenAPI.Session(xapi_process["url"])
    session.xenapi.login_with_password(USER, xapi_process["password"], "2.21", "e2e-test")
    yield session.xenapi
    session.xenapi.session.logout()


@pytest.fixture(scope="module")
def xen(hv_server: LiveServer, xapi_process: dict[str, str], xenapi: Any) -> dict[str, Any]:
    """A XenServer cluster with the double's host, its local SR as a PreSetup pool, and a
    template whose install path is the double's template VM."""
    cs = cs_client(hv_server, fetch_result=True)
    zone = cs.listZones()["zone"][0]
    pod = cs.listPods(zoneid=zone["id"])["pod"][0]
    tag = uuid.uuid4().hex[:8]
    cluster = cs.addCluster(zoneid=zone["id"], podid=pod["id"], clustername=f"xen-{tag}",
                            hypervisor="XenServer", clustertype="CloudManaged")["cluster"][0]
    where = {"zoneid": zone["id"], "podid": pod["id"], "clusterid": cluster["id"],
             "hypervisor": "XenServer", "url": xapi_process["url"].rstrip("/"),
             "username": USER}
    with pytest.raises(CloudStackApiException) as bad:
        cs.addHost(password="not-the-password", **where)
    host = cs.addHost(password=xapi_process["password"], **where)["host"][0]
    [sr] = xenapi.SR.get_by_name_label(LOCAL_SR)
    pool = cs.createStoragePool(
        zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"], scope="cluster",
        name=f"xen-local-{tag}", url=f"presetup://127.0.0.1/{xenapi.SR.get_uuid(sr)}",
        capacitybytes=500 * 1024**3)["storagepool"]
    ami = add_ready_template(hv_server.runtime, name=f"xen-debian-{tag}",
                             hypervisor="XenServer", install_path=TEMPLATE,
                             size_bytes=64 * MIB)
    return {"cs": cs, "zone": zone, "host": host, "bad": bad.value.error, "pool": pool,
            "ami": ami, "sr": sr}


def _state(ec2: Any, instance_id: str) -> str:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(found[0]["Instances"][0]["State"]["Name"])


def _volume(ec2: Any, volume_id: str) -> str:
    return str(ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"])


def _guests(xenapi: Any) -> dict[str, dict[str, Any]]:
    return {ref: vm for ref, vm in xenapi.VM.get_all_records().items()
            if not vm["is_a_template"] and not vm["is_control_domain"]}


def test_add_host_reports_the_xapi_host_and_refuses_a_wrong_password(
        xen: dict[str, Any]) -> None:
    assert xen["bad"]["errorcode"] == 431
    assert "authentication failed" in xen["bad"]["errortext"]
    host = xen["host"]
    assert (host["hypervisor"], host["state"], host["name"]) == ("XenServer", "Up", "xen-host-1")
    assert host["hypervisorversion"] == "8.2.1"
    assert (host["cpunumber"], host["cpuspeed"]) == (8, 2600)


def test_guest_lifecycle_through_boto3(hv_server: LiveServer, xen: dict[str, Any],
                                       xenapi: Any) -> None:
    ec2 = hv_server.ec2()
    run = ec2.run_instances(ImageId=xen["ami"], InstanceType="t2.nano", MinCount=1,
                            MaxCount=1, UserData="#!/bin/sh\necho hello-xen\n")
    instance_id = run["Instances"][0]["InstanceId"]
    wait_for(lambda: _state(ec2, instance_id) == "running", timeout=60, what="running")
    [(ref, vm)] = _guests(xenapi).items()
    assert vm["power_state"] == "Running"
    assert vm["other_config"]["nimbostack-uuid"]
    user_data = base64.b64decode(vm["xenstore_data"]["vm-data/nimbostack/user-data"])
    assert user_data == b"#!/bin/sh\necho hello-xen\n"
    [vif] = vm["VIFs"]
    listed = xen["cs"].listVirtualMachines(listall=True)["virtualmachine"]
    macs = {nic["macaddress"] for vm_ in listed for nic in vm_.get("nic", [])}
    assert xenapi.VIF.get_MAC(vif) in macs
    disks = [xenapi.VBD.get_VDI(v) for v in vm["VBDs"] if xenapi.VBD.get_type(v) == "Disk"]
    assert [xenapi.VDI.get_SR(d) for d in disks] == [xen["sr"]]

    zone = xen["zone"]["name"]
    volume_id = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    wait_for(lambda: _volume(ec2, volume_id) == "available", timeout=30, what="volume ready")
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    wait_for(lambda: _volume(ec2, volume_id) == "in-use", timeout=30, what="volume in use")
    plugged = wait_for(lambda: [v for v in xenapi.VM.get_VBDs(ref) if xenapi.VBD.get_type(v)
                                == "Disk" and xenapi.VBD.get_userdevice(v) != "0"],
                       timeout=30, what="a VBD for the volume")
    assert [xenapi.VBD.get_currently_attached(v) for v in plugged] == [True]  # hot-plugged
    data_vdi = xenapi.VBD.get_VDI(plugged[0])
    assert xenapi.VDI.get_virtual_size(data_vdi) == str(1024**3)
    ec2.detach_volume(VolumeId=volume_id)
    wait_for(lambda: _volume(ec2, volume_id) == "available", timeout=30, what="detached")
    wait_for(lambda: xenapi.VDI.get_VBDs(data_vdi) == [], timeout=30, what="VBD removed")
    ec2.delete_volume(VolumeId=volume_id)
    # NOTE: the engine sends a free volume's create/delete jobs to the zone's first host
    # (a simulator host here), so the VDI the attach made is not deleted yet.

    ec2.stop_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "stopped", timeout=60, what="stopped")
    assert xenapi.VM.get_power_state(ref) == "Halted"
    ec2.start_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "running", timeout=60, what="running again")
    assert xenapi.VM.get_power_state(ref) == "Running"

    ec2.terminate_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "terminated", timeout=60, what="terminated")
    wait_for(lambda: not _guests(xenapi), timeout=30, what="the VM gone from XAPI")
    for vdi in disks:
        with pytest.raises(XenAPI.Failure) as gone:
            xenapi.VDI.get_record(vdi)
        assert gone.value.details[0] == "HANDLE_INVALID"


def _snapshot(ec2: Any, snapshot_id: str) -> str:
    return str(ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]["State"])


def test_copy_snapshot_through_boto3_is_a_vdi_copy(hv_server: LiveServer, xen: dict[str, Any],
                                                   xenapi: Any) -> None:
    ec2 = hv_server.ec2()
    run = ec2.run_instances(ImageId=xen["ami"], InstanceType="t2.nano", MinCount=1, MaxCount=1)
    instance_id = run["Instances"][0]["InstanceId"]
    wait_for(lambda: _state(ec2, instance_id) == "running", timeout=60, what="running")
    root = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id",
                                          "Values": [instance_id]}])["Volumes"][0]["VolumeId"]
    source = ec2.create_snapshot(VolumeId=root)["SnapshotId"]
    wait_for(lambda: _snapshot(ec2, source) == "completed", timeout=60, what="snapshot")
    copy = ec2.copy_snapshot(SourceSnapshotId=source, SourceRegion=ec2.meta.region_name,
                             Description="copied")["SnapshotId"]
    wait_for(lambda: _snapshot(ec2, copy) in ("completed", "error"), timeout=60, what="copy")
    assert _snapshot(ec2, copy) == "completed"
    source_sid, copy_sid = source.removeprefix("snap-"), copy.removeprefix("snap-")
    [source_vdi] = xenapi.VDI.get_by_name_label(source_sid)
    [copy_vdi] = xenapi.VDI.get_by_name_label(copy_sid)
    record = xenapi.VDI.get_record(copy_vdi)
    assert record["other_config"]["nimbostack-copy-of"] == source_sid
    assert record["virtual_size"] == xenapi.VDI.get_virtual_size(source_vdi)
    assert record["SR"] == xen["sr"] and record["is_a_snapshot"] is False
    ec2.delete_snapshot(SnapshotId=source)
    wait_for(lambda: not xenapi.VDI.get_by_name_label(source_sid), timeout=30,
             what="source gone")
    assert xenapi.VDI.get_by_name_label(copy_sid) == [copy_vdi]  # it outlives its source
    ec2.delete_snapshot(SnapshotId=copy)
    wait_for(lambda: not xenapi.VDI.get_by_name_label(copy_sid), timeout=30, what="copy gone")
    ec2.terminate_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "terminated", timeout=60, what="terminated")
