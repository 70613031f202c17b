"""What the NIC jobs do: plug an interface into a VM's domain or pull it out.

Read in one transaction, call the driver outside any transaction, settle in
another. A VM without a defined domain (never started) only has its rows
changed: the next start defines the domain from the NIC rows
(``domain_specs.domain_spec``). A domain on a driver without HOT_PLUG_NIC may
not be changed while running (IncorrectState); when it is stopped the rows
change and the driver is left alone. Whatever the rows say when an already
defined domain starts again is what it starts with: the start job calls
``apply_nics``, which plugs and unplugs by MAC on drivers with HOT_PLUG_NIC
(the domain may have missed a change: a forced detach whose driver call failed,
a change made before its driver could hot-plug).

Compensation: a failed attach of a NIC made for the VM deletes it (its
address goes back to the network); a failed attach of a standalone interface
makes it ``available`` again; a failed detach puts it back ``in-use``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from engine.db import utcnow
from engine.errors import IncorrectState, ResourceKind
from engine.hypervisors.base import (
    Capability,
    DomainRef,
    DomainSpec,
    HypervisorDriver,
    NicSpec,
    PowerState,
)
from engine.jobs.drivers import HostAccess, host_access
from engine.jobs.job_rows import locked_row, still_owned
from engine.jobs.queue import JobKind
from engine.models import Host, Instance, Job, Network, Nic, NicSecondaryIp, NicSecurityGroup
from engine.services.events import record_event
from engine.services.tags import remove_tags

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.jobs.handlers import JobContext

log = logging.getLogger("nimbostack.jobs")

Handler = Callable[["JobContext", Job], dict[str, Any]]
Failure = Callable[["JobContext", Job, str], None]

AVAILABLE, ATTACHING, IN_USE, DETACHING = "available", "attaching", "in-use", "detaching"


def _payload(job: Job) -> dict[str, Any]:
    return json.loads(job.payload or "{}")  # type: ignore[no-any-return]


def _target(session: Session, inst: Instance) -> tuple[HostAccess | None, DomainRef | None]:
    if not inst.domain_ref:
        return None, None
    host = session.get(Host, inst.host_uuid or inst.last_host_uuid or "")
    if host is None:
        return None, None
    return host_access(session, host), DomainRef(inst.domain_ref)


def _spec(session: Session, nic: Nic) -> NicSpec:
    net = session.get(Network, nic.network_uuid)
    return NicSpec(mac=nic.mac_address, device_id=nic.device_id, ip=nic.ip_address,
                   network_ref=net.vlan if net is not None and net.vlan else None)


def _usable(driver: HypervisorDriver, ref: DomainRef, instance_uuid: str) -> bool:
    """Whether to call the driver: it can hot-plug, or the domain is not
    running (then only the rows change). Running without it: IncorrectState."""
    if driver.supports(Capability.HOT_PLUG_NIC):
        return True
    power = driver.info(ref).power_state
    if power in (PowerState.RUNNING, PowerState.PAUSED):
        raise IncorrectState(ResourceKind.INSTANCE, instance_uuid, power, [PowerState.STOPPED])
    return False


def apply_nics(driver: HypervisorDriver, ref: DomainRef, spec: DomainSpec) -> None:
    """Give the stopped domain ``ref`` exactly the interfaces of ``spec`` (by MAC):
    unplug the ones the spec lacks, plug the missing ones. Nothing to do on a
    driver without HOT_PLUG_NIC (its domain is defined once) or a running domain."""
    if not driver.supports(Capability.HOT_PLUG_NIC):
        return
    info = driver.info(ref)
    if info.power_state is not PowerState.STOPPED:
        return
    wanted = {n.mac.lower() for n in spec.nics}
    have = {mac.lower() for mac in info.nic_macs}
    for mac in info.nic_macs:
        if mac.lower() not in wanted:
            driver.detach_nic(ref, mac)
    for nic in sorted(spec.nics, key=lambda n: n.device_id):
        if nic.mac.lower() not in have:
            driver.attach_nic(ref, nic)


def drop_nic(session: Session, nic: Nic) -> None:
    """Delete a NIC row with what hangs off it (secondary IPs, groups, tags)."""
    session.execute(delete(NicSecondaryIp).where(NicSecondaryIp.nic_uuid == nic.uuid))
    session.execute(delete(NicSecurityGroup).where(NicSecurityGroup.nic_uuid == nic.uuid))
    remove_tags(session, [nic.uuid], [])
    session.delete(nic)


def free_nic(nic: Nic) -> None:
    """Make an interface standalone and available again."""
    nic.instance_uuid, nic.attachment_sid, nic.attached_at = None, None, None
    nic.status, nic.device_id, nic.is_default = AVAILABLE, 0, False


# ------------------------------------------------------------------- attach
def run_attach(ctx: JobContext, job: Job) -> dict[str, Any]:
    p = _payload(job)
    with ctx.tx() as s:
        nic = locked_row(s, Nic, p["nic_uuid"])
        if nic is None or nic.instance_uuid != p["instance_uuid"] or nic.status != ATTACHING:
            return {"skipped": True}
        inst = s.get(Instance, nic.instance_uuid)
        assert inst is not None
        access, ref = _target(s, inst)
        spec = _spec(s, nic)
    if access is not None and ref is not None:
        driver = ctx.drivers.get(access)
        if _usable(driver, ref, p["instance_uuid"]):
            driver.attach_nic(ref, spec)
    with ctx.tx() as s:
        if not still_owned(s, job):
            return {"skipped": True}
        nic = locked_row(s, Nic, p["nic_uuid"])
        if nic is None or nic.status != ATTACHING:
            return {"skipped": True}
        nic.status, nic.attached_at = IN_USE, utcnow()
        record_event(s, None, "NIC.ATTACH", f"Attached interface {nic.sid} at {nic.device_id}",
                     ResourceKind.INSTANCE, p["instance_uuid"], account_uuid=job.account_uuid)
    return {"nic_uuid": p["nic_uuid"], "instance_uuid": p["instance_uuid"]}


def fail_attach(ctx: JobContext, job: Job, reason: str) -> None:
    p = _payload(job)
    with ctx.tx() as s:
        if not still_owned(s, job):
            return
        nic = locked_row(s, Nic, p["nic_uuid"])
        if nic is None or nic.status != ATTACHING:
            return
        inst = s.get(Instance, nic.instance_uuid) if nic.instance_uuid else None
        access, ref = _target(s, inst) if inst is not None else (None, None)
        mac = nic.mac_address
    if access is not None and ref is not None:
        try:
            driver = ctx.drivers.get(access)
            if driver.supports(Capability.HOT_PLUG_NIC):
                driver.detach_nic(ref, mac)
        except Exception:
            log.info("unplugging %s after a failed attach did not work", mac, exc_info=True)
    with ctx.tx() as s:
        nic = locked_row(s, Nic, p["nic_uuid"])
        if nic is None or nic.status != ATTACHING:
            return
        if p.get("created"):
            drop_nic(s, nic)
        else:
            free_nic(nic)
        record_event(s, None, "NIC.ATTACH", f"Failed to attach the interface: {reason}"[:255],
                     ResourceKind.INSTANCE, p["instance_uuid"], level="ERROR",
                     account_uuid=job.account_uuid)


# ------------------------------------------------------------------- detach
def run_detach(ctx: JobContext, job: Job) -> dict[str, Any]:
    p = _payload(job)
    with ctx.tx() as s:
        nic = locked_row(s, Nic, p["nic_uuid"])
        if nic is None or nic.instance_uuid != p["instance_uuid"] or nic.status != DETACHING:
            return {"skipped": True}
        inst = s.get(Instance, nic.instance_uuid)
        assert inst is not None
        access, ref = _target(s, inst)
        mac = nic.mac_address
    if access is not None and ref is not None:
        try:
            driver = ctx.drivers.get(access)
            if _usable(driver, ref, p["instance_uuid"]):
                driver.detach_nic(ref, mac)
        except Exception:
            if not p.get("force"):
                raise
            log.info("forced detach of %s ignores a driver failure", mac, exc_info=True)
    with ctx.tx() as s:
        if not still_owned(s, job):
            return {"skipped": True}
        nic = locked_row(s, Nic, p["nic_uuid"])
        if nic is None or nic.status != DETACHING:
            return {"skipped": True}
        sid = nic.sid
        if p.get("delete"):
            drop_nic(s, nic)
        else:
            free_nic(nic)
        record_event(s, None, "NIC.DETACH", f"Detached interface {sid}", ResourceKind.INSTANCE,
                     p["instance_uuid"], account_uuid=job.account_uuid)
    return {"nic_uuid": p["nic_uuid"], "instance_uuid": p["instance_uuid"]}


def fail_detach(ctx: JobContext, job: Job, reason: str) -> None:
    p = _payload(job)
    with ctx.tx() as s:
        if not still_owned(s, job):
            return
        nic = locked_row(s, Nic, p["nic_uuid"])
        if nic is not None and nic.status == DETACHING:
            nic.status = IN_USE


NIC_HANDLERS: dict[str, tuple[Handler, Failure]] = {
    JobKind.ATTACH_NIC.value: (run_attach, fail_attach),
    JobKind.DETACH_NIC.value: (run_detach, fail_detach),
}
