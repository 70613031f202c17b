"""One real Linux guest under QEMU through the libvirt driver.

Needs ``NIMBOSTACK_TEST_LIBVIRT_URI`` (scripts/libvirtd-start.sh) and
``NIMBOSTACK_TEST_GUEST_DIR`` (vmlinuz + initrd.img from scripts/guest-build.sh); skips
when either is unset, except under ``CI=true`` where it fails. The guest's /init
(scripts/guest/init) prints ``CSGUEST:`` lines on its serial console: the NoCloud
user data it found, READY, and its block devices with their serials.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("libvirt")

from engine.errors import EngineError, NotFound
from engine.hypervisors.base import (
    MIB,
    BootSpec,
    DiskSpec,
    DomainSpec,
    HostConnection,
    NicSpec,
    PowerState,
)
from engine.hypervisors.libvirt.driver import LibvirtDriver

# Every libvirtd user runs on one xdist worker (test.sh: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("libvirtd")

USER_DATA = b"#cloud-config\nhostname: nst-guest\nruncmd:\n  - echo hello-from-user-data\n"


def _env(name: str, hint: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not set ({hint})")
        pytest.skip(f"{name} is not set")
    return value


@pytest.fixture
def driver() -> Iterator[LibvirtDriver]:
    uri = _env("NIMBOSTACK_TEST_LIBVIRT_URI", "run scripts/libvirtd-start.sh")
    conn = HostConnection(uri, extra={"libvirt": {
        "pool_prefix": "nst-", "default_pool_dir": "/var/lib/libvirt/images/nst-default"}})
    with LibvirtDriver(conn) as drv:
        yield drv


@pytest.fixture
def guest_dir() -> Path:
    path = Path(_env("NIMBOSTACK_TEST_GUEST_DIR", "run scripts/guest-build.sh DIR"))
    assert (path / "vmlinuz").is_file() and (path / "initrd.img").is_file()
    return path


def wait_for(what: str, pred: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def test_real_guest_lifecycle(driver: LibvirtDriver, guest_dir: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    root = DiskSpec(disk_sid=f"nst-root-{tag}", device_id=0, size_bytes=64 * MIB)
    data = DiskSpec(disk_sid=f"nst-data-{tag}", device_id=1, size_bytes=32 * MIB,
                    serial=f"DATA-{tag}")
    spec = DomainSpec(
        name=f"nst-guest-{tag}", uuid=str(uuid.uuid4()), cpus=1, cpu_mhz=1000, memory_mib=128,
        disks=(root,), nics=(NicSpec(mac="52:54:00:" + ":".join([tag[:2], tag[2:4], tag[4:6]]),
                                     device_id=0),),
        user_data=USER_DATA, metadata={"instance-sid": f"i-{tag}"},
        boot=BootSpec(kernel=str(guest_dir / "vmlinuz"), initrd=str(guest_dir / "initrd.img"),
                      cmdline="console=ttyS0 panic=-1 loglevel=3"),
    )  # fmt: skip
    ref = driver.define(spec)
    try:
        console = lambda: driver.console_output(ref).decode(errors="replace")
        driver.start(ref)
        wait_for("CSGUEST: READY", lambda: "CSGUEST: READY" in console(), 90)
        out = console()
        assert "CSGUEST: user-data: hostname: nst-guest" in out
        assert "CSGUEST: user-data:   - echo hello-from-user-data" in out
        assert f"CSGUEST: meta-data: instance-id: {spec.uuid}" in out
        wait_for("the root disk's serial", lambda: f"serial={root.disk_sid[:20]}" in console(), 10)

        driver.create_disk(data)
        driver.attach_disk(ref, data)
        wait_for("the hot-plugged disk", lambda: f"serial={data.guest_serial}" in console(), 30)
        driver.resize_disk(ref, data.disk_sid, 48 * MIB)  # live: QEMU grows it
        assert driver.disk_info(data.disk_sid).size_bytes == 48 * MIB

        snap = f"nst-snap-{tag}"
        driver.snapshot_disk(ref, root.disk_sid, snap)  # a backup job of the running disk
        copy = DiskSpec(disk_sid=f"nst-copy-{tag}", device_id=2, size_bytes=64 * MIB,
                        source_snapshot=snap)
        driver.create_disk(copy)
        assert driver.disk_info(copy.disk_sid).size_bytes == 64 * MIB
        driver.delete_disk(copy.disk_sid)
        driver.delete_disk_snapshot(root.disk_sid, snap)

        driver.detach_disk(ref, data.disk_sid)  # the guest acknowledges the unplug
        assert driver.disk_info(data.disk_sid).attached_to is None
        assert data.disk_sid not in driver.info(ref).disk_sids

        began = time.monotonic()
        driver.stop(ref, timeout=30)
        assert time.monotonic() - began < 25, "ACPI shutdown should not need the timeout"
        assert "CSGUEST: ACPI power button" in console()
        assert driver.info(ref).power_state is PowerState.STOPPED
    finally:
        driver.destroy(ref)
        with contextlib.suppress(EngineError):
            driver.delete_disk(data.disk_sid)
    assert driver.info(ref).power_state is PowerState.MISSING
    assert spec.name not in driver.list_domains()
    with pytest.raises(NotFound):
        driver.disk_info(root.disk_sid)
    leftovers = [v.name() for p in driver.lv.listAllStoragePools()
                 for v in p.listAllVolumes() if tag in v.name() or spec.uuid in v.name()]
    assert leftovers == []
