"""A real QEMU guest launched through boto3 on a libvirt host added through the
CloudStack API: it boots, prints the user data it received on its serial console
(read back through GetConsoleOutput), sees a volume attached to it, stops, starts
and is terminated without leaving anything behind in libvirt."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.hypervisors.support import add_ready_template, wait_for
from tests.integration.nativeapi.clients import cs_client
from tests.support import LiveServer

# All libvirtd users run on one xdist worker (test.sh uses --dist loadgroup): one
# of them stops the daemon.
pytestmark = pytest.mark.xdist_group("libvirtd")

URI = os.environ.get("NIMBOSTACK_TEST_LIBVIRT_URI")
PIDFILE = Path(os.environ.get("NIMBOSTACK_LIBVIRTD_PIDFILE",
                              "/run/libvirt/nimbostack-libvirtd.pid"))
ROOT = Path(__file__).resolve().parents[3]
GUEST = os.environ.get("NIMBOSTACK_TEST_GUEST_DIR")


@pytest.fixture(scope="module")
def kvm(hv_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A KVM cluster with the libvirt host, a cluster-wide pool and a bootable template."""
    if not URI or not GUEST:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs NIMBOSTACK_TEST_LIBVIRT_URI and NIMBOSTACK_TEST_GUEST_DIR")
        pytest.skip("no libvirtd (NIMBOSTACK_TEST_LIBVIRT_URI / NIMBOSTACK_TEST_GUEST_DIR unset)")
    libvirt = pytest.importorskip("libvirt")
    cs = cs_client(hv_server, fetch_result=True)
    zone = cs.listZones()["zone"][0]
    pod = cs.listPods(zoneid=zone["id"])["pod"][0]
    tag = uuid.uuid4().hex[:8]
    cluster = cs.addCluster(zoneid=zone["id"], podid=pod["id"], clustername=f"kvm-{tag}",
                            hypervisor="KVM", clustertype="CloudManaged")["cluster"][0]
    host = cs.addHost(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                      hypervisor="KVM", url=URI, username="root", password="unused")["host"][0]
    pool_dir = Path(f"/var/lib/libvirt/images/nimbostack-e2e-{tag}")
    pool = cs.createStoragePool(zoneid=zone["id"], podid=pod["id"], clusterid=cluster["id"],
                                scope="cluster", name=f"kvm-primary-{tag}",
                                url=f"file://{pool_dir}", capacitybytes=20 * 1024**3)
    image = tmp_path_factory.mktemp("kvm-image") / "root.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "64M"], check=True)
    ami = add_ready_template(
        hv_server.runtime, name=f"tiny-guest-{tag}", hypervisor="KVM",
        install_path=str(image), size_bytes=64 * 1024**2,
        boot_spec={"kernel": f"{GUEST}/vmlinuz", "initrd": f"{GUEST}/initrd.img",
                   "cmdline": "console=ttyS0 panic=-1 loglevel=3"})
    conn = libvirt.open(URI)
    try:
        yield {"cs": cs, "zone": zone, "host": host, "pool": pool["storagepool"], "ami": ami,
               "conn": conn, "pool_dir": pool_dir}
    finally:
        try:
            conn.close()
        except libvirt.libvirtError:
            pass  # the daemon was restarted under it
        fresh = libvirt.open(URI)  # the first connection may predate a libvirtd restart
        try:
            _remove_pool(fresh, pool_dir)
        finally:
            fresh.close()


def _remove_pool(conn: Any, pool_dir: Path) -> None:
    """Drop the libvirt pool the driver made for ``pool_dir`` and the directory."""
    import shutil

    for pool in conn.listAllStoragePools():
        if f"<path>{pool_dir}</path>" in pool.XMLDesc():
            if pool.isActive():
                for vol in pool.listAllVolumes():
                    vol.delete()
                pool.destroy()
            pool.undefine()
    shutil.rmtree(pool_dir, ignore_errors=True)


def _console(ec2: Any, instance_id: str) -> str:
    """The guest's serial console text (botocore already decodes the base64)."""
    return ec2.get_console_output(InstanceId=instance_id, Latest=True).get("Output") or ""


def _ready_count(ec2: Any, instance_id: str) -> int:
    return _console(ec2, instance_id).count("CSGUEST: READY")


def _state(ec2: Any, instance_id: str) -> str:
    found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return found[0]["Instances"][0]["State"]["Name"]


def _domain_names(conn: Any) -> set[str]:
    return {d.name() for d in conn.listAllDomains()}


