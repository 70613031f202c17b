"""The libvirt driver: the driver contract on libvirt's test driver and on real QEMU.

* ``TestLibvirtTestDriverContract``: ``test:///<tests/drivers/data/libvirt-test-host.xml>``,
  in-process, no daemon; each driver instance gets a private, empty host.
* ``TestLibvirtQemuContract``: the URI in ``NIMBOSTACK_TEST_LIBVIRT_URI`` (qemu:///system,
  started by scripts/libvirtd-start.sh) with BIOS-only guests (no kernel, so ACPI is
  ignored and ``stop`` takes the timeout -> destroy path). Skipped when the variable is
  unset, except under ``CI=true`` where it fails. Everything it creates is named
  ``nst-*`` (pools) or ``ct-*`` (domains), which scripts/libvirtd-stop.sh cleans up.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("libvirt")

from engine.errors import DriverError, Unavailable
from engine.hypervisors import registry
from engine.hypervisors.base import (
    Capability,
    DomainSpec,
    HostConnection,
    HypervisorDriver,
)
from engine.hypervisors.libvirt.driver import LibvirtDriver
from tests.drivers.contract import DriverContract

# Every libvirtd user runs on one xdist worker (test.sh: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("libvirtd")

HOST_XML = Path(__file__).parent / "data" / "libvirt-test-host.xml"
TEST_URI = f"test://{HOST_XML.resolve()}"
MISSING_IMAGE = "/nonexistent/nimbostack-missing-image.qcow2"
QEMU_POOL = "5b0c6a3e-0000-4000-8000-00000000c0de"
QEMU_POOL_DIR = f"/var/lib/libvirt/images/nst-{QEMU_POOL}"


def libvirt_uri() -> str:
    """The real libvirt URI under test, or skip (fail under CI=true) when unset."""
    uri = os.environ.get("NIMBOSTACK_TEST_LIBVIRT_URI", "")
    if not uri:
        if os.environ.get("CI") == "true":
            pytest.fail("NIMBOSTACK_TEST_LIBVIRT_URI is not set (run scripts/libvirtd-start.sh)")
        pytest.skip("NIMBOSTACK_TEST_LIBVIRT_URI is not set")
    return uri


def tiny_template() -> str:
    """A 16 MiB empty qcow2 image standing in for a template (one path for every run,
    so the pool's cached copy is reused)."""
    path = Path(tempfile.gettempdir()) / "nst-template-16M.qcow2"
    if not path.exists():
        part = path.with_suffix(f".{os.getpid()}.part")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(part), "16M"], check=True)
        os.replace(part, path)
    return str(path)


def _fail_second_disk(spec: DomainSpec) -> DomainSpec:
    """The second disk clones an image that does not exist: fails after the root disk."""
    bad = replace(spec.disks[1], source_image=MISSING_IMAGE)
    return replace(spec, disks=(spec.disks[0], bad))


class TestLibvirtTestDriverContract(DriverContract):
    stop_timeout = 1.0

    @pytest.fixture
    def driver(self) -> Iterator[HypervisorDriver]:
        with LibvirtDriver(HostConnection(TEST_URI)) as driver:
            yield driver

    def make_define_fail(self, driver: HypervisorDriver, spec: DomainSpec) -> DomainSpec:
        return _fail_second_disk(spec)


class TestLibvirtQemuContract(DriverContract):
    stop_timeout = 1.0
    pool_ref = QEMU_POOL
    image_ref: str | None = None

    @pytest.fixture
    def driver(self) -> Iterator[HypervisorDriver]:
        uri = libvirt_uri()
        type(self).image_ref = tiny_template()
        conn = HostConnection(uri, extra={
            "storage_pools": {QEMU_POOL: f"file://{QEMU_POOL_DIR}"},
            "libvirt": {"pool_prefix": "nst-", "detach_wait": 0.5,
                        "default_pool_dir": "/var/lib/libvirt/images/nst-default"},
        })  # fmt: skip
        with LibvirtDriver(conn) as driver:
            yield driver

    def make_define_fail(self, driver: HypervisorDriver, spec: DomainSpec) -> DomainSpec:
        return _fail_second_disk(spec)


# -- libvirt specifics (test driver: fast, no daemon) ---------------------------------------


@pytest.fixture
def test_driver() -> Iterator[LibvirtDriver]:
    with LibvirtDriver(HostConnection(TEST_URI)) as driver:
        yield driver


def _spec(**changes: object) -> DomainSpec:
    from tests.drivers.contract import Lab

    lab = Lab(TestLibvirtTestDriverContract(), None)  # type: ignore[arg-type]
    return lab.spec(**changes)


def test_registry_and_url_map_to_this_driver() -> None:
    assert registry.driver_class("kvm") is LibvirtDriver
    for url in ("qemu:///system", "qemu+ssh://root@h/system", "qemu+tcp://h/system", TEST_URI):
        assert registry.url_hypervisor(url) == "kvm"


