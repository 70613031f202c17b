"""Restore an instance: give it a fresh root disk made from its template (or
another one), keeping its id, NICs and addresses, and its data volumes.

The request reserves the new root disk's capacity and, for a running
instance, moves it to Stopping; the job (``engine.jobs.vm_snapshot_handlers
.run_restore``) stops and removes the domain, swaps the root volume (the old
one is removed and its capacity released) and, if the instance was running,
defines and starts it again on the same host. Refused while the instance has
VM snapshots, as CloudStack does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import IncorrectState, InvalidParameter, NotFound, ResourceKind
from engine.jobs.queue import JobKind, enqueue
from engine.models import Instance, Job, ServiceOffering, Template, TemplateZone, Volume
from engine.principal import Principal
from engine.services.access import owned_instance
from engine.services.settings import Settings
from engine.services.template_access import may_launch
from engine.services.vm_snapshots import live_snapshots
from engine.states import TemplateState, VmState, VolumeKind, VolumeState, check_vm_transition

if TYPE_CHECKING:
    from engine.jobs.drivers import DriverPool

GIB = 1024 ** 3
_RESTORABLE = frozenset({VmState.RUNNING, VmState.STOPPED})


class InstanceRestore:
    def __init__(self, session: Session, settings: Settings,
                 drivers: DriverPool | None = None) -> None:
        self._s = session
        self._settings = settings
        self._drivers = drivers

    def restore(self, principal: Principal, instance_uuid: str, *,
                template_uuid: str | None = None, root_size_gib: int | None = None,
                command: str = "") -> tuple[Instance, Job]:
        """Queue recreating the instance's root disk from ``template_uuid``
        (default: its own template), of ``root_size_gib`` if given.

        Raises NotFound (instance; a template the caller may not launch);
        IncorrectState unless the instance is Running or Stopped and its root
        volume idle; InvalidParameter while it has VM snapshots, for a template
        of another hypervisor or not Ready in the instance's zone, or a size
        smaller than the template; InsufficientCapacity when no pool has room
        for the new disk.
        """
        inst = owned_instance(self._s, principal, instance_uuid)
        if inst.state not in _RESTORABLE:
            raise IncorrectState(ResourceKind.INSTANCE, inst.uuid, inst.state, _RESTORABLE)
        if live_snapshots(self._s, inst.uuid):
            raise InvalidParameter("virtualmachineid", inst.uuid, "the VM has VM snapshots; "
                                   "delete them before restoring the VM")
        template = self._template(principal, inst, template_uuid)
        root = self._s.scalar(select(Volume).where(
            Volume.instance_uuid == inst.uuid, Volume.kind == VolumeKind.ROOT,
            Volume.removed_at.is_(None)).with_for_update())
        if root is None:
            raise IncorrectState(ResourceKind.INSTANCE, inst.uuid, inst.state)
        if root.state not in (VolumeState.READY, VolumeState.ALLOCATED):
            raise IncorrectState(ResourceKind.VOLUME, root.uuid, root.state,
                                 (VolumeState.READY, VolumeState.ALLOCATED))
        size = self._size(inst, template, root_size_gib)
        pool_uuid = self._reserve(inst, root, size)
        was_running = inst.state == VmState.RUNNING
        if was_running:
            check_vm_transition(inst.state, VmState.STOPPING, inst.uuid)
            inst.state = VmState.STOPPING
            inst.state_changed_at = inst.updated_at = utcnow()
        job = enqueue(self._s, JobKind.RESTORE_INSTANCE, principal,
                      resource_kind=ResourceKind.INSTANCE, resource_uuid=inst.uuid,
                      command=command,
                      payload={"template_uuid": template.uuid, "size_bytes": size,
                               "pool_uuid": pool_uuid, "old_root_uuid": root.uuid,
                               "was_running": was_running})
        self._s.flush()
        return inst, job

    def _template(self, principal: Principal, inst: Instance,
                  template_uuid: str | None) -> Template:
        t = self._s.get(Template, template_uuid or inst.template_uuid)
        if t is None or (template_uuid and not may_launch(self._s, principal, t)):
            raise NotFound(ResourceKind.TEMPLATE, template_uuid or inst.template_uuid)
        if t.hypervisor and inst.hypervisor and t.hypervisor != inst.hypervisor:
            raise InvalidParameter("templateid", t.uuid, "the template is for another "
                                   "hypervisor than the VM's")
        state = self._s.scalar(select(TemplateZone.state).where(
            TemplateZone.template_uuid == t.uuid, TemplateZone.zone_uuid == inst.zone_uuid))
        if state != TemplateState.READY:
            raise InvalidParameter("templateid", t.uuid, "the template is not ready in the "
                                   "VM's zone")
        return t

    def _size(self, inst: Instance, template: Template, root_size_gib: int | None) -> int:
        if root_size_gib is not None:
            if root_size_gib < 1 or root_size_gib * GIB < template.size_bytes:
                raise InvalidParameter("rootdisksize", root_size_gib,
                                       "smaller than the template's size")
            return root_size_gib * GIB
        offering = self._s.get(ServiceOffering, inst.service_offering_uuid)
        offered = offering.root_disk_gib * GIB if offering is not None else 0
        return max(template.size_bytes, offered, GIB)

    def _reserve(self, inst: Instance, root: Volume, size: int) -> str:
        """Capacity for the new disk: on the old root's pool if it fits, else any."""
        storage = StorageAllocator(self._s, self._settings)
        if root.pool_uuid and storage.try_reserve(root.pool_uuid, size):
            return root.pool_uuid
        offering = self._s.get(ServiceOffering, inst.service_offering_uuid)
        return storage.reserve(inst.zone_uuid, size,
                               host_uuid=inst.host_uuid or inst.last_host_uuid,
                               tags=offering.storage_tags if offering is not None else "",
                               hypervisor=inst.hypervisor)