def test_guest_boots_shows_user_data_sees_a_volume_and_leaves_nothing(
        hv_server: LiveServer, kvm: dict[str, Any]) -> None:
    ec2 = hv_server.ec2()
    marker = f"hello-from-nimbostack-{uuid.uuid4().hex[:6]}"
    run = ec2.run_instances(ImageId=kvm["ami"], InstanceType="t2.nano", MinCount=1, MaxCount=1,
                            UserData=f"#!/bin/sh\necho {marker}\n")
    instance_id = run["Instances"][0]["InstanceId"]
    wait_for(lambda: _state(ec2, instance_id) == "running", timeout=60, what="running")
    detail = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert detail["Placement"]["AvailabilityZone"] == kvm["zone"]["name"]
    names_before = _domain_names(kvm["conn"])
    console = wait_for(lambda: (lambda t: t if "CSGUEST: READY" in t else "")(
        _console(ec2, instance_id)), timeout=90, interval=1, what="guest READY on the console")
    assert f"CSGUEST: user-data: echo {marker}" in wait_for(
        lambda: (lambda t: t if marker in t else "")(_console(ec2, instance_id)),
        timeout=30, interval=1, what="user data on the console"), console

    volume = ec2.create_volume(AvailabilityZone=kvm["zone"]["name"], Size=1)
    volume_id = volume["VolumeId"]
    wait_for(lambda: ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"]
             == "available", timeout=30, what="volume available")
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    wait_for(lambda: ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"]
             == "in-use", timeout=30, what="volume in use")
    # The guest prints every block device with its serial (the volume's name) when
    # the set changes; a hot-plugged second virtio disk shows up as vdb/vdc.
    wait_for(lambda: "sectors=2097152" in _console(ec2, instance_id), timeout=30, interval=1,
             what="the guest seeing a 1 GiB disk")

    ec2.stop_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "stopped", timeout=120, what="stopped")
    ec2.start_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "running", timeout=60, what="running again")
    # The console log starts afresh at each boot; a disk unplugged before the
    # guest's ACPI handling runs would be ignored (as on real clouds), so wait.
    wait_for(lambda: _ready_count(ec2, instance_id) >= 1, timeout=120, interval=1,
             what="guest READY after the restart")

    ec2.detach_volume(VolumeId=volume_id, Force=True)
    wait_for(lambda: ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"]
             == "available", timeout=60, what="volume detached")
    ec2.delete_volume(VolumeId=volume_id)
    ec2.terminate_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "terminated", timeout=60, what="terminated")
    gone = names_before - _domain_names(kvm["conn"])
    assert len(gone) == 1, "the guest's domain should have been removed"
    # The instance's disks (root, seed) and the deleted volume are gone from the
    # pool; only the cached template image may stay.
    wait_for(lambda: not [p for p in kvm["pool_dir"].glob("*")
                          if not p.name.startswith("template-")],
             timeout=60, what="pool emptied of the instance's disks")


def _instance_row(server: LiveServer, instance_id: str) -> Any:
    from engine.models import Instance

    with server.runtime.unit(readonly=True) as sv:
        row = sv.session.query(Instance).filter(
            Instance.sid == instance_id.removeprefix("i-")).one()
        sv.session.expunge(row)
        return row


def _events(server: LiveServer, instance_uuid: str) -> list[str]:
    from engine.models import Event

    with server.runtime.unit(readonly=True) as sv:
        return [e.event_type for e in sv.session.query(Event).filter(
            Event.resource_uuid == instance_uuid)]


def test_a_guest_killed_behind_the_engines_back_is_noticed(
        hv_server: LiveServer, kvm: dict[str, Any]) -> None:
    from engine.reconciler import Reconciler

    ec2 = hv_server.ec2()
    run = ec2.run_instances(ImageId=kvm["ami"], InstanceType="t2.nano", MinCount=1, MaxCount=1)
    instance_id = run["Instances"][0]["InstanceId"]
    wait_for(lambda: _state(ec2, instance_id) == "running", timeout=60, what="running")
    row = _instance_row(hv_server, instance_id)
    runtime = hv_server.runtime
    reconciler = Reconciler(runtime.db, runtime.drivers, runtime.server_uuid, interval=1)
    try:
        reconciler.run_once()
        kvm["conn"].lookupByName(row.instance_name).destroy()  # behind the engine's back
        reconciler.run_once()
        assert _state(ec2, instance_id) == "stopped"
        assert _instance_row(hv_server, instance_id).power_state == "PowerOff"
        assert "VM.STOP" in _events(hv_server, row.uuid)
        cs = kvm["cs"]
        host = cs.listHosts(id=kvm["host"]["id"])["host"][0]
        assert host["state"] == "Up"
        # The capacity the guest held was given back exactly once (it was the
        # only guest on the host).
        assert host["cpuallocatedvalue"] == 0 and host["memoryallocated"] == 0
    finally:
        reconciler.stop()
    ec2.terminate_instances(InstanceIds=[instance_id])
    wait_for(lambda: _state(ec2, instance_id) == "terminated", timeout=60, what="terminated")


def test_stopping_libvirtd_takes_the_host_down_and_back(
        hv_server: LiveServer, kvm: dict[str, Any]) -> None:
    from engine.reconciler import Reconciler

    if not PIDFILE.exists():
        pytest.skip("libvirtd was not started by scripts/libvirtd-start.sh")
    runtime = hv_server.runtime
    cs = kvm["cs"]
    reconciler = Reconciler(runtime.db, runtime.drivers, runtime.server_uuid, interval=1)
    try:
        reconciler.run_once()
        assert cs.listHosts(id=kvm["host"]["id"])["host"][0]["state"] == "Up"
        os.kill(int(PIDFILE.read_text().split()[0]), signal.SIGTERM)
        wait_for(lambda: subprocess.run(["virsh", "-c", URI or "", "version"],
                                        capture_output=True).returncode != 0,
                 timeout=30, what="libvirtd gone")
        reconciler.run_once()
        assert cs.listHosts(id=kvm["host"]["id"])["host"][0]["state"] == "Disconnected"
        events = [e["type"] for e in cs.listEvents(type="HOST.DISCONNECTED", listall=True).get(
            "event", [])]
        assert events, "a HOST.DISCONNECTED event is recorded"
    finally:
        subprocess.run(["bash", str(ROOT / "scripts/libvirtd-start.sh")], check=True,
                       capture_output=True, timeout=120)
    try:
        wait_for(lambda: reconciler.run_once() and
                 cs.listHosts(id=kvm["host"]["id"])["host"][0]["state"] == "Up",
                 timeout=60, interval=1, what="the host back Up")
    finally:
        reconciler.stop()
