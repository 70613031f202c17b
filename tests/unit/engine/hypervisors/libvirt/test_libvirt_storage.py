"""storage: pool URL resolution and image facts (pure parts, no libvirt calls)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

pytest.importorskip("libvirt")

from engine.hypervisors.libvirt.connection import (
    detect_domain_type,
    is_local_uri,
    version_string,
)
from engine.hypervisors.libvirt.storage import (
    PoolLocation,
    image_facts,
    is_image_source,
    pool_xml,
    resolve_pool,
    volume_xml,
)

POOLS = {
    "p-file": "file:///var/lib/libvirt/images/primary",
    "p-path": "/srv/pool2/",
    "p-nfs": "nfs://10.0.0.5/export/primary",
    "p-rbd": "rbd://mon/pool",
}


def test_pool_urls_resolve_to_named_pools() -> None:
    assert resolve_pool("p-file", POOLS) == PoolLocation(
        "nimbostack-p-file", "/var/lib/libvirt/images/primary")
    assert resolve_pool("p-path", POOLS, prefix="x-") == PoolLocation("x-p-path", "/srv/pool2")
    assert resolve_pool("p-nfs", POOLS, mount_dir="/mnt") == PoolLocation(
        "nimbostack-p-nfs", "/mnt/nimbostack-p-nfs", "netfs", "10.0.0.5", "/export/primary")


@pytest.mark.parametrize("ref", [None, "unknown-pool", "p-rbd"])
def test_missing_unknown_or_unsupported_pools_use_the_default(ref: str | None) -> None:
    assert resolve_pool(ref, POOLS, default_dir="/d") == PoolLocation("nimbostack-default", "/d")


def test_pool_and_volume_xml() -> None:
    assert "<path>/srv/p</path>" in pool_xml(PoolLocation("n", "/srv/p"))
    nfs = pool_xml(PoolLocation("n", "/m/n", "netfs", "h", "/e"))
    assert "type='netfs'" in nfs and "<host name='h'/>" in nfs and "<dir path='/e'/>" in nfs
    vol = volume_xml("v.qcow2", 1024, backing=("/b/t.base", "raw"))
    assert "<capacity unit='bytes'>1024</capacity>" in vol
    assert "<backingStore><path>/b/t.base</path><format type='raw'/></backingStore>" in vol


def test_image_sources() -> None:
    for ok in ("/var/t.qcow2", "file:///t.qcow2", "http://h/t.img", "https://h/t.qcow2"):
        assert is_image_source(ok)
    for no in (None, "", "tmpl-1", "ami-123", "nfs://h/t"):
        assert not is_image_source(no)


def test_image_facts(tmp_path: Path) -> None:
    qcow = tmp_path / "a.qcow2"
    qcow.write_bytes(b"QFI\xfb" + b"\0" * 20 + struct.pack(">Q", 5 << 30) + b"\0" * 100)
    assert image_facts(str(qcow)) == ("qcow2", 5 << 30)
    raw = tmp_path / "b.img"
    raw.write_bytes(b"\0" * 4096)
    assert image_facts(str(raw)) == ("raw", 4096)


def test_domain_type_needs_kvm_and_cpu_virtualization() -> None:
    def caps(types: list[str], features: list[str]) -> str:
        doms = "".join(f"<domain type='{t}'/>" for t in types)
        feats = "".join(f"<feature name='{f}'/>" for f in features)
        return (f"<capabilities><host><cpu>{feats}</cpu></host>"
                f"<guest><arch name='x86_64'>{doms}</arch></guest></capabilities>")

    assert detect_domain_type(caps(["qemu", "kvm"], ["vme", "hypervisor"])) == "qemu"
    assert detect_domain_type(caps(["qemu", "kvm"], ["vmx"])) == "kvm"
    assert detect_domain_type(caps(["qemu"], ["svm"])) == "qemu"
    assert detect_domain_type(caps(["test"], [])) == "test"


def test_uri_helpers() -> None:
    assert is_local_uri("qemu:///system") and is_local_uri("qemu+unix:///system")
    assert not is_local_uri("qemu+ssh://root@h/system")
    assert not is_local_uri("qemu+tcp://h/system")
    assert version_string(7002022) == "7.2.22"
