"""Template (image) management: register from a URL, create from a snapshot or
a volume, copy, update, delete. Sharing lives in ``template_permissions``.

Every template is present per zone through a :class:`TemplateZone` row whose
state goes Downloading -> Ready (or Error, with ``error_text``); the work is
done by jobs (``engine/jobs/template_handlers.py``), one per zone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import (
    ConflictingParameters,
    Duplicate,
    IncorrectState,
    InvalidParameter,
    MissingParameter,
    NotFound,
    PermissionDenied,
    ResourceKind,
)
from engine.jobs.image_files import check_url, parse_checksum
from engine.jobs.queue import JobKind, enqueue
from engine.models import (
    Cluster,
    ImageStore,
    Instance,
    Job,
    OsType,
    Snapshot,
    Template,
    TemplateZone,
    Volume,
    Zone,
)
from engine.principal import Principal
from engine.services.access import may_act, owner_account
from engine.services.events import record_event
from engine.services.resource_limits import Resource, enforce
from engine.services.settings import Settings
from engine.services.snapshot_permissions import usable_snapshot
from engine.services.snapshots import SNAPSHOTTABLE, SnapshotService
from engine.services.tags import apply_tags
from engine.services.template_access import owned_template, visible_template
from engine.services.template_permissions import TemplatePermissionService
from engine.services.volumes import is_idle
from engine.states import SnapshotState, TemplateState, VmState, VolumeKind, VolumeState

BOOT_KEYS = ("kernel", "initrd", "cmdline")
FORMATS = ("QCOW2", "RAW", "VHD", "VHDX", "OVA", "VMDK", "ISO", "TAR")
_SUFFIX_FORMATS = {".qcow2": "QCOW2", ".img": "RAW", ".raw": "RAW", ".vhd": "VHD",
                   ".vhdx": "VHDX", ".ova": "OVA", ".vmdk": "VMDK", ".iso": "ISO"}
DEFAULT_OS = "Other Linux (64-bit)"
# Volume states a template may be made from.
_IMAGEABLE = (VolumeState.READY, VolumeState.SNAPSHOTTING)


@dataclass(frozen=True)
class TemplateRequest:
    """What a new template is. ``zone_uuids`` empty: every zone. ``hypervisor``
    None: that of the zone's first cluster. ``os_type_uuid`` None: Other Linux.
    ``details`` may hold kernel/initrd/cmdline (direct boot) and free keys."""

    name: str
    display_text: str = ""
    url: str = ""
    format: str | None = None
    hypervisor: str | None = None
    os_type_uuid: str | None = None
    zone_uuids: tuple[str, ...] = ()
    checksum: str = ""
    is_public: bool = False
    is_featured: bool = False
    password_enabled: bool = False
    is_extractable: bool = False
    arch: str = "x86_64"
    details: Mapping[str, str] = field(default_factory=dict)
    account_uuid: str | None = None  # make it for this account (admins)
    unique_name: bool = False  # refuse a name the owner already uses (Duplicate)


@dataclass(frozen=True)
class BackingSnapshot:
    """Make, along with a template, a snapshot of what it is made from (the
    template records it as its source snapshot). ``describe(template,
    source_sid)`` gives the snapshot's description; ``source_sid`` is the sid of
    the volume (or snapshot) the snapshot is taken from. ``tags`` go on it."""

    describe: Callable[[Template, str], str]
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TemplateUpdate:
    """Fields to change; None leaves a field as it is. ``details`` merges into
    the present details unless ``clean_details``."""

    name: str | None = None
    display_text: str | None = None
    os_type_uuid: str | None = None
    format: str | None = None
    password_enabled: bool | None = None
    arch: str | None = None
    details: Mapping[str, str] | None = None
    clean_details: bool = False


def split_details(details: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(boot_spec JSON, details JSON) of a details map: kernel/initrd/cmdline
    go to the boot spec, other keys to the free-form details."""
    low = {k.lower(): v for k, v in details.items()}
    boot = {k: low[k] for k in BOOT_KEYS if low.get(k)}
    rest = {k: v for k, v in details.items() if k.lower() not in BOOT_KEYS}
    return (json.dumps(boot) if boot else None), (json.dumps(rest) if rest else None)


