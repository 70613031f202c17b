"""Image files on secondary storage: where an image store keeps them, how a
template is fetched into one (HTTP(S) or a local file, via urllib), and how
its checksum is checked. Pure file and network work: no database.

Image store URLs: ``file:///dir`` or a plain absolute path is a local
directory. The simulated store of the embedded default (``nfs://sim/<name>``)
is the directory ``<home>/<name>`` where ``<home>`` is the parent of the
simulator's state directory (``NIMBOSTACK_HOME`` by default), so the embedded
cloud keeps downloads under ``<home>/secondary``. Other URLs (a real NFS
export) are not mounted by the engine; :func:`store_dir` returns None for them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineError

# CloudStack's checksum convention: "{ALGO}hexdigest"; a bare digest is md5.
ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
CHUNK = 1024 * 1024
TIMEOUT_SECONDS = 60.0


class DownloadFailed(EngineError):
    """The image could not be fetched or failed its checksum; the message says
    why in words fit for the template's error text."""


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    hexdigest: str


def parse_checksum(text: str) -> Checksum | None:
    """``"{SHA256}ab12..."`` -> Checksum("sha256", "ab12..."); a bare hex digest
    is md5; empty -> None. Raises ValueError for an unknown algorithm or a
    digest of the wrong length or alphabet."""
    text = text.strip()
    if not text:
        return None
    algorithm = "md5"
    if text.startswith("{"):
        name, sep, rest = text[1:].partition("}")
        if not sep:
            raise ValueError(f"malformed checksum '{text}'")
        algorithm, text = name.strip().lower().replace("-", ""), rest.strip()
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unsupported checksum algorithm '{algorithm}'")
    digest = text.lower()
    expected = hashlib.new(algorithm).digest_size * 2
    if len(digest) != expected or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"a {algorithm} checksum has {expected} hex digits")
    return Checksum(algorithm, digest)


def check_url(url: str) -> str:
    """The scheme of a template URL if the engine can fetch it (http, https,
    file); ValueError otherwise."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise ValueError("the URL must be http://, https:// or file://")
    if scheme != "file" and not urllib.parse.urlsplit(url).hostname:
        raise ValueError("the URL has no host")
    return scheme


def store_dir(store_url: str, home: Path) -> Path | None:
    """The local directory of an image store, or None if it is not local."""
    parts = urllib.parse.urlsplit(store_url)
    if parts.scheme == "file":
        return Path(urllib.parse.unquote(parts.path))
    if not parts.scheme and store_url.startswith("/"):
        return Path(store_url)
    if parts.scheme == "nfs" and parts.hostname == "sim":
        name = parts.path.strip("/").replace("/", "_") or "secondary"
        return home / name
    return None


def template_path(root: Path, account_number: str, template_sid: str, fmt: str) -> Path:
    """Where a template's file lives in a store (CloudStack's layout:
    ``template/tmpl/<account>/<template>/``)."""
    return root / "template" / "tmpl" / account_number / template_sid / f"{template_sid}.{fmt.lower()}"


Progress = Callable[[int], None]


def download(url: str, dest: Path, checksum: Checksum | None,
             progress: Progress | None = None, *, timeout: float = TIMEOUT_SECONDS) -> int:
    """Fetch ``url`` into ``dest`` (through a temporary file renamed at the end)
    and return its size in bytes. ``progress`` gets whole percents (when the
    size is known) at most once per percent. Raises DownloadFailed, leaving no
    file behind."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    hasher = hashlib.new(checksum.algorithm) if checksum else None
    size = 0
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "nimbostack-ssvm"})
        with urllib.request.urlopen(request, timeout=timeout) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            last = -1
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                size += len(chunk)
                if hasher is not None:
                    hasher.update(chunk)
                if progress is not None and total:
                    percent = min(99, size * 100 // total)
                    if percent != last:
                        progress(percent)
                        last = percent
        if size == 0:
            raise DownloadFailed(f"the image at {url} is empty")
        if hasher is not None and checksum is not None and hasher.hexdigest() != checksum.hexdigest:
            raise DownloadFailed(
                f"checksum mismatch: expected {checksum.algorithm} {checksum.hexdigest}, "
                f"got {hasher.hexdigest()}")
        os.replace(part, dest)
    except urllib.error.HTTPError as exc:
        _discard(part)
        raise DownloadFailed(f"failed to download {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        _discard(part)
        reason = getattr(exc, "reason", None) or exc
        raise DownloadFailed(f"failed to download {url}: {reason}") from exc
    except DownloadFailed:
        _discard(part)
        raise
    return size


def copy_file(source: Path, dest: Path) -> int:
    """Copy an image file between stores; returns its size. DownloadFailed if
    the source is missing."""
    if not source.is_file():
        raise DownloadFailed(f"the source image {source.name} is missing")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        shutil.copyfile(source, part)
        os.replace(part, dest)
    except OSError as exc:
        _discard(part)
        raise DownloadFailed(f"failed to copy the image: {exc}") from exc
    return dest.stat().st_size


def remove(path: Path) -> None:
    """Delete a template file and its now-empty directory (idempotent)."""
    _discard(path)
    _discard(path.with_name(path.name + ".part"))
    try:
        path.parent.rmdir()
    except OSError:
        pass


def _discard(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
