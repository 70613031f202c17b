"""The volume upload job: fetch an uploaded volume's file into the zone's image
store, then reserve pool capacity for its size and make the volume
Allocated (its disk is made when it is first attached).

As the template jobs, it reads in one transaction, downloads outside any, and
settles in another; a volume deleted meanwhile has its file removed again. A
failure puts the volume in Error and its file row in Error with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import EngineError, ResourceKind
from engine.jobs import image_files
from engine.jobs.queue import JobKind
from engine.jobs.template_handlers import home_of
from engine.models import Account, ImageStore, Job, Volume, VolumeFile
from engine.services.events import record_event
from engine.settings import Settings
from engine.states import VolumeState

if TYPE_CHECKING:
    from engine.jobs.handlers import JobContext

Handler = Callable[["JobContext", Job], dict[str, Any]]
Failure = Callable[["JobContext", Job, str], None]
DOWNLOADING, UPLOADED, ERROR = "Downloading", "Uploaded", "Error"


@dataclass(frozen=True)
class _Upload:
    volume_uuid: str
    url: str
    checksum: str
    store_uuid: str | None
    root: Path | None
    relative: str


def volume_path(account_number: str, volume_sid: str, fmt: str) -> Path:
    """Where an uploaded volume's file lives in a store (``volumes/<account>/<volume>/``)."""
    return Path("volumes") / account_number / volume_sid / f"{volume_sid}.{fmt.lower()}"


def _pending(ctx: JobContext, job: Job) -> _Upload | None:
    with ctx.tx() as s:
        v = s.get(Volume, job.resource_uuid)
        f = s.get(VolumeFile, job.resource_uuid, with_for_update=True)
        if v is None or f is None or v.removed_at is not None or f.state != DOWNLOADING:
            return None
        owner = s.get(Account, v.account_uuid)
        store = s.get(ImageStore, f.image_store_uuid) if f.image_store_uuid else None
        root = image_files.store_dir(store.url, home_of(ctx)) if store is not None else None
        relative = volume_path(owner.number if owner else "0", v.sid, f.format)
        return _Upload(v.uuid, f.url, f.checksum, f.image_store_uuid, root, str(relative))


def run_upload(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Download, then settle: size recorded, capacity reserved, Allocated."""
    up = _pending(ctx, job)
    if up is None:
        return {"skipped": True}
    if up.root is None:
        raise image_files.DownloadFailed("the zone's image store is not reachable")

    def progress(percent: int) -> None:
        with ctx.tx() as s:
            f = s.get(VolumeFile, up.volume_uuid)
            if f is not None and f.state == DOWNLOADING:
                f.download_percent, f.updated_at = percent, utcnow()

    path = up.root / up.relative
    size = image_files.download(up.url, path, image_files.parse_checksum(up.checksum), progress)
    gone = False
    with ctx.tx() as s:
        v = s.get(Volume, up.volume_uuid, with_for_update=True)
        f = s.get(VolumeFile, up.volume_uuid, with_for_update=True)
        if v is None or f is None or v.removed_at is not None:
            gone = True
        else:
            v.size_bytes = max(size, _virtual_size(path))
            v.pool_uuid = StorageAllocator(s, Settings(s)).reserve(v.zone_uuid, v.size_bytes)
            v.state = VolumeState.ALLOCATED
            f.state, f.download_percent, f.install_path = UPLOADED, 100, up.relative
            f.size_bytes, f.error_text, f.updated_at = size, "", utcnow()
            store = s.get(ImageStore, up.store_uuid) if up.store_uuid else None
            if store is not None:
                store.used_bytes += size
            record_event(s, None, "VOLUME.UPLOAD", f"Volume {v.name} is uploaded",
                         ResourceKind.VOLUME, v.uuid, account_uuid=v.account_uuid)
    if gone:
        image_files.remove(path)
        return {"skipped": True}
    return {"volume_uuid": up.volume_uuid, "size_bytes": size}


def fail_upload(ctx: JobContext, job: Job, reason: str) -> None:
    """The volume goes to Error (its file row too, with the reason); any
    partial file is removed."""
    up = None
    try:
        up = _pending(ctx, job)
    except EngineError:
        pass
    with ctx.tx() as s:
        v = s.get(Volume, job.resource_uuid, with_for_update=True)
        f = s.get(VolumeFile, job.resource_uuid, with_for_update=True)
        if f is not None and f.state == DOWNLOADING:
            f.state, f.error_text, f.updated_at = ERROR, reason[:255], utcnow()
        if v is not None and v.removed_at is None and v.state == VolumeState.CREATING:
            v.state = VolumeState.ERROR
            record_event(s, None, "VOLUME.UPLOAD", f"Upload of volume {v.name} failed: "
                         f"{reason}"[:255], ResourceKind.VOLUME, v.uuid, level="ERROR",
                         account_uuid=v.account_uuid)
    if up is not None and up.root is not None:
        image_files.remove(up.root / up.relative)


def _virtual_size(path: Path) -> int:
    """A qcow2 image's virtual size (header bytes 24..31), else 0."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(32)
    except OSError:
        return 0
    if len(head) == 32 and head[:4] == b"QFI\xfb":
        return int.from_bytes(head[24:32], "big")
    return 0


TRANSFER_HANDLERS: dict[str, tuple[Handler, Failure]] = {
    JobKind.UPLOAD_VOLUME.value: (run_upload, fail_upload),
}
