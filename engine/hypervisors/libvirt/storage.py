"""Storage pools and volumes on a libvirt host.

A ``DiskSpec.pool_ref`` (an engine pool uuid) resolves through the connection's
``extra["storage_pools"]`` (uuid -> URL) to a libvirt pool named ``<prefix><uuid>``:
``file:///dir`` or ``/dir`` is a dir pool there, ``nfs://host/export`` a netfs pool
mounted under ``mount_dir``. No pool_ref, an unknown one or an unsupported URL means
the default dir pool (``<prefix>default`` at ``default_dir``). Pools are defined,
built and started on first use.

Volumes: a disk is ``<disk_sid>.qcow2``, a snapshot ``<snapshot_sid>.snap.qcow2`` (a
full copy, so it outlives its disk), a template image ``template-<hash>.base``
(uploaded once per pool through a libvirt stream, so remote hosts work; a
``.base.ok`` volume marks a complete upload). Root disks are qcow2 overlays on the
template image.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import struct
import tempfile
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import libvirt

from engine.errors import DriverError, InvalidParameter
from engine.hypervisors.libvirt.connection import DRIVER, error_code, sanitize_name

QCOW2_MAGIC = b"QFI\xfb"
CHUNK = 1 << 20


@dataclass(frozen=True)
class PoolLocation:
    """Where a libvirt pool lives: ``kind`` is "dir" or "netfs"."""

    name: str
    path: str
    kind: str = "dir"
    host: str = ""
    export: str = ""


def resolve_pool(
    pool_ref: str | None,
    storage_pools: Mapping[str, str],
    *,
    prefix: str = "nimbostack-",
    default_dir: str = "/var/lib/libvirt/images/nimbostack",
    mount_dir: str = "/var/lib/libvirt/images",
) -> PoolLocation:
    """The libvirt pool for ``pool_ref`` (pure: no libvirt calls)."""
    default = PoolLocation(prefix + "default", default_dir)
    url = storage_pools.get(pool_ref) if pool_ref else None
    if not url or pool_ref is None:
        return default
    name = prefix + sanitize_name(pool_ref)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "" and url.startswith("/"):
        return PoolLocation(name, os.path.normpath(url))
    if scheme == "file" and parts.path.startswith("/"):
        return PoolLocation(name, os.path.normpath(unquote(parts.path)))
    if scheme == "nfs" and parts.hostname and parts.path.startswith("/"):
        return PoolLocation(name, f"{mount_dir.rstrip('/')}/{name}", "netfs",
                            parts.hostname, unquote(parts.path))
    return default


def is_image_source(source: str | None) -> bool:
    """True if ``source`` names an image file (absolute path, file:// or http(s):// URL)."""
    if not source:
        return False
    scheme = urlsplit(source).scheme.lower()
    return source.startswith("/") or scheme in ("file", "http", "https")


def snapshot_volume_name(snapshot_sid: str) -> str:
    return f"{snapshot_sid}.snap.qcow2"


def base_volume_name(source: str) -> str:
    return f"template-{hashlib.sha256(source.encode()).hexdigest()[:16]}.base"


def image_facts(path: str) -> tuple[str, int]:
    """(format, virtual size) of a local qcow2 or raw image file."""
    with open(path, "rb") as fh:
        head = fh.read(32)
    if head[:4] == QCOW2_MAGIC and len(head) >= 32:
        return "qcow2", struct.unpack(">Q", head[24:32])[0]
    return "raw", os.path.getsize(path)


def pool_xml(loc: PoolLocation) -> str:
    target = f"<target><path>{escape(loc.path)}</path></target>"
    if loc.kind == "netfs":
        source = (f"<source><host name='{escape(loc.host)}'/><dir path='{escape(loc.export)}'/>"
                  "<format type='nfs'/></source>")
        return f"<pool type='netfs'><name>{escape(loc.name)}</name>{source}{target}</pool>"
    return f"<pool type='dir'><name>{escape(loc.name)}</name>{target}</pool>"


def volume_xml(name: str, capacity: int, fmt: str = "qcow2",
               backing: tuple[str, str] | None = None) -> str:
    back = ""
    if backing is not None:
        back = (f"<backingStore><path>{escape(backing[0])}</path>"
                f"<format type='{backing[1]}'/></backingStore>")
    return (f"<volume><name>{escape(name)}</name><capacity unit='bytes'>{capacity}</capacity>"
            f"<target><format type='{fmt}'/></target>{back}</volume>")


class Storage:
    """Pools and volumes of one libvirt connection (see the module docstring)."""

    def __init__(self, lv: libvirt.virConnect, storage_pools: Mapping[str, str], *,
                 prefix: str, default_dir: str, mount_dir: str, uploads: bool) -> None:
        self.lv, self.storage_pools = lv, storage_pools
        self.prefix, self.default_dir, self.mount_dir = prefix, default_dir, mount_dir
        self.uploads = uploads  # False on the test driver: volumes have no content

    def location(self, pool_ref: str | None) -> PoolLocation:
        return resolve_pool(pool_ref, self.storage_pools, prefix=self.prefix,
                            default_dir=self.default_dir, mount_dir=self.mount_dir)

    # -- pools --------------------------------------------------------------------

    def pool(self, pool_ref: str | None) -> libvirt.virStoragePool:
        """The started libvirt pool for ``pool_ref`` (defined and built if missing)."""
        loc = self.location(pool_ref)
        try:
            pool = self.lv.storagePoolLookupByName(loc.name)
        except libvirt.libvirtError:
            try:
                pool = self.lv.storagePoolDefineXML(pool_xml(loc), 0)
            except libvirt.libvirtError:  # defined meanwhile by someone else
                pool = self.lv.storagePoolLookupByName(loc.name)
            with contextlib.suppress(libvirt.libvirtError):
                pool.build(0)
            with contextlib.suppress(libvirt.libvirtError):
                pool.setAutostart(1)
        if not pool.isActive():
            try:
                pool.create(0)
            except libvirt.libvirtError:
                if not pool.isActive():
                    raise
        return pool

    def default_pool_info(self) -> tuple[int, int]:
        """(capacity, allocation) in bytes of the default pool."""
        _, capacity, allocation, _ = self.pool(None).info()
        return capacity, allocation

    def _pools(self, pool_ref: str | None) -> Iterator[libvirt.virStoragePool]:
        """The pool of ``pool_ref`` first (if it exists), then every other active pool."""
        first = self.location(pool_ref).name
        with contextlib.suppress(libvirt.libvirtError):
            pool = self.lv.storagePoolLookupByName(first)
            if pool.isActive():
                yield pool
        for pool in self.lv.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
            if pool.name() != first:
                yield pool

    # -- volumes ------------------------------------------------------------------

    def find(self, name: str, pool_ref: str | None = None) -> libvirt.virStorageVol | None:
        """The volume called ``name`` in the preferred pool or any active pool."""
        for pool in self._pools(pool_ref):
            try:
                return pool.storageVolLookupByName(name)
            except libvirt.libvirtError:
                continue
        return None

    def by_path(self, path: str) -> libvirt.virStorageVol | None:
        try:
            return self.lv.storageVolLookupByPath(path)
        except libvirt.libvirtError:
            return None

    def path_in(self, pool: libvirt.virStoragePool, name: str) -> str:
        """Where volume ``name`` of a dir/netfs pool lives (whether or not it exists)."""
        target = ET.fromstring(pool.XMLDesc(0)).findtext("target/path") or ""
        return f"{target.rstrip('/')}/{name}"

    def create_blank(self, pool: libvirt.virStoragePool, name: str,
                     capacity: int) -> libvirt.virStorageVol:
        return pool.createXML(volume_xml(name, capacity), 0)

    def create_from_image(self, pool: libvirt.virStoragePool, name: str, capacity: int,
                          source: str) -> libvirt.virStorageVol:
        """A qcow2 overlay on the (cached) template image, at least ``capacity`` big."""
        base, fmt, size = self.base_volume(pool, source)
        return pool.createXML(volume_xml(name, max(capacity, size), backing=(base.path(), fmt)), 0)

    def create_from_volume(self, pool: libvirt.virStoragePool, name: str, capacity: int,
                           src: libvirt.virStorageVol) -> libvirt.virStorageVol:
        """A full qcow2 copy of ``src``, grown to ``capacity`` if that is larger."""
        src_capacity = src.info()[1]
        vol = pool.createXMLFrom(volume_xml(name, src_capacity), src, 0)
        if capacity > vol.info()[1]:
            try:
                vol.resize(capacity, 0)
            except libvirt.libvirtError as exc:
                if error_code(exc) != libvirt.VIR_ERR_NO_SUPPORT:
                    with contextlib.suppress(libvirt.libvirtError):
                        vol.delete(0)
                    raise
        return vol

    def grow(self, vol: libvirt.virStorageVol, size: int) -> None:
        current = vol.info()[1]
        if size < current:
            raise InvalidParameter("size", size, f"smaller than the current {current}")
        if size > current:
            vol.resize(size, 0)

    def delete(self, vol: libvirt.virStorageVol | None) -> None:
        if vol is None:
            return
        try:
            vol.delete(0)
        except libvirt.libvirtError as exc:
            if error_code(exc) != libvirt.VIR_ERR_NO_STORAGE_VOL:
                raise

    def upload(self, vol: libvirt.virStorageVol, chunks: Iterator[bytes], size: int) -> None:
        """Write ``size`` bytes into ``vol`` through a libvirt stream (skipped on test://)."""
        if not self.uploads:
            return
        stream = self.lv.newStream(0)
        vol.upload(stream, 0, size, 0)
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    sent = stream.send(bytes(view[:CHUNK]))
                    if sent < 0:
                        raise DriverError(DRIVER, "upload", f"stream send returned {sent}")
                    view = view[sent:]
            stream.finish()
        except BaseException:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            raise

    def create_with_bytes(self, pool: libvirt.virStoragePool, name: str,
                          data: bytes) -> libvirt.virStorageVol:
        """A raw volume holding ``data`` (the seed ISO)."""
        vol = pool.createXML(volume_xml(name, len(data), fmt="raw"), 0)
        try:
            self.upload(vol, iter([data]), len(data))
        except BaseException:
            with contextlib.suppress(libvirt.libvirtError):
                vol.delete(0)
            raise
        return vol

    # -- template images ------------------------------------------------------------

    def base_volume(self, pool: libvirt.virStoragePool,
                    source: str) -> tuple[libvirt.virStorageVol, str, int]:
        """(volume, format, virtual size) of ``source`` cached in ``pool``.

        A cached image is used as it is (libvirt probed its format on upload). A
        ``<name>.ok`` marker volume is written after a complete upload, so a copy cut
        short by a crash is replaced; a lock file serialises uploads on this machine.
        """
        name = base_volume_name(source)
        with _lock(f"{pool.UUIDString()}-{name}"):
            vol, done = _lookup(pool, name), _lookup(pool, name + ".ok")
            if vol is not None and done is not None:
                return vol, volume_format(vol.XMLDesc(0)), int(vol.info()[1])
            self.delete(vol)
            with _local_image(source) as path:
                fmt, size = image_facts(path)
                file_size = os.path.getsize(path)
                vol = pool.createXML(volume_xml(name, max(file_size, 1), fmt="raw"), 0)
                try:
                    self.upload(vol, _read_chunks(path), file_size)
                    if done is None:
                        pool.createXML(volume_xml(name + ".ok", 0, fmt="raw"), 0)
                except BaseException:
                    with contextlib.suppress(libvirt.libvirtError):
                        vol.delete(0)
                    raise
                return vol, fmt, size


def _lookup(pool: libvirt.virStoragePool, name: str) -> libvirt.virStorageVol | None:
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError:
        return None


@contextlib.contextmanager
def _lock(key: str) -> Iterator[None]:
    """An exclusive lock between the processes of this machine."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    path = Path(tempfile.gettempdir()) / f"nimbostack-libvirt-{digest}.lock"
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def volume_format(xml: str) -> str:
    """The ``<target><format type>`` of a volume XML ("raw" when absent)."""
    fmt = ET.fromstring(xml).find("target/format")
    return fmt.get("type", "raw") if fmt is not None else "raw"


def _read_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


@contextlib.contextmanager
def _local_image(source: str) -> Iterator[str]:
    """A local file with the image's bytes (downloaded to a temp file for http(s))."""
    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        with tempfile.NamedTemporaryFile(prefix="nimbostack-image-") as tmp:
            try:
                with urllib.request.urlopen(source, timeout=60) as resp:
                    shutil.copyfileobj(resp, tmp, CHUNK)
            except OSError as exc:
                raise DriverError(DRIVER, "download the template", f"{source}: {exc}") from exc
            tmp.flush()
            yield tmp.name
        return
    path = unquote(parts.path) if scheme == "file" else source
    if not Path(path).is_file():
        raise DriverError(DRIVER, "read the template", f"no image file at {source}")
    yield path
