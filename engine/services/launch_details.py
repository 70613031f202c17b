"""The :class:`InstanceDetail` of instances just launched, from the rows the
launch already holds.

A launch has every related row in hand (zone, offering, template, groups, the
NIC, root volume, mapped address and tags it created), so re-reading them as
:meth:`InstanceReader.details` does for a listing would cost a query per
relation. Only what the launch did not load is read: the hosts (the launch
reads the network's container, its :class:`Tier`, with the network before
placing). The result is equal, for every field a view reads, to what
``InstanceReader.details`` returns for the same instances
(``tests/integration/engine/test_launch_details.py`` holds both to that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.models import (
    Account,
    AffinityGroup,
    Domain,
    Host,
    Instance,
    Network,
    Nic,
    PublicIp,
    SecurityGroup,
    ServiceOffering,
    Tag,
    Template,
    Volume,
    Zone,
)
from engine.querying import record_columns, record_type
from engine.services.instance_details import InstanceDetail, NicDetail
from engine.statements import Prepared


@dataclass(frozen=True)
class Tier:
    """What a launch needs of its network's place in a container."""

    maps_public_ip: bool = False  # the tier maps public addresses at launch
    # (read with the network: ``LaunchChecks._network``)
    vpc_sid: str | None = None  # the container of which the network is a tier


@dataclass
class Placed:
    """One instance a launch created, with the rows it created for it (the
    new rows as their read-only records: ``engine.services.launch_rows``)."""

    instance: Instance
    nic: Nic
    network: Network
    root: Volume
    public_ip: PublicIp | None = None
    tags: list[Tag] = field(default_factory=list)
    data: list[Volume] = field(default_factory=list)  # data volumes, in slot order


_HOST_RECORD = record_type(Host)
_HOST = Prepared(select(*record_columns(_HOST_RECORD)).where(
    Host.__table__.c.uuid == bindparam("p_host")))
_HOSTS = select(Host).where(Host.uuid.in_(bindparam("p_hosts", expanding=True)))


def launched_details(session: Session, placed: Sequence[Placed], *,
                     owner: tuple[Account, Domain], zone: Zone,
                     offering: ServiceOffering, template: Template,
                     groups: Sequence[SecurityGroup], affinity_uuids: Sequence[str],
                     vpc_sid: str | None) -> list[InstanceDetail]:
    """The details of the instances of one launch, all of the account (and
    domain) ``owner``, all with their one NIC on the same network (a tier of
    the container ``vpc_sid``, if any: see :class:`Tier`)."""
    account, domain = owner
    host_uuids = {p.instance.host_uuid for p in placed if p.instance.host_uuid}
    hosts: dict[str, Any] = {}  # Host rows or records
    if len(host_uuids) == 1:  # the common case, without an expanding IN
        found: list[Any] = [_HOST_RECORD(row) for row in _HOST.execute(
            session, {"p_host": next(iter(host_uuids))}).all()]
        hosts = {h.uuid: h for h in found}
    elif host_uuids:
        hosts = {h.uuid: h for h in session.execute(
            _HOSTS, {"p_hosts": list(host_uuids)}).scalars()}
    affinity = sorted((g for g in (session.get(AffinityGroup, u) for u in affinity_uuids)
                       if g is not None), key=lambda g: g.name)
    out = []
    for p in placed:
        inst = p.instance
        nic = NicDetail(p.nic, p.network, vpc_sid=vpc_sid,
                        public_ip=p.public_ip if p.nic.is_default else None)
        out.append(InstanceDetail(
            instance=inst, zone=zone, offering=offering, template=template, account=account,
            domain=domain, host=hosts.get(inst.host_uuid) if inst.host_uuid else None,
            nics=[nic], volumes=[p.root, *sorted(p.data, key=_slot)], security_groups=list(groups),
            tags=sorted(p.tags, key=lambda t: t.key), affinity_groups=list(affinity)))
    return out


def _slot(v: Volume) -> int:
    return v.device_id or 0
