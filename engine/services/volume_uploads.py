"""Direct uploads of a volume's content: a signed, expiring POST ticket.

:meth:`VolumeUploadService.prepare` makes a data volume in state Creating with
a :class:`~engine.models.VolumeFile` row waiting for its content (state
``NotUploaded``, no pool capacity held) and issues a ticket: ``metadata`` (an
opaque base64url text naming the volume and format), ``expires`` (epoch
seconds) and ``signature``, an HMAC-SHA256 of ``"<volume uuid>.<metadata>.<expires>"``
under a key derived from the servers' shared session secret, so any server
can check it and nobody can forge or extend it.

The HTTP side (a front end's POST route) then calls :meth:`begin` (checks the
ticket, marks the file ``UploadInProgress`` so a ticket is used once, and says
where to write), streams the body into that path outside any transaction,
and calls :meth:`finish` (the size is recorded, capacity reserved on a pool of
the zone, the volume Allocated and its file Uploaded, exactly as after
``uploadVolume``'s download) or :meth:`abort` (volume and file Error; the
caller removes the partial file). A failed upload holds no capacity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import InvalidParameter, MissingParameter, NotFound, ResourceKind
from engine.ids import new_uuid
from engine.jobs import image_files
from engine.jobs.transfer_handlers import volume_path
from engine.models import Account, DiskOffering, ImageStore, Volume, VolumeFile, Zone
from engine.principal import Principal
from engine.services.events import record_event
from engine.services.settings import Settings
from engine.services.volume_queries import by_ident
from engine.services.volume_transfers import UPLOAD_FORMATS
from engine.settings import SESSION_SECRET
from engine.states import VolumeKind, VolumeState

TICKET_SECONDS = 3600  # how long a POST ticket is valid
NOT_UPLOADED, IN_PROGRESS, UPLOADED, ERROR = (
    "NotUploaded", "UploadInProgress", "Uploaded", "Error")
_KEY_LABEL = b"nimbostack volume post upload"


@dataclass(frozen=True)
class PostUploadRequest:
    """A volume to be filled by a direct POST (``format`` as for uploadVolume)."""

    name: str
    format: str
    zone_uuid: str
    checksum: str = ""
    disk_offering_uuid: str | None = None


@dataclass(frozen=True)
class PostTicket:
    """What a client needs to POST the content of volume ``volume_uuid``."""

    volume_uuid: str
    metadata: str
    expires: int
    signature: str


@dataclass(frozen=True)
class UploadTarget:
    """Where :meth:`VolumeUploadService.begin` wants the content written."""

    volume_uuid: str
    path: Path
    checksum: image_files.Checksum | None


class VolumeUploadService:
    def __init__(self, session: Session, settings: Settings, home: Path) -> None:
        self._s = session
        self._settings = settings
        self._home = home

    # ------------------------------------------------------------- prepare
    def prepare(self, principal: Principal, req: PostUploadRequest, *,
                now: float | None = None) -> tuple[Volume, PostTicket]:
        """A new data volume of the caller waiting for a POST, and its ticket.
        Raises MissingParameter (name), InvalidParameter (format, checksum) and
        NotFound (zone, disk offering; no image store in the zone)."""
        if not req.name.strip():
            raise MissingParameter("name")
        fmt = (req.format or "").upper()
        if fmt not in UPLOAD_FORMATS:
            raise InvalidParameter("format", req.format,
                                   f"must be one of {', '.join(UPLOAD_FORMATS)}")
        try:
            image_files.parse_checksum(req.checksum)
        except ValueError as exc:
            raise InvalidParameter("checksum", req.checksum, str(exc)) from None
        zone = self._s.scalar(select(Zone).where(by_ident(Zone.uuid, Zone.sid, req.zone_uuid)))
        if zone is None or zone.removed_at is not None:
            raise NotFound(ResourceKind.ZONE, req.zone_uuid)
        offering = None
        if req.disk_offering_uuid:
            offering = self._s.scalar(select(DiskOffering).where(by_ident(
                DiskOffering.uuid, DiskOffering.sid, req.disk_offering_uuid)))
            if offering is None or not offering.active:
                raise NotFound(ResourceKind.DISK_OFFERING, req.disk_offering_uuid)
        store = self._s.scalar(select(ImageStore.uuid).where(
            ImageStore.zone_uuid == zone.uuid, ImageStore.removed_at.is_(None))
            .order_by(ImageStore.created_at).limit(1))
        if store is None:
            raise NotFound(ResourceKind.IMAGE_STORE, zone.uuid)
        v = Volume(uuid=new_uuid(), name=req.name[:255], account_uuid=principal.account_uuid,
                   zone_uuid=zone.uuid, pool_uuid=None, kind=VolumeKind.DATADISK,
                   size_bytes=0, state=VolumeState.CREATING,
                   disk_offering_uuid=offering.uuid if offering else None,
                   delete_on_termination=False, created_at=utcnow())
        self._s.add(v)
        self._s.flush()
        self._s.add(VolumeFile(volume_uuid=v.uuid, image_store_uuid=store, url="",
                               format=fmt, checksum=req.checksum[:255], state=NOT_UPLOADED))
        record_event(self._s, principal, "VOLUME.UPLOAD", f"Waiting for the upload of volume "
                     f"{v.name}", ResourceKind.VOLUME, v.uuid, account_uuid=v.account_uuid)
        metadata = base64.urlsafe_b64encode(json.dumps(
            {"id": v.uuid, "format": fmt}).encode()).rstrip(b"=").decode()
        expires = int(time.time() if now is None else now) + TICKET_SECONDS
        key = self._key(create=True)
        assert key is not None
        self._s.flush()
        return v, PostTicket(v.uuid, metadata, expires, _sign(key, v.uuid, metadata, expires))

    # --------------------------------------------------------------- upload
    def begin(self, volume_uuid: str, metadata: str, expires: int, signature: str, *,
              now: float | None = None) -> UploadTarget | None:
        """Check a ticket and claim its volume for one upload; where to write.

        None when the ticket is forged, expired or for another volume, or the
        volume is gone or no longer waiting (never says which)."""
        key = self._key(create=False)
        if key is None or expires < (time.time() if now is None else now) or \
                not hmac.compare_digest(signature, _sign(key, volume_uuid, metadata, expires)):
            return None
        v = self._s.scalar(select(Volume).where(Volume.uuid == volume_uuid).with_for_update())
        f = self._s.get(VolumeFile, volume_uuid, with_for_update=True)
        if v is None or f is None or v.removed_at is not None or f.state != NOT_UPLOADED:
            return None
        store = self._s.get(ImageStore, f.image_store_uuid) if f.image_store_uuid else None
        root = image_files.store_dir(store.url, self._home) if store is not None else None
        if root is None:
            return None
        owner = self._s.get(Account, v.account_uuid)
        relative = volume_path(owner.number if owner else "0", v.sid, f.format)
        f.state, f.install_path, f.updated_at = IN_PROGRESS, str(relative), utcnow()
        return UploadTarget(v.uuid, root / relative, image_files.parse_checksum(f.checksum))

    def finish(self, volume_uuid: str, size: int) -> Volume:
        """Settle a written upload of ``size`` bytes: the volume is Allocated on
        a pool with room (InsufficientCapacity otherwise: call :meth:`abort`)."""
        v = self._s.scalar(select(Volume).where(Volume.uuid == volume_uuid).with_for_update())
        f = self._s.get(VolumeFile, volume_uuid, with_for_update=True)
        if v is None or f is None or v.removed_at is not None or f.state != IN_PROGRESS:
            raise NotFound(ResourceKind.VOLUME, volume_uuid)
        path = self._path(f)
        v.size_bytes = max(size, qcow2_virtual_size(path) if path else 0)
        v.pool_uuid = StorageAllocator(self._s, self._settings).reserve(v.zone_uuid, v.size_bytes)
        v.state = VolumeState.ALLOCATED
        f.state, f.download_percent, f.size_bytes = UPLOADED, 100, size
        f.error_text, f.updated_at = "", utcnow()
        store = self._s.get(ImageStore, f.image_store_uuid) if f.image_store_uuid else None
        if store is not None:
            store.used_bytes += size
        record_event(self._s, None, "VOLUME.UPLOAD", f"Volume {v.name} is uploaded",
                     ResourceKind.VOLUME, v.uuid, account_uuid=v.account_uuid)
        self._s.flush()
        return v

    def abort(self, volume_uuid: str, reason: str) -> Path | None:
        """The upload failed: volume and file go to Error. Returns the file's
        path (for the caller to remove), if known."""
        v = self._s.scalar(select(Volume).where(Volume.uuid == volume_uuid).with_for_update())
        f = self._s.get(VolumeFile, volume_uuid, with_for_update=True)
        if f is None:
            return None
        path = self._path(f)
        if f.state in (NOT_UPLOADED, IN_PROGRESS):
            f.state, f.error_text, f.updated_at = ERROR, reason[:255], utcnow()
        if v is not None and v.removed_at is None and v.state == VolumeState.CREATING:
            v.state = VolumeState.ERROR
            record_event(self._s, None, "VOLUME.UPLOAD", f"Upload of volume {v.name} failed: "
                         f"{reason}"[:255], ResourceKind.VOLUME, v.uuid, level="ERROR",
                         account_uuid=v.account_uuid)
        return path

    # -------------------------------------------------------------- helpers
    def _path(self, f: VolumeFile) -> Path | None:
        store = self._s.get(ImageStore, f.image_store_uuid) if f.image_store_uuid else None
        root = image_files.store_dir(store.url, self._home) if store is not None else None
        return root / f.install_path if root is not None and f.install_path else None

    def _key(self, *, create: bool) -> bytes | None:
        secret = self._settings.secret(SESSION_SECRET, create=create)
        return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest() if secret else None


def store_content(target: UploadTarget, stream: IO[bytes], chunk: int = 1024 * 1024) -> int:
    """Write ``stream`` to the target's path (through a temporary file renamed at
    the end) and return its size; checks the ticket's checksum, if any. Raises
    InvalidParameter (empty, checksum mismatch), leaving no file behind."""
    target.path.parent.mkdir(parents=True, exist_ok=True)
    part = target.path.with_name(target.path.name + ".part")
    hasher = hashlib.new(target.checksum.algorithm) if target.checksum else None
    size = 0
    try:
        with open(part, "wb") as out:
            while data := stream.read(chunk):
                out.write(data)
                size += len(data)
                if hasher is not None:
                    hasher.update(data)
        if size == 0:
            raise InvalidParameter("file", "", "the uploaded file is empty")
        if hasher is not None and target.checksum is not None and (
                hasher.hexdigest() != target.checksum.hexdigest.lower()):
            raise InvalidParameter("checksum", target.checksum.hexdigest,
                                   f"does not match the upload ({hasher.hexdigest()})")
        os.replace(part, target.path)
    except BaseException:
        image_files.remove(part)
        raise
    return size


def discard(path: Path | None) -> None:
    """Remove a (partial) upload; a missing file is fine."""
    if path is not None:
        image_files.remove(path)
        image_files.remove(path.with_name(path.name + ".part"))


def _sign(key: bytes, volume_uuid: str, metadata: str, expires: int) -> str:
    digest = hmac.new(key, f"{volume_uuid}.{metadata}.{expires}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def qcow2_virtual_size(path: Path) -> int:
    """A qcow2 image's virtual size (header bytes 24..31), else 0."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(32)
    except OSError:
        return 0
    if len(head) == 32 and head[:4] == b"QFI\xfb":
        return int.from_bytes(head[24:32], "big")
    return 0
