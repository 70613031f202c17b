"""The vSphere driver against govmomi's vcsim: the driver contract, plus vSphere specifics.

vcsim comes from ``NIMBOSTACK_TEST_VCSIM_URL`` (``https://user:pass@127.0.0.1:8989/sdk``,
as printed by scripts/vcsim-start.sh). When that is unset, :func:`vcsim_url` starts
one with the script (if Go and Debian's govmomi sources, or a cached binary, are
there) and stops it at exit; otherwise the tests skip, except under ``CI=true``
where they fail.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

pytest.importorskip("pyVmomi")

from pyVmomi import vim

from engine.errors import DriverError, InvalidParameter, NotFound, Unavailable
from engine.hypervisors import registry
from engine.hypervisors.base import (
    MIB,
    DomainSpec,
    HostConnection,
    HypervisorDriver,
    NicSpec,
    PowerState,
)
from engine.hypervisors.vmware import VmwareDriver, vms
from tests.drivers.contract import DISK_SIZE as DISK
from tests.drivers.contract import DriverContract, Lab

ROOT = Path(__file__).resolve().parents[2]
ENV = "NIMBOSTACK_TEST_VCSIM_URL"
TEMPLATE = "DC0_H0_VM0"  # a VM of vcsim's default inventory, cloned as a template
CLUSTER_HOSTS = ("DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _can_build() -> bool:
    cache = Path(os.environ.get("NIMBOSTACK_VCSIM_CACHE", "/var/cache/nimbostack-vcsim"))
    cached = any(cache.glob("vcsim-*")) if cache.is_dir() else False
    sources = Path("/usr/share/gocode/src/github.com/vmware/govmomi/simulator").is_dir()
    return cached or (shutil.which("go") is not None and sources)


def vcsim_url() -> str:
    """The vcsim URL (with credentials): from the environment, or a vcsim we start."""
    url = os.environ.get(ENV)
    if url:
        return url
    if not _can_build():
        reason = f"{ENV} is unset and vcsim cannot be built (needs golang-go and " \
                 "golang-github-vmware-govmomi-dev)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    state = tempfile.mkdtemp(prefix="nimbostack-vcsim-")
    out = subprocess.run(["bash", str(ROOT / "scripts/vcsim-start.sh"), state, str(_free_port())],
                         capture_output=True, text=True, timeout=300, check=False)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        pytest.fail(f"scripts/vcsim-start.sh failed: {out.stderr[-2000:]}")

    def stop() -> None:
        subprocess.run(["bash", str(ROOT / "scripts/vcsim-stop.sh"), state],
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(state, ignore_errors=True)

    atexit.register(stop)
    os.environ[ENV] = lines[-1]  # later callers in this process (other modules) reuse it
    return lines[-1]


def host_connection(base: str, path: str = "", insecure: bool = True) -> HostConnection:
    """A HostConnection for the vcsim at ``base`` naming the host ``path`` (/DC/cluster/host)."""
    parts = urlsplit(base)
    url = f"vmware://{parts.hostname}:{parts.port}{quote(path)}"
    if insecure:
        url += "?insecure=true"
    return HostConnection(url, parts.username, parts.password)


def worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker[2:].isdigit() else 0


@pytest.fixture(scope="session")
def vcsim() -> str:
    return vcsim_url()


@pytest.fixture(scope="session")
def host_path() -> str:
    """This worker's own cluster host, so parallel workers do not count each other's VMs."""
    return f"/DC0/DC0_C0/{CLUSTER_HOSTS[worker_index() % len(CLUSTER_HOSTS)]}"


class _VcsimContract(DriverContract):
    stop_timeout = 2.0

    @pytest.fixture
    def driver(self, vcsim: str, host_path: str) -> Iterator[HypervisorDriver]:
        with VmwareDriver(host_connection(vcsim, host_path)) as drv:
            yield drv

    def make_define_fail(self, driver: HypervisorDriver, spec: DomainSpec) -> DomainSpec:
        # 15 units per SCSI controller: the 17th disk cannot be placed. With a template
        # this fails after the clone exists, so the cleanup path is exercised.
        lab = Lab(self, driver)
        return replace(spec, disks=spec.disks + tuple(lab.disk(i) for i in range(2, 18)))

    def migration_target(self, driver: HypervisorDriver) -> HostConnection | None:
        base = os.environ[ENV]
        other = CLUSTER_HOSTS[(worker_index() + 1) % len(CLUSTER_HOSTS)]
        return host_connection(base, f"/DC0/DC0_C0/{other}")


class TestVmwareContractClone(_VcsimContract):
    """Root disks cloned from a template VM (CloneVM_Task)."""

    image_ref = TEMPLATE


class TestVmwareContractBlank(_VcsimContract):
    """No template: VMs built from a ConfigSpec with blank thin disks (CreateVM_Task)."""

    image_ref = None


# -- vSphere specifics ----------------------------------------------------------------------


@pytest.fixture
def drv(vcsim: str, host_path: str) -> Iterator[VmwareDriver]:
    with VmwareDriver(host_connection(vcsim, host_path)) as d:
        yield d


@pytest.fixture
def lab(drv: VmwareDriver) -> Iterator[Lab]:
    contract = TestVmwareContractBlank()
    lab = Lab(contract, drv)
    yield lab
    lab.cleanup()


def _vm(drv: VmwareDriver, ref_id: str) -> vim.VirtualMachine:
    return vim.VirtualMachine(ref_id, drv.session.si._stub)


def test_registry_loads_the_driver_and_guesses_the_scheme(vcsim: str) -> None:
    assert registry.driver_class("vmware") is VmwareDriver
    assert registry.url_hypervisor("vmware://vc.example/DC0") == "vmware"
    assert registry.url_hypervisor("vsphere://vc.example") == "vmware"


def test_wrong_password_is_a_driver_error(vcsim: str) -> None:
    good = host_connection(vcsim)
    with VmwareDriver(replace(good, password="wrong")) as d, pytest.raises(DriverError):
        d.connect()


def test_unreachable_endpoint_is_unavailable() -> None:
    conn = HostConnection(f"vmware://127.0.0.1:{_free_port()}/?insecure=true", "u", "p")
    with VmwareDriver(conn) as d, pytest.raises(Unavailable):
        d.connect()


def test_tls_is_verified_unless_insecure(vcsim: str) -> None:
    with VmwareDriver(host_connection(vcsim, insecure=False)) as d, \
            pytest.raises(DriverError, match="TLS"):
        d.connect()


def test_unknown_host_in_the_url_is_a_driver_error(vcsim: str) -> None:
    with VmwareDriver(host_connection(vcsim, "/DC0/DC0_C0/nope")) as d, \
            pytest.raises(DriverError, match="nope"):
        d.connect()


def test_bad_url_option_is_rejected() -> None:
    with pytest.raises(InvalidParameter):
        VmwareDriver(HostConnection("vmware://vc/?insecur=1", "u", "p"))


def test_connect_describes_the_named_host(drv: VmwareDriver, host_path: str) -> None:
    info = drv.connect()
    assert info.name == host_path.rsplit("/", 1)[1]
    assert info.version.startswith("VMware ESXi ") and "/ vCenter " in info.version
    assert info.cpu_cores >= 1 and info.memory_bytes > 0 and info.local_storage_bytes > 0


def test_vcsim_url_alone_means_the_first_host(vcsim: str) -> None:
    parts = urlsplit(vcsim)
    conn = HostConnection(parts._replace(netloc=f"{parts.hostname}:{parts.port}").geturl()
                          + "?insecure=1", parts.username, parts.password)
    with VmwareDriver(conn) as d:
        assert d.connect().name


def test_define_sets_uuid_mac_and_guestinfo(drv: VmwareDriver, lab: Lab) -> None:
    spec = lab.spec(user_data=b"#cloud-config\n")
    ref = lab.define(spec)
    vm = _vm(drv, ref.ref)
    assert vm.config.instanceUuid == spec.uuid
    options = {o.key: o.value for o in vm.config.extraConfig}
    assert base64.b64decode(options["guestinfo.userdata"]) == b"#cloud-config\n"
    assert options["guestinfo.userdata.encoding"] == "base64"
    nics = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualVmxnet3)]
    assert [(n.macAddress, n.addressType) for n in nics] == [(spec.nics[0].mac, "manual")]
    disk = next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk))
    assert disk.capacityInKB * 1024 == spec.disks[0].size_bytes
    assert disk.backing.fileName.endswith(f"/{spec.disks[0].disk_sid}.vmdk")


def test_clone_names_and_grows_the_root_disk(drv: VmwareDriver, lab: Lab) -> None:
    root = lab.disk(0, size_bytes=256 * MIB, source_image=TEMPLATE)
    spec = lab.spec(disks=(root, lab.disk(1)))
    ref = lab.define(spec)
    info = drv.info(ref)
    assert info.disk_sids[0] == root.disk_sid and spec.disks[1].disk_sid in info.disk_sids
    disks = [d for d in _vm(drv, ref.ref).config.hardware.device
             if isinstance(d, vim.vm.device.VirtualDisk)]
    assert max(d.capacityInKB for d in disks) * 1024 == 256 * MIB


def test_destroy_keeps_attached_data_volumes(drv: VmwareDriver, lab: Lab) -> None:
    first, second = lab.define(), lab.define()
    volume = lab.disk(1)
    drv.attach_disk(first, volume)
    drv.destroy(first)
    drv.attach_disk(second, volume)  # the file survived: it is attached, not recreated
    assert volume.disk_sid in drv.info(second).disk_sids


def test_stop_waits_for_the_guest_then_powers_off(drv: VmwareDriver, lab: Lab) -> None:
    ref = lab.running()
    started = time.monotonic()
    drv.stop(ref, timeout=5)
    assert drv.info(ref).power_state is PowerState.STOPPED
    assert time.monotonic() - started < 5  # vcsim's guest shuts down at once


def test_a_vm_on_another_host_is_missing_here(vcsim: str, drv: VmwareDriver, lab: Lab) -> None:
    spec = lab.spec()
    ref = lab.define(spec)
    target = _VcsimContract().migration_target(drv)
    assert target is not None
    with VmwareDriver(target) as there:
        assert there.info(ref).power_state is PowerState.MISSING
        assert spec.name not in there.list_domains()
    assert drv.info(ref).power_state is PowerState.STOPPED


def _files(drv: VmwareDriver, folder: str) -> set[str]:
    ds = drv.place.datastores[0]
    spec = vim.host.DatastoreBrowser.SearchSpec(matchPattern=["*.vmdk"])
    try:
        found = drv.session.wait(ds.browser.SearchDatastore_Task(f"[{ds.name}] {folder}", spec),
                                 "list")
    except Exception:  # noqa: BLE001 - no such folder yet
        return set()
    return {f.path for f in getattr(found, "file", None) or ()}


def test_snapshot_copy_is_a_file_copy_that_outlives_source_and_disk(
        drv: VmwareDriver, lab: Lab) -> None:
    ref = lab.running()
    volume = lab.disk(1)
    drv.attach_disk(ref, volume)
    snap, copy = (f"snap-{uuid.uuid4().hex[:12]}" for _ in range(2))
    drv.snapshot_disk(ref, volume.disk_sid, snap)
    frozen = drv.session.props(_vm(drv, ref.ref), ["snapshot.currentSnapshot"]) or {}
    assert frozen.get("snapshot.currentSnapshot") is None  # the temporary VM snapshot is gone
    assert drv.info(ref).power_state is PowerState.RUNNING
    drv.copy_disk_snapshot(volume.disk_sid, snap, copy)
    drv.copy_disk_snapshot(volume.disk_sid, snap, copy)
    assert {f"{snap}.vmdk", f"{copy}.vmdk"} <= _files(drv, "nimbostack-snapshots")
    with pytest.raises(NotFound):
        drv.copy_disk_snapshot(volume.disk_sid, f"snap-{uuid.uuid4().hex[:12]}", "snap-none")
    drv.delete_disk_snapshot(volume.disk_sid, snap)
    drv.delete_disk_snapshot(volume.disk_sid, snap)
    drv.detach_disk(ref, volume.disk_sid)
    clone = lab.disk(2, size_bytes=2 * DISK, source_snapshot=copy)
    drv.attach_disk(ref, clone)
    device = next(d for d in _vm(drv, ref.ref).config.hardware.device
                  if isinstance(d, vim.vm.device.VirtualDisk)
                  and d.backing.fileName.endswith(f"nimbostack-volumes/{clone.disk_sid}.vmdk"))
    assert device.capacityInKB * 1024 == 2 * DISK
    assert f"{copy}.vmdk" in _files(drv, "nimbostack-snapshots")
    drv.delete_disk_snapshot(volume.disk_sid, copy)
    assert not {f"{snap}.vmdk", f"{copy}.vmdk"} & _files(drv, "nimbostack-snapshots")


def test_a_free_volume_is_snapshotted_and_a_missing_snapshot_is_not_cloned(
        drv: VmwareDriver, lab: Lab) -> None:
    ref = lab.define()
    volume = lab.disk(1)
    drv.attach_disk(ref, volume)
    drv.detach_disk(ref, volume.disk_sid)
    snap = f"snap-{uuid.uuid4().hex[:12]}"
    drv.snapshot_disk(None, volume.disk_sid, snap)
    assert f"{snap}.vmdk" in _files(drv, "nimbostack-snapshots")
    with pytest.raises(NotFound):
        drv.snapshot_disk(None, f"vol-{uuid.uuid4().hex[:12]}", f"snap-{uuid.uuid4().hex[:12]}")
    with pytest.raises(NotFound):
        drv.attach_disk(ref, lab.disk(2, source_snapshot=f"snap-{uuid.uuid4().hex[:12]}"))
    drv.delete_disk_snapshot(volume.disk_sid, snap)


# -- reverting and cloning snapshots: checked on the files themselves -------------------------


def _file_url(drv: VmwareDriver, file_name: str) -> str:
    """The datastore HTTP URL (``/folder``) of ``[ds] path`` on the vcsim under test."""
    ds, path = file_name[1:].split("] ", 1)
    parts = urlsplit(os.environ[ENV])
    return (f"https://{parts.hostname}:{parts.port}/folder/{quote(path)}"
            f"?dcPath=DC0&dsName={quote(ds)}")


def _transfer(drv: VmwareDriver, file_name: str, data: bytes | None = None) -> bytes:
    """Write ``data`` into a datastore file (PUT), or read it (GET), with the driver's
    session cookie: vSphere's datastore file service, not a path on this machine."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(_file_url(drv, file_name), data=data,
                                     method="GET" if data is None else "PUT",
                                     headers={"Cookie": drv.session.si._stub.cookie})
    with urllib.request.urlopen(request, context=ctx, timeout=30) as answer:
        return bytes(answer.read())


