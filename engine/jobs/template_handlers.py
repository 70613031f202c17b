"""What the template jobs do: fetch, create, copy and delete template files on
the zone's image store (secondary storage).

As with the other jobs, each reads in one transaction, does the slow work
(the download, the copy) outside any transaction and settles in another,
re-checking that the template's zone row still exists: a template deleted
while it downloads has its file removed again. A ``fail`` compensation puts
the zone row in Error with the reason in ``error_text`` and removes any
partial file. Image stores the engine cannot reach as a local directory (see
``engine.jobs.image_files.store_dir``) are not written to: the template then
becomes Ready without a file, as the simulator needs none.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import ResourceKind
from engine.jobs import image_files
from engine.jobs.image_files import DownloadFailed
from engine.jobs.queue import JobKind
from engine.models import Account, ImageStore, Job, Snapshot, Template, TemplateZone, Volume
from engine.services.events import record_event
from engine.states import SnapshotState, TemplateState

if TYPE_CHECKING:
    from engine.jobs.handlers import JobContext

log = logging.getLogger("nimbostack.jobs")

Handler = Callable[["JobContext", Job], dict[str, Any]]
Failure = Callable[["JobContext", Job, str], None]


@dataclass(frozen=True)
class _Placement:
    """A template's zone row, copied out of the transaction."""

    template_uuid: str
    zone_uuid: str
    store_uuid: str | None
    root: Path | None  # the store's local directory
    relative: str  # where the file goes, relative to ``root``


def _payload(job: Job) -> dict[str, Any]:
    return json.loads(job.payload or "{}")  # type: ignore[no-any-return]


def home_of(ctx: JobContext) -> Path:
    """The server's home: the parent of the simulator's state directory."""
    return Path(ctx.drivers.simulator_dir).parent


def _row(s: Session, template_uuid: str | None, zone_uuid: str, *,
         lock: bool = True) -> TemplateZone | None:
    stmt = select(TemplateZone).where(TemplateZone.template_uuid == template_uuid,
                                      TemplateZone.zone_uuid == zone_uuid)
    return s.scalar(stmt.with_for_update() if lock else stmt)


def _store_root(s: Session, store_uuid: str | None, home: Path) -> Path | None:
    store = s.get(ImageStore, store_uuid) if store_uuid else None
    return image_files.store_dir(store.url, home) if store is not None else None


def _placement(ctx: JobContext, s: Session, job: Job) -> _Placement | None:
    """The zone row this job works on if it still waits for its file."""
    zone_uuid = _payload(job)["zone_uuid"]
    tz = _row(s, job.resource_uuid, zone_uuid)
    t = s.get(Template, job.resource_uuid)
    if tz is None or t is None or t.removed_at is not None or \
            tz.state != TemplateState.DOWNLOADING:
        return None
    owner = s.get(Account, t.account_uuid)
    relative = image_files.template_path(Path(), owner.number if owner else "0", t.sid,
                                         t.format)
    return _Placement(t.uuid, zone_uuid, tz.image_store_uuid,
                      _store_root(s, tz.image_store_uuid, home_of(ctx)), str(relative))


def _progress(ctx: JobContext, p: _Placement) -> Callable[[int], None]:
    def report(percent: int) -> None:
        with ctx.tx() as s:
            tz = _row(s, p.template_uuid, p.zone_uuid)
            if tz is not None and tz.state == TemplateState.DOWNLOADING:
                tz.download_percent = percent
    return report


def _settle(ctx: JobContext, p: _Placement, size: int | None) -> dict[str, Any]:
    """Downloading -> Ready with the file's size (None: keep the template's).
    If the template went away meanwhile, remove the file again."""
    with ctx.tx() as s:
        tz = _row(s, p.template_uuid, p.zone_uuid)
        t = s.get(Template, p.template_uuid)
        if tz is None or t is None or t.removed_at is not None:
            gone = True
        else:
            gone = False
            tz.state, tz.download_percent, tz.error_text = TemplateState.READY, 100, ""
            tz.install_path = p.relative
            if size is not None:
                t.size_bytes = size
                store = s.get(ImageStore, p.store_uuid) if p.store_uuid else None
                if store is not None:
                    store.used_bytes += size
            record_event(s, None, "TEMPLATE.READY", f"Template {t.name} is ready",
                         ResourceKind.TEMPLATE, t.uuid, account_uuid=t.account_uuid)
    if gone and p.root is not None and size is not None:
        image_files.remove(p.root / p.relative)
        return {"skipped": True}
    return {"template_uuid": p.template_uuid, "zone_uuid": p.zone_uuid}


