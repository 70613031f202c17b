"""User data as a NoCloud seed: an ISO 9660 image labelled ``cidata``.

The image holds ``user-data`` (the bytes as given) and ``meta-data`` (YAML with
``instance-id`` and ``local-hostname``), under Rock Ridge and Joliet names so guests
see the lower-case names cloud-init looks for. Built in memory with pycdlib.
"""

from __future__ import annotations

import io

import pycdlib

LABEL = "cidata"


def meta_data(instance_id: str, hostname: str) -> bytes:
    """The NoCloud ``meta-data`` document."""
    return f"instance-id: {instance_id}\nlocal-hostname: {hostname}\n".encode()


def build_seed_iso(user_data: bytes, *, instance_id: str, hostname: str) -> bytes:
    """The seed ISO image (a few hundred KiB at most) for one domain."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=LABEL)
    files = {"USERDATA.;1": ("user-data", user_data),
             "METADATA.;1": ("meta-data", meta_data(instance_id, hostname))}
    for iso_name, (name, data) in files.items():
        iso.add_fp(io.BytesIO(data), len(data), f"/{iso_name}", rr_name=name,
                   joliet_path=f"/{name}")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def read_seed_iso(image: bytes) -> dict[str, bytes]:
    """The files of a seed image by their Rock Ridge names (for tests and diagnostics)."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(image))
    try:
        files = {}
        for name in ("user-data", "meta-data"):
            buf = io.BytesIO()
            iso.get_file_from_iso_fp(buf, rr_path=f"/{name}")
            files[name] = buf.getvalue()
        return files
    finally:
        iso.close()
