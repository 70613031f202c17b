"""Checks of a launch request's inputs (template, zone, key pair, groups,
network, root size, user data), shared by :class:`InstanceService`.

They raise the engine's neutral errors and change nothing.
"""

from __future__ import annotations

import base64
import binascii
import builtins

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InsufficientCapacity, InvalidParameter, NotFound, ResourceKind
from engine.models import (
    Account,
    Domain,
    KeyPair,
    Network,
    SecurityGroup,
    ServiceOffering,
    Template,
    TemplateZone,
    Zone,
)
from engine.principal import Principal
from engine.services.security_groups import SecurityGroupService
from engine.services.template_access import may_launch
from engine.states import TemplateState

GIB = 1024**3
MAX_USER_DATA = 16 * 1024


class LaunchChecks:
    """Mixin: needs ``self._s`` (the unit of work's session)."""

    _s: Session

    def _visible_template(self, principal: Principal, uuid: str) -> Template:
        t = self._s.get(Template, uuid)
        if t is None or not may_launch(self._s, principal, t):
            raise NotFound(ResourceKind.TEMPLATE, uuid)
        return t

    def _zone_for(self, template: Template, zone_uuid: str | None) -> Zone:
        stmt = select(Zone, TemplateZone.state).join(
            TemplateZone, TemplateZone.zone_uuid == Zone.uuid
        ).where(TemplateZone.template_uuid == template.uuid, Zone.removed_at.is_(None))
        if zone_uuid:
            stmt = stmt.where(Zone.uuid == zone_uuid)
        rows = self._s.execute(stmt.order_by(Zone.created_at)).all()
        if not rows:
            if zone_uuid and self._s.get(Zone, zone_uuid) is None:
                raise NotFound(ResourceKind.ZONE, zone_uuid)
            raise InvalidParameter("templateid", template.uuid, "the template is not in that zone")
        ready = [z for z, st in rows if st == TemplateState.READY]
        if not ready:
            raise InvalidParameter("templateid", template.uuid, "the template is not ready yet")
        return ready[0]

    def _owner(self, account_uuid: str) -> tuple[Account, Domain]:
        """The launching account and its domain, in one query."""
        row = self._s.execute(select(Account, Domain).join(
            Domain, Domain.uuid == Account.domain_uuid).where(Account.uuid == account_uuid)).one()
        return row[0], row[1]

    def _key_pair(self, principal: Principal, name: str) -> KeyPair:
        kp = self._s.scalar(select(KeyPair).where(KeyPair.account_uuid == principal.account_uuid,
                                                  KeyPair.name == name))
        if kp is None:
            raise NotFound(ResourceKind.KEY_PAIR, name)
        return kp

    def _groups(self, principal: Principal, uuids: tuple[str, ...],
                network_uuid: str | None = None) -> builtins.list[SecurityGroup]:
        """The launch's security groups (NotFound for one not the account's);
        without any, the default group: of the container ``network_uuid`` is a
        tier of, when one was asked for, else the account's. Groups named for an
        asked network must belong to its container (InvalidParameter)."""
        service = SecurityGroupService(self._s)
        if not uuids:
            if network_uuid is not None:
                return [service.default_for_network(principal, network_uuid)]
            # AWS's default group: all egress, and ingress from its own members.
            return [service.ensure_default(principal, open_egress=True, self_ingress=True)]
        groups = list(self._s.scalars(select(SecurityGroup).where(SecurityGroup.uuid.in_(uuids))))
        found = {g.uuid for g in groups if g.account_uuid == principal.account_uuid}
        for u in uuids:
            if u not in found:
                raise NotFound(ResourceKind.SECURITY_GROUP, u)
        if network_uuid is not None:
            service.require_network(groups, network_uuid)
        return groups

    def _network_zone(self, uuid: str | None) -> str | None:
        """The zone of the network ``uuid`` (uuid or sid), if there is one."""
        if not uuid:
            return None
        return self._s.scalar(select(Network.zone_uuid).where(
            (Network.uuid == uuid) | (Network.sid == uuid)))

    def _network(self, principal: Principal, zone: Zone, uuid: str | None) -> Network:
        if uuid:
            net = self._s.scalar(select(Network).where(
                (Network.uuid == uuid) | (Network.sid == uuid)))
            if net is None or net.zone_uuid != zone.uuid or net.removed_at is not None or (
                    net.account_uuid not in (None, principal.account_uuid)):
                raise NotFound(ResourceKind.NETWORK, uuid)
            return net
        net = self._s.scalar(select(Network).where(
            Network.zone_uuid == zone.uuid, Network.is_default.is_(True),
            Network.removed_at.is_(None)).order_by(Network.created_at))
        if net is None:
            raise InsufficientCapacity(ResourceKind.NETWORK, "the zone has no guest network")
        return net

    def _root_size(self, template: Template, offering: ServiceOffering,
                   requested_gib: int | None) -> int:
        minimum = max(template.size_bytes, offering.root_disk_gib * GIB)
        if requested_gib is not None:
            if requested_gib * GIB < template.size_bytes:
                raise InvalidParameter("VolumeSize", requested_gib,
                                       "smaller than the image's size")
            return requested_gib * GIB
        return max(minimum, GIB)


def check_user_data(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameter("UserData", "...", "Invalid BASE64 encoding of user data") from exc
    if len(raw) > MAX_USER_DATA:
        raise InvalidParameter("UserData", "...", "User data is limited to 16384 bytes")
    return value


def one_host(asked: str | None, required: str | None) -> str | None:
    """The host a placement must use: the one asked for and/or the one an
    affinity group requires (InsufficientCapacity when they differ)."""
    if asked and required and asked != required:
        raise InsufficientCapacity(ResourceKind.HOST, "the affinity group requires another host")
    return asked or required
