"""NICs as first-class objects: add/remove/make-default on a VM, and
standalone interfaces that are created, attached, detached and deleted.

A NIC is one ``Nic`` row whether it was made with its VM, added to it later
or created on its own; both front ends see the same rows. ``Nic.status`` is
``available`` (no instance), ``attaching``, ``in-use`` or ``detaching``.

Rules (all checked in the caller's transaction, before anything is queued):

* the instance must be Running or Stopped, and owned by the caller;
* the network must be live, in the instance's zone (``NetworkZoneMismatch``)
  and usable by the instance's owner (its own or a shared one);
* ``add_to_instance`` refuses a second NIC on one network (``NicOnNetwork``)
  and a MAC already used on the network;
* the default (device 0 / primary) NIC is never removed or detached
  (``PrimaryNic``); a NIC with port forwarding, load balancing or static NAT
  on its address is not removed (``NicHasRules``);
* addresses come from ``PrivateIpAllocator``, so they never collide with
  another NIC or a secondary IP; removing a NIC releases its address and its
  secondary addresses.

Hypervisor work runs as a job (``JobKind.ATTACH_NIC`` / ``DETACH_NIC``, see
``engine.jobs.nic_handlers``). When the instance runs on a host whose driver
cannot hot-plug NICs, the request is refused at once (``IncorrectState``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from engine.allocators.addresses import PrivateIpAllocator, mac_for
from engine.errors import (
    ConflictingParameters,
    Duplicate,
    IncorrectState,
    InUse,
    InvalidParameter,
    NotFound,
    PermissionDenied,
    Protected,
    ResourceKind,
)
from engine.hypervisors.base import Capability
from engine.ids import new_sid
from engine.jobs.drivers import host_access
from engine.jobs.nic_handlers import drop_nic
from engine.jobs.queue import JobKind, completed, enqueue
from engine.models import (
    Host,
    Instance,
    InstanceSecurityGroup,
    Job,
    Network,
    Nic,
    NicSecurityGroup,
    PortForwardingRule,
    PublicIp,
    SecurityGroup,
)
from engine.principal import Principal
from engine.services.access import may_act
from engine.services.events import record_event
from engine.services.tags import apply_tags
from engine.states import VmState

if TYPE_CHECKING:
    from engine.jobs.drivers import DriverPool

AVAILABLE, ATTACHING, IN_USE, DETACHING = "available", "attaching", "in-use", "detaching"
@dataclass(frozen=True)
class NicChange:
    """Settings of an interface to change (None: keep). ``delete_on_termination``
    changes the attachment named by ``attachment_sid``."""

    description: str | None = None
    source_dest_check: bool | None = None
    group_idents: tuple[str, ...] | None = None  # replaces the interface's groups
    delete_on_termination: bool | None = None
    attachment_sid: str | None = None


NIC_VM_STATES = frozenset({VmState.RUNNING, VmState.STOPPED})
MAX_DEVICE_INDEX = 31
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class NicOnNetwork(Duplicate):
    """The instance already has a NIC on this network."""

    def __init__(self, instance_name: str, network_uuid: str) -> None:
        super().__init__(ResourceKind.NIC, network_uuid)
        self.instance_name, self.network_uuid = instance_name, network_uuid
        self.message = self.public_message = (
            f"A NIC already exists for VM:{instance_name} in network: {network_uuid}")
        self.args = (self.message,)


class NetworkZoneMismatch(ConflictingParameters):
    """The network (subnet) and the instance are in different zones."""

    def __init__(self, network_uuid: str, instance_uuid: str) -> None:
        super().__init__(("network", "instance"),
                         f"The network {network_uuid} is not in the zone of instance "
                         f"{instance_uuid}")
        self.network_uuid, self.instance_uuid = network_uuid, instance_uuid


class PrimaryNic(Protected):
    """The default/primary NIC cannot be removed or detached."""

    def __init__(self, nic_uuid: str, operation: str) -> None:
        super().__init__(ResourceKind.NIC, nic_uuid, operation)


class NicHasRules(InvalidParameter):
    """Port forwarding, load balancing or static NAT still points at the NIC."""

    def __init__(self, nic_uuid: str) -> None:
        super().__init__("nicid", nic_uuid, "the NIC has associated port forwarding, load "
                                            "balancer or static NAT rules")


class NicService:
    def __init__(self, session: Session, drivers: DriverPool | None = None) -> None:
        self._s = session
        self._drivers = drivers

    # ------------------------------------------------------------- CloudStack
    def add_to_instance(self, principal: Principal, instance_uuid: str, network_uuid: str, *,
                        ip: str | None = None, mac: str | None = None,
                        command: str = "") -> tuple[Nic, Job]:
        """A new NIC of the instance on the network (next device id, not
        default unless the VM has none). The row exists at once (status
        ``attaching``); the job plugs it in or, on failure, deletes it."""
        inst = self._instance(principal, instance_uuid)
        net = self._network(inst, network_uuid)
        if self._s.scalar(select(Nic.uuid).where(Nic.instance_uuid == inst.uuid,
                                                 Nic.network_uuid == net.uuid)):
            raise NicOnNetwork(inst.instance_name, net.uuid)
        mac = self._mac(net, mac)
        self._require_plug(inst)
        address = PrivateIpAllocator(self._s).allocate(net, ip)
        has_default = self._s.scalar(select(Nic.uuid).where(
            Nic.instance_uuid == inst.uuid, Nic.is_default.is_(True))) is not None
        nic = Nic(instance_uuid=inst.uuid, network_uuid=net.uuid, ip_address=address,
                  mac_address=mac or mac_for(net.sid, address),
                  device_id=self._next_device(inst.uuid), is_default=not has_default,
                  account_uuid=inst.account_uuid, attachment_sid=new_sid(), status=ATTACHING,
                  delete_on_termination=True)
        self._s.add(nic)
        self._s.flush()
        job = enqueue(self._s, JobKind.ATTACH_NIC, principal, resource_kind=ResourceKind.INSTANCE,
                      resource_uuid=inst.uuid, command=command,
                      payload={"nic_uuid": nic.uuid, "instance_uuid": inst.uuid, "created": True})
        return nic, job

    def remove_from_instance(self, principal: Principal, instance_uuid: str, nic_uuid: str, *,
                             command: str = "") -> Job:
        """Unplug and delete a non-default NIC (its addresses are released by the job)."""
        inst = self._instance(principal, instance_uuid)
        nic = self._s.scalar(select(Nic).where(Nic.uuid == nic_uuid).with_for_update())
        if nic is None:
            raise NotFound(ResourceKind.NIC, nic_uuid)
        if nic.instance_uuid != inst.uuid:
            raise InvalidParameter("nicid", nic_uuid, f"the NIC is not a NIC of {inst.name}")
        if nic.is_default:
            raise PrimaryNic(nic.uuid, "removal")
        self._require_idle(nic)
        if self._has_rules(inst, nic):
            raise NicHasRules(nic.uuid)
        self._require_plug(inst)
        return self._queue_detach(principal, inst, nic, delete=True, force=False, command=command)

    def set_default(self, principal: Principal, instance_uuid: str, nic_uuid: str, *,
                    command: str = "") -> Job:
        """Make the NIC the instance's default: it takes the old default's
        device id and the old default takes its own (records only)."""
        inst = self._instance(principal, instance_uuid)
        nic = self._s.scalar(select(Nic).where(Nic.uuid == nic_uuid).with_for_update())
        if nic is None:
            raise NotFound(ResourceKind.NIC, nic_uuid)
        if nic.instance_uuid != inst.uuid:
            raise InvalidParameter("nicid", nic_uuid, f"the NIC is not a NIC of {inst.name}")
        if nic.is_default:
            raise InvalidParameter("nicid", nic_uuid, "the NIC is already the default")
        self._require_idle(nic)
        old = self._s.scalar(select(Nic).where(Nic.instance_uuid == inst.uuid,
                                               Nic.is_default.is_(True)).with_for_update())
        if old is not None:
            old.is_default, nic.is_default = False, True
            old.device_id, nic.device_id = nic.device_id, old.device_id
        else:
            nic.is_default = True
        record_event(self._s, principal, "NIC.UPDATE", f"Default NIC of {inst.name} changed",
                     ResourceKind.INSTANCE, inst.uuid)
        self._s.flush()
        return completed(self._s, principal, resource_kind=ResourceKind.INSTANCE,
                         resource_uuid=inst.uuid, command=command)

    # -------------------------------------------------- standalone interfaces
    def create(self, principal: Principal, network_ident: str, *, ip: str | None = None,
               group_idents: Sequence[str] = (), description: str = "",
               tags: Iterable[tuple[str, str]] = ()) -> Nic:
        """A free interface on the caller's (or a shared) network, with its own
        security groups (NotFound(SECURITY_GROUP) for one the caller lacks);
        with none named, the default group of the network's container (the
        account's, on a default network: SecurityGroupService.default_for_network);
        a group of another container is InvalidParameter (require_network)."""
        net = self._s.scalar(select(Network).where(
            or_(Network.uuid == network_ident, Network.sid == network_ident)))
        if net is None or net.removed_at is not None or not (
                net.account_uuid is None or may_act(self._s, principal, net.account_uuid)):
            raise NotFound(ResourceKind.NETWORK, network_ident)
        groups = [self._group(principal, g) for g in dict.fromkeys(group_idents)]
        from engine.services.security_groups import SecurityGroupService

        if not groups:
            groups = [SecurityGroupService(self._s).default_for_network(principal, net.uuid)]
        SecurityGroupService(self._s).require_network(groups, net.uuid)
        address = PrivateIpAllocator(self._s).allocate(net, ip)
        nic = Nic(instance_uuid=None, network_uuid=net.uuid, ip_address=address,
                  mac_address=mac_for(net.sid, address), device_id=0, is_default=False,
                  account_uuid=principal.account_uuid, status=AVAILABLE,
                  description=description, delete_on_termination=False)
        self._s.add(nic)
        self._s.flush()
        for g in groups:
            self._s.add(NicSecurityGroup(nic_uuid=nic.uuid, group_uuid=g.uuid))
        pairs = list(tags)
        if pairs:
            apply_tags(self._s, principal, ResourceKind.NIC, [nic.uuid], pairs)
        record_event(self._s, principal, "NIC.CREATE", f"Created interface {nic.sid}",
                     ResourceKind.NIC, nic.uuid)
        self._s.flush()
        return nic

    def delete(self, principal: Principal, nic_ident: str) -> None:
        """Delete a free interface; InUse while it is attached (or attaching)."""
        nic = self._owned_nic(principal, nic_ident)
        if nic.instance_uuid is not None or nic.status != AVAILABLE:
            raise InUse(ResourceKind.NIC, nic.sid)
        self._drop(nic)
        record_event(self._s, principal, "NIC.DELETE", f"Deleted interface {nic.sid}",
                     ResourceKind.NIC, nic.uuid)

    def attach(self, principal: Principal, nic_ident: str, instance_ident: str,
               device_index: int, *, command: str = "") -> tuple[Nic, Job]:
        """Attach a free interface at ``device_index`` (InvalidParameter if
        taken or out of range; InUse if the interface is attached)."""
        nic = self._owned_nic(principal, nic_ident)
        inst = self._instance(principal, instance_ident)
        self._s.refresh(nic, with_for_update=True)
        if nic.instance_uuid is not None or nic.status != AVAILABLE:
            raise InUse(ResourceKind.NIC, nic.sid)
        if not 0 < device_index <= MAX_DEVICE_INDEX:
            raise InvalidParameter("DeviceIndex", device_index,
                                   f"must be between 1 and {MAX_DEVICE_INDEX}")
        net = self._s.get(Network, nic.network_uuid)
        assert net is not None
        if net.zone_uuid != inst.zone_uuid:
            raise NetworkZoneMismatch(net.uuid, inst.uuid)
        if inst.account_uuid != (nic.account_uuid or inst.account_uuid):
            raise InvalidParameter("NetworkInterfaceId", nic.sid,
                                   "the interface and the instance belong to different accounts")
        if self._s.scalar(select(Nic.uuid).where(Nic.instance_uuid == inst.uuid,
                                                 Nic.device_id == device_index)):
            raise InvalidParameter("DeviceIndex", device_index,
                                   f"Instance '{inst.sid}' already has an interface attached "
                                   f"at device index '{device_index}'.")
        self._require_plug(inst)
        nic.instance_uuid, nic.device_id, nic.is_default = inst.uuid, device_index, False
        nic.attachment_sid, nic.status, nic.attached_at = new_sid(), ATTACHING, None
        nic.delete_on_termination = False
        self._s.flush()
        job = enqueue(self._s, JobKind.ATTACH_NIC, principal, resource_kind=ResourceKind.NIC,
                      resource_uuid=nic.uuid, command=command,
                      payload={"nic_uuid": nic.uuid, "instance_uuid": inst.uuid, "created": False})
        return nic, job

    def detach(self, principal: Principal, attachment_sid: str, *, force: bool = False,
               command: str = "") -> tuple[Nic, Job]:
        """Detach by attachment id (NotFound(NIC, attachment_sid) if unknown);
        the primary interface is refused (``PrimaryNic``)."""
        nic = self.by_attachment(principal, attachment_sid)
        inst = self._instance(principal, nic.instance_uuid or "")
        self._s.refresh(nic, with_for_update=True)
        if nic.is_default or nic.device_id == 0:
            raise PrimaryNic(nic.sid, "detach")
        if nic.status == DETACHING:
            return nic, self._pending(nic)
        self._require_idle(nic)
        if not force:
            self._require_plug(inst)
        job = self._queue_detach(principal, inst, nic, delete=False, force=force, command=command)
        return nic, job

    def modify(self, principal: Principal, nic_ident: str, change: NicChange) -> Nic:
        """Change an interface's settings. Groups (at least one; NotFound for
        one the caller lacks, InvalidParameter for one of another account)
        replace the interface's own; an instance's primary interface carries
        the instance's groups, so there they replace the instance's.
        ``delete_on_termination`` needs ``attachment_sid`` to be the
        interface's current attachment (NotFound(NIC, attachment_sid) else)."""
        nic = self._owned_nic(principal, nic_ident)
        owner = self._owner(nic)
        groups = None
        if change.group_idents is not None:
            groups = [self._group(principal, g) for g in dict.fromkeys(change.group_idents)]
            if not groups:
                raise InvalidParameter("Groups", "", "at least one security group is needed")
            for g in groups:
                if g.account_uuid != owner:
                    raise InvalidParameter("Groups", g.sid, "the security group and the "
                                           "interface belong to different accounts")
        if change.delete_on_termination is not None:
            current = (nic.attachment_sid or nic.sid) if nic.instance_uuid else None
            if current is None or change.attachment_sid != current:
                raise NotFound(ResourceKind.NIC, change.attachment_sid or "")
            nic.delete_on_termination = change.delete_on_termination
        if change.description is not None:
            nic.description = change.description[:255]
        if change.source_dest_check is not None:
            nic.source_dest_check = change.source_dest_check
        if groups is not None:
            self._set_groups(nic, groups)
        record_event(self._s, principal, "NIC.UPDATE", f"Changed interface {nic.sid}",
                     ResourceKind.NIC, nic.uuid, account_uuid=owner)
        self._s.flush()
        return nic

    def _set_groups(self, nic: Nic, groups: Sequence[SecurityGroup]) -> None:
        if nic.instance_uuid is not None and nic.is_default:
            self._s.execute(delete(InstanceSecurityGroup).where(
                InstanceSecurityGroup.instance_uuid == nic.instance_uuid))
            self._s.add_all(InstanceSecurityGroup(instance_uuid=nic.instance_uuid,
                                                  group_uuid=g.uuid) for g in groups)
            return
        self._s.execute(delete(NicSecurityGroup).where(NicSecurityGroup.nic_uuid == nic.uuid))
        self._s.add_all(NicSecurityGroup(nic_uuid=nic.uuid, group_uuid=g.uuid) for g in groups)

    # ---------------------------------------------------------------- reading
    def get(self, principal: Principal, nic_ident: str) -> Nic:
        return self._owned_nic(principal, nic_ident)

    def by_attachment(self, principal: Principal, attachment_sid: str) -> Nic:
        """The attached NIC with this attachment id (a VM's own NICs made
        before attachment ids existed answer to their own sid)."""
        nic = self._s.scalar(select(Nic).where(or_(
            Nic.attachment_sid == attachment_sid,
            (Nic.attachment_sid.is_(None)) & (Nic.sid == attachment_sid))))
        if nic is None or nic.instance_uuid is None or not may_act(
                self._s, principal, self._owner(nic)):
            raise NotFound(ResourceKind.NIC, attachment_sid)
        return nic

    # ---------------------------------------------------------------- helpers
    def _queue_detach(self, principal: Principal, inst: Instance, nic: Nic, *, delete: bool,
                      force: bool, command: str) -> Job:
        nic.status = DETACHING
        self._s.flush()
        kind, uuid = ((ResourceKind.INSTANCE, inst.uuid) if delete
                      else (ResourceKind.NIC, nic.uuid))
        return enqueue(self._s, JobKind.DETACH_NIC, principal, resource_kind=kind,
                       resource_uuid=uuid, command=command,
                       payload={"nic_uuid": nic.uuid, "instance_uuid": inst.uuid,
                                "delete": delete, "force": force})

    def _pending(self, nic: Nic) -> Job:
        job = self._s.scalar(select(Job).where(Job.resource_uuid == nic.uuid)
                             .order_by(Job.created_at.desc()).limit(1))
        if job is None:
            raise IncorrectState(ResourceKind.NIC, nic.sid, nic.status, [IN_USE])
        return job

    def _drop(self, nic: Nic) -> None:
        drop_nic(self._s, nic)
        self._s.flush()

    def _instance(self, principal: Principal, ident: str) -> Instance:
        inst = self._s.scalar(select(Instance).where(
            or_(Instance.uuid == ident, Instance.sid == ident)).with_for_update())
        if inst is None or inst.state in (VmState.EXPUNGED, VmState.EXPUNGING) or not may_act(
                self._s, principal, inst.account_uuid):
            raise NotFound(ResourceKind.INSTANCE, ident)
        if inst.state not in NIC_VM_STATES:
            raise IncorrectState(ResourceKind.INSTANCE, ident, inst.state, NIC_VM_STATES)
        return inst

    def _network(self, inst: Instance, network_uuid: str) -> Network:
        net = self._s.get(Network, network_uuid)
        if net is None or net.removed_at is not None:
            raise NotFound(ResourceKind.NETWORK, network_uuid)
        if net.account_uuid is not None and net.account_uuid != inst.account_uuid:
            raise PermissionDenied("use the network", ResourceKind.NETWORK, network_uuid)
        if net.zone_uuid != inst.zone_uuid:
            raise NetworkZoneMismatch(net.uuid, inst.uuid)
        return net

    def _mac(self, net: Network, mac: str | None) -> str | None:
        """A valid requested MAC (lower case), None for an invalid or absent one
        (CloudStack then picks one); a MAC in use on the network is refused."""
        if not mac or not _MAC.match(mac.lower()):
            return None
        mac = mac.lower()
        if self._s.scalar(select(Nic.uuid).where(Nic.network_uuid == net.uuid,
                                                 func.lower(Nic.mac_address) == mac)):
            raise Duplicate(ResourceKind.NIC, mac)
        return mac

    def _next_device(self, instance_uuid: str) -> int:
        used = set(self._s.scalars(select(Nic.device_id).where(Nic.instance_uuid == instance_uuid)))
        n = 0
        while n in used:
            n += 1
        return n

    def _group(self, principal: Principal, ident: str) -> SecurityGroup:
        g = self._s.scalar(select(SecurityGroup).where(
            or_(SecurityGroup.uuid == ident, SecurityGroup.sid == ident)))
        if g is None or not may_act(self._s, principal, g.account_uuid):
            raise NotFound(ResourceKind.SECURITY_GROUP, ident)
        return g

    def _owned_nic(self, principal: Principal, ident: str) -> Nic:
        nic = self._s.scalar(select(Nic).where(or_(Nic.uuid == ident, Nic.sid == ident)))
        if nic is None or not may_act(self._s, principal, self._owner(nic)):
            raise NotFound(ResourceKind.NIC, ident)
        return nic

    def _owner(self, nic: Nic) -> str | None:
        if nic.account_uuid is not None:
            return nic.account_uuid
        inst = self._s.get(Instance, nic.instance_uuid) if nic.instance_uuid else None
        return inst.account_uuid if inst is not None else None

    def _require_idle(self, nic: Nic) -> None:
        if nic.status not in (IN_USE, AVAILABLE):
            raise IncorrectState(ResourceKind.NIC, nic.sid, nic.status, [IN_USE])

    def _require_plug(self, inst: Instance) -> None:
        """A running VM's host must hot-plug NICs (IncorrectState otherwise)."""
        if inst.state != VmState.RUNNING or not inst.domain_ref or self._drivers is None:
            return
        host = self._s.get(Host, inst.host_uuid or inst.last_host_uuid or "")
        if host is None:
            return
        driver = self._drivers.get(host_access(self._s, host))
        if not driver.supports(Capability.HOT_PLUG_NIC):
            raise IncorrectState(ResourceKind.INSTANCE, inst.uuid, inst.state, [VmState.STOPPED])

    def _has_rules(self, inst: Instance, nic: Nic) -> bool:
        pf = self._s.scalar(select(PortForwardingRule.uuid).where(
            PortForwardingRule.instance_uuid == inst.uuid,
            or_(PortForwardingRule.nic_uuid == nic.uuid,
                PortForwardingRule.private_ip == nic.ip_address)).limit(1))
        if pf is not None:
            return True
        nat = self._s.scalar(select(PublicIp.uuid).where(
            PublicIp.instance_uuid == inst.uuid, PublicIp.network_uuid == nic.network_uuid,
            PublicIp.is_source_nat.is_(False)).limit(1))
        if nat is not None:
            return True
        try:
            from engine.models import LoadBalancerMember
        except ImportError:  # pragma: no cover - load balancers not installed
            return False
        return self._s.scalar(select(LoadBalancerMember.uuid).where(
            LoadBalancerMember.instance_uuid == inst.uuid,
            LoadBalancerMember.instance_ip == nic.ip_address).limit(1)) is not None

