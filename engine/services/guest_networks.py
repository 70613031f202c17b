"""Guest networks made from network offerings: create, update, restart, delete.

Builds on the inventory's network rows (``engine.services.inventory_network``):
a shared network needs a root admin and an explicit subnet; an isolated one
belongs to the caller's account (or, for admins, the account asked for) and
without a subnet gets the first /24 of the zone's guest CIDR that no live
network of the zone overlaps. Deleting a network removes its rules and is
refused while instances have NICs on it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import (
    InsufficientCapacity,
    InvalidParameter,
    NotFound,
    PermissionDenied,
    ResourceKind,
)
from engine.models import Account, Domain, Instance, Network, NetworkOffering, Nic, PublicIp, Zone
from engine.principal import Principal
from engine.services.access import owner_account
from engine.services.events import record_event
from engine.services.inventory import InventoryService, NetworkRequest
from engine.services.inventory_network import NetworkDetail
from engine.services.network_offerings import NetworkOfferingService
from engine.services.resource_limits import Resource, enforce
from engine.services.rules import revoke_network_rules
from engine.states import Role, VmState


@dataclass(frozen=True)
class GuestNetworkRequest:
    zone_uuid: str
    name: str
    offering_uuid: str
    display_text: str = ""
    gateway: str | None = None
    netmask: str | None = None
    vlan: str = ""
    account_uuid: str | None = None  # isolated networks: for another account (admins)


@dataclass(frozen=True)
class GuestNetwork:
    """A network with the offering it is made from."""

    detail: NetworkDetail
    offering: NetworkOffering

    @property
    def network(self) -> Network:
        return self.detail.network


class GuestNetworkService:
    def __init__(self, session: Session, inventory: InventoryService) -> None:
        self._s = session
        self._inv = inventory
        self._offerings = NetworkOfferingService(session)

    def create(self, principal: Principal, req: GuestNetworkRequest) -> GuestNetwork:
        """A network from an Enabled offering. InvalidParameter: disabled
        offering, bad or missing (shared) subnet; PermissionDenied: a shared
        network by anyone but a root admin; InsufficientCapacity: no free /24."""
        offering = self._offerings.get(req.offering_uuid)
        if offering.state != "Enabled":
            raise InvalidParameter("networkofferingid", req.offering_uuid,
                                   f"Can't use network offering id={offering.uuid} as its "
                                   "state is not Enabled")
        shared = offering.guest_ip_type == "Shared"
        if shared and not principal.is_root_admin:
            raise PermissionDenied("create a shared network", ResourceKind.ZONE, req.zone_uuid)
        cidr = ""
        if req.gateway or req.netmask:
            if not (req.gateway and req.netmask):
                raise InvalidParameter("netmask", req.netmask,
                                       "gateway and netmask must be given together")
            try:
                cidr = str(ipaddress.IPv4Network(f"{req.gateway}/{req.netmask}", strict=False))
            except ValueError:
                raise InvalidParameter("gateway", req.gateway,
                                       "gateway and netmask must describe an IPv4 subnet") from None
        elif shared:
            raise InvalidParameter("gateway", None,
                                   "gateway and netmask are required for a shared network")
        else:
            cidr = self._free_cidr(req.zone_uuid)
        owner = principal
        if not shared and req.account_uuid and req.account_uuid != principal.account_uuid:
            owner_uuid = owner_account(self._s, principal, req.account_uuid)
            owner = _as_account(self._s, principal, owner_uuid)
        enforce(self._s, owner.account_uuid, {Resource.NETWORK: 1})
        detail = self._inv.add_guest_network(owner, NetworkRequest(
            zone_uuid=req.zone_uuid, name=req.name, cidr=cidr, display_text=req.display_text,
            gateway=req.gateway, shared=shared, vlan=req.vlan))
        detail.network.network_offering_uuid = offering.uuid
        record_event(self._s, principal, "NETWORK.CREATE", f"Created network {req.name}",
                     ResourceKind.NETWORK, detail.network.uuid,
                     account_uuid=detail.network.account_uuid)
        self._s.flush()
        return GuestNetwork(detail, offering)

    def list(self, principal: Principal, *, uuid: str | None = None,
             zone_uuid: str | None = None, shared: bool | None = None,
             list_all: bool = False) -> list[GuestNetwork]:
        """What :meth:`NetworkInventory.networks` returns, with offerings."""
        return [GuestNetwork(d, self._offerings.for_network(d.network))
                for d in self._inv.networks(principal, uuid=uuid, zone_uuid=zone_uuid,
                                            shared=shared, list_all=list_all)]

    def get(self, principal: Principal, uuid: str, *, for_change: bool = True) -> GuestNetwork:
        """One network the principal may see (and, ``for_change``, change:
        shared networks only for root admins) or NotFound."""
        found = self.list(principal, uuid=self._uuid(uuid), list_all=True)
        if not found:
            raise NotFound(ResourceKind.NETWORK, uuid)
        if for_change and found[0].network.account_uuid is None and not principal.is_root_admin:
            raise PermissionDenied("change a shared network", ResourceKind.NETWORK, uuid)
        return found[0]

    def update(self, principal: Principal, uuid: str, *, name: str | None = None,
               display_text: str | None = None,
               offering_uuid: str | None = None) -> GuestNetwork:
        """Rename, re-describe or move a network to another Enabled offering of
        the same guest type."""
        net = self.get(principal, uuid).network
        if name:
            net.name = name
        if display_text:
            net.display_text = display_text
        if offering_uuid:
            offering = self._offerings.get(offering_uuid)
            if offering.state != "Enabled":
                raise InvalidParameter("networkofferingid", offering_uuid,
                                       "Network offering is not in Enabled state")
            if offering.guest_ip_type != net.network_type:
                raise InvalidParameter("networkofferingid", offering_uuid,
                                       "Can't upgrade a network to an offering of another "
                                       "guest type")
            net.network_offering_uuid = offering.uuid
        record_event(self._s, principal, "NETWORK.UPDATE", f"Updated network {net.name}",
                     ResourceKind.NETWORK, net.uuid, account_uuid=net.account_uuid)
        self._s.flush()
        return self.get(principal, net.uuid, for_change=False)

    def restart(self, principal: Principal, uuid: str, *, cleanup: bool = False) -> GuestNetwork:
        """Re-apply the network's configuration (its rules); with ``cleanup`` as
        if its router were rebuilt. InvalidParameter unless Implemented/Setup."""
        gn = self.get(principal, uuid)
        if gn.network.state not in ("Implemented", "Setup", "Allocated"):
            raise InvalidParameter("id", uuid, "Network is not in the right state to be "
                                   "restarted. Correct states are: Implemented, Setup")
        record_event(self._s, principal, "NETWORK.RESTART",
                     f"Restarted network {gn.network.name}" + (" with cleanup" if cleanup else ""),
                     ResourceKind.NETWORK, gn.network.uuid, account_uuid=gn.network.account_uuid)
        return gn

    def delete(self, principal: Principal, uuid: str, *, forced: bool = False) -> None:
        """Delete a network no live instance uses (InUse otherwise); its rules go
        and its public addresses stay allocated to their accounts, unattached."""
        gn = self.get(principal, uuid)
        net = gn.network
        if forced and not principal.is_root_admin:
            raise PermissionDenied("force the deletion of a network", ResourceKind.NETWORK, uuid)
        revoke_network_rules(self._s, net.uuid)
        for ip in self._s.scalars(select(PublicIp).where(PublicIp.network_uuid == net.uuid,
                                                         PublicIp.instance_uuid.is_(None))):
            ip.network_uuid = None
        # NICs of expunged instances no longer count (they are removed on expunge).
        self._inv.delete_network(principal, net.uuid)
        record_event(self._s, principal, "NETWORK.DELETE", f"Deleted network {net.name}",
                     ResourceKind.NETWORK, net.uuid, account_uuid=net.account_uuid)

    def instances_on(self, network_uuid: str) -> int:
        """How many live instances have a NIC on the network."""
        return self._s.scalar(select(func.count(func.distinct(Nic.instance_uuid)))
                              .join(Instance, Instance.uuid == Nic.instance_uuid)
                              .where(Nic.network_uuid == network_uuid,
                                     Instance.state != VmState.EXPUNGED)) or 0

    # ------------------------------------------------------------------ helpers
    def _uuid(self, ident: str) -> str:
        found = self._s.scalar(select(Network.uuid).where(
            (Network.uuid == ident) | (Network.sid == ident)))
        return found or ident

    def _free_cidr(self, zone_uuid: str) -> str:
        zone = self._s.get(Zone, zone_uuid)
        if zone is None or zone.removed_at is not None:
            raise NotFound(ResourceKind.ZONE, zone_uuid)
        guest = ipaddress.IPv4Network(zone.guest_cidr, strict=False)
        if guest.prefixlen >= 24:
            return str(guest)
        used = [ipaddress.IPv4Network(c, strict=False) for c in self._s.scalars(
            select(Network.cidr).where(Network.zone_uuid == zone_uuid,
                                       Network.removed_at.is_(None)))]
        for candidate in guest.subnets(new_prefix=24):
            if not any(candidate.overlaps(u) for u in used):
                return str(candidate)
        raise InsufficientCapacity(ResourceKind.NETWORK,
                                   f"no free /24 left in the zone's guest CIDR {guest}")


def _as_account(session: Session, principal: Principal, account_uuid: str) -> Principal:
    """A principal standing for ``account_uuid`` (for networks made on its behalf)."""
    account = session.get(Account, account_uuid)
    assert account is not None
    domain = session.get(Domain, account.domain_uuid)
    assert domain is not None
    return replace(principal, account_uuid=account.uuid, account_name=account.name,
                   account_number=account.number, domain_uuid=domain.uuid,
                   domain_path=domain.path, role=Role.USER)
