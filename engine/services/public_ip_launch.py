"""Public addresses given to instances with their launch ("mapped" addresses).

An instance launched with a public address wanted (:class:`PublicIpChoice`)
takes one from the zone's pool through :class:`PublicIpAllocator`, the same
race-safe allocator that allocating an address for an account uses. The row
is Allocated to the instance's account with ``instance_uuid`` set and no
``association_sid``: that is what marks an address as mapped with the
instance, not held by the account (it does not show as the account's own,
cannot be moved, and returns to the pool when the instance is expunged; see
``engine.jobs.handlers._expunge_resources``).

The instance remembers that it was launched wanting an address
(``Instance.public_ip_mapped``). Interaction with the account's own addresses
(``AddressService``), as on AWS: associating one with the instance returns
the mapped address to the pool; ending that association maps a fresh address
again for an instance launched wanting one (:func:`remap_after_disassociation`).

Everything happens in the caller's transaction: a launch that fails leaves no
address behind (the transaction, or the instance's savepoint, rolls back).
"""

from __future__ import annotations

import enum
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.allocators.addresses import PublicIpAllocator
from engine.errors import InsufficientCapacity, ResourceKind
from engine.models import Instance, Network, Nic, PublicIp, VpcTier
from engine.principal import Principal
from engine.services.events import record_event
from engine.states import VmState

log = logging.getLogger("nimbostack.public_ip_launch")

EVENT_MAP = "IP.ASSIGN"
_GONE = (VmState.DESTROYED, VmState.EXPUNGING, VmState.EXPUNGED, VmState.ERROR)


class PublicIpChoice(enum.Enum):
    """Whether a launched instance gets a public address."""

    NO = "no"              # never (the default for callers that do not say)
    NETWORK = "network"    # as the network says (its tier's map-at-launch setting)
    YES = "yes"            # always; InsufficientCapacity when the pool is empty


def network_maps_public_ip(session: Session, network_uuid: str) -> bool:
    """Whether the network is a tier that maps public addresses at launch."""
    return bool(session.scalar(select(VpcTier.map_public_ip).where(
        VpcTier.network_uuid == network_uuid)))


def map_at_launch(session: Session, principal: Principal | None, inst: Instance,
                  network: Network, choice: PublicIpChoice) -> PublicIp | None:
    """Give the just-placed ``inst`` a public address of its zone when
    ``choice`` asks for one. With ``NETWORK`` an empty pool means no address
    (logged); with ``YES`` it raises InsufficientCapacity(PUBLIC_IP)."""
    if choice is PublicIpChoice.NO:
        return None
    if choice is PublicIpChoice.NETWORK and not network_maps_public_ip(session, network.uuid):
        return None
    inst.public_ip_mapped = True
    return _map(session, principal, inst, network.uuid, required=choice is PublicIpChoice.YES)


def _map(session: Session, principal: Principal | None, inst: Instance, network_uuid: str, *,
         required: bool) -> PublicIp | None:
    try:  # a failed allocation changes nothing
        ip = PublicIpAllocator(session).allocate(inst.zone_uuid, inst.account_uuid)
    except InsufficientCapacity:
        if required:
            raise
        log.warning("no public address left in zone %s for %s", inst.zone_uuid, inst.uuid)
        return None
    _attach(ip, inst, network_uuid)
    record_event(session, principal, EVENT_MAP, f"Mapped public address {ip.address}",
                 ResourceKind.PUBLIC_IP, ip.uuid, account_uuid=inst.account_uuid)
    session.flush()
    return ip


def remap_after_disassociation(session: Session, principal: Principal | None,
                               instance_uuid: str) -> PublicIp | None:
    """After an account's address left the instance: map a fresh address when
    the instance was launched wanting one, is live and holds no public
    address now. An empty pool means none (logged)."""
    inst = session.get(Instance, instance_uuid)
    if inst is None or not inst.public_ip_mapped or inst.state in _GONE:
        return None
    if session.scalar(select(PublicIp.uuid).where(PublicIp.instance_uuid == inst.uuid)):
        return None
    nic = session.scalar(select(Nic).where(Nic.instance_uuid == inst.uuid,
                                           Nic.is_default.is_(True)))
    if nic is None:
        return None
    return _map(session, principal, inst, nic.network_uuid, required=False)


def _attach(ip: PublicIp, inst: Instance, network_uuid: str) -> None:
    ip.instance_uuid = inst.uuid
    ip.association_sid = None
    ip.network_uuid = network_uuid


__all__ = ["PublicIpChoice", "map_at_launch", "network_maps_public_ip",
           "remap_after_disassociation"]
