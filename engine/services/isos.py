"""ISO images: templates whose format is "ISO" (as CloudStack keeps both in
one table), registered, copied, shared and deleted through the template
machinery, plus what only ISOs have: the ``bootable`` flag
(:class:`~engine.models.IsoProperties`) and attachment to an instance's CD-ROM
drive (:class:`~engine.models.IsoAttachment`, at most one per instance).

Attaching records the ISO on the instance in the request (the returned job is
already finished); no driver is asked to insert a CD-ROM yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import InvalidParameter, NotFound, ResourceKind
from engine.jobs import queue
from engine.models import (
    DiskOffering,
    Instance,
    IsoAttachment,
    IsoProperties,
    Job,
    Template,
    TemplateZone,
)
from engine.principal import Principal
from engine.querying import Criterion, ListResult, Paging
from engine.services.access import may_act
from engine.services.catalog import CatalogService, TemplateDetail, TemplateFilter
from engine.services.events import record_event
from engine.services.template_access import may_launch
from engine.services.template_permissions import PermissionChange, TemplateSharing
from engine.services.templates import TemplateRequest, TemplateService, TemplateUpdate
from engine.services.volume_queries import by_ident
from engine.states import TemplateState, VmState

ISO_FORMAT = "ISO"
ATTACHABLE_VMS = frozenset({VmState.RUNNING, VmState.STOPPED})
GIB = 1024 ** 3


@dataclass(frozen=True)
class IsoRequest:
    """A new ISO. ``zone_uuids`` empty: every zone."""

    name: str
    url: str
    display_text: str = ""
    zone_uuids: tuple[str, ...] = ()
    os_type_uuid: str | None = None
    bootable: bool = True
    is_public: bool = False
    is_featured: bool = False
    is_extractable: bool = False
    checksum: str = ""
    account_uuid: str | None = None


@dataclass
class IsoDetail:
    detail: TemplateDetail
    bootable: bool


class IsoService:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._templates = TemplateService(session)

    # ------------------------------------------------------------ register
    def register(self, principal: Principal, req: IsoRequest,
                 *, command: str = "") -> tuple[Template, list[Job]]:
        """A new ISO downloaded from ``req.url`` into each zone's image store
        (one download job per zone). Raises as TemplateService.register."""
        t, jobs = self._templates.register(principal, TemplateRequest(
            name=req.name, display_text=req.display_text, url=req.url, format=ISO_FORMAT,
            hypervisor=None, os_type_uuid=req.os_type_uuid, zone_uuids=req.zone_uuids,
            checksum=req.checksum, is_public=req.is_public, is_featured=req.is_featured,
            is_extractable=req.is_extractable, account_uuid=req.account_uuid), command=command)
        self._s.add(IsoProperties(template_uuid=t.uuid, bootable=req.bootable))
        self._s.flush()
        return t, jobs

    # ---------------------------------------------------------------- read
    def list(self, principal: Principal, which: TemplateFilter,
             criteria: tuple[Criterion, ...] = (), *, bootable: bool | None = None,
             paging: Paging = Paging()) -> ListResult:
        """ISOs visible under ``which`` as :class:`IsoDetail` (``bootable``
        filters on the flag; it is applied to the page, so use it unpaged)."""
        page = CatalogService(self._s).templates(principal, which, criteria, paging, isos=True)
        flags = self.bootable_flags([d.template.uuid for d in page.items])
        items = [IsoDetail(d, flags.get(d.template.uuid, True)) for d in page.items]
        if bootable is not None:
            items = [i for i in items if i.bootable is bootable]
        page.items = items
        return page

    def get(self, principal: Principal, ident: str) -> IsoDetail:
        """The ISO ``ident`` the principal may see, else NotFound."""
        which = TemplateFilter.ALL if principal.is_root_admin else TemplateFilter.EXECUTABLE
        crit = Criterion("uuid", (ident,), False)
        page = self.list(principal, which, (crit,))
        if not page.items:
            page = self.list(principal, TemplateFilter.SELF, (crit,))  # not Ready yet
        if not page.items:
            raise NotFound(ResourceKind.TEMPLATE, ident)
        return page.items[0]  # type: ignore[no-any-return]

    def bootable_flags(self, uuids: list[str]) -> dict[str, bool]:
        if not uuids:
            return {}
        return {p.template_uuid: p.bootable for p in self._s.scalars(
            select(IsoProperties).where(IsoProperties.template_uuid.in_(uuids)))}

    # --------------------------------------------------------------- change
    def update(self, principal: Principal, ident: str, change: TemplateUpdate,
               bootable: bool | None = None) -> Template:
        self._iso(ident)
        t = self._templates.update(principal, ident, change)
        if bootable is not None:
            props = self._s.get(IsoProperties, t.uuid)
            if props is None:
                self._s.add(IsoProperties(template_uuid=t.uuid, bootable=bootable))
            else:
                props.bootable = bootable
            self._s.flush()
        return t

    def copy(self, principal: Principal, ident: str, dest_zone_uuids: tuple[str, ...],
             source_zone_uuid: str | None = None, *, command: str = "") -> list[Job]:
        self._iso(ident)
        return self._templates.copy_to_zones(principal, ident, dest_zone_uuids,
                                             source_zone_uuid, command=command)[1]

    def delete(self, principal: Principal, ident: str, zone_uuid: str | None = None,
               *, command: str = "") -> Job:
        """Delete the ISO (from one zone, or all). Refused (InvalidParameter)
        while an instance has it attached."""
        t = self._iso(ident)
        if zone_uuid is None and may_act(self._s, principal, t.account_uuid):
            users = list(self._s.scalars(select(Instance.name).join(
                IsoAttachment, IsoAttachment.instance_uuid == Instance.uuid)
                .where(IsoAttachment.template_uuid == t.uuid)))
            if users:
                raise InvalidParameter("id", ident, "the ISO is attached to instances: "
                                       + ", ".join(sorted(users)))
        return self._templates.delete(principal, ident, zone_uuid, force=True, command=command)

    def permissions(self, principal: Principal, ident: str) -> TemplateSharing:
        self._iso(ident)
        return self._templates.permissions.get(principal, ident)

    def change_permissions(self, principal: Principal, ident: str,
                           change: PermissionChange) -> TemplateSharing:
        self._iso(ident)
        return self._templates.permissions.change(principal, ident, change)

    # --------------------------------------------------------- attach/detach
    def attach(self, principal: Principal, iso_ident: str, instance_ident: str,
               *, command: str = "") -> Job:
        """Put the ISO in the instance's CD-ROM drive (a finished job).

        Raises NotFound (ISO, instance), IncorrectState-like InvalidParameter
        (instance not Running/Stopped, ISO not Ready in its zone, an ISO
        already attached)."""
        inst = self._instance(principal, instance_ident)
        t = self._iso(iso_ident)
        if not may_launch(self._s, principal, t):
            raise NotFound(ResourceKind.TEMPLATE, iso_ident)
        if inst.state not in ATTACHABLE_VMS:
            raise InvalidParameter("virtualmachineid", instance_ident,
                                   "the instance must be Running or Stopped")
        ready = self._s.scalar(select(TemplateZone.uuid).where(
            TemplateZone.template_uuid == t.uuid, TemplateZone.zone_uuid == inst.zone_uuid,
            TemplateZone.state == TemplateState.READY))
        if ready is None:
            raise InvalidParameter("id", iso_ident,
                                   "the ISO is not ready in the instance's zone")
        if self._s.get(IsoAttachment, inst.uuid) is not None:
            raise InvalidParameter("virtualmachineid", instance_ident,
                                   "an ISO is already attached; detach it first")
        self._s.add(IsoAttachment(instance_uuid=inst.uuid, template_uuid=t.uuid))
        record_event(self._s, principal, "ISO.ATTACH", f"Attached ISO {t.name} to {inst.name}",
                     ResourceKind.INSTANCE, inst.uuid, account_uuid=inst.account_uuid)
        return self._done(principal, inst, command)

    def detach(self, principal: Principal, instance_ident: str, *, command: str = "") -> Job:
        """Empty the instance's CD-ROM drive (a finished job); InvalidParameter
        if it holds no ISO."""
        inst = self._instance(principal, instance_ident)
        row = self._s.get(IsoAttachment, inst.uuid)
        if row is None:
            raise InvalidParameter("virtualmachineid", instance_ident,
                                   "the instance has no ISO attached")
        self._s.delete(row)
        record_event(self._s, principal, "ISO.DETACH", f"Detached the ISO from {inst.name}",
                     ResourceKind.INSTANCE, inst.uuid, account_uuid=inst.account_uuid)
        return self._done(principal, inst, command)

    def attached(self, instance_uuid: str) -> Template | None:
        """The ISO in the instance's drive, if any."""
        row = self._s.get(IsoAttachment, instance_uuid)
        return self._s.get(Template, row.template_uuid) if row is not None else None

    def drop_attachment(self, instance_uuid: str) -> None:
        """Forget the instance's ISO (for expunge)."""
        self._s.execute(delete(IsoAttachment).where(IsoAttachment.instance_uuid == instance_uuid))

    # ---------------------------------------------------------------- deploy
    def is_iso(self, template_uuid: str) -> bool:
        t = self._s.scalar(select(Template).where(by_ident(Template.uuid, Template.sid,
                                                           template_uuid)))
        return t is not None and t.format == ISO_FORMAT

    def root_size_for_iso(self, template_uuid: str, disk_offering_uuid: str | None,
                          size_gib: int | None) -> int | None:
        """For a deploy from ``template_uuid``: None if it is not an ISO; else
        the root disk's size in GiB from the disk offering (or ``size_gib`` for
        a customizable one). An ISO without a disk offering is refused, as
        CloudStack does (InvalidParameter)."""
        if not self.is_iso(template_uuid):
            return None
        if not disk_offering_uuid:
            raise InvalidParameter("diskofferingid", "", "installing from ISO requires a disk "
                                   "offering to be specified for the root disk")
        o = self._s.scalar(select(DiskOffering).where(
            by_ident(DiskOffering.uuid, DiskOffering.sid, disk_offering_uuid)))
        if o is None or not o.active:
            raise NotFound(ResourceKind.DISK_OFFERING, disk_offering_uuid)
        size = size_gib if o.customized else o.size_gib
        if not size or size < 1:
            raise InvalidParameter("size", size_gib, "the disk offering needs a size")
        return size

    def boot_attach(self, instance_uuid: str, template_uuid: str) -> None:
        """Record the ISO an instance was deployed from in its drive."""
        if self._s.get(IsoAttachment, instance_uuid) is None:
            self._s.add(IsoAttachment(instance_uuid=instance_uuid, template_uuid=template_uuid))
            self._s.flush()

    # --------------------------------------------------------------- helpers
    def _iso(self, ident: str) -> Template:
        """The live ISO ``ident`` (visibility is checked by the callers);
        InvalidParameter for a template that is not an ISO."""
        t = self._s.scalar(select(Template).where(by_ident(Template.uuid, Template.sid, ident)))
        if t is None or t.removed_at is not None:
            raise NotFound(ResourceKind.TEMPLATE, ident)
        if t.format != ISO_FORMAT:
            raise InvalidParameter("id", ident, "please specify a valid ISO")
        return t

    def _instance(self, principal: Principal, ident: str) -> Instance:
        inst = self._s.scalar(select(Instance).where(
            by_ident(Instance.uuid, Instance.sid, ident)).with_for_update())
        if inst is None or inst.state in (VmState.EXPUNGED, VmState.EXPUNGING) or \
                not may_act(self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, ident)
        return inst

    def _done(self, principal: Principal, inst: Instance, command: str) -> Job:
        job = queue.completed(self._s, principal, resource_kind=ResourceKind.INSTANCE,
                              resource_uuid=inst.uuid, command=command)
        self._s.flush()
        return job
