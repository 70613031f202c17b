"""Read-only questions about the domains of a libvirt connection, plus live disk copies.

``holders`` answers "which domains use this file" from the domains' XML alone (both
the persistent definition and, for running domains, the live one), which is how the
driver decides ``InUse`` and ``DiskInfo.attached_to`` without any local state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import libvirt

from engine.errors import DriverError
from engine.hypervisors.base import PowerState
from engine.hypervisors.libvirt.connection import DRIVER
from engine.hypervisors.libvirt.domain_xml import DiskDevice, domain_disks

_POWER = {
    libvirt.VIR_DOMAIN_NOSTATE: PowerState.UNKNOWN,
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.RUNNING,  # shutting down: still running
    libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.STOPPED,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.STOPPED,
}


def power_state(dom: libvirt.virDomain) -> PowerState:
    return _POWER.get(dom.state()[0], PowerState.UNKNOWN)


def config_xml(dom: libvirt.virDomain) -> str:
    """The persistent definition (the live XML for a transient domain)."""
    flags = libvirt.VIR_DOMAIN_XML_INACTIVE if dom.isPersistent() else 0
    return dom.XMLDesc(flags)


def live_disks(dom: libvirt.virDomain) -> list[DiskDevice]:
    """Disks the running QEMU has ([] when the domain is not running)."""
    return domain_disks(dom.XMLDesc(0)) if dom.isActive() else []


@dataclass(frozen=True)
class Holder:
    """A domain using a disk file: in its definition and/or in the running QEMU."""

    dom: libvirt.virDomain
    in_config: bool
    live: DiskDevice | None


def holders(lv: libvirt.virConnect, path: str) -> list[Holder]:
    """Every domain whose definition or live devices use the file ``path``."""
    found = []
    for dom in lv.listAllDomains(0):
        try:
            in_config = any(d.path == path for d in domain_disks(config_xml(dom)))
            live = next((d for d in live_disks(dom) if d.path == path), None)
        except libvirt.libvirtError:  # vanished while we looked
            continue
        if in_config or live is not None:
            found.append(Holder(dom, in_config, live))
    return found


def backup_disk(dom: libvirt.virDomain, target: str, dest: str, *, timeout: float = 600) -> None:
    """Copy one disk of a running domain to ``dest`` (qcow2), point-in-time consistent.

    Uses a push-mode backup job, so QEMU copies while the guest keeps running.
    """
    parts = []
    for disk in live_disks(dom):
        if disk.target == target:
            parts.append(f"<disk name={quoteattr(target)} backup='yes' type='file'>"
                         f"<target file={quoteattr(dest)}/><driver type='qcow2'/></disk>")
        else:
            parts.append(f"<disk name={quoteattr(disk.target)} backup='no'/>")
    dom.backupBegin(f"<domainbackup mode='push'><disks>{''.join(parts)}</disks></domainbackup>",
                    None, 0)
    deadline = time.monotonic() + timeout
    while dom.jobInfo()[0] != libvirt.VIR_DOMAIN_JOB_NONE:
        if time.monotonic() > deadline:
            dom.abortJob()
            raise DriverError(DRIVER, "snapshot the disk", f"backup of {target} timed out")
        time.sleep(0.05)
    stats = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    if stats.get("type") != libvirt.VIR_DOMAIN_JOB_COMPLETED:
        raise DriverError(DRIVER, "snapshot the disk", f"backup of {target} failed: {stats}")
