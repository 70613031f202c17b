"""Checksums, store directories and downloads of template files (file:// URLs)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine.jobs import image_files as f


def test_parse_checksum_prefixes_and_plain_md5() -> None:
    md5 = hashlib.md5(b"x").hexdigest()
    assert f.parse_checksum(md5) == f.Checksum("md5", md5)
    sha = hashlib.sha256(b"x").hexdigest()
    assert f.parse_checksum("{SHA256}" + sha.upper()) == f.Checksum("sha256", sha)
    assert f.parse_checksum("{SHA-512}" + "a" * 128).algorithm == "sha512"
    assert f.parse_checksum("") is None
    for bad in ("{CRC32}abcd", "{SHA1}" + "0" * 39, "zz" * 16, "{MD5" + md5):
        with pytest.raises(ValueError):
            f.parse_checksum(bad)


def test_check_url() -> None:
    assert f.check_url("https://h/x.qcow2") == "https"
    assert f.check_url("file:///tmp/x") == "file"
    for bad in ("ftp://h/x", "http:///x", "/plain/path"):
        with pytest.raises(ValueError):
            f.check_url(bad)


def test_store_dir_conventions(tmp_path: Path) -> None:
    assert f.store_dir("nfs://sim/secondary", tmp_path) == tmp_path / "secondary"
    assert f.store_dir("file:///srv/images", tmp_path) == Path("/srv/images")
    assert f.store_dir("/srv/images", tmp_path) == Path("/srv/images")
    assert f.store_dir("nfs://10.0.0.1/export", tmp_path) is None


def test_download_checks_checksum_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    src = tmp_path / "src.raw"
    src.write_bytes(b"abc" * 1000)
    dest = tmp_path / "store" / "t.raw"
    seen: list[int] = []
    good = f.Checksum("sha1", hashlib.sha1(src.read_bytes()).hexdigest())
    assert f.download(src.as_uri(), dest, good, seen.append) == 3000
    assert dest.read_bytes() == src.read_bytes()
    assert seen and all(0 <= p < 100 for p in seen)
    other = tmp_path / "store" / "u.raw"
    with pytest.raises(f.DownloadFailed, match="checksum mismatch"):
        f.download(src.as_uri(), other, f.Checksum("md5", "0" * 32))
    assert not other.exists() and not other.with_name("u.raw.part").exists()
    with pytest.raises(f.DownloadFailed, match="failed to download"):
        f.download((tmp_path / "missing").as_uri(), other, None)
    f.remove(dest)
    assert not dest.exists() and not dest.parent.exists()
