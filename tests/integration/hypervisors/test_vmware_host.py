"""A VMware host (vcsim) added through the CloudStack API, driven through boto3: a VM
cloned from a template VM runs, stops, starts and is gone from vSphere after
termination. Every claim about vSphere is checked with pyvmomi directly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from cs import CloudStackApiException

pytest.importorskip("pyVmomi")

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl
from sqlalchemy import select

from engine.models import Instance
from tests.drivers.test_vmware import vcsim_url
from tests.integration.hypervisors.support import add_ready_template, wait_for
from tests.integration.nativeapi.clients import cs_client
from tests.support import LiveServer

HOST = "DC0_H0"  # vcsim's standalone host (the driver tests use the cluster's hosts)
TEMPLATE = "DC0_H0_VM1"


@pytest.fixture(scope="module")
def vsphere() -> Iterator[tuple[str, Any]]:
    """The vcsim URL and a pyvmomi ServiceContent to check what really happened."""
    url = vcsim_url()
    parts = urlsplit(url)
    si = SmartConnect(host=parts.hostname, port=parts.port, user=parts.username,
                      pwd=parts.password, disableSslCertValidation=True)
    try:
        yield url, si.RetrieveContent()
    finally:
        Disconnect(si)


@pytest.fixture(scope="module")
def vmware(hv_server: LiveServer, vsphere: tuple[str, Any]) -> dict[str, Any]:
    """A VMware cluster with the vcsim host, a cluster pool on its datastore, a template."""
    url, _ = vsphere
    parts = urlsplit(url)
    cs = cs_client(hv_server, fetch_result=True)
    zone = cs.listZones()["zone"][0]
    pod = cs.listPods(zoneid=zone["id"])["pod"][0]
    tag = uuid.uuid4().hex[:8]
    cluster = cs.addCluster(zoneid=zone["id"], podid=pod["id"], clustername=f"vmw-{tag}",
                            hypervisor="VMware", clustertype="ExternalManaged")["cluster"][0]
    host_url = f"vmware://{parts.hostname}:{parts.port}/DC0/{HOST}/{HOST}?insecure=true"
    host = cs.addHost(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                      hypervisor="VMware", url=host_url, username=parts.username,
                      password=parts.password)["host"][0]
    pool = cs.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                                scope="cluster", name=f"vmw-primary-{tag}",
                                url=f"presetup://{parts.hostname}/DC0/LocalDS_0",
                                capacitybytes=100 * 1024**3)
    ami = add_ready_template(hv_server.runtime, name=f"vmw-template-{tag}", hypervisor="VMware",
                             install_path=TEMPLATE, size_bytes=64 * 1024**2)
    return {"cs": cs, "zone": zone, "host": host, "pool": pool, "ami": ami, "url": host_url}


def _state(ec2: Any, instance_id: str) -> str:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(found[0]["Instances"][0]["State"]["Name"])


def _vm(content: Any, name: str) -> Any:
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        for vm in view.view:
            try:
                if vm.name == name:
                    return vm
            except vmodl.fault.ManagedObjectNotFound:  # vcsim may list a VM it just deleted
                pass
    finally:
        view.DestroyView()
    return None


def _power(content: Any, name: str) -> str | None:
    vm = _vm(content, name)
    return None if vm is None else str(vm.runtime.powerState)


def test_host_shows_up_with_vcsim_capacity(vmware: dict[str, Any]) -> None:
    host = vmware["cs"].listHosts(id=vmware["host"]["id"])["host"][0]
    assert host["name"] == HOST
    assert host["hypervisor"] == "VMware"
    assert host["state"] == "Up"
    assert int(host["cpunumber"]) >= 1


def test_wrong_password_is_refused(hv_server: LiveServer, vmware: dict[str, Any]) -> None:
    cs = vmware["cs"]
    cluster_id = vmware["host"]["clusterid"]
    zone, pod = vmware["zone"]["id"], vmware["host"]["podid"]
    with pytest.raises(CloudStackApiException) as err:
        cs.addHost(zoneid=zone, podid=pod, clusterid=cluster_id, hypervisor="VMware",
                   url=vmware["url"].replace(f"/{HOST}/{HOST}", "/DC0_C0/DC0_C0_H2"),
                   username="user", password="wrong")
    assert err.value.error["errorcode"] == 431


def test_instance_lifecycle_on_vsphere(hv_server: LiveServer, vmware: dict[str, Any],
                                       vsphere: tuple[str, Any]) -> None:
    _, content = vsphere
    ec2 = hv_server.ec2()
    run = ec2.run_instances(ImageId=vmware["ami"], InstanceType="t2.nano", MinCount=1,
                            MaxCount=1, UserData="#cloud-config\nhostname: vmw\n")
    instance_id = run["Instances"][0]["InstanceId"]
    wait_for(lambda: _state(ec2, instance_id) == "running", timeout=60, what="running")
    name = _instance_name(hv_server, instance_id)
    assert _power(content, name) == "poweredOn"
    vm = _vm(content, name)
    assert vm.runtime.host.name == HOST
    options = {o.key: o.value for o in vm.config.extraConfig}
    assert options["guestinfo.userdata.encoding"] == "base64"

    ec2.stop_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "stopped", timeout=60, what="stopped")
    assert _power(content, name) == "poweredOff"
    ec2.start_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "running", timeout=60, what="running again")
    assert _power(content, name) == "poweredOn"

    ec2.terminate_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "terminated", timeout=60, what="terminated")
    wait_for(lambda: _vm(content, name) is None, timeout=30, what="the VM gone from vSphere")


def _instance_name(server: LiveServer, instance_id: str) -> str:
    """The hypervisor-side name (``i-…-VM``) of an EC2 instance."""
    sid = instance_id.split("-", 1)[1]

    def lookup(services: Any) -> str:
        return str(services.session.scalar(select(Instance.instance_name)
                                           .where(Instance.sid == sid)))

    return str(server.runtime.call(lookup))


def _snapshot(ec2: Any, snapshot_id: str) -> str:
    return str(ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]["State"])


def _snapshot_files(content: Any) -> set[str]:
    """The disk files in the datastore's snapshot folder."""
    ds = next(d for d in content.rootFolder.childEntity[0].datastore if d.name == "LocalDS_0")
    spec = vim.host.DatastoreBrowser.SearchSpec(matchPattern=["*.vmdk"])
    task = ds.browser.SearchDatastore_Task("[LocalDS_0] nimbostack-snapshots", spec)
    wait_for(lambda: task.info.state in ("success", "error"), timeout=30, what="search")
    if task.info.state == "error":
        return set()
    return {f.path for f in task.info.result.file or ()}


