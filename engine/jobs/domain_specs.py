"""What a job hands a driver about an instance: its host's access and its domain spec.

Every start of a domain (a spawn, a restart, a revert to a VM snapshot) reads
these in the job's read transaction. The reads are plain column selects
compiled once (``engine.statements.Prepared``): a spawn runs them for every
instance launched, and building ORM queries and objects for them cost more
than the database did.

Contract: :func:`host_access_of` gives None for no host or a host row that is
gone; :func:`domain_spec` describes the instance's live volumes in device
order (a disk not made yet says what it is cloned from) and its NICs in
device order, as of the caller's transaction.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from engine.hypervisors.base import BootSpec, DiskSpec, DomainSpec, NicSpec
from engine.jobs.drivers import HostAccess, pools_reachable
from engine.models import Host, Instance, Network, Nic, Snapshot, Template, TemplateZone, Volume
from engine.statements import Prepared
from engine.states import VolumeKind

_hosts: Table = Host.__table__  # type: ignore[assignment]
_templates: Table = Template.__table__  # type: ignore[assignment]
_placements: Table = TemplateZone.__table__  # type: ignore[assignment]
_volumes: Table = Volume.__table__  # type: ignore[assignment]
_nics: Table = Nic.__table__  # type: ignore[assignment]
_networks: Table = Network.__table__  # type: ignore[assignment]
_snapshots: Table = Snapshot.__table__  # type: ignore[assignment]

_HOST = Prepared(select(
    _hosts.c.uuid, _hosts.c.hypervisor, _hosts.c.url, _hosts.c.username, _hosts.c.password,
    _hosts.c.zone_uuid, _hosts.c.cluster_uuid).where(_hosts.c.uuid == bindparam("p_host")))

_TEMPLATE = Prepared(select(
    _templates.c.sid, _templates.c.source_snapshot_uuid, _templates.c.boot_spec,
    select(_placements.c.install_path).where(
        _placements.c.template_uuid == _templates.c.uuid,
        _placements.c.zone_uuid == bindparam("p_zone")).limit(1).scalar_subquery(),
).where(_templates.c.uuid == bindparam("p_template")))

_VOLUMES = Prepared(select(
    _volumes.c.sid, _volumes.c.device_id, _volumes.c.size_bytes, _volumes.c.kind,
    _volumes.c.path, _volumes.c.snapshot_uuid, _volumes.c.pool_uuid, _volumes.c.name,
).where(_volumes.c.instance_uuid == bindparam("p_instance"), _volumes.c.removed_at.is_(None))
    .order_by(_volumes.c.device_id))

_SNAPSHOT_SID = Prepared(select(_snapshots.c.sid).where(
    _snapshots.c.uuid == bindparam("p_snapshot")))

_NICS = Prepared(select(
    _nics.c.mac_address, _nics.c.device_id, _nics.c.ip_address, _networks.c.vlan,
).select_from(_nics.outerjoin(_networks, _networks.c.uuid == _nics.c.network_uuid))
    .where(_nics.c.instance_uuid == bindparam("p_instance")).order_by(_nics.c.device_id))


def host_access_of(session: Session, host_uuid: str | None) -> HostAccess | None:
    """How to reach the host ``host_uuid`` (with the pools it can use), or None."""
    if host_uuid is None:
        return None
    row = _HOST.execute(session, {"p_host": host_uuid}).first()
    if row is None:
        return None
    uuid, hypervisor, url, username, password, zone, cluster = row
    return HostAccess(uuid, hypervisor, url, username, password,
                      pools_reachable(session, zone, cluster, hypervisor))


def domain_spec(session: Session, inst: Instance | Any) -> DomainSpec:
    """The domain a driver defines for ``inst`` (its row or its record: only
    its columns are read; see the module docstring)."""
    template = _TEMPLATE.execute(session, {"p_template": inst.template_uuid,
                                           "p_zone": inst.zone_uuid}).first()
    assert template is not None
    template_sid, template_snapshot, boot_spec, install_path = template
    source = install_path or template_sid
    disks = []
    for sid, device_id, size, kind, path, snapshot_uuid, pool, name in _VOLUMES.execute(
            session, {"p_instance": inst.uuid}).all():
        # A disk not made yet is cloned: data volumes of a launch from their snapshot,
        # the root from its image, or from the image's snapshot when it was made from one.
        root = kind == VolumeKind.ROOT
        if root and not snapshot_uuid:
            snapshot_uuid = template_snapshot
        snapshot_sid = (_SNAPSHOT_SID.execute(session, {"p_snapshot": snapshot_uuid}).scalar()
                        if snapshot_uuid and not path else None)
        disks.append(DiskSpec(
            disk_sid=sid, device_id=device_id or 0, size_bytes=size,
            source_image=source if root and not path and snapshot_sid is None else None,
            source_snapshot=snapshot_sid, pool_ref=pool, serial=name))
    nics = tuple(NicSpec(mac=mac, device_id=device_id, ip=ip, network_ref=vlan or None)
                 for mac, device_id, ip, vlan in _NICS.execute(
                     session, {"p_instance": inst.uuid}).all())
    user_data = base64.b64decode(inst.user_data) if inst.user_data else None
    return DomainSpec(name=inst.instance_name, uuid=inst.uuid, cpus=inst.cpus,
                      cpu_mhz=inst.cpu_mhz, memory_mib=inst.memory_mib, disks=tuple(disks),
                      nics=nics, user_data=user_data,
                      metadata={"instance-sid": inst.sid}, boot=boot_spec_of(boot_spec))


def boot_spec_of(boot_spec: str | None) -> BootSpec | None:
    """Direct kernel boot from a template's ``boot_spec`` JSON, if it has one."""
    if not boot_spec:
        return None
    spec = json.loads(boot_spec)
    if not spec.get("kernel"):
        return None
    return BootSpec(kernel=spec["kernel"], initrd=spec.get("initrd") or None,
                    cmdline=spec.get("cmdline") or "")
