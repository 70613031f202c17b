"""Extracting templates, ISOs and volumes: signed, expiring download tickets
for a file the engine keeps on an image store.

An extract is done within the request: the checks run, a ticket is issued and
recorded in an already finished job (its result holds the ticket), and the
front end serves the file behind the ticket's token. A token is
``<kind>.<uuid>.<expires>.<mac>`` where ``mac`` is an HMAC-SHA256 of the
first three parts under a key derived from the servers' shared session secret,
so any server can check it and nobody can forge or extend it. Only files the
engine holds locally can be extracted: a template's (or ISO's) download in a
local image store, or an uploaded volume's file; anything else is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, NotFound, PermissionDenied, ResourceKind
from engine.jobs import image_files, queue
from engine.models import (
    ImageStore,
    Instance,
    Job,
    Template,
    TemplateZone,
    Volume,
    VolumeFile,
    Zone,
)
from engine.principal import Principal
from engine.services.access import may_act
from engine.services.events import record_event
from engine.services.template_access import visible_template
from engine.services.volume_queries import by_ident
from engine.settings import SESSION_SECRET, Settings
from engine.states import TemplateState, VmState

TICKET_SECONDS = 4 * 3600  # CloudStack's extract.url.expiration.interval default
_KEY_LABEL = b"nimbostack extract download"
UPLOADED = "Uploaded"


class ExtractKind(str, Enum):
    TEMPLATE = "template"
    ISO = "iso"
    VOLUME = "volume"


@dataclass(frozen=True)
class ExtractTicket:
    """What was extracted and the token that downloads it until ``expires``
    (epoch seconds). Stored as the extract job's result."""

    kind: str
    uuid: str
    name: str
    zone_uuid: str
    zone_name: str
    account_uuid: str
    token: str
    expires: int
    created: int


@dataclass(frozen=True)
class DownloadFile:
    path: Path
    filename: str
    size: int


def ticket_of(result: dict[str, object]) -> ExtractTicket | None:
    """The ticket recorded in an extract job's result, if it is one."""
    try:
        return ExtractTicket(**{k: result[k] for k in ExtractTicket.__dataclass_fields__})  # type: ignore[arg-type]
    except (KeyError, TypeError):
        return None


