"""Instances' network interfaces (NICs), read side.

A NIC is listed while its instance is live (not expunged), or while it is a
standalone interface (no instance); it belongs to its own account, else to
the instance's. Listing contract: :meth:`InterfaceService.list` (fields in
its docstring, plus ``tag:*`` / ``tag-key`` / ``tag-value``).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from engine.models import (
    Account,
    Instance,
    InstanceSecurityGroup,
    Network,
    Nic,
    NicSecurityGroup,
    PublicIp,
    SecurityGroup,
    Tag,
    Vpc,
    VpcTier,
    Zone,
)
from engine.principal import Principal
from engine.querying import (
    Criterion,
    FieldMap,
    ListResult,
    Paging,
    match_values,
    owner_scope,
    paginate,
    query_key,
)
from engine.services.instance_fields import time_pattern_match
from engine.services.vpcs import apply_fields
from engine.states import VmState

_GONE = (VmState.EXPUNGED, VmState.EXPUNGING)


@dataclass
class InterfaceDetail:
    nic: Nic
    instance: Instance | None  # None: a standalone interface
    network: Network
    zone: Zone
    account: Account
    vpc_sid: str  # the network's container (its own sid when standalone)
    public_ip: PublicIp | None = None
    groups: list[SecurityGroup] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)


class InterfaceService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def list(self, principal: Principal, criteria: Sequence[Criterion] = (),
             paging: Paging | None = None) -> ListResult:
        """NICs of the instances the principal may see, oldest first, as
        :class:`InterfaceDetail`.

        Fields: ``sid``, ``network_sid``, ``vpc_sid``, ``instance_sid``,
        ``ip_address``, ``mac_address``, ``zone_name``, ``owner_number``,
        ``device_id``, ``group_sid``, ``group_name``, ``public_ip``, ``status``
        (available/attaching/in-use/detaching), ``attachment_status``
        (attaching/attached/detaching, "" when free), ``attachment_sid``,
        ``description``, ``delete_on_termination`` and ``source_dest_check``
        ("true"/"false").
        """
        def grouped(column: object) -> object:
            own = exists().where(NicSecurityGroup.nic_uuid == Nic.uuid)
            return lambda values: or_(
                exists().where(NicSecurityGroup.nic_uuid == Nic.uuid,
                               SecurityGroup.uuid == NicSecurityGroup.group_uuid,
                               match_values(column, values, True)),  # type: ignore[arg-type]
                and_(~own, exists().where(
                    InstanceSecurityGroup.instance_uuid == Instance.uuid,
                    SecurityGroup.uuid == InstanceSecurityGroup.group_uuid,
                    match_values(column, values, True))))  # type: ignore[arg-type]

        def public(column: Any, *where: Any) -> Any:
            return lambda values: exists().where(
                PublicIp.instance_uuid == Instance.uuid, Nic.is_default.is_(True),
                match_values(column, values, True), *where)

        fields: FieldMap = {
            "sid": Nic.sid, "network_sid": Network.sid,
            "vpc_sid": func.coalesce(Vpc.sid, Network.sid),
            "instance_sid": Instance.sid, "ip_address": Nic.ip_address,
            "mac_address": Nic.mac_address, "zone_name": Zone.name,
            "owner_number": Account.number, "device_id": func.cast(Nic.device_id, Nic.sid.type),
            "group_sid": grouped(SecurityGroup.sid),  # type: ignore[dict-item]
            "group_name": grouped(SecurityGroup.name),  # type: ignore[dict-item]
            "public_ip": lambda values: exists().where(
                PublicIp.instance_uuid == Instance.uuid, Nic.is_default.is_(True),
                match_values(PublicIp.address, values, True)),
            "nothing": lambda values: literal(False),
            "created_at": time_pattern_match(func.coalesce(Nic.attached_at, Nic.created_at),
                                             "created_at"),
            "status": Nic.status,
            "attachment_status": case(
                (Nic.status == "in-use", literal("attached")),
                (Nic.status == "available", literal("")), else_=Nic.status),
            "attachment_sid": func.coalesce(Nic.attachment_sid, Nic.sid),
            "description": Nic.description,
            "delete_on_termination": case((Nic.delete_on_termination.is_(True), literal("true")),
                                          else_=literal("false")),
            "source_dest_check": case((Nic.source_dest_check.is_(False), literal("false")),
                                      else_=literal("true")),
            "public_ip_sid": public(PublicIp.sid, PublicIp.account_uuid.is_not(None)),
            "public_ip_association_sid": public(PublicIp.association_sid),
            "public_ip_owner": lambda values: exists().where(
                PublicIp.instance_uuid == Instance.uuid, Nic.is_default.is_(True),
                or_(PublicIp.account_uuid.in_(select(Account.uuid).where(
                    match_values(Account.number, values, True))),
                    and_(PublicIp.account_uuid.is_(None), literal("" in values)))),
        }
        owner = func.coalesce(Nic.account_uuid, Instance.account_uuid)
        stmt = (select(Nic)
                .outerjoin(Instance, Instance.uuid == Nic.instance_uuid)
                .join(Network, Network.uuid == Nic.network_uuid)
                .join(Zone, Zone.uuid == Network.zone_uuid)
                .join(Account, Account.uuid == owner)
                .outerjoin(VpcTier, VpcTier.network_uuid == Network.uuid)
                .outerjoin(Vpc, Vpc.uuid == VpcTier.vpc_uuid)
                .where(or_(Nic.instance_uuid.is_(None), Instance.state.not_in(_GONE)),
                       owner_scope(owner, principal)))
        stmt = apply_fields(stmt, fields, Nic.uuid, tuple(criteria))
        page = paginate(self._s, stmt, created_column=Nic.created_at, uuid_column=Nic.uuid,
                        paging=paging or Paging(),
                        query_key=query_key("nics", principal.account_uuid, tuple(criteria)))
        page.items = self._details(page.items)
        return page

    def _details(self, nics: Sequence[Nic]) -> builtins.list[InterfaceDetail]:
        if not nics:
            return []
        uuids = [n.uuid for n in nics]
        heads = {n.uuid: (i, net, z, a, vsid) for n, i, net, z, a, vsid in self._s.execute(
            select(Nic, Instance, Network, Zone, Account, func.coalesce(Vpc.sid, Network.sid))
            .outerjoin(Instance, Instance.uuid == Nic.instance_uuid)
            .join(Network, Network.uuid == Nic.network_uuid)
            .join(Zone, Zone.uuid == Network.zone_uuid)
            .join(Account, Account.uuid == func.coalesce(Nic.account_uuid,
                                                          Instance.account_uuid))
            .outerjoin(VpcTier, VpcTier.network_uuid == Network.uuid)
            .outerjoin(Vpc, Vpc.uuid == VpcTier.vpc_uuid)
            .where(Nic.uuid.in_(uuids))).all()}
        instances = {h[0].uuid for h in heads.values() if h[0] is not None}
        public = {p.instance_uuid: p for p in self._s.scalars(
            select(PublicIp).where(PublicIp.instance_uuid.in_(instances)))}
        groups: dict[str, builtins.list[SecurityGroup]] = {}
        for inst_uuid, group in self._s.execute(
                select(InstanceSecurityGroup.instance_uuid, SecurityGroup)
                .join(SecurityGroup, SecurityGroup.uuid == InstanceSecurityGroup.group_uuid)
                .where(InstanceSecurityGroup.instance_uuid.in_(instances))
                .order_by(SecurityGroup.name)).all():
            groups.setdefault(inst_uuid, []).append(group)
        own: dict[str, builtins.list[SecurityGroup]] = {}
        for nic_uuid, group in self._s.execute(
                select(NicSecurityGroup.nic_uuid, SecurityGroup)
                .join(SecurityGroup, SecurityGroup.uuid == NicSecurityGroup.group_uuid)
                .where(NicSecurityGroup.nic_uuid.in_(uuids))
                .order_by(SecurityGroup.name)).all():
            own.setdefault(nic_uuid, []).append(group)
        tags: dict[str, builtins.list[Tag]] = {}
        for t in self._s.scalars(select(Tag).where(Tag.resource_uuid.in_(uuids))
                                 .order_by(Tag.key)):
            tags.setdefault(t.resource_uuid, []).append(t)
        out = []
        for n in nics:
            inst, net, zone, account, vsid = heads[n.uuid]
            ip = public.get(inst.uuid) if inst is not None and n.is_default else None
            sgs = own.get(n.uuid) or (groups.get(inst.uuid, []) if inst is not None else [])
            out.append(InterfaceDetail(n, inst, net, zone, account, vsid, ip, sgs,
                                       tags.get(n.uuid, [])))
        return out
