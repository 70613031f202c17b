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
(``Instance.public_ip_mapped``). As on AWS, a mapped address lives only while
the instance runs: it returns to the pool when the instance stops
(:func:`release_mapped`, called when a stop completes) and a fresh one is
mapped when it runs again (:func:`map_again`, called when a start completes);
an instance made without being started gets its first one at its first start.
A stopped instance holds no mapped address. Interaction with the account's own
addresses (``AddressService``): associating one with the instance returns the
mapped address to the pool; ending that association maps a fresh address
again for a running instance launched wanting one (:func:`map_again`). The
account's own addresses stay through stop and start. Mapped addresses are not
the account's: they do not count against its public address limit
(``engine.services.resource_limits``).

Everything happens in the caller's transaction: a launch that fails leaves no
address behind (the transaction, or the instance's savepoint, rolls back).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.allocators.addresses import PublicIpAllocator
from engine.errors import InsufficientCapacity, ResourceKind
from engine.models import Instance, Nic, PublicIp, VpcTier
from engine.principal import Principal
from engine.services.events import event_values, record_event
from engine.statements import Prepared
from engine.states import VmState

log = logging.getLogger("nimbostack.public_ip_launch")

EVENT_MAP = "IP.ASSIGN"
EVENT_RELEASE = "IP.RELEASE"
# States in which an instance launched wanting an address holds one.
_ON = frozenset({VmState.RUNNING, VmState.STARTING, VmState.MIGRATING})
_HELD = Prepared(select(PublicIp.uuid).where(PublicIp.instance_uuid == bindparam("p_instance"))
                 .limit(1))


class PublicIpChoice(enum.Enum):
    """Whether a launched instance gets a public address."""

    NO = "no"              # never (the default for callers that do not say)
    NETWORK = "network"    # as the network says (its tier's map-at-launch setting)
    YES = "yes"            # always; InsufficientCapacity when the pool is empty


def network_maps_public_ip(session: Session, network_uuid: str) -> bool:
    """Whether the network is a tier that maps public addresses at launch."""
    return bool(session.scalar(select(VpcTier.map_public_ip).where(
        VpcTier.network_uuid == network_uuid)))


def map_at_launch(session: Session, principal: Principal | None, inst: LaunchedInstance,
                  network_uuid: str, choice: PublicIpChoice, *,
                  network_maps: bool | None = None,
                  add: Callable[[dict[str, Any]], None] | None = None) -> Any:
    """Give the just-placed ``inst`` a public address of its zone when
    ``choice`` asks for one. With ``NETWORK`` an empty pool means no address
    (logged); with ``YES`` it raises InsufficientCapacity(PUBLIC_IP). An
    instance made stopped gets none here (mapped at its start). ``inst`` is
    only read (an ORM row or its record): the caller made it remembering the
    wish (``public_ip_mapped``) when ``choice`` may map one.

    ``network_maps`` is :func:`network_maps_public_ip` of ``network_uuid`` if
    the caller read it already (a launch does); None reads it here. ``add``
    takes the event row's values (``events.event_values``) instead of the
    session (a launch writes its rows itself: see
    ``engine.services.launch_rows``); without it the event is flushed here.
    Returns the mapped address as a read-only record (a ``PublicIp``
    record, see ``PublicIpAllocator.allocate_mapped``), or None."""
    if choice is PublicIpChoice.NO:
        return None
    if choice is PublicIpChoice.NETWORK:
        if network_maps is None:
            network_maps = network_maps_public_ip(session, network_uuid)
        if not network_maps:
            return None
    if inst.state not in _ON:
        return None
    return _map(session, principal, inst, network_uuid, required=choice is PublicIpChoice.YES,
                add=add)


class LaunchedInstance(Protocol):
    """What mapping an address reads of an instance (its ORM row or its record)."""

    @property
    def uuid(self) -> str: ...
    @property
    def zone_uuid(self) -> str: ...
    @property
    def account_uuid(self) -> str: ...
    @property
    def state(self) -> VmState: ...
    @property
    def public_ip_mapped(self) -> bool: ...


def _map(session: Session, principal: Principal | None, inst: LaunchedInstance,
         network_uuid: str, *, required: bool,
         add: Callable[[dict[str, Any]], None] | None = None) -> Any:
    try:  # a failed allocation changes nothing
        # Allocated and attached in one UPDATE (no association: see is_mapped).
        ip = PublicIpAllocator(session).allocate_mapped(inst.zone_uuid, inst.account_uuid,
                                                        instance_uuid=inst.uuid,
                                                        network_uuid=network_uuid)
    except InsufficientCapacity:
        if required:
            raise
        log.warning("no public address left in zone %s for %s", inst.zone_uuid, inst.uuid)
        return None
    event = (EVENT_MAP, f"Mapped public address {ip.address}", ResourceKind.PUBLIC_IP, ip.uuid)
    if add is None:
        record_event(session, principal, *event, account_uuid=inst.account_uuid)
        session.flush()
    else:  # the caller writes it
        add(event_values(principal, *event, account_uuid=inst.account_uuid))
    return ip


def map_again(session: Session, principal: Principal | None,
              instance_uuid: str) -> Any:
    """Map a fresh address to an instance launched wanting one that runs (or
    is starting) and holds no public address now: after it started, or after
    an account's address left it. Idempotent; an empty pool means none
    (logged)."""
    inst = session.get(Instance, instance_uuid)
    return map_again_for(session, principal, inst) if inst is not None else None


def map_again_for(session: Session, principal: Principal | None,
                  inst: LaunchedInstance) -> Any:
    """:func:`map_again` for an instance the caller read (its row or its
    record as it is now)."""
    if not inst.public_ip_mapped or inst.state not in _ON:
        return None
    if _HELD.execute(session, {"p_instance": inst.uuid}).first() is not None:
        return None
    nic = session.scalar(select(Nic).where(Nic.instance_uuid == inst.uuid,
                                           Nic.is_default.is_(True)))
    if nic is None:
        return None
    return _map(session, principal, inst, nic.network_uuid, required=False)


# The name AddressService calls it by.
remap_after_disassociation = map_again


def is_mapped(ip: PublicIp) -> bool:
    """Whether the row is an address mapped with its instance (not one the
    account holds: no association, not a network's source NAT)."""
    return ip.instance_uuid is not None and ip.association_sid is None \
        and not ip.is_source_nat


def release_mapped(session: Session, principal: Principal | None, inst: Instance) -> int:
    """Return the addresses mapped with ``inst`` to the pool (it stopped or is
    going away); the account's own addresses stay associated. Returns how
    many were released."""
    allocator = PublicIpAllocator(session)
    released = 0
    for ip in session.scalars(select(PublicIp).where(PublicIp.instance_uuid == inst.uuid,
                                                     PublicIp.association_sid.is_(None),
                                                     PublicIp.is_source_nat.is_(False))):
        record_event(session, principal, EVENT_RELEASE, f"Released public address {ip.address}",
                     ResourceKind.PUBLIC_IP, ip.uuid, account_uuid=inst.account_uuid)
        allocator.release(ip)
        released += 1
    if released:
        session.flush()
    return released



__all__ = ["PublicIpChoice", "is_mapped", "map_again", "map_again_for", "map_at_launch",
           "network_maps_public_ip", "release_mapped", "remap_after_disassociation"]
