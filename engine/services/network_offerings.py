"""Network offerings: what guest networks are created from.

An offering fixes a guest network's kind (``Shared``: no owner, created by
root admins with an explicit subnet; ``Isolated``: owned by one account) and
the services it provides, as ``Service:Provider`` pairs. Only ``Enabled``
offerings can be used for new networks; a new offering starts ``Disabled``
unless asked otherwise. The defaults a fresh cloud gets
(:data:`DEFAULT_OFFERINGS`) cannot be deleted; neither can an offering that
live networks use. A network without an offering reference uses the default
offering of its kind (:meth:`NetworkOfferingService.for_network`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import (
    Duplicate,
    InUse,
    InvalidParameter,
    NotFound,
    PermissionDenied,
    ResourceKind,
)
from engine.models import Network, NetworkOffering
from engine.principal import Principal

GUEST_TYPES = ("Shared", "Isolated")
STATES = ("Enabled", "Disabled")
AVAILABILITIES = ("Optional", "Required")
KNOWN_SERVICES = ("Vpn", "Dhcp", "Dns", "SourceNat", "PortForwarding", "Lb", "UserData",
                  "StaticNat", "NetworkACL", "Firewall", "Gateway", "SecurityGroup")
_ROUTER = "VirtualRouter"
_BASIC = ("Dhcp", "Dns", "UserData")
_ISOLATED = ("Dhcp", "Dns", "UserData", "Firewall", "Gateway", "Lb", "SourceNat", "StaticNat",
             "PortForwarding", "Vpn")


@dataclass(frozen=True)
class OfferingRequest:
    """A new offering. ``services`` maps a service name to its provider
    (default VirtualRouter; SecurityGroupProvider for SecurityGroup)."""

    name: str
    guest_ip_type: str
    display_text: str = ""
    traffic_type: str = "Guest"
    availability: str = "Optional"
    services: dict[str, str] = field(default_factory=dict)
    specify_vlan: bool = False
    specify_ip_ranges: bool = False
    conserve_mode: bool = True
    egress_default_allow: bool = True
    is_persistent: bool = False
    network_rate_mbps: int | None = None
    tags: str = ""
    enable: bool = False


def _services(names: Sequence[str], sg: bool = False) -> str:
    pairs = [f"{s}:{_ROUTER}" for s in names]
    if sg:
        pairs.append("SecurityGroup:SecurityGroupProvider")
    return ",".join(pairs)


# (name, display text, guest type, availability, services, specify vlan/ip ranges, egress allow)
DEFAULT_OFFERINGS: tuple[tuple[str, str, str, str, str, bool, bool], ...] = (
    ("DefaultSharedNetworkOfferingWithSGService",
     "Offering for Shared Security group enabled networks", "Shared", "Optional",
     _services(_BASIC, sg=True), True, True),
    ("DefaultSharedNetworkOffering", "Offering for Shared networks", "Shared", "Optional",
     _services(_BASIC), True, True),
    ("DefaultIsolatedNetworkOfferingWithSourceNatService",
     "Offering for Isolated networks with Source Nat service enabled", "Isolated", "Required",
     _services(_ISOLATED), False, True),
    ("DefaultIsolatedNetworkOffering",
     "Offering for Isolated networks with no Source Nat service", "Isolated", "Optional",
     _services(_BASIC), True, True),
)
DEFAULT_NAMES = frozenset(d[0] for d in DEFAULT_OFFERINGS)
# The offering a network without one is taken to come from, by its type.
DEFAULT_FOR_TYPE = {"Shared": "DefaultSharedNetworkOffering",
                    "Isolated": "DefaultIsolatedNetworkOfferingWithSourceNatService"}


def ensure_default_offerings(session: Session) -> None:
    """Add the default offerings that are missing (idempotent; for bootstrap)."""
    have = set(session.scalars(select(NetworkOffering.name)))
    for n, (name, text, kind, avail, services, specify, egress) in enumerate(DEFAULT_OFFERINGS):
        if name not in have:
            session.add(NetworkOffering(
                name=name, display_text=text, guest_ip_type=kind, availability=avail,
                services=services, state="Enabled", is_default=True, specify_vlan=specify,
                specify_ip_ranges=specify and kind == "Shared", conserve_mode=True,
                egress_default_allow=egress, sort_key=n))
    session.flush()


def service_names(offering: NetworkOffering) -> list[tuple[str, str]]:
    """The offering's (service, provider) pairs in stored order."""
    out = []
    for pair in offering.services.split(","):
        if pair:
            svc, _, provider = pair.partition(":")
            out.append((svc, provider or _ROUTER))
    return out


