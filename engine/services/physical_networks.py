"""Physical networks of a zone, their traffic types, service providers and
provider elements (bookkeeping of the operator's wiring; no device is driven).

Rules mirrored from the reference management server:

* a physical network is added only while its zone is disabled; a basic zone has
  at most one; at most one isolation method and one tag each;
* creating one adds the default providers (VirtualRouter, SecurityGroupProvider,
  VpcVirtualRouter, InternalLbVm, and in advanced zones ConfigDrive, which starts
  enabled); the router and internal-LB providers get a disabled element each;
* a provider becomes Enabled only when ready: an element-backed provider once its
  element is enabled, a device-backed one never (there are no devices here);
* Public, Management, Control and Storage traffic may be carried by only one
  physical network per zone, and a traffic type only once per physical network;
* deleting a physical network removes its providers, elements and traffic types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import (
    Duplicate,
    IncorrectState,
    InUse,
    InvalidParameter,
    NotFound,
    PermissionDenied,
    ResourceKind,
)
from engine.models import Network, PublicIp, Zone
from engine.models.physical_networks import (
    NetworkServiceProvider,
    PhysicalNetwork,
    ProviderElement,
    ProviderState,
    TrafficType,
)
from engine.states import AllocationState, IpState

# --- pure parts ------------------------------------------------------------------------

TRAFFIC_TYPES = ("Public", "Guest", "Storage", "Management", "Control", "Vpn", "None")
# Traffic a zone carries on one physical network only.
ZONE_UNIQUE_TRAFFIC = frozenset({"Public", "Storage", "Management", "Control"})
ISOLATION_METHODS = ("VLAN", "L3", "GRE", "STT", "BCF_SEGMENT", "MIDO", "SSP", "VXLAN", "ODL",
                     "L3VPN", "VSP", "VCS", "TF", "NSX", "NETRIS")
BROADCAST_DOMAIN_RANGES = ("POD", "ZONE")
SERVICES = ("Vpn", "Dhcp", "Dns", "Gateway", "Firewall", "Lb", "UserData", "SourceNat",
            "StaticNat", "PortForwarding", "SecurityGroup", "NetworkACL", "Connectivity")

# Inclusive id bounds of a guest range by isolation method (VLAN ids by default).
_ID_BOUNDS = {"GRE": (0, 2**32 - 1), "VXLAN": (0, 2**24 - 2), "NETRIS": (0, 2**24 - 2)}
_VLAN_BOUNDS = (0, 4095)

ROUTER_ELEMENTS = ("VirtualRouter", "VPCVirtualRouter")
INTERNAL_LB_ELEMENTS = ("InternalLbVm",)


@dataclass(frozen=True)
class ProviderKind:
    """What a provider offers: its services, whether a subset may be enabled,
    and what makes it ready (an element of ``element`` kind; no element and
    ``device`` False: always ready; ``device`` True: a device, never here)."""

    name: str
    services: tuple[str, ...]
    individual: bool = False
    element: str | None = None
    device: bool = False


_ROUTER = ("Vpn", "Dhcp", "Dns", "Gateway", "Firewall", "Lb", "UserData", "SourceNat",
           "StaticNat", "PortForwarding")
PROVIDERS: dict[str, ProviderKind] = {k.name.lower(): k for k in (
    ProviderKind("VirtualRouter", _ROUTER, True, "VirtualRouter"),
    ProviderKind("VpcVirtualRouter", tuple(s for s in _ROUTER if s != "Firewall") + ("NetworkACL",),
                 True, "VPCVirtualRouter"),
    ProviderKind("InternalLbVm", ("Lb",), False, "InternalLbVm"),
    ProviderKind("SecurityGroupProvider", ("SecurityGroup",)),
    ProviderKind("ConfigDrive", ("UserData", "Dhcp", "Dns")),
    ProviderKind("Netscaler", ("Lb", "StaticNat"), device=True),
    ProviderKind("F5BigIp", ("Lb",), device=True),
    ProviderKind("JuniperSRX", ("Firewall", "Gateway", "PortForwarding", "SourceNat",
                                "StaticNat"), True, device=True),
    ProviderKind("NiciraNvp", ("Connectivity", "SourceNat", "StaticNat", "PortForwarding"),
                 True, device=True),
)}


def provider_kind(name: str) -> ProviderKind:
    """The provider called ``name`` (any case); InvalidParameter if unknown."""
    found = PROVIDERS.get(name.lower())
    if found is None:
        raise InvalidParameter("name", name, "not a network service provider")
    return found


def canonical(choices: Sequence[str], param: str, value: str) -> str:
    """``value`` spelled as in ``choices`` (matched ignoring case)."""
    for choice in choices:
        if choice.lower() == value.strip().lower():
            return choice
    raise InvalidParameter(param, value, f"must be one of {', '.join(choices)}")


def parse_id_ranges(text: str, isolation: str = "VLAN") -> list[tuple[int, int]]:
    """``"100-200,300-300"`` -> [(100, 200), (300, 300)], checked against the
    bounds of ``isolation`` (VLAN 0-4095, VXLAN VNIs, GRE keys). Every item needs
    a start and an end; "" means no range."""
    low, high = _ID_BOUNDS.get(isolation.upper(), _VLAN_BOUNDS)
    ranges: list[tuple[int, int]] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        parts = item.split("-")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise InvalidParameter("vlan", text, "expected ranges like 500-500,600-601")
        start, end = int(parts[0]), int(parts[1])
        if start < low or end > high or start > end:
            raise InvalidParameter("vlan", text, f"each range must lie, in order, within "
                                   f"{low} and {high}")
        ranges.append((start, end))
    return ranges


def format_id_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    """Merge overlapping/adjacent ranges, sorted: [(5, 9), (1, 4)] -> "1-9"."""
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return ",".join(f"{s}-{e}" for s, e in merged)


def split_list(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


# --- requests and details --------------------------------------------------------------


@dataclass(frozen=True)
class PhysicalNetworkRequest:
    zone_uuid: str
    name: str
    isolation_methods: Sequence[str] = ()
    vlan: str | None = None
    broadcast_domain_range: str | None = None
    network_speed: str | None = None
    domain_uuid: str | None = None
    tags: Sequence[str] = ()


@dataclass(frozen=True)
class PhysicalNetworkChanges:
    """None leaves a field as it is; ``vlan=""`` removes every range."""

    state: AllocationState | None = None
    vlan: str | None = None
    network_speed: str | None = None
    tags: Sequence[str] | None = None


@dataclass(frozen=True)
class TrafficLabels:
    """Per-hypervisor labels; None leaves a label unchanged, "" clears it."""

    kvm: str | None = None
    xen: str | None = None
    vmware: str | None = None
    hyperv: str | None = None
    ovm3: str | None = None
    simulator: str | None = None


@dataclass(frozen=True)
class PhysicalNetworkDetail:
    network: PhysicalNetwork
    zone: Zone


@dataclass(frozen=True)
class ProviderDetail:
    provider: NetworkServiceProvider
    kind: ProviderKind = field(compare=False)


# --- the service -----------------------------------------------------------------------


class PhysicalNetworkService:
    """Operator bookkeeping of physical networks (one unit of work's session)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    # ---------------------------------------------------------- physical networks
    def create(self, req: PhysicalNetworkRequest) -> PhysicalNetworkDetail:
        zone = self._s.get(Zone, req.zone_uuid)
        if zone is None or zone.removed_at is not None:
            raise NotFound(ResourceKind.ZONE, req.zone_uuid)
        if zone.allocation_state is AllocationState.ENABLED:
            raise PermissionDenied("add a physical network while the zone is enabled",
                                   ResourceKind.ZONE, zone.name)
        basic = zone.network_type == "Basic"
        if basic and self._live_in_zone(zone.uuid):
            raise Duplicate(ResourceKind.PHYSICAL_NETWORK, f"in basic zone {zone.name}")
        if len(req.tags) > 1:
            raise InvalidParameter("tags", ",".join(req.tags), "only one tag is supported")
        if len(req.isolation_methods) > 1:
            raise InvalidParameter("isolationmethods", ",".join(req.isolation_methods),
                                   "only one isolation method is supported")
        methods = [canonical(ISOLATION_METHODS, "isolationmethods", m)
                   for m in req.isolation_methods]
        if req.vlan is not None and basic:
            raise InvalidParameter("vlan", req.vlan, "a basic zone has no guest VLAN range")
        wanted = "POD" if basic else "ZONE"
        domain_range = wanted
        if req.broadcast_domain_range:
            domain_range = canonical(BROADCAST_DOMAIN_RANGES, "broadcastdomainrange",
                                     req.broadcast_domain_range)
            if domain_range != wanted:
                raise InvalidParameter("broadcastdomainrange", req.broadcast_domain_range,
                                       f"a {zone.network_type} zone takes {wanted} only")
        vlans = format_id_ranges(parse_id_ranges(req.vlan or "", methods[0] if methods
                                                 else "VLAN"))
        net = PhysicalNetwork(zone_uuid=zone.uuid, name=req.name,
                              isolation_methods=",".join(methods), vlan_ranges=vlans,
                              broadcast_domain_range=domain_range,
                              network_speed=req.network_speed or None,
                              domain_uuid=req.domain_uuid, tags=",".join(req.tags),
                              state=AllocationState.DISABLED)
        self._s.add(net)
        self._s.flush()
        defaults = ["VirtualRouter", "SecurityGroupProvider", "VpcVirtualRouter", "InternalLbVm"]
        if not basic:
            defaults.append("ConfigDrive")
        for name in defaults:
            self._add_provider(net, provider_kind(name))
        if not basic:
            self._provider_named(net.uuid, "ConfigDrive").state = ProviderState.ENABLED
        return PhysicalNetworkDetail(net, zone)

    def get(self, uuid: str) -> PhysicalNetworkDetail:
        net = self._network(uuid)
        zone = self._s.get(Zone, net.zone_uuid)
        assert zone is not None
        return PhysicalNetworkDetail(net, zone)

    def networks(self, *, uuid: str | None = None, zone_uuid: str | None = None,
             name: str | None = None, keyword: str | None = None
             ) -> list[PhysicalNetworkDetail]:
        """Live physical networks, oldest first; ``name``/``keyword`` match substrings."""
        stmt = (select(PhysicalNetwork, Zone).join(Zone, Zone.uuid == PhysicalNetwork.zone_uuid)
                .where(PhysicalNetwork.removed_at.is_(None))
                .order_by(PhysicalNetwork.created_at, PhysicalNetwork.uuid))
        if uuid:
            stmt = stmt.where(PhysicalNetwork.uuid == uuid)
        if zone_uuid:
            stmt = stmt.where(PhysicalNetwork.zone_uuid == zone_uuid)
        for text in (name, keyword):
            if text:
                stmt = stmt.where(func.lower(PhysicalNetwork.name).contains(text.lower()))
        return [PhysicalNetworkDetail(n, z) for n, z in self._s.execute(stmt).all()]

    def update(self, uuid: str, changes: PhysicalNetworkChanges) -> PhysicalNetworkDetail:
        detail = self.get(uuid)
        net, zone = detail.network, detail.zone
        if changes.vlan is not None and zone.network_type == "Basic":
            raise InvalidParameter("vlan", changes.vlan, "a basic zone has no guest VLAN range")
        if changes.tags is not None and len(changes.tags) > 1:
            raise InvalidParameter("tags", ",".join(changes.tags), "only one tag is supported")
        if changes.vlan is not None:
            method = split_list(net.isolation_methods)[:1] or ["VLAN"]
            net.vlan_ranges = format_id_ranges(parse_id_ranges(changes.vlan, method[0]))
        if changes.state is not None:
            net.state = changes.state
        if changes.tags is not None:
            net.tags = ",".join(changes.tags)
        if changes.network_speed is not None:
            net.network_speed = changes.network_speed or None
        return detail

    def delete(self, uuid: str) -> None:
        """Remove a physical network with its providers, elements and traffic types.

        Refused (InUse) while the zone's guest networks or allocated public
        addresses depend on the traffic it carries."""
        net = self._network(uuid)
        carried = set(self._s.scalars(select(TrafficType.traffic_type).where(
            TrafficType.physical_network_uuid == uuid)))
        if "Guest" in carried:
            self._refuse_guest_networks(ResourceKind.PHYSICAL_NETWORK, net.name, net.zone_uuid)
        if "Public" in carried and self._count(PublicIp, PublicIp.zone_uuid == net.zone_uuid,
                                               PublicIp.state != IpState.FREE):
            raise InUse(ResourceKind.PHYSICAL_NETWORK, net.name, "allocated public IP addresses")
        providers = select(NetworkServiceProvider.uuid).where(
            NetworkServiceProvider.physical_network_uuid == uuid)
        self._s.execute(delete(ProviderElement).where(ProviderElement.provider_uuid.in_(providers)))
        self._s.execute(delete(NetworkServiceProvider).where(
            NetworkServiceProvider.physical_network_uuid == uuid))
        self._s.execute(delete(TrafficType).where(TrafficType.physical_network_uuid == uuid))
        net.state = AllocationState.DISABLED
        net.removed_at = utcnow()

    # -------------------------------------------------------------- traffic types
    def add_traffic_type(self, physical_network_uuid: str, traffic_type: str,
                         labels: TrafficLabels = TrafficLabels(), *,
                         vlan: str | None = None) -> TrafficType:
        """Carry ``traffic_type`` (exact spelling, e.g. "Guest") on a physical network."""
        net = self._network(physical_network_uuid)
        if traffic_type not in TRAFFIC_TYPES:
            raise InvalidParameter("traffictype", traffic_type,
                                   f"must be one of {', '.join(TRAFFIC_TYPES)}")
        if self._count(TrafficType, TrafficType.physical_network_uuid == net.uuid,
                       TrafficType.traffic_type == traffic_type):
            raise Duplicate(ResourceKind.TRAFFIC_TYPE, f"{traffic_type} on {net.name}")
        others = (select(PhysicalNetwork)
                  .join(TrafficType, TrafficType.physical_network_uuid == PhysicalNetwork.uuid)
                  .where(PhysicalNetwork.zone_uuid == net.zone_uuid,
                         PhysicalNetwork.removed_at.is_(None),
                         TrafficType.traffic_type == traffic_type))
        carriers = list(self._s.scalars(others))
        if traffic_type in ZONE_UNIQUE_TRAFFIC and carriers:
            raise Duplicate(ResourceKind.TRAFFIC_TYPE,
                            f"{traffic_type} on another physical network of the zone")
        if not net.tags and any(not n.tags for n in carriers):
            raise InvalidParameter("physicalnetworkid", net.uuid, "the zone already has an "
                                   f"untagged physical network carrying {traffic_type}")
        row = TrafficType(physical_network_uuid=net.uuid, traffic_type=traffic_type,
                          kvm_label=labels.kvm or None, xen_label=labels.xen or None,
                          vmware_label=labels.vmware or None, hyperv_label=labels.hyperv or None,
                          ovm3_label=labels.ovm3 or None, simulator_label=labels.simulator or None,
                          vlan=vlan or None)
        self._s.add(row)
        self._s.flush()
        return row

    def traffic_type(self, uuid: str) -> TrafficType:
        row = self._s.get(TrafficType, uuid)
        if row is None:
            raise NotFound(ResourceKind.TRAFFIC_TYPE, uuid)
        return row

    def update_traffic_type(self, uuid: str, labels: TrafficLabels) -> TrafficType:
        row = self.traffic_type(uuid)
        for attr, value in (("kvm_label", labels.kvm), ("xen_label", labels.xen),
                            ("vmware_label", labels.vmware), ("hyperv_label", labels.hyperv),
                            ("ovm3_label", labels.ovm3), ("simulator_label", labels.simulator)):
            if value is not None:
                setattr(row, attr, value or None)
        return row

    def delete_traffic_type(self, uuid: str) -> None:
        row = self.traffic_type(uuid)
        if row.traffic_type == "Guest":
            net = self._network(row.physical_network_uuid)
            self._refuse_guest_networks(ResourceKind.TRAFFIC_TYPE, "Guest", net.zone_uuid)
        self._s.delete(row)

    def traffic_types(self, physical_network_uuid: str) -> list[TrafficType]:
        self._network(physical_network_uuid)
        return list(self._s.scalars(select(TrafficType).where(
            TrafficType.physical_network_uuid == physical_network_uuid)
            .order_by(TrafficType.created_at, TrafficType.uuid)))

    # ------------------------------------------------------------------ providers
    def add_provider(self, physical_network_uuid: str, name: str, *,
                     destination_uuid: str | None = None,
                     services: Sequence[str] | None = None) -> ProviderDetail:
        net = self._network(physical_network_uuid)
        if destination_uuid:
            self._network(destination_uuid)
        kind = provider_kind(name)
        if self._find_provider(net.uuid, kind.name) is not None:
            raise Duplicate(ResourceKind.NETWORK_SERVICE_PROVIDER, f"{kind.name} on {net.name}")
        chosen = None
        if services is not None:
            chosen = self._services(kind, services, adding=True)
        row = self._add_provider(net, kind, chosen)
        row.destination_physical_network_uuid = destination_uuid
        return ProviderDetail(row, kind)

    def provider(self, uuid: str) -> ProviderDetail:
        row = self._s.get(NetworkServiceProvider, uuid)
        if row is None:
            raise NotFound(ResourceKind.NETWORK_SERVICE_PROVIDER, uuid)
        return ProviderDetail(row, provider_kind(row.name))

    def providers(self, *, physical_network_uuid: str | None = None, name: str | None = None,
                  state: ProviderState | None = None, keyword: str | None = None
                  ) -> list[ProviderDetail]:
        stmt = (select(NetworkServiceProvider)
                .join(PhysicalNetwork,
                      PhysicalNetwork.uuid == NetworkServiceProvider.physical_network_uuid)
                .where(PhysicalNetwork.removed_at.is_(None))
                .order_by(NetworkServiceProvider.created_at, NetworkServiceProvider.uuid))
        if physical_network_uuid:
            stmt = stmt.where(NetworkServiceProvider.physical_network_uuid
                              == physical_network_uuid)
        if name:
            stmt = stmt.where(func.lower(NetworkServiceProvider.name) == name.lower())
        if keyword:
            stmt = stmt.where(func.lower(NetworkServiceProvider.name).contains(keyword.lower()))
        if state is not None:
            stmt = stmt.where(NetworkServiceProvider.state == state)
        return [ProviderDetail(p, provider_kind(p.name)) for p in self._s.scalars(stmt)]

    def update_provider(self, uuid: str, *, state: ProviderState | None = None,
                        services: Sequence[str] | None = None) -> ProviderDetail:
        """Enable (only once ready), disable, or change the enabled services."""
        detail = self.provider(uuid)
        row, kind = detail.provider, detail.kind
        if state is ProviderState.SHUTDOWN:
            raise InvalidParameter("state", state.value, "use Enabled or Disabled")
        if state is ProviderState.ENABLED and not self._ready(row, kind):
            raise IncorrectState(ResourceKind.NETWORK_SERVICE_PROVIDER, row.name,
                                 "not ready: configure the provider first")
        if services is not None:
            if not kind.individual:
                raise InvalidParameter("servicelist", ",".join(services),
                                       f"the services of {kind.name} cannot be changed")
            row.services = ",".join(self._services(kind, services, adding=False))
        if state is not None:
            row.state = state
        return detail

    def delete_provider(self, uuid: str) -> None:
        detail = self.provider(uuid)
        self._s.execute(delete(ProviderElement).where(
            ProviderElement.provider_uuid == detail.provider.uuid))
        self._s.delete(detail.provider)

    # ------------------------------------------------------------------- elements
    def elements(self, kinds: Sequence[str], *, uuid: str | None = None,
                 provider_uuid: str | None = None, enabled: bool | None = None
                 ) -> list[ProviderElement]:
        """Elements of the given kinds (e.g. ROUTER_ELEMENTS), oldest first."""
        stmt = (select(ProviderElement).where(ProviderElement.kind.in_(kinds))
                .order_by(ProviderElement.created_at, ProviderElement.uuid))
        if uuid:
            stmt = stmt.where(ProviderElement.uuid == uuid)
        if provider_uuid:
            stmt = stmt.where(ProviderElement.provider_uuid == provider_uuid)
        if enabled is not None:
            stmt = stmt.where(ProviderElement.enabled.is_(enabled))
        return list(self._s.scalars(stmt))

    def configure_element(self, uuid: str, kinds: Sequence[str], enabled: bool
                          ) -> ProviderElement:
        found = self.elements(kinds, uuid=uuid)
        if not found:
            raise NotFound(ResourceKind.PROVIDER_ELEMENT, uuid)
        found[0].enabled = enabled
        return found[0]

    # ------------------------------------------------------------------- helpers
    def _network(self, uuid: str) -> PhysicalNetwork:
        net = self._s.get(PhysicalNetwork, uuid)
        if net is None or net.removed_at is not None:
            raise NotFound(ResourceKind.PHYSICAL_NETWORK, uuid)
        return net

    def _live_in_zone(self, zone_uuid: str) -> int:
        return self._count(PhysicalNetwork, PhysicalNetwork.zone_uuid == zone_uuid,
                           PhysicalNetwork.removed_at.is_(None))

    def _count(self, model: type, *conds: Any) -> int:
        return int(self._s.scalar(select(func.count()).select_from(model).where(*conds)) or 0)

    def _refuse_guest_networks(self, kind: ResourceKind, ident: str, zone_uuid: str) -> None:
        if self._count(Network, Network.zone_uuid == zone_uuid, Network.removed_at.is_(None)):
            raise InUse(kind, ident, "guest networks of the zone")

    def _find_provider(self, net_uuid: str, name: str) -> NetworkServiceProvider | None:
        return self._s.scalar(select(NetworkServiceProvider).where(
            NetworkServiceProvider.physical_network_uuid == net_uuid,
            func.lower(NetworkServiceProvider.name) == name.lower()))

    def _provider_named(self, net_uuid: str, name: str) -> NetworkServiceProvider:
        found = self._find_provider(net_uuid, name)
        assert found is not None
        return found

    def _add_provider(self, net: PhysicalNetwork, kind: ProviderKind,
                      services: Sequence[str] | None = None) -> NetworkServiceProvider:
        row = NetworkServiceProvider(
            physical_network_uuid=net.uuid, name=kind.name, state=ProviderState.DISABLED,
            services=",".join(kind.services if services is None else services))
        self._s.add(row)
        self._s.flush()
        if kind.element:
            self._s.add(ProviderElement(provider_uuid=row.uuid, kind=kind.element,
                                        enabled=False))
            self._s.flush()
        return row

    def _ready(self, row: NetworkServiceProvider, kind: ProviderKind) -> bool:
        if kind.device:
            return False
        if kind.element is None:
            return True
        return bool(self.elements((kind.element,), provider_uuid=row.uuid, enabled=True))

    @staticmethod
    def _services(kind: ProviderKind, wanted: Sequence[str], *, adding: bool) -> list[str]:
        """``wanted`` spelled canonically, each one the provider offers. When adding,
        Gateway cannot be named (it comes with SourceNat) and a provider that
        cannot run a subset needs the full list."""
        names = [canonical(SERVICES, "servicelist", s) for s in wanted]
        for name in names:
            if name not in kind.services or (adding and name == "Gateway"):
                raise InvalidParameter("servicelist", name, f"{kind.name} cannot provide it")
        if adding and not kind.individual and set(names) != set(kind.services) - {"Gateway"}:
            raise InvalidParameter("servicelist", ",".join(wanted),
                                   f"{kind.name} needs its complete list of services")
        if adding and "SourceNat" in names and "Gateway" in kind.services:
            names.append("Gateway")
        return names


__all__ = [
    "BROADCAST_DOMAIN_RANGES", "INTERNAL_LB_ELEMENTS", "ISOLATION_METHODS", "PROVIDERS",
    "ROUTER_ELEMENTS", "SERVICES", "TRAFFIC_TYPES", "PhysicalNetworkChanges",
    "PhysicalNetworkDetail", "PhysicalNetworkRequest", "PhysicalNetworkService", "ProviderDetail",
    "ProviderKind", "ProviderState", "TrafficLabels", "canonical", "format_id_ranges",
    "parse_id_ranges", "provider_kind", "split_list",
]