def format_of(url: str, given: str | None) -> str:
    """The disk format: ``given`` (checked), else guessed from the URL's suffix."""
    if given:
        fmt = given.upper()
        if fmt not in FORMATS:
            raise InvalidParameter("format", given, f"must be one of {', '.join(FORMATS)}")
        return fmt
    path = url.split("?", 1)[0].lower()
    for suffix, fmt in _SUFFIX_FORMATS.items():
        if path.endswith((suffix, suffix + ".gz", suffix + ".bz2")):
            return fmt
    return "QCOW2"


class TemplateService:
    def __init__(self, session: Session) -> None:
        self._s = session
        self.permissions = TemplatePermissionService(session)

    # -------------------------------------------------------------- register
    def register(self, principal: Principal, req: TemplateRequest,
                 *, command: str = "") -> tuple[Template, list[Job]]:
        """A new template fetched from ``req.url`` into each zone's image store.

        Raises MissingParameter/InvalidParameter (url, checksum, format, name),
        NotFound (zone, OS type, account) and PermissionDenied (featured by a
        non-admin)."""
        if not req.url:
            raise MissingParameter("url")
        try:
            check_url(req.url)
            parse_checksum(req.checksum)
        except ValueError as exc:
            name = "checksum" if req.checksum and "checksum" in str(exc) else "url"
            raise InvalidParameter(name, req.checksum if name == "checksum" else req.url,
                                   str(exc)) from None
        zones = self._zones(req.zone_uuids)
        t = self._new(principal, req, zones[0], size_bytes=0)
        jobs = [self._place(principal, t, z, JobKind.DOWNLOAD_TEMPLATE, {}, command)
                for z in zones]
        record_event(self._s, principal, "TEMPLATE.CREATE", f"Registered template {t.name}",
                     ResourceKind.TEMPLATE, t.uuid, account_uuid=t.account_uuid)
        self._s.flush()
        return t, jobs

    # ---------------------------------------------------------------- create
    def create_from_snapshot(self, principal: Principal, snapshot_ident: str,
                             req: TemplateRequest, *, command: str = "",
                             size_bytes: int | None = None,
                             root_device_name: str | None = None) -> tuple[Template, Job]:
        """A template of the caller's with the content of a BackedUp snapshot it
        owns or that is shared with it (``usable_snapshot``), in its zone, of
        ``size_bytes`` (its root disk's size; default and minimum the
        snapshot's) and with ``root_device_name`` (if given).

        Raises NotFound (snapshot, OS type), IncorrectState (snapshot not
        BackedUp), InvalidParameter (``root_size``: smaller than the snapshot)."""
        # Its own, or one shared with its account (as for a volume).
        snap = usable_snapshot(self._s, principal, snapshot_ident)
        if snap.state != SnapshotState.BACKED_UP:
            raise IncorrectState(ResourceKind.SNAPSHOT, snapshot_ident, snap.state,
                                 (SnapshotState.BACKED_UP,))
        if size_bytes is not None and size_bytes < snap.size_bytes:
            raise InvalidParameter("root_size", str(size_bytes),
                                   f"smaller than the snapshot ({snap.size_bytes} bytes)")
        zone = self._zones((snap.zone_uuid,))[0]
        volume = self._s.get(Volume, snap.volume_uuid)
        parent = self._parent_template(volume)
        t = self._new(principal, self._inherit(req, parent), zone,
                      size_bytes=size_bytes or snap.size_bytes)
        t.source_snapshot_uuid = snap.uuid
        if root_device_name:
            t.root_device_name = root_device_name[:32]
        job = self._place(principal, t, zone, JobKind.CREATE_TEMPLATE,
                          {"snapshot_uuid": snap.uuid}, command)
        self._created_event(principal, t)
        return t, job

    def create_from_volume(self, principal: Principal, volume_ident: str, req: TemplateRequest,
                           *, allow_running: bool = False,
                           command: str = "") -> tuple[Template, Job]:
        """A template with the content of a volume whose disk exists. A volume
        attached to an instance needs the instance Stopped unless
        ``allow_running`` (a crash-consistent image).

        Raises NotFound (volume), IncorrectState (volume neither Ready nor
        being snapshotted; instance running) and InvalidParameter."""
        v = self._s.scalar(select(Volume).where(
            (Volume.uuid == volume_ident) | (Volume.sid == volume_ident)))
        if v is None or v.removed_at is not None or not may_act(
                self._s, principal, v.account_uuid):
            raise NotFound(ResourceKind.VOLUME, volume_ident)
        # A snapshot being taken only reads the disk, as the template job does.
        if v.state not in _IMAGEABLE or not v.path:
            raise IncorrectState(ResourceKind.VOLUME, volume_ident, v.state, _IMAGEABLE)
        inst = self._s.get(Instance, v.instance_uuid) if v.instance_uuid else None
        allowed = {VmState.STOPPED} | ({VmState.RUNNING} if allow_running else set())
        if inst is not None and inst.state not in allowed:
            raise IncorrectState(ResourceKind.INSTANCE, inst.uuid, inst.state, allowed)
        zone = self._zones((v.zone_uuid,))[0]
        parent = self._parent_template(v)
        hypervisor = inst.hypervisor if inst is not None else None
        t = self._new(principal, self._inherit(req, parent, hypervisor), zone,
                      size_bytes=v.size_bytes)
        job = self._place(principal, t, zone, JobKind.CREATE_TEMPLATE,
                          {"volume_uuid": v.uuid}, command)
        self._created_event(principal, t)
        return t, job

    def create_from_instance(self, principal: Principal, instance_ident: str,
                             req: TemplateRequest, *, allow_running: bool = True,
                             command: str = "",
                             backing: BackingSnapshot | None = None) -> tuple[Template, Job]:
        """:meth:`create_from_volume` on the root volume of an instance; with
        ``backing`` also a snapshot of that volume (queued behind the volume's
        earlier snapshots), unless the volume is busy with other work: the
        template then has no source snapshot. What ``SnapshotService.create``
        raises otherwise undoes the whole request."""
        inst = self._s.scalar(select(Instance).where(
            (Instance.uuid == instance_ident) | (Instance.sid == instance_ident)))
        if inst is None or inst.removed_at is not None or not may_act(
                self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, instance_ident)
        root = self._s.scalar(select(Volume).where(
            Volume.instance_uuid == inst.uuid, Volume.kind == VolumeKind.ROOT,
            Volume.removed_at.is_(None)))
        if root is None or not root.path or inst.state not in (VmState.RUNNING, VmState.STOPPED):
            raise IncorrectState(ResourceKind.INSTANCE, instance_ident, inst.state,
                                 (VmState.RUNNING, VmState.STOPPED))
        take_backing = backing is not None and is_idle(self._s, root, SNAPSHOTTABLE)
        t, job = self.create_from_volume(principal, root.uuid, req,
                                         allow_running=allow_running, command=command)
        if backing is not None and take_backing:
            snap, _ = self._snapshots().create(
                principal, root.uuid, description=backing.describe(t, root.sid),
                tags=backing.tags, command=command)
            t.source_snapshot_uuid = snap.uuid
            self._s.flush()
        return t, job

    def _snapshots(self) -> SnapshotService:
        return SnapshotService(self._s, Settings(self._s))

    def _copy_backing(self, principal: Principal, src: Template, t: Template,
                      backing: BackingSnapshot, command: str) -> None:
        """Copy ``src``'s source snapshot for ``t`` when there is one the
        caller may see and it is BackedUp (nothing to copy otherwise)."""
        snap = self._s.get(Snapshot, src.source_snapshot_uuid or "")
        if snap is None or snap.removed_at is not None \
                or snap.state != SnapshotState.BACKED_UP \
                or not may_act(self._s, principal, snap.account_uuid):
            return
        copy, _ = self._snapshots().copy(principal, snap.uuid,
                                         description=backing.describe(t, snap.sid),
                                         tags=backing.tags, command=command)
        t.source_snapshot_uuid = copy.uuid

    # ------------------------------------------------------------------ copy
    def copy_to_zones(self, principal: Principal, ident: str, dest_zone_uuids: tuple[str, ...],
                      source_zone_uuid: str | None = None,
                      *, command: str = "") -> tuple[Template, list[Job]]:
        """Make the same template present in more zones (copied from a zone
        where it is Ready). Raises NotFound, PermissionDenied, IncorrectState
        (no Ready source) and InvalidParameter (already in a destination zone)."""
        t = owned_template(self._s, principal, ident, "copy the template")
        source = self._ready_zone(t, source_zone_uuid)
        have = set(self._s.scalars(select(TemplateZone.zone_uuid).where(
            TemplateZone.template_uuid == t.uuid)))
        zones = self._zones(dest_zone_uuids, required=True)
        for z in zones:
            if z.uuid in have:
                raise InvalidParameter("destzoneid", z.uuid,
                                       "the template is already in that zone")
        jobs = [self._place(principal, t, z, JobKind.COPY_TEMPLATE,
                            {"source_template_uuid": t.uuid, "source_zone_uuid": source.zone_uuid},
                            command) for z in zones]
        self._s.flush()
        return t, jobs

    def duplicate(self, principal: Principal, ident: str, name: str,
                  description: str | None = None, *, unique_name: bool = False,
                  command: str = "", backing: BackingSnapshot | None = None,
                  tags: tuple[tuple[str, str], ...] = (),
                  client_token: str | None = None) -> tuple[Template, Job | None]:
        """A new private template of the caller with the content of a visible
        one, in the zone where the source is Ready, tagged with ``tags``; with
        ``backing`` the source's own source snapshot (if any, BackedUp and the
        caller's to see) is copied for it. Raises NotFound, IncorrectState
        (the source is not Ready anywhere).

        With ``client_token``, a request the account made before with the same
        token returns that template again (and no job); if that request asked
        for something else, ConflictingParameters (names ``("client_token",)``).
        A deleted template frees its token."""
        fingerprint = None
        if client_token:
            fingerprint = hashlib.sha256(repr((
                ident, name, description, unique_name, backing is not None,
                backing.tags if backing else (), tuple(tags))).encode()).hexdigest()
            previous = self._by_client_token(principal, client_token, fingerprint)
            if previous is not None:
                return previous, None
        src = visible_template(self._s, principal, ident)
        source = self._ready_zone(src, None)
        zone = self._zones((source.zone_uuid,))[0]
        req = TemplateRequest(name=name, display_text=src.display_text if description is None
                              else description, url=src.url, format=src.format,
                              hypervisor=src.hypervisor, os_type_uuid=src.os_type_uuid,
                              checksum=src.checksum, password_enabled=src.password_enabled,
                              arch=src.arch, unique_name=unique_name)
        t = self._new(principal, req, zone, size_bytes=src.size_bytes)
        t.boot_spec, t.details, t.source_template_uuid = src.boot_spec, src.details, src.uuid
        t.root_device_name = src.root_device_name
        job = self._place(principal, t, zone, JobKind.COPY_TEMPLATE,
                          {"source_template_uuid": src.uuid, "source_zone_uuid": zone.uuid},
                          command)
        t.client_token, t.request_fingerprint = client_token or None, fingerprint
        if backing is not None:
            self._copy_backing(principal, src, t, backing, command)
        if tags:
            apply_tags(self._s, principal, ResourceKind.TEMPLATE, [t.uuid], tags)
        self._created_event(principal, t)
        return t, job

    def _by_client_token(self, principal: Principal, token: str,
                         fingerprint: str) -> Template | None:
        """The live template the account made with ``token``, if any
        (ConflictingParameters if another request used it). A removed
        template's token is cleared so that it can be used again."""
        t = self._s.scalar(select(Template).where(
            Template.account_uuid == principal.account_uuid, Template.client_token == token)
            .with_for_update())
        if t is None:
            return None
        if t.removed_at is not None:
            t.client_token = None
            self._s.flush()
            return None
        if t.request_fingerprint != fingerprint:
            raise ConflictingParameters(("client_token",),
                                        "The client token was used by a different request")
        return t

    # ---------------------------------------------------------------- update
    def update(self, principal: Principal, ident: str, change: TemplateUpdate) -> Template:
        """Change a template's descriptive fields. Raises NotFound,
        PermissionDenied (not the owner), InvalidParameter."""
        t = owned_template(self._s, principal, ident, "update the template")
        if change.name is not None:
            if not change.name.strip():
                raise InvalidParameter("name", change.name, "must not be empty")
            t.name = change.name[:255]
        if change.display_text is not None:
            t.display_text = change.display_text[:255]
        if change.os_type_uuid is not None:
            t.os_type_uuid = self._os_type(change.os_type_uuid)
        if change.format is not None:
            t.format = format_of("", change.format)
        if change.password_enabled is not None:
            t.password_enabled = change.password_enabled
        if change.arch is not None:
            t.arch = change.arch
        if change.details is not None or change.clean_details:
            merged: dict[str, str] = {} if change.clean_details else {
                **json.loads(t.boot_spec or "{}"), **json.loads(t.details or "{}")}
            merged.update(change.details or {})
            t.boot_spec, t.details = split_details(merged)
        self._s.flush()
        return t

    # ---------------------------------------------------------------- delete
    def delete(self, principal: Principal, ident: str, zone_uuid: str | None = None,
               *, force: bool = False, command: str = "") -> Job:
        """Remove the template (from one zone, or all); a job deletes its files
        and gives the image store space back. Instances made from it keep
        running. Without ``force``, a template that live instances use is
        refused (InvalidParameter); raises NotFound and PermissionDenied."""
        t = owned_template(self._s, principal, ident, "delete the template")
        if not force:
            users = list(self._s.scalars(select(Instance.name).where(
                Instance.template_uuid == t.uuid, Instance.removed_at.is_(None),
                Instance.state.not_in((VmState.EXPUNGED, VmState.EXPUNGING))).limit(5)))
            if users:
                raise InvalidParameter("id", t.uuid, "the template is in use by instances: "
                                       + ", ".join(users))
        placements = list(self._s.scalars(select(TemplateZone).where(
            TemplateZone.template_uuid == t.uuid)))
        if zone_uuid is not None:
            placements = [p for p in placements if p.zone_uuid == zone_uuid]
            if not placements:
                raise InvalidParameter("zoneid", zone_uuid, "the template is not in that zone")
        remaining = self._s.scalar(select(TemplateZone.uuid).where(
            TemplateZone.template_uuid == t.uuid,
            TemplateZone.uuid.not_in([p.uuid for p in placements])).limit(1))
        if remaining is None:
            t.removed_at = utcnow()
            self.permissions.drop_all(t.uuid)
        files = [{"store_uuid": p.image_store_uuid, "install_path": p.install_path,
                  "size_bytes": t.size_bytes if p.state == TemplateState.READY else 0}
                 for p in placements]
        for p in placements:
            self._s.delete(p)
        record_event(self._s, principal, "TEMPLATE.DELETE", f"Deleted template {t.name}",
                     ResourceKind.TEMPLATE, t.uuid, account_uuid=t.account_uuid)
        job = enqueue(self._s, JobKind.DELETE_TEMPLATE, principal,
                      resource_kind=ResourceKind.TEMPLATE, resource_uuid=t.uuid,
                      payload={"files": files}, command=command)
        self._s.flush()
        return job

    # --------------------------------------------------------------- helpers
    def _zones(self, uuids: tuple[str, ...], *, required: bool = False) -> list[Zone]:
        stmt = select(Zone).where(Zone.removed_at.is_(None)).order_by(Zone.created_at)
        if uuids:
            zones = list(self._s.scalars(stmt.where(Zone.uuid.in_(uuids))))
            missing = set(uuids) - {z.uuid for z in zones}
            if missing:
                raise NotFound(ResourceKind.ZONE, min(missing))
            return zones
        if required:
            raise MissingParameter("destzoneid")
        zones = list(self._s.scalars(stmt))
        if not zones:
            raise NotFound(ResourceKind.ZONE, "any")
        return zones

    def _os_type(self, uuid: str | None) -> str:
        if uuid:
            if self._s.get(OsType, uuid) is None:
                raise NotFound(ResourceKind.OS_TYPE, uuid)
            return uuid
        found = self._s.scalar(select(OsType.uuid).where(OsType.name == DEFAULT_OS)) or \
            self._s.scalar(select(OsType.uuid).order_by(OsType.name).limit(1))
        if found is None:
            raise NotFound(ResourceKind.OS_TYPE, DEFAULT_OS)
        return found

    def _hypervisor(self, zone: Zone, given: str | None) -> str:
        if given:
            return given
        return self._s.scalar(select(Cluster.hypervisor).where(
            Cluster.zone_uuid == zone.uuid, Cluster.removed_at.is_(None))
            .order_by(Cluster.created_at).limit(1)) or "Simulator"

    def _new(self, principal: Principal, req: TemplateRequest, zone: Zone,
             *, size_bytes: int) -> Template:
        if not req.name.strip():
            raise InvalidParameter("name", req.name, "must not be empty")
        if req.is_featured and not principal.is_root_admin:
            raise PermissionDenied("make a template featured", ResourceKind.TEMPLATE, req.name)
        boot_spec, details = split_details(req.details)
        owner = owner_account(self._s, principal, req.account_uuid)
        if req.unique_name and self._s.scalar(select(Template.uuid).where(
                Template.account_uuid == owner, Template.name == req.name,
                Template.removed_at.is_(None)).limit(1)) is not None:
            raise Duplicate(ResourceKind.TEMPLATE, req.name)
        enforce(self._s, owner, {Resource.TEMPLATE: 1, Resource.SECONDARY_STORAGE: size_bytes})
        t = Template(
            name=req.name[:255], display_text=(req.display_text or req.name)[:255],
            account_uuid=owner,
            os_type_uuid=self._os_type(req.os_type_uuid),
            format=format_of(req.url, req.format),
            hypervisor=self._hypervisor(zone, req.hypervisor), template_type="USER",
            url=req.url[:255], checksum=req.checksum[:255], size_bytes=size_bytes,
            arch=req.arch or "x86_64", is_public=req.is_public, is_featured=req.is_featured,
            password_enabled=req.password_enabled, is_extractable=req.is_extractable,
            boot_spec=boot_spec, details=details,
        )
        self._s.add(t)
        self._s.flush()
        return t

    def _place(self, principal: Principal, t: Template, zone: Zone, kind: JobKind,
               payload: dict[str, str], command: str) -> Job:
        store = self._s.scalar(select(ImageStore.uuid).where(
            ImageStore.zone_uuid == zone.uuid, ImageStore.removed_at.is_(None))
            .order_by(ImageStore.created_at).limit(1))
        self._s.add(TemplateZone(template_uuid=t.uuid, zone_uuid=zone.uuid,
                                 image_store_uuid=store, state=TemplateState.DOWNLOADING,
                                 download_percent=0, install_path=""))
        return enqueue(self._s, kind, principal, resource_kind=ResourceKind.TEMPLATE,
                       resource_uuid=t.uuid, payload={"zone_uuid": zone.uuid, **payload},
                       command=command)

    def _ready_zone(self, t: Template, zone_uuid: str | None) -> TemplateZone:
        stmt = select(TemplateZone).where(TemplateZone.template_uuid == t.uuid,
                                          TemplateZone.state == TemplateState.READY)
        if zone_uuid:
            stmt = stmt.where(TemplateZone.zone_uuid == zone_uuid)
        found = self._s.scalar(stmt.order_by(TemplateZone.created_at).limit(1))
        if found is None:
            raise IncorrectState(ResourceKind.TEMPLATE, t.uuid, "NotReady",
                                 (TemplateState.READY,))
        return found

    def _parent_template(self, volume: Volume | None) -> Template | None:
        if volume is None or not volume.template_uuid:
            return None
        return self._s.get(Template, volume.template_uuid)

    @staticmethod
    def _inherit(req: TemplateRequest, parent: Template | None,
                 hypervisor: str | None = None) -> TemplateRequest:
        """Fill what the request leaves open from the template the disk came from."""
        if parent is None:
            return req
        details = dict(req.details)
        if not details:
            details = {**json.loads(parent.boot_spec or "{}"), **json.loads(parent.details or "{}")}
        return TemplateRequest(
            name=req.name, display_text=req.display_text, url=req.url,
            format=req.format or parent.format,
            hypervisor=req.hypervisor or hypervisor or parent.hypervisor,
            os_type_uuid=req.os_type_uuid or parent.os_type_uuid, zone_uuids=req.zone_uuids,
            checksum=req.checksum, is_public=req.is_public, is_featured=req.is_featured,
            password_enabled=req.password_enabled, is_extractable=req.is_extractable,
            arch=req.arch if req.arch != "x86_64" else parent.arch, details=details,
            account_uuid=req.account_uuid, unique_name=req.unique_name)

    def _created_event(self, principal: Principal, t: Template) -> None:
        record_event(self._s, principal, "TEMPLATE.CREATE", f"Created template {t.name}",
                     ResourceKind.TEMPLATE, t.uuid, account_uuid=t.account_uuid)
        self._s.flush()