def _disk_device(drv: VmwareDriver, ref_id: str, disk_sid: str) -> vim.vm.device.VirtualDisk:
    props = drv.session.props(_vm(drv, ref_id), ["config.hardware.device",
                                                 "config.extraConfig"]) or {}
    return next(d for sid, d in vms.disk_sids(props) if sid == disk_sid)


def test_revert_copies_the_snapshot_back_over_the_disk_file(drv: VmwareDriver, lab: Lab) -> None:
    spec = lab.spec()
    ref, root = lab.define(spec), spec.disks[0].disk_sid
    before = _disk_device(drv, ref.ref, root)
    _transfer(drv, before.backing.fileName, b"content at snapshot time")
    snap = f"snap-{uuid.uuid4().hex[:12]}"
    drv.snapshot_disk(ref, root, snap)
    _transfer(drv, before.backing.fileName, b"written later")
    drv.revert_disk_snapshot(ref, root, snap)
    assert _transfer(drv, before.backing.fileName) == b"content at snapshot time"
    after = _disk_device(drv, ref.ref, root)
    assert (after.backing.fileName, after.unitNumber) == (before.backing.fileName,
                                                          before.unitNumber)
    assert f"{snap}.vmdk" in _files(drv, "nimbostack-snapshots")  # the snapshot stays
    assert not {f"{root}.partial.vmdk"} & _files(drv, spec.name)
    drv.delete_disk_snapshot(root, snap)


