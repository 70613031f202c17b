"""VM extras: a VM's NICs with their secondary IPs, instance groups, user data.

Everything here is synchronous and happens in the caller's transaction.
Secondary IPs come from the NIC's network through ``PrivateIpAllocator`` and
are unique per network (a unique constraint backs the check). Instance groups
are stored per account; VMs name theirs in ``Instance.group_name``. User data
objects are named per account and hold base64 text.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import uuid as uuidlib
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.allocators.addresses import PrivateIpAllocator
from engine.db import utcnow
from engine.errors import (
    Duplicate,
    IncorrectState,
    InsufficientCapacity,
    InvalidParameter,
    NotFound,
    ResourceKind,
)
from engine.models import Account, Domain, Instance, Network, Nic, Volume
from engine.models.vm_extras import InstanceGroup, NicSecondaryIp, TemplateUserData, UserData
from engine.principal import Principal
from engine.services.access import may_act, owned_instance, owner_account
from engine.states import VmState

# What a shutdown from inside the guest may do to the instance.
SHUTDOWN_ACTIONS = ("stop", "destroy")
_SETTABLE = frozenset({VmState.STARTING, VmState.RUNNING, VmState.STOPPING, VmState.STOPPED,
                       VmState.MIGRATING})
_LAUNCHING = frozenset({VmState.STARTING, VmState.RUNNING})

# CloudStack caps stored user data at 32 KiB of decoded bytes by default.
MAX_USER_DATA_BYTES = 32768


class NameTaken(Duplicate):
    """A per-account name already in use (kind-neutral text)."""

    def __init__(self, what: str, name: str) -> None:
        super().__init__(ResourceKind.ACCOUNT, name)
        self.message = self.public_message = f"A {what} with name {name} already exists for this account"
        self.args = (self.message,)


@dataclass
class NicView:
    nic: Nic
    network: Network
    secondary: builtins.list[NicSecondaryIp] = field(default_factory=list)


@dataclass
class Owned:
    """A per-account row with its account and domain (for views)."""

    row: InstanceGroup | UserData
    account: Account
    domain: Domain


class VmExtrasService:
    def __init__(self, session: Session) -> None:
        self._s = session

    # ------------------------------------------------------------------ NICs
    def nics(self, principal: Principal, instance_uuid: str, *, nic_uuid: str | None = None,
             network_uuid: str | None = None) -> builtins.list[NicView]:
        """The instance's NICs by device order (NotFound(INSTANCE) if not the caller's)."""
        inst = self._instance(principal, instance_uuid)
        q = select(Nic).where(Nic.instance_uuid == inst.uuid).order_by(Nic.device_id)
        if nic_uuid:
            q = q.where(Nic.uuid == nic_uuid)
        if network_uuid:
            q = q.where(Nic.network_uuid == network_uuid)
        out = []
        for n in self._s.scalars(q):
            net = self._s.get(Network, n.network_uuid)
            assert net is not None
            out.append(NicView(n, net, self._secondary_of(n.uuid)))
        return out

    def add_ip(self, principal: Principal, nic_uuid: str,
               address: str | None = None) -> NicSecondaryIp:
        """A secondary IP for the NIC: ``address`` if free, else the next free
        one of its network. InvalidParameter if ``address`` is taken or outside."""
        nic = self._nic(principal, nic_uuid)
        net = self._s.get(Network, nic.network_uuid)
        assert net is not None
        allocator = PrivateIpAllocator(self._s)
        if address is not None:
            if self._secondary_taken(net.uuid, address):
                raise InvalidParameter("ipaddress", address, "the address is in use")
            ip = allocator.allocate(net, address)
        else:
            ip = self._next_free(allocator, net)
        inst = self._s.get(Instance, nic.instance_uuid)
        assert inst is not None
        row = NicSecondaryIp(nic_uuid=nic.uuid, network_uuid=net.uuid, instance_uuid=inst.uuid,
                             account_uuid=inst.account_uuid, ip_address=ip)
        self._s.add(row)
        self._s.flush()
        return row

    def remove_ip(self, principal: Principal, secondary_uuid: str) -> NicSecondaryIp:
        """Release a secondary IP (NotFound(NIC) if unknown or not the caller's)."""
        row = self._s.get(NicSecondaryIp, secondary_uuid)
        if row is None or not may_act(self._s, principal, row.account_uuid):
            raise NotFound(ResourceKind.NIC, secondary_uuid)
        self._s.delete(row)
        self._s.flush()
        return row

    def secondary_ip(self, principal: Principal, secondary_uuid: str) -> NicSecondaryIp:
        row = self._s.get(NicSecondaryIp, secondary_uuid)
        if row is None or not may_act(self._s, principal, row.account_uuid):
            raise NotFound(ResourceKind.NIC, secondary_uuid)
        return row

    # -------------------------------------------------------- instance groups
    def create_group(self, principal: Principal, name: str,
                     account_uuid: str | None = None) -> Owned:
        """A new group for the caller's (or ``account_uuid``'s) account; Duplicate by name."""
        owner = owner_account(self._s, principal, account_uuid)
        if not name.strip():
            raise InvalidParameter("name", name, "a group needs a name")
        if self._s.scalar(select(InstanceGroup.uuid).where(
                InstanceGroup.account_uuid == owner, InstanceGroup.name == name)) or \
                self._s.scalar(select(Instance.uuid).where(
                    Instance.account_uuid == owner, Instance.group_name == name,
                    Instance.state != VmState.EXPUNGED).limit(1)):
            raise NameTaken("group", name)
        row = InstanceGroup(account_uuid=owner, name=name)
        self._s.add(row)
        self._s.flush()
        return self._owned(row)

    def groups(self, principal: Principal, *, all_accounts: bool = False,
               account_uuid: str | None = None, uuid: str | None = None,
               name: str | None = None, keyword: str | None = None) -> builtins.list[Owned]:
        """Stored groups plus, for every VM group name without a stored row, a
        derived one (not saved; its uuid is a stable function of account and
        name, its creation time the oldest member's). Read-only."""
        q = select(InstanceGroup)
        q = self._scope(q, InstanceGroup.account_uuid, principal, all_accounts, account_uuid)
        rows = {(r.account_uuid, r.name): r for r in self._s.scalars(q)}
        vq = select(Instance.account_uuid, Instance.group_name,
                    func.min(Instance.created_at)).where(
            Instance.group_name != "", Instance.state != VmState.EXPUNGED).group_by(
            Instance.account_uuid, Instance.group_name)
        vq = self._scope(vq, Instance.account_uuid, principal, all_accounts, account_uuid)
        for acct, group, first in self._s.execute(vq).all():
            if (acct, group) not in rows:
                rows[(acct, group)] = InstanceGroup(uuid=derived_group_uuid(acct, group),
                                                    account_uuid=acct, name=group,
                                                    created_at=first)
        found = [r for r in rows.values() if may_act(self._s, principal, r.account_uuid)
                 and (not uuid or r.uuid == uuid) and (not name or r.name == name)
                 and (not keyword or keyword.lower() in r.name.lower())]
        found.sort(key=lambda r: (r.created_at, r.uuid))
        return [self._owned(r) for r in found]

    # -------------------------------------------------------------- user data
    def register_user_data(self, principal: Principal, name: str, content_b64: str, *,
                           params: str = "", account_uuid: str | None = None) -> Owned:
        """Store base64 user data under a per-account unique name."""
        owner = owner_account(self._s, principal, account_uuid)
        decoded = decode_user_data(content_b64)
        if self._s.scalar(select(UserData.uuid).where(
                UserData.account_uuid == owner, UserData.name == name,
                UserData.removed_at.is_(None))):
            raise NameTaken("userdata", name)
        row = UserData(account_uuid=owner, name=name,
                       content=base64.b64encode(decoded).decode(), params=params)
        self._s.add(row)
        self._s.flush()
        return self._owned(row)

    def user_data(self, principal: Principal, *, all_accounts: bool = False,
                  account_uuid: str | None = None, uuid: str | None = None,
                  name: str | None = None, keyword: str | None = None) -> builtins.list[Owned]:
        q = select(UserData).where(UserData.removed_at.is_(None)).order_by(
            UserData.created_at, UserData.uuid)
        q = self._scope(q, UserData.account_uuid, principal, all_accounts, account_uuid)
        if uuid:
            q = q.where(UserData.uuid == uuid)
        if name:
            q = q.where(UserData.name == name)
        rows = [r for r in self._s.scalars(q) if may_act(self._s, principal, r.account_uuid)]
        if keyword:
            rows = [r for r in rows if keyword.lower() in r.name.lower()]
        return [self._owned(r) for r in rows]

    def get_user_data(self, principal: Principal, uuid: str) -> UserData:
        """A live user data object the caller may use (NotFound otherwise)."""
        row = self._s.get(UserData, uuid)
        if row is None or row.removed_at is not None or not may_act(
                self._s, principal, row.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, uuid)
        return row

    def delete_user_data(self, principal: Principal, uuid: str) -> None:
        """Remove a stored object; InvalidParameter while a template links it."""
        row = self.get_user_data(principal, uuid)
        if self._s.scalar(select(TemplateUserData.template_uuid).where(
                TemplateUserData.user_data_uuid == row.uuid).limit(1)) is not None:
            raise InvalidParameter("id", uuid, "the user data is linked to a template; "
                                   "unlink it first")
        row.removed_at = utcnow()

    # ---------------------------------------------------------- guest settings
    def set_guest_settings(self, principal: Principal, instance_uuid: str, *,
                           shutdown_action: str | None = None,
                           source_dest_check: bool | None = None,
                           hibernation: bool | None = None) -> Instance:
        """Change an instance's guest settings (None: keep), at once.

        ``shutdown_action`` (:data:`SHUTDOWN_ACTIONS`) is what a shutdown from
        inside the guest does; ``source_dest_check`` is its primary NIC's;
        ``hibernation`` is only for instances being launched (Starting or Running).
        IncorrectState when the instance is destroyed (or, for ``hibernation``,
        past its launch); InvalidParameter for an unknown action; NotFound
        (INSTANCE) for one the principal may not act on.
        """
        inst = self._instance(principal, instance_uuid)
        allowed = _LAUNCHING if hibernation is not None else _SETTABLE
        if inst.state not in allowed:
            raise IncorrectState(ResourceKind.INSTANCE, inst.uuid, inst.state, allowed)
        if shutdown_action is not None:
            if shutdown_action not in SHUTDOWN_ACTIONS:
                raise InvalidParameter("shutdown_action", shutdown_action,
                                       f"one of {', '.join(SHUTDOWN_ACTIONS)}")
            inst.guest_shutdown_action = shutdown_action
        if hibernation is not None:
            inst.hibernation_enabled = hibernation
        if source_dest_check is not None:
            nic = self._s.scalar(select(Nic).where(Nic.instance_uuid == inst.uuid)
                                 .order_by(Nic.is_default.desc(), Nic.device_id).limit(1))
            if nic is not None:
                nic.source_dest_check = source_dest_check
        inst.updated_at = utcnow()
        self._s.flush()
        return inst

    # ---------------------------------------------------------------- volumes
    def rename_volume(self, principal: Principal, volume_uuid: str, name: str) -> None:
        """Give a live volume the caller may act on a new name (NotFound otherwise)."""
        v = self._s.scalar(select(Volume).where(Volume.uuid == volume_uuid).with_for_update())
        if v is None or v.removed_at is not None or not may_act(self._s, principal,
                                                                v.account_uuid):
            raise NotFound(ResourceKind.VOLUME, volume_uuid)
        if not name.strip() or len(name) > 255:
            raise InvalidParameter("name", name, "a volume name is 1 to 255 characters")
        v.name = name

    # ------------------------------------------------------------- internals
    def _instance(self, principal: Principal, uuid: str) -> Instance:
        return owned_instance(self._s, principal, uuid)

    def _nic(self, principal: Principal, nic_uuid: str) -> Nic:
        nic = self._s.get(Nic, nic_uuid)
        if nic is None or nic.instance_uuid is None:
            raise NotFound(ResourceKind.NIC, nic_uuid)
        inst = self._s.get(Instance, nic.instance_uuid)
        if inst is None or inst.state == VmState.EXPUNGED or not may_act(
                self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.NIC, nic_uuid)
        return nic

    def _secondary_of(self, nic_uuid: str) -> builtins.list[NicSecondaryIp]:
        return list(self._s.scalars(select(NicSecondaryIp).where(
            NicSecondaryIp.nic_uuid == nic_uuid).order_by(NicSecondaryIp.created_at,
                                                          NicSecondaryIp.uuid)))

    def _secondary_taken(self, network_uuid: str, address: str) -> bool:
        return self._s.scalar(select(NicSecondaryIp.uuid).where(
            NicSecondaryIp.network_uuid == network_uuid,
            NicSecondaryIp.ip_address == address)) is not None

    def _next_free(self, allocator: PrivateIpAllocator, net: Network) -> str:
        """The allocator's next address that no secondary IP holds either
        (the allocator only knows NICs' own addresses)."""
        seen: set[str] = set()
        while True:
            ip = allocator.allocate(net)
            if not self._secondary_taken(net.uuid, ip):
                return ip
            if ip in seen:
                raise InsufficientCapacity(ResourceKind.NETWORK, f"no free address in {net.cidr}")
            seen.add(ip)

    def _scope(self, q, column, principal: Principal, all_accounts: bool,  # type: ignore[no-untyped-def]
               account_uuid: str | None):
        if account_uuid:
            return q.where(column == account_uuid)
        if all_accounts and (principal.is_root_admin or principal.is_domain_admin):
            return q
        return q.where(column == principal.account_uuid)

    def _owned(self, row: InstanceGroup | UserData) -> Owned:
        account = self._s.get(Account, row.account_uuid)
        assert account is not None
        domain = self._s.get(Domain, account.domain_uuid)
        assert domain is not None
        return Owned(row, account, domain)


def decode_user_data(content_b64: str) -> bytes:
    """The bytes of base64 user data; InvalidParameter if not base64 or too long."""
    try:
        decoded = base64.b64decode(content_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameter("userdata", content_b64[:32], "User data is not base64 encoded") from exc
    if not decoded or len(decoded) > MAX_USER_DATA_BYTES:
        raise InvalidParameter("userdata", content_b64[:32],
                               f"User data must be 1 to {MAX_USER_DATA_BYTES} bytes")
    return decoded


def derived_group_uuid(account_uuid: str, name: str) -> str:
    """The stable id of a group known only from its VMs' ``group_name``."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"instance-group:{account_uuid}:{name}"))