class ExtractService:
    def __init__(self, session: Session, home: Path) -> None:
        self._s = session
        self._home = home

    # -------------------------------------------------------------- extract
    def extract_template(self, principal: Principal, ident: str, zone_uuid: str | None = None,
                         *, iso: bool = False, command: str = "") -> tuple[ExtractTicket, Job]:
        """A ticket for the template's (``iso``: the ISO's) file. Raises
        NotFound, InvalidParameter (wrong kind; not in the zone; no stored
        file) and PermissionDenied (not extractable, for callers other than
        root admins)."""
        t = visible_template(self._s, principal, ident)
        if (t.format == "ISO") != iso:
            raise InvalidParameter("id", ident, "please specify a valid " +
                                   ("ISO" if iso else "template"))
        if not t.is_extractable and not principal.is_root_admin:
            raise PermissionDenied("extract it as it is not extractable",
                                   ResourceKind.TEMPLATE, ident)
        stmt = select(TemplateZone).where(TemplateZone.template_uuid == t.uuid,
                                          TemplateZone.state == TemplateState.READY)
        if zone_uuid:
            stmt = stmt.where(TemplateZone.zone_uuid == zone_uuid)
        placements = list(self._s.scalars(stmt.order_by(TemplateZone.created_at)))
        found = next((p for p in placements
                      if self._file(p.image_store_uuid, p.install_path) is not None), None)
        if found is None:
            raise InvalidParameter("id", ident, "the image has no stored file to extract" +
                                   (" in that zone" if zone_uuid else ""))
        kind = ExtractKind.ISO if iso else ExtractKind.TEMPLATE
        return self._issue(principal, kind, t.uuid, t.name, found.zone_uuid, t.account_uuid,
                           command)

    def extract_volume(self, principal: Principal, ident: str, zone_uuid: str | None = None,
                       *, command: str = "") -> tuple[ExtractTicket, Job]:
        """A ticket for an uploaded volume's file. The volume must be detached
        or its instance Stopped. Raises NotFound, InvalidParameter (state,
        zone, no stored file) and PermissionDenied (a root volume of a
        template that is not extractable)."""
        v = self._s.scalar(select(Volume).where(by_ident(Volume.uuid, Volume.sid, ident)))
        if v is None or v.removed_at is not None or not may_act(self._s, principal,
                                                                 v.account_uuid):
            raise NotFound(ResourceKind.VOLUME, ident)
        if zone_uuid and v.zone_uuid != zone_uuid:
            raise InvalidParameter("zoneid", zone_uuid, "the volume is in another zone")
        if v.instance_uuid:
            inst = self._s.get(Instance, v.instance_uuid)
            if inst is not None and inst.state != VmState.STOPPED:
                raise InvalidParameter("id", ident, "the volume must be detached or its "
                                       "instance stopped")
        if v.template_uuid and not principal.is_root_admin:
            t = self._s.get(Template, v.template_uuid)
            if t is not None and not t.is_extractable:
                raise PermissionDenied("extract it as it is not extractable",
                                       ResourceKind.VOLUME, ident)
        f = self._s.get(VolumeFile, v.uuid)
        if f is None or f.state != UPLOADED or self._file(f.image_store_uuid,
                                                          f.install_path) is None:
            raise InvalidParameter("id", ident, "the volume has no stored file to extract")
        return self._issue(principal, ExtractKind.VOLUME, v.uuid, v.name, v.zone_uuid,
                           v.account_uuid, command)

    # ------------------------------------------------------------- download
    def resolve(self, token: str, *, now: float | None = None) -> DownloadFile | None:
        """The file behind a valid, unexpired token whose object still
        exists; None otherwise (never says which check failed)."""
        parts = token.split(".")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        kind, uuid, expires, mac = parts
        if int(expires) < (time.time() if now is None else now):
            return None
        key = self._key(create=False)
        if key is None or not hmac.compare_digest(mac, _mac(key, kind, uuid, int(expires))):
            return None
        if kind == ExtractKind.VOLUME.value:
            v = self._s.get(Volume, uuid)
            f = self._s.get(VolumeFile, uuid)
            if v is None or v.removed_at is not None or f is None or f.state != UPLOADED:
                return None
            path = self._file(f.image_store_uuid, f.install_path)
            name = f"{v.name}.{f.format.lower()}"
        elif kind in (ExtractKind.TEMPLATE.value, ExtractKind.ISO.value):
            t = self._s.get(Template, uuid)
            if t is None or t.removed_at is not None:
                return None
            path = None
            for p in self._s.scalars(select(TemplateZone).where(
                    TemplateZone.template_uuid == uuid, TemplateZone.state == TemplateState.READY)):
                path = self._file(p.image_store_uuid, p.install_path)
                if path is not None:
                    break
            name = f"{t.name}.{t.format.lower()}"
        else:
            return None
        if path is None:
            return None
        return DownloadFile(path, _safe_name(name), path.stat().st_size)

    # -------------------------------------------------------------- helpers
    def _file(self, store_uuid: str | None, relative: str) -> Path | None:
        store = self._s.get(ImageStore, store_uuid) if store_uuid else None
        root = image_files.store_dir(store.url, self._home) if store is not None else None
        if root is None or not relative:
            return None
        path = root / relative
        return path if path.is_file() else None

    def _key(self, *, create: bool) -> bytes | None:
        secret = Settings(self._s).secret(SESSION_SECRET, create=create)
        return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest() if secret else None

    def _issue(self, principal: Principal, kind: ExtractKind, uuid: str, name: str,
               zone_uuid: str, account_uuid: str, command: str) -> tuple[ExtractTicket, Job]:
        key = self._key(create=True)
        assert key is not None
        now = int(time.time())
        expires = now + TICKET_SECONDS
        token = f"{kind.value}.{uuid}.{expires}.{_mac(key, kind.value, uuid, expires)}"
        zone = self._s.get(Zone, zone_uuid)
        ticket = ExtractTicket(kind.value, uuid, name, zone_uuid, zone.name if zone else "",
                               account_uuid, token, expires, now)
        resource = ResourceKind.VOLUME if kind is ExtractKind.VOLUME else ResourceKind.TEMPLATE
        record_event(self._s, principal, f"{kind.value.upper()}.EXTRACT",
                     f"Extracted {kind.value} {name}", resource, uuid, account_uuid=account_uuid)
        job = queue.completed(self._s, principal, resource_kind=resource, resource_uuid=uuid,
                              result=asdict(ticket), command=command)
        self._s.flush()
        return ticket, job


def _mac(key: bytes, kind: str, uuid: str, expires: int) -> str:
    digest = hmac.new(key, f"{kind}.{uuid}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "download"
