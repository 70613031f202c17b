"""What a listing of instances shows of each one: a flat, narrow summary.

An :class:`InstanceSummary` holds only the values a list view renders (the
instance's own shown columns, the names of the rows it refers to, its NICs,
volumes, groups and tags reduced to the shown columns). A big listing reads
summaries straight from narrow queries (``instance_listing``); anything that
holds an :class:`~engine.services.instance_details.InstanceDetail` (a launch,
a fresh read) makes the same summary with :func:`summarize`. The two agree
value for value for the same instances
(``tests/integration/engine/test_launch_details.py`` and
``test_instance_listing.py`` hold them to it), so a view of summaries renders
a listing and a launch alike.

This module runs no SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from engine.states import VmState, VolumeKind

if TYPE_CHECKING:
    from engine.services.instance_details import InstanceDetail
    from engine.services.instance_metadata import AccessOptions


class NicSummary(NamedTuple):
    """An attached NIC: its own shown columns, its network's and the public
    address mapped to it (default NIC only)."""

    sid: str
    network_sid: str
    vpc_sid: str | None  # the network's container, if it is a tier of one
    ip_address: str
    mac_address: str
    device_id: int
    is_default: bool
    attachment_sid: str | None
    description: str | None
    delete_on_termination: bool
    source_dest_check: bool
    attached_at: datetime  # when attached (its creation if not recorded)
    public_address: str | None = None
    public_association_sid: str | None = None  # set when the holder associated it


class VolumeSummary(NamedTuple):
    sid: str
    kind: VolumeKind
    device_id: int | None
    delete_on_termination: bool
    attached_at: datetime  # when attached (its creation if not recorded)


class InstanceSummary(NamedTuple):
    """One instance as a listing shows it. ``nics`` and ``volumes`` are ordered
    by device id, ``tags`` ((key, value)) by key; ``security_groups`` are
    (name, sid) pairs; ``placement_group`` is the (name, sid) of the first
    affinity group by name; ``metadata_access`` is None for the defaults (or
    when not read: a launch's summaries).

    Summaries (and their NICs and volumes) are named tuples: read-only,
    equal when their values are, and cheap to make by the thousand."""

    uuid: str
    sid: str
    state: VmState
    launch_index: int
    created_at: datetime
    state_changed_at: datetime | None
    client_token: str | None
    key_pair_name: str | None
    cpus: int
    reservation_sid: str
    account_number: str
    zone_name: str
    offering_name: str
    template_sid: str
    arch: str
    root_device_name: str
    nics: list[NicSummary]
    volumes: list[VolumeSummary]
    security_groups: tuple[tuple[str, str], ...]
    tags: list[tuple[str, str]]
    placement_group: tuple[str, str] | None = None
    metadata_access: AccessOptions | None = None
    hibernation_enabled: bool = False

    @property
    def primary_nic(self) -> NicSummary | None:
        """The default NIC (else the first one, else None)."""
        for n in self.nics:
            if n.is_default:
                return n
        return self.nics[0] if self.nics else None


def summarize(d: InstanceDetail) -> InstanceSummary:
    """The summary of a detail (no query: everything is in ``d``)."""
    i = d.instance
    nics = []
    for n in d.nics:
        nic, public = n.nic, n.public_ip
        nics.append(NicSummary(
            nic.sid, n.network.sid, n.vpc_sid, nic.ip_address, nic.mac_address, nic.device_id,
            nic.is_default, nic.attachment_sid, nic.description, nic.delete_on_termination,
            nic.source_dest_check, nic.attached_at or nic.created_at,
            public.address if public is not None else None,
            public.association_sid if public is not None else None))
    template = d.template
    affinity = d.affinity_groups
    return InstanceSummary(
        uuid=i.uuid, sid=i.sid, state=i.state, launch_index=i.launch_index,
        created_at=i.created_at, state_changed_at=i.state_changed_at,
        client_token=i.client_token, key_pair_name=i.key_pair_name, cpus=i.cpus,
        reservation_sid=i.reservation_sid, account_number=d.account.number,
        zone_name=d.zone.name, offering_name=d.offering.name, template_sid=template.sid,
        arch=template.arch, root_device_name=template.root_device_name, nics=nics,
        volumes=[VolumeSummary(v.sid, v.kind, v.device_id, v.delete_on_termination,
                               v.attached_at or v.created_at) for v in d.volumes],
        security_groups=tuple((g.name, g.sid) for g in d.security_groups),
        tags=[(t.key, t.value) for t in d.tags],
        placement_group=(affinity[0].name, affinity[0].sid) if affinity else None,
        hibernation_enabled=i.hibernation_enabled)