def test_copy_snapshot_through_boto3_copies_the_disk_file(
        hv_server: LiveServer, vmware: dict[str, Any], vsphere: tuple[str, Any]) -> None:
    _, content = vsphere
    ec2 = hv_server.ec2()
    run = ec2.run_instances(ImageId=vmware["ami"], InstanceType="t2.nano", MinCount=1,
                            MaxCount=1)
    instance_id = run["Instances"][0]["InstanceId"]
    wait_for(lambda: _state(ec2, instance_id) == "running", timeout=60, what="running")
    root = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id",
                                          "Values": [instance_id]}])["Volumes"][0]["VolumeId"]
    source = ec2.create_snapshot(VolumeId=root)["SnapshotId"]
    wait_for(lambda: _snapshot(ec2, source) in ("completed", "error"), timeout=60,
             what="snapshot")
    assert _snapshot(ec2, source) == "completed"
    copy = ec2.copy_snapshot(SourceSnapshotId=source, SourceRegion=ec2.meta.region_name)[
        "SnapshotId"]
    wait_for(lambda: _snapshot(ec2, copy) in ("completed", "error"), timeout=60, what="copy")
    assert _snapshot(ec2, copy) == "completed"
    files = {f"{source.removeprefix('snap-')}.vmdk", f"{copy.removeprefix('snap-')}.vmdk"}
    assert files <= _snapshot_files(content)
    ec2.delete_snapshot(SnapshotId=source)
    ec2.delete_snapshot(SnapshotId=copy)
    wait_for(lambda: not files & _snapshot_files(content), timeout=30, what="files deleted")
    ec2.terminate_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "terminated", timeout=60, what="terminated")
