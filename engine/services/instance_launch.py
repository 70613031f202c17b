"""Launching instances: check the request, reserve capacity, write the rows.

:class:`Launcher` is what :meth:`InstanceService.launch` runs. A launch reads
what it needs once (the template's zone, the owner, the network with its
container facts, the groups), then places each instance: host and pool
capacity are reserved and addresses taken with conditional UPDATEs (safe
under concurrency), and the instance's new rows are collected. The rows of
the whole launch are written at the end with one INSERT per table
(:class:`~engine.services.launch_rows.NewRows`); an instance whose placement
depends on the rows of the ones before it (affinity groups) has them written
first. Everything is in the caller's transaction: a refused launch leaves
nothing behind.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.allocators.addresses import PrivateIpAllocator, mac_for
from engine.allocators.hosts import HostPlanner, PlacementRequest
from engine.allocators.storage import StorageAllocator
from engine.db import utcnow
from engine.errors import (
    ConflictingParameters,
    InsufficientCapacity,
    InvalidParameter,
    ResourceKind,
)
from engine.ids import new_sid, new_uuid
from engine.jobs.queue import JobKind, enqueue_values, job_values
from engine.models import (
    Event,
    Instance,
    InstanceAffinityGroup,
    InstanceSecurityGroup,
    Job,
    Network,
    Nic,
    SecurityGroup,
    ServiceOffering,
    Tag,
    Template,
    Volume,
    Zone,
)
from engine.principal import Principal
from engine.sequences import take
from engine.services.affinity import AffinityService, placement_rules
from engine.services.events import event_values
from engine.services.instance_details import InstanceDetail, InstanceReader
from engine.services.instance_launch_checks import LaunchChecks, check_user_data, one_host
from engine.services.launch_details import Placed, Tier, launched_details
from engine.services.launch_rows import NewRows, new_row
from engine.services.public_ip_launch import PublicIpChoice, map_at_launch
from engine.services.resource_limits import Resource, admit
from engine.services.settings import Settings
from engine.services.tags import new_tag_values
from engine.services.template_user_data import launch_user_data
from engine.services.volumes_launch import (
    DataVolumeSpec,
    PlannedVolume,
    add_data_volumes,
    plan_data_volumes,
)
from engine.states import VmState, VolumeKind, VolumeState


@dataclass(frozen=True)
class LaunchRequest:
    """What to launch. Ids are engine uuids; names are matched exactly."""

    template_uuid: str
    offering_uuid: str
    zone_uuid: str | None = None
    min_count: int = 1
    max_count: int = 1
    key_name: str | None = None
    user_data_b64: str | None = None
    user_data_uuid: str | None = None  # a stored user data object instead of inline data
    security_group_uuids: tuple[str, ...] = ()
    name: str | None = None
    display_name: str | None = None
    root_size_gib: int | None = None
    root_volume_type: str | None = None  # None: the volume default
    root_delete_on_termination: bool = True  # False: the root volume outlives the instance
    network_uuid: str | None = None
    private_ip: str | None = None
    client_token: str | None = None
    disable_api_termination: bool = False
    tags: tuple[tuple[str, str], ...] = ()
    volume_tags: tuple[tuple[str, str], ...] = ()  # on the root and the data volumes
    nic_tags: tuple[tuple[str, str], ...] = ()  # on the primary interface
    data_volumes: tuple[DataVolumeSpec, ...] = ()  # made and attached with each instance
    host_uuid: str | None = None
    start: bool = True
    group: str = ""
    command: str = ""
    affinity_group_uuids: tuple[str, ...] = ()
    public_ip: PublicIpChoice = PublicIpChoice.NO  # a public address mapped at launch

    def fingerprint(self) -> str:
        """A digest of what is launched (all but the client token and the
        command), to tell a retried request from another one with the same token."""
        same = dataclasses.replace(self, client_token=None, command="")
        return hashlib.sha256(repr(same).encode()).hexdigest()


@dataclass
class Launch:
    reservation_sid: str
    instances: list[InstanceDetail]
    jobs: list[Any] = field(default_factory=list)  # the spawn jobs' records (``Job`` records)


@dataclass(frozen=True)
class _Context:
    """What every instance of one launch shares, read once."""

    principal: Principal
    req: LaunchRequest
    offering: ServiceOffering
    template: Template
    zone: Zone
    network: Network
    tier: Tier
    groups: list[SecurityGroup]
    user_data: str | None
    root_bytes: int
    reservation_sid: str
    affinity: list[str]
    public_ip: PublicIpChoice
    data: list[PlannedVolume]
    fingerprint: str | None


_BY_TOKEN = select(Instance).where(Instance.account_uuid == bindparam("p_account"),
                                   Instance.client_token == bindparam("p_token"))
_OF_RESERVATION = select(Instance).where(
    Instance.reservation_sid == bindparam("p_reservation")).order_by(Instance.launch_index)


class Launcher(LaunchChecks):
    """Runs one launch in the session's transaction (see the module docstring)."""

    def __init__(self, session: Session, settings: Settings, reader: InstanceReader,
                 planner: HostPlanner, storage: StorageAllocator) -> None:
        self._s = session
        self._settings = settings
        self._reader = reader
        self._planner = planner
        self._storage = storage

    def launch(self, principal: Principal, req: LaunchRequest, *, template: Any = None,
               offering: Any = None) -> Launch:
        """Create ``min_count``..``max_count`` instances and queue their spawn jobs.

        Fewer than ``min_count`` placeable raises InsufficientCapacity and
        leaves nothing behind (the caller's transaction rolls back). A
        ``client_token`` the account used before returns that launch again, or
        raises ConflictingParameters (names ``("client_token",)``) if the
        request differs from the one that used it. A private address with more
        than one instance raises ConflictingParameters (names
        ``("private_ip", "max_count")``).

        ``template`` and ``offering`` are the rows of the request's template
        and offering (objects or read-only records) if the caller read them
        already; they are checked as if read here (the principal may launch
        the template, the offering is active).
        """
        fingerprint = req.fingerprint() if req.client_token else None
        if req.client_token:
            assert fingerprint is not None
            previous = self._by_client_token(principal, req.client_token, fingerprint)
            if previous is not None:
                return previous
        if req.min_count < 1 or req.max_count < req.min_count:
            raise InvalidParameter("MinCount", req.min_count, "must be >= 1 and <= MaxCount")
        offering = self._offering(req.offering_uuid, offering)
        template = self._visible_template(principal, req.template_uuid, template)
        zone, linked, default_network = self._zone_for(
            template, req.zone_uuid or self._network_zone(req.network_uuid),
            default_network=not req.network_uuid)
        own = req.user_data_b64 or None
        if linked or req.user_data_uuid:  # else the launch's own data is all there is
            own = launch_user_data(self._s, principal, template.uuid, req.user_data_b64,
                                   req.user_data_uuid)
        user_data = check_user_data(own)
        # Limits lock the account row: before anything below inserts rows that
        # reference it (an FK check's shared lock would deadlock concurrent launches).
        root_bytes = self._root_size(template, offering, req.root_size_gib)
        data = plan_data_volumes(self._s, principal, zone.uuid, req.data_volumes)
        account, domain, default_group = self._owner(principal.account_uuid)
        count = admit(self._s, principal.account_uuid, {
            Resource.INSTANCE: 1, Resource.CPU: offering.cpus, Resource.MEMORY: offering.memory_mib,
            Resource.VOLUME: 1 + len(data),
            Resource.PRIMARY_STORAGE: root_bytes + sum(d.size_bytes for d in data)},
            req.min_count, req.max_count, self._settings, account=account)
        if req.key_name is not None:
            self._key_pair(principal, req.key_name)
        network, tier = self._network(principal, zone, req.network_uuid, default=default_network)
        groups = self._groups(principal, req.security_group_uuids,
                              network.uuid if req.network_uuid else None, default=default_group)
        if req.private_ip and req.max_count > 1:
            raise ConflictingParameters(("private_ip", "max_count"),
                                        "A private address can be given for one instance only")
        affinity = AffinityService(self._s).resolve(principal, principal.account_uuid,
                                                    req.affinity_group_uuids)
        public_ip = req.public_ip
        if public_ip is PublicIpChoice.NETWORK and not tier.maps_public_ip:
            public_ip = PublicIpChoice.NO
        ctx = _Context(principal, req, offering, template, zone, network, tier, groups,
                       user_data, root_bytes, new_sid(), affinity, public_ip, data, fingerprint)
        first_number = take(self._s, "instance", count)
        rows = NewRows(self._s)
        addresses: set[str] = set()  # private addresses taken, their NICs not written yet
        launched: list[Placed] = []
        for index in range(count):
            place = functools.partial(self._place_one, ctx, index, first_number + index,
                                      addresses, rows)
            try:
                if index < req.min_count:
                    # A failure here fails the whole launch (the caller's transaction
                    # rolls back), so only the optional instances need a savepoint.
                    one = place()
                else:
                    with self._s.begin_nested():
                        one = place()
            except InsufficientCapacity:
                if len(launched) >= req.min_count:
                    break
                raise
            launched.append(one)
            if affinity:
                rows.write()  # the next placement reads the group's members
                addresses.clear()
        jobs = []
        if req.start:
            spawns = [(Job, job_values(JobKind.SPAWN, principal, resource_kind=ResourceKind.INSTANCE,
                                       resource_uuid=p.instance.uuid, command=req.command))
                      for p in launched]
            jobs = [enqueue_values(self._s, values) for _m, values in spawns]
            rows.add_values(spawns)
        rows.write()
        return Launch(ctx.reservation_sid, launched_details(
            self._s, launched, owner=(account, domain), zone=zone, offering=offering, template=template,
            groups=groups, affinity_uuids=affinity, vpc_sid=tier.vpc_sid), jobs)

    def _place_one(self, ctx: _Context, index: int, number: int, addresses: set[str],
                   rows: NewRows) -> Placed:
        """Reserve capacity for one instance and hand its new rows (instance,
        NIC, root and data volumes, memberships, tags, events) to ``rows``.
        Raises InsufficientCapacity before making any row."""
        principal, req, offering, template, zone = (ctx.principal, ctx.req, ctx.offering,
                                                    ctx.template, ctx.zone)
        host_uuid = None
        if req.start:
            rules = placement_rules(self._s, None, ctx.affinity)
            host_uuid = self._planner.reserve(PlacementRequest(
                zone_uuid=zone.uuid, cpus=offering.cpus, cpu_mhz=offering.cpu_mhz,
                memory_mib=offering.memory_mib, account_uuid=principal.account_uuid,
                hypervisor=template.hypervisor, avoid=rules.avoid,
                host_uuid=one_host(req.host_uuid, rules.host_uuid)))
        pool_uuid = self._storage.reserve(zone.uuid, ctx.root_bytes, host_uuid=host_uuid,
                                          tags=offering.storage_tags,
                                          hypervisor=template.hypervisor)
        address = PrivateIpAllocator(self._s).allocate(ctx.network, req.private_ip,
                                                       taken=addresses)
        now = utcnow()
        uuid = new_uuid()
        base_name = req.name if req.name else None
        name = (base_name if base_name and req.max_count == 1
                else f"{base_name}-{index + 1}" if base_name else f"VM-{uuid}")
        new: builtins.list[tuple[type, dict[str, Any]]] = []

        def row(model: type, values: dict[str, Any]) -> Any:
            new.append((model, values))
            return new_row(model, values)

        inst = row(Instance, {
            "uuid": uuid,
            "number": number,
            "name": name,
            "display_name": req.display_name or name,
            "instance_name": f"i-{principal.account_number[-4:]}-{number}-VM",
            "account_uuid": principal.account_uuid,
            "user_uuid": principal.user_uuid or None,
            "zone_uuid": zone.uuid,
            "host_uuid": host_uuid,
            "last_host_uuid": host_uuid,
            "service_offering_uuid": offering.uuid,
            "template_uuid": template.uuid,
            "hypervisor": template.hypervisor,
            "state": VmState.STARTING if req.start else VmState.STOPPED,
            "cpus": offering.cpus, "cpu_mhz": offering.cpu_mhz, "memory_mib": offering.memory_mib,
            "key_pair_name": req.key_name,
            "user_data": ctx.user_data,
            "reservation_sid": ctx.reservation_sid,
            "launch_index": index,
            "client_token": req.client_token if index == 0 else None,
            "launch_fingerprint": ctx.fingerprint if index == 0 else None,
            "disable_api_termination": req.disable_api_termination,
            "group_name": req.group,
            "public_ip_mapped": ctx.public_ip is not PublicIpChoice.NO,
            "created_at": now,
            "state_changed_at": now,
        })
        data = [row(Volume, v) for v in add_data_volumes(self._storage, inst, ctx.data,
                                                           storage_tags="", now=now)]
        # NETWORK survives in ctx only where the network maps addresses (tier read once).
        mapped = map_at_launch(self._s, principal, inst, ctx.network.uuid, ctx.public_ip,
                               network_maps=True, add=lambda e: row(Event, e))
        addresses.add(address)
        nic = row(Nic, {
            "uuid": new_uuid(), "instance_uuid": uuid, "network_uuid": ctx.network.uuid,
            "ip_address": address, "mac_address": mac_for(ctx.network.sid, address), "device_id": 0,
            "is_default": True, "account_uuid": principal.account_uuid})
        root_values = {
            "uuid": new_uuid(),  # the volume tags below name it before any write
            "name": f"ROOT-{number}", "account_uuid": principal.account_uuid, "zone_uuid": zone.uuid,
            "pool_uuid": pool_uuid, "instance_uuid": uuid, "kind": VolumeKind.ROOT, "device_id": 0,
            "size_bytes": ctx.root_bytes, "state": VolumeState.ALLOCATED, "template_uuid": template.uuid,
            "snapshot_uuid": template.source_snapshot_uuid,  # the root is cloned from it if set
            "delete_on_termination": req.root_delete_on_termination, "attached_at": now,
            "created_at": now,
        }
        if req.root_volume_type:
            root_values["volume_type"] = req.root_volume_type
        root = row(Volume, root_values)
        volumes = [root, *data]
        row(Event, event_values(principal, "VM.CREATE", f"Launched {name}",
                                ResourceKind.INSTANCE, uuid))
        for g in ctx.groups:
            row(InstanceSecurityGroup, {"instance_uuid": uuid, "group_uuid": g.uuid})
        for u in ctx.affinity:
            row(InstanceAffinityGroup, {"instance_uuid": uuid, "group_uuid": u})
        tags = [row(Tag, t) for t in new_tag_values(principal, ResourceKind.INSTANCE, [uuid],
                                                    req.tags)] if req.tags else []
        if req.volume_tags:
            for t in new_tag_values(principal, ResourceKind.VOLUME, [v.uuid for v in volumes],
                                    req.volume_tags):
                row(Tag, t)
        if req.nic_tags:
            for t in new_tag_values(principal, ResourceKind.NIC, [nic.uuid], req.nic_tags):
                row(Tag, t)
        rows.add_values(new)  # only once nothing more can fail
        return Placed(inst, nic, ctx.network, root, mapped, tags, data)

    def _by_client_token(self, principal: Principal, token: str,
                         fingerprint: str) -> Launch | None:
        """The launch that used ``token``, if any (ConflictingParameters if it
        was another request: a launch recorded without a fingerprint matches)."""
        first = self._s.execute(_BY_TOKEN, {"p_account": principal.account_uuid,
                                            "p_token": token}).scalar()
        if first is None:
            return None
        if first.launch_fingerprint and first.launch_fingerprint != fingerprint:
            raise ConflictingParameters(("client_token",),
                                        "The client token was used by a different launch")
        rows = list(self._s.execute(_OF_RESERVATION,
                                    {"p_reservation": first.reservation_sid}).scalars())
        return Launch(first.reservation_sid, self._reader.details(rows), [])