def test_revert_of_a_free_volume(drv: VmwareDriver, lab: Lab) -> None:
    ref = lab.define()
    volume = lab.disk(1)
    drv.attach_disk(ref, volume)
    drv.detach_disk(ref, volume.disk_sid)
    file_name = f"[{drv.place.datastores[0].name}] nimbostack-volumes/{volume.disk_sid}.vmdk"
    _transfer(drv, file_name, b"old")
    snap = f"snap-{uuid.uuid4().hex[:12]}"
    drv.snapshot_disk(None, volume.disk_sid, snap)
    _transfer(drv, file_name, b"new")
    drv.revert_disk_snapshot(None, volume.disk_sid, snap)
    assert _transfer(drv, file_name) == b"old"
    with pytest.raises(NotFound):
        drv.revert_disk_snapshot(None, volume.disk_sid, f"snap-{uuid.uuid4().hex[:12]}")
    with pytest.raises(NotFound):
        drv.revert_disk_snapshot(None, f"vol-{uuid.uuid4().hex[:12]}", snap)
    drv.delete_disk_snapshot(volume.disk_sid, snap)


def test_define_copies_snapshots_into_the_vms_own_disks(drv: VmwareDriver, lab: Lab) -> None:
    source = lab.spec()
    ref, root = lab.define(source), source.disks[0].disk_sid
    _transfer(drv, _disk_device(drv, ref.ref, root).backing.fileName, b"image bytes")
    snap = f"snap-{uuid.uuid4().hex[:12]}"
    drv.snapshot_disk(ref, root, snap)
    new_root = lab.disk(0, size_bytes=128 * MIB, source_snapshot=snap, source_image=TEMPLATE)
    data = lab.disk(1, size_bytes=2 * DISK, source_snapshot=snap)
    spec = lab.spec(disks=(new_root, data))
    new = lab.define(spec)
    assert drv.info(new).disk_sids == (new_root.disk_sid, data.disk_sid)
    first = _disk_device(drv, new.ref, new_root.disk_sid)
    assert first.unitNumber == 0  # the root keeps the first slot
    assert first.backing.fileName.endswith(f"{spec.name}/{new_root.disk_sid}.vmdk")
    assert first.capacityInKB * 1024 == 128 * MIB
    assert _transfer(drv, first.backing.fileName) == b"image bytes"
    assert _disk_device(drv, new.ref, data.disk_sid).capacityInKB * 1024 == 2 * DISK
    drv.delete_disk_snapshot(root, snap)


def test_nic_attached_to_a_running_vm_has_the_engines_mac(drv: VmwareDriver, lab: Lab) -> None:
    ref = lab.running()
    drv.attach_nic(ref, NicSpec(mac="02:00:00:00:EE:10", device_id=1))
    cards = [d for d in _vm(drv, ref.ref).config.hardware.device
             if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert [(c.macAddress, c.addressType) for c in cards][-1] == ("02:00:00:00:ee:10", "manual")
    assert drv.info(ref).nic_macs[-1] == "02:00:00:00:ee:10"
    drv.detach_nic(ref, "02:00:00:00:EE:10")
    assert "02:00:00:00:ee:10" not in drv.info(ref).nic_macs