# ---------------------------------------------------------------- download
def run_download(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Fetch the template's URL into the zone's image store, checking its
    checksum; Downloading -> Ready with its size recorded."""
    with ctx.tx() as s:
        p = _placement(ctx, s, job)
        if p is None:
            return {"skipped": True}
        t = s.get(Template, p.template_uuid)
        assert t is not None
        url, checksum = t.url, image_files.parse_checksum(t.checksum)
    if p.root is None:
        return _settle(ctx, p, None)
    size = image_files.download(url, p.root / p.relative, checksum, _progress(ctx, p))
    return _settle(ctx, p, size)


def fail_zone(ctx: JobContext, job: Job, reason: str) -> None:
    """The zone's copy of the template goes to Error with ``reason``; any
    partial file is removed."""
    zone_uuid = _payload(job).get("zone_uuid", "")
    with ctx.tx() as s:
        p = _placement(ctx, s, job)
        tz = _row(s, job.resource_uuid, zone_uuid)
        if tz is not None and tz.state == TemplateState.DOWNLOADING:
            tz.state, tz.error_text = TemplateState.ERROR, reason[:255]
        t = s.get(Template, job.resource_uuid)
        if t is not None:
            record_event(s, None, "TEMPLATE.CREATE", f"Template {t.name} failed: {reason}"[:255],
                         ResourceKind.TEMPLATE, t.uuid, level="ERROR", account_uuid=t.account_uuid)
    if p is not None and p.root is not None:
        image_files.remove(p.root / p.relative)


# ------------------------------------------------------------------ create
def run_create(ctx: JobContext, job: Job) -> dict[str, Any]:
    """A template from a snapshot or a volume. No driver exports disks yet, so
    the template records its source (and size) and is Ready without a file
    once the source is confirmed to still exist."""
    payload = _payload(job)
    with ctx.tx() as s:
        p = _placement(ctx, s, job)
        if p is None:
            return {"skipped": True}
        if payload.get("snapshot_uuid"):
            snap = s.get(Snapshot, payload["snapshot_uuid"])
            if snap is None or snap.removed_at is not None or \
                    snap.state != SnapshotState.BACKED_UP:
                raise DownloadFailed("the source snapshot is no longer available")
        elif payload.get("volume_uuid"):
            v = s.get(Volume, payload["volume_uuid"])
            if v is None or v.removed_at is not None:
                raise DownloadFailed("the source volume is no longer available")
    return _settle(ctx, p, None)


# -------------------------------------------------------------------- copy
def run_copy(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Copy the source template's file from the source zone's store into this
    zone's store (nothing to copy if the source has no local file)."""
    payload = _payload(job)
    with ctx.tx() as s:
        p = _placement(ctx, s, job)
        if p is None:
            return {"skipped": True}
        src = _row(s, payload["source_template_uuid"], payload["source_zone_uuid"], lock=False)
        if src is None or src.state != TemplateState.READY:
            raise DownloadFailed("the source template is no longer ready")
        src_root = _store_root(s, src.image_store_uuid, home_of(ctx))
        source = src_root / src.install_path if src_root and src.install_path else None
    if p.root is None or source is None or not source.is_file():
        return _settle(ctx, p, None)
    size = image_files.copy_file(source, p.root / p.relative)
    return _settle(ctx, p, size)


# ------------------------------------------------------------------ delete
def run_delete(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Remove the deleted placements' files and give their space back to the
    image stores (idempotent: a missing file is fine)."""
    files = _payload(job).get("files", [])
    roots: dict[str, Path | None] = {}
    with ctx.tx() as s:
        for f in files:
            uuid = f.get("store_uuid")
            if uuid and uuid not in roots:
                roots[uuid] = _store_root(s, uuid, home_of(ctx))
    freed: dict[str, int] = {}
    for f in files:
        root = roots.get(f.get("store_uuid") or "")
        if root is not None and f.get("install_path"):
            path = root / f["install_path"]
            if path.is_file():
                freed[f["store_uuid"]] = freed.get(f["store_uuid"], 0) + path.stat().st_size
            image_files.remove(path)
    with ctx.tx() as s:
        for uuid, size in freed.items():
            store = s.get(ImageStore, uuid)
            if store is not None:
                store.used_bytes = max(0, store.used_bytes - size)
    return {"template_uuid": job.resource_uuid, "freed_bytes": sum(freed.values())}


def fail_delete(ctx: JobContext, job: Job, reason: str) -> None:
    """The template is already gone; record that files were left behind."""
    with ctx.tx() as s:
        record_event(s, None, "TEMPLATE.DELETE", f"Failed to delete template files: {reason}"[:255],
                     ResourceKind.TEMPLATE, job.resource_uuid, level="ERROR", account_uuid=job.account_uuid)


TEMPLATE_HANDLERS: dict[str, tuple[Handler, Failure]] = {
    JobKind.DOWNLOAD_TEMPLATE.value: (run_download, fail_zone),
    JobKind.CREATE_TEMPLATE.value: (run_create, fail_zone),
    JobKind.COPY_TEMPLATE.value: (run_copy, fail_zone),
    JobKind.DELETE_TEMPLATE.value: (run_delete, fail_delete),
}
