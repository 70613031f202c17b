"""seed: the NoCloud ISO, read back with pycdlib."""

from __future__ import annotations

import io

import pycdlib

from engine.hypervisors.libvirt.seed import LABEL, build_seed_iso, meta_data, read_seed_iso

USER_DATA = b"#cloud-config\nhostname: web-1\nruncmd:\n  - echo hi\n"


def test_seed_holds_user_data_and_meta_data() -> None:
    image = build_seed_iso(USER_DATA, instance_id="uuid-1", hostname="i-2-5-VM")
    files = read_seed_iso(image)
    assert files["user-data"] == USER_DATA
    assert files["meta-data"] == b"instance-id: uuid-1\nlocal-hostname: i-2-5-VM\n"
    assert meta_data("a", "b") == b"instance-id: a\nlocal-hostname: b\n"


def test_seed_label_and_names_guests_look_for() -> None:
    image = build_seed_iso(b"", instance_id="u", hostname="h")
    assert image[32769:32774] == b"CD001"  # primary volume descriptor
    assert image[32808:32840].rstrip() == LABEL.encode() == b"cidata"
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(image))
    try:
        joliet = sorted(c.file_identifier().decode("utf-16-be")
                        for c in iso.list_children(joliet_path="/") if c.is_file())
        assert joliet == ["meta-data", "user-data"]
        assert iso.has_rock_ridge()
    finally:
        iso.close()


def test_binary_user_data_is_kept_byte_for_byte() -> None:
    blob = bytes(range(256)) * 40
    assert read_seed_iso(build_seed_iso(blob, instance_id="u", hostname="h"))["user-data"] == blob