def test_capabilities_are_narrowed_per_uri() -> None:
    assert LibvirtDriver(HostConnection("qemu:///system")).capabilities == (
        LibvirtDriver.capabilities)
    remote = LibvirtDriver(HostConnection("qemu+ssh://root@10.0.0.2/system"))
    assert Capability.CONSOLE_OUTPUT not in remote.capabilities
    assert Capability.LIVE_ATTACH_DISK in remote.capabilities
    local = LibvirtDriver(HostConnection(TEST_URI))
    assert not local.supports(Capability.LIVE_ATTACH_DISK)
    assert local.supports(Capability.DATA_DISKS)


def test_unreachable_host_is_unavailable() -> None:
    with pytest.raises(Unavailable):
        LibvirtDriver(HostConnection("qemu+tcp://127.0.0.1:1/system")).connect()


def test_domain_type_follows_the_host_or_the_override(test_driver: LibvirtDriver) -> None:
    assert test_driver.domain_type() == "test"
    forced = LibvirtDriver(HostConnection(TEST_URI, extra={"libvirt": {"domain_type": "kvm"}}))
    assert forced.domain_type() == "kvm"


def test_define_records_ownership_and_metadata(test_driver: LibvirtDriver) -> None:
    from engine.hypervisors.libvirt import domain_xml as dx

    spec = _spec(metadata={"instance-sid": "i-123"})
    ref = test_driver.define(spec)
    xml = test_driver.lv.lookupByUUIDString(ref.ref).XMLDesc(0)
    own = dx.ownership(xml)
    assert own.metadata == {"instance-sid": "i-123"}
    assert [dx.disk_sid_of(p) for p in own.owned_paths] == [spec.disks[0].disk_sid]
    assert own.seed_path.endswith(f"{spec.uuid}.cidata.iso")
    assert own.cpu_mhz == spec.cpu_mhz
    assert "<interface type='user'>" in xml or '<interface type="user">' in xml


def test_destroy_keeps_attached_data_volumes_and_deletes_the_seed(
    test_driver: LibvirtDriver,
) -> None:
    spec = _spec()
    ref = test_driver.define(spec)
    data = replace(spec.disks[0], disk_sid=f"vol-{uuid.uuid4().hex[:8]}", device_id=1)
    test_driver.attach_disk(ref, data)
    test_driver.destroy(ref)
    names = {v.name() for p in test_driver.lv.listAllStoragePools() for v in p.listAllVolumes()}
    assert names == {f"{data.disk_sid}.qcow2"}
    assert test_driver.disk_info(data.disk_sid).attached_to is None


def test_define_completes_a_half_done_define(test_driver: LibvirtDriver) -> None:
    spec = _spec()
    ref = test_driver.define(spec)
    root = test_driver._vol(spec.disks[0].disk_sid)
    root.delete(0)  # as if the previous define crashed before creating the disk
    assert test_driver.define(spec) == ref
    assert test_driver.disk_info(spec.disks[0].disk_sid).attached_to == ref


def test_nic_kinds(test_driver: LibvirtDriver) -> None:
    net = "<network><name>nst-net-42</name><bridge name='nstbr42'/></network>"
    test_driver.lv.networkDefineXML(net)
    spec = _spec()
    nic = replace(spec.nics[0], network_ref="nst-net-42")
    xml = test_driver.lv.lookupByUUIDString(test_driver.define(replace(spec, nics=(nic,))).ref)
    assert "network='nst-net-42'" in xml.XMLDesc(0)
    bridged = LibvirtDriver(HostConnection(TEST_URI, extra={"libvirt": {"bridge": "csbr0"}}))
    dom = bridged.lv.lookupByUUIDString(bridged.define(_spec()).ref)
    assert "bridge='csbr0'" in dom.XMLDesc(0)


def test_a_name_clash_is_a_driver_error(test_driver: LibvirtDriver) -> None:
    spec = _spec()
    test_driver.define(spec)
    with pytest.raises(DriverError):
        test_driver.define(_spec(name=spec.name))


def test_template_images_are_cached_once_per_pool(
    test_driver: LibvirtDriver, tmp_path: Path
) -> None:
    image = tmp_path / "t.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "8M"], check=True)
    spec = _spec()
    for n in range(2):
        disk = replace(spec.disks[0], disk_sid=f"vol-t{n}-{uuid.uuid4().hex[:6]}",
                       source_image=f"file://{image}")
        test_driver.create_disk(disk)
        assert test_driver.disk_info(disk.disk_sid).size_bytes == spec.disks[0].size_bytes
    names = [v.name() for p in test_driver.lv.listAllStoragePools() for v in p.listAllVolumes()]
    assert sum(n.endswith(".base") for n in names) == 1
    assert sum(n.endswith(".base.ok") for n in names) == 1


def test_a_missing_template_image_is_a_driver_error(test_driver: LibvirtDriver) -> None:
    disk = replace(_spec().disks[0], source_image=MISSING_IMAGE)
    with pytest.raises(DriverError):
        test_driver.create_disk(disk)
    assert test_driver.storage.find(f"{disk.disk_sid}.qcow2") is None