class NetworkOfferingService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def list(self, principal: Principal, *, uuid: str | None = None, name: str | None = None,
             guest_ip_type: str | None = None, state: str | None = None,
             availability: str | None = None, keyword: str | None = None,
             is_default: bool | None = None, specify_vlan: bool | None = None,
             services: Sequence[str] = (), source_nat: bool | None = None,
             traffic_type: str | None = None) -> list[NetworkOffering]:
        """Live offerings matching every given filter (case-insensitive values),
        by sort key then age. Callers other than root admins see Enabled ones
        unless ``state`` says otherwise."""
        stmt = select(NetworkOffering).where(NetworkOffering.removed_at.is_(None))
        if uuid:
            stmt = stmt.where(or_(NetworkOffering.uuid == uuid, NetworkOffering.sid == uuid))
        if name:
            stmt = stmt.where(NetworkOffering.name == name)
        if keyword:
            stmt = stmt.where(or_(NetworkOffering.name.contains(keyword, autoescape=True),
                                  NetworkOffering.display_text.contains(keyword,
                                                                        autoescape=True)))
        if state is None and not principal.is_root_admin:
            state = "Enabled"
        rows = list(self._s.scalars(stmt.order_by(NetworkOffering.sort_key,
                                                  NetworkOffering.created_at)))
        want = [s.lower() for s in services]

        def keep(o: NetworkOffering) -> bool:
            have = {s.lower() for s, _ in service_names(o)}
            return ((guest_ip_type is None or o.guest_ip_type.lower() == guest_ip_type.lower())
                    and (state is None or o.state.lower() == state.lower())
                    and (availability is None or o.availability.lower() == availability.lower())
                    and (traffic_type is None or o.traffic_type.lower() == traffic_type.lower())
                    and (is_default is None or o.is_default == is_default)
                    and (specify_vlan is None or o.specify_vlan == specify_vlan)
                    and (source_nat is None or ("sourcenat" in have) == source_nat)
                    and all(s in have for s in want))
        return [o for o in rows if keep(o)]

    def get(self, uuid: str) -> NetworkOffering:
        found = self._s.scalar(select(NetworkOffering).where(
            or_(NetworkOffering.uuid == uuid, NetworkOffering.sid == uuid),
            NetworkOffering.removed_at.is_(None)))
        if found is None:
            raise NotFound(ResourceKind.NETWORK_OFFERING, uuid)
        return found

    def for_network(self, network: Network) -> NetworkOffering:
        """The offering the network was created from, else its type's default."""
        if network.network_offering_uuid:
            found = self._s.get(NetworkOffering, network.network_offering_uuid)
            if found is not None:
                return found
        name = DEFAULT_FOR_TYPE.get(network.network_type, DEFAULT_FOR_TYPE["Shared"])
        found = self._s.scalar(select(NetworkOffering).where(NetworkOffering.name == name))
        if found is None:  # a cloud not bootstrapped since offerings existed: a transient copy
            name_, text, kind, avail, services, specify, egress = next(
                d for d in DEFAULT_OFFERINGS if d[0] == name)
            found = NetworkOffering(uuid="", sid="", name=name_, display_text=text,
                                    guest_ip_type=kind, availability=avail, services=services,
                                    state="Enabled", is_default=True, specify_vlan=specify,
                                    specify_ip_ranges=specify and kind == "Shared",
                                    conserve_mode=True, egress_default_allow=egress,
                                    is_persistent=False, traffic_type="Guest", tags="",
                                    sort_key=0, created_at=utcnow())
        return found

    def create(self, principal: Principal, req: OfferingRequest) -> NetworkOffering:
        """A new offering (root admins). InvalidParameter for an unknown guest
        type, traffic type other than Guest, availability or service;
        Duplicate for a taken name."""
        self._admin(principal, "create network offerings")
        kind = _choice("guestiptype", req.guest_ip_type, GUEST_TYPES)
        if req.traffic_type.lower() != "guest":
            raise InvalidParameter("traffictype", req.traffic_type,
                                   "Only guest traffic type is supported for network offerings")
        avail = _choice("availability", req.availability, AVAILABILITIES)
        pairs = []
        for svc, provider in req.services.items():
            canonical = _choice("supportedservices", svc, KNOWN_SERVICES)
            if canonical == "SecurityGroup" and kind != "Shared":
                raise InvalidParameter("supportedservices", svc,
                                       "SecurityGroup service is supported only by Shared "
                                       "networks")
            default = "SecurityGroupProvider" if canonical == "SecurityGroup" else _ROUTER
            pairs.append(f"{canonical}:{provider or default}")
        if self._s.scalar(select(NetworkOffering.uuid).where(
                NetworkOffering.name == req.name, NetworkOffering.removed_at.is_(None))):
            raise Duplicate(ResourceKind.NETWORK_OFFERING, req.name)
        offering = NetworkOffering(
            name=req.name, display_text=req.display_text or req.name, guest_ip_type=kind,
            traffic_type="Guest", availability=avail, services=",".join(pairs),
            state="Enabled" if req.enable else "Disabled", specify_vlan=req.specify_vlan,
            specify_ip_ranges=req.specify_ip_ranges, conserve_mode=req.conserve_mode,
            egress_default_allow=req.egress_default_allow, is_persistent=req.is_persistent,
            network_rate_mbps=req.network_rate_mbps, tags=req.tags)
        self._s.add(offering)
        self._s.flush()
        return offering

    def update(self, principal: Principal, uuid: str, *, name: str | None = None,
               display_text: str | None = None, availability: str | None = None,
               state: str | None = None, sort_key: int | None = None,
               tags: str | None = None) -> NetworkOffering:
        """Change an offering's name, text, availability, state, sort key or tags."""
        self._admin(principal, "update network offerings")
        offering = self.get(uuid)
        if name and name != offering.name:
            if offering.is_default:
                raise InvalidParameter("name", name, "A default network offering's name "
                                       "cannot be changed")
            if self._s.scalar(select(NetworkOffering.uuid).where(
                    NetworkOffering.name == name, NetworkOffering.removed_at.is_(None))):
                raise Duplicate(ResourceKind.NETWORK_OFFERING, name)
            offering.name = name
        if display_text:
            offering.display_text = display_text
        if availability:
            offering.availability = _choice("availability", availability, AVAILABILITIES)
        if state:
            offering.state = _choice("state", state, STATES)
        if sort_key is not None:
            offering.sort_key = sort_key
        if tags is not None:
            offering.tags = tags
        self._s.flush()
        return offering

    def delete(self, principal: Principal, uuid: str) -> None:
        """Remove an offering no live network uses; default ones stay (InvalidParameter)."""
        self._admin(principal, "delete network offerings")
        offering = self.get(uuid)
        if offering.is_default or offering.name in DEFAULT_NAMES:
            raise InvalidParameter("id", uuid, "Default network offering can't be deleted")
        used = self._s.scalar(select(func.count()).select_from(Network).where(
            Network.network_offering_uuid == offering.uuid, Network.removed_at.is_(None))) or 0
        if used:
            raise InUse(ResourceKind.NETWORK_OFFERING, offering.name, by=f"{used} networks")
        offering.removed_at = utcnow()
        offering.state = "Disabled"

    @staticmethod
    def _admin(principal: Principal, action: str) -> None:
        if not principal.is_root_admin:
            raise PermissionDenied(action, ResourceKind.NETWORK_OFFERING)


def _choice(name: str, value: str, allowed: Sequence[str]) -> str:
    for a in allowed:
        if a.lower() == value.lower():
            return a
    raise InvalidParameter(name, value, f"Invalid value {value} for {name}; use one of "
                           + ", ".join(allowed))
