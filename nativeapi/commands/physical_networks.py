"""Physical networks, traffic types, network service providers and their
elements: the zone wiring marvin's deployDataCenter sets up after createZone.

Root admins only. The engine does the (bookkeeping) work within the request, so
every async command gets an already finished job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.services.physical_networks import (
    INTERNAL_LB_ELEMENTS,
    PROVIDERS,
    ROUTER_ELEMENTS,
    TRAFFIC_TYPES,
    PhysicalNetworkChanges,
    PhysicalNetworkDetail,
    PhysicalNetworkRequest,
    ProviderDetail,
    ProviderState,
    TrafficLabels,
)
from engine.states import AllocationState
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    finished,
    invalid_value,
    job_result,
    page_slice,
    paging,
)
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command
from nativeapi.spec import load_commands

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.models import Job
    from engine.models.physical_networks import ProviderElement, TrafficType

_SPEC = load_commands()
_PAGED = {"keyword": "string", "page": "integer", "pagesize": "integer"}
_SUCCESS = {"success": "bool", "displaytext": "str"}


def _meta(style: str, itemkey: str, responseclass: str, required: dict[str, str],
          optional: dict[str, str], fields: dict[str, str], description: str,
          *, listshaped: bool = False) -> dict[str, Any]:
    """A commands.json entry for a command the table lacks."""
    return {"style": style, "itemkey": itemkey, "responseclass": responseclass,
            "required": required, "optional": optional, "responsefields": fields,
            "description": description, "listshaped": listshaped}


def _listing(ctx: CsContext, p: CsParams, rows: Sequence[Any]) -> Listing:
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


def _uuid(p: CsParams, name: str) -> str:
    return p.uuid(name, required=True) or ""


def _done(ctx: CsContext, kind: ResourceKind, uuid: str, *, creates: bool = False) -> Submitted:
    return Submitted(finished(ctx, kind, uuid), object_uuid=uuid if creates else None)


# --- views ----------------------------------------------------------------------------


def physical_network_view(d: PhysicalNetworkDetail) -> dict[str, Any]:
    n = d.network
    return {"id": n.uuid, "name": n.name, "zoneid": d.zone.uuid, "zonename": d.zone.name,
            "state": n.state, "broadcastdomainrange": n.broadcast_domain_range,
            "vlan": n.vlan_ranges or None, "isolationmethods": n.isolation_methods or None,
            "tags": n.tags or None, "networkspeed": n.network_speed,
            "domainid": n.domain_uuid}


def traffic_type_view(t: TrafficType) -> dict[str, Any]:
    return {"id": t.uuid, "traffictype": t.traffic_type,
            "physicalnetworkid": t.physical_network_uuid, "kvmnetworklabel": t.kvm_label,
            "xennetworklabel": t.xen_label, "vmwarenetworklabel": t.vmware_label,
            "hypervnetworklabel": t.hyperv_label, "ovm3networklabel": t.ovm3_label}


def provider_view(d: ProviderDetail) -> dict[str, Any]:
    p = d.provider
    # QUIRK(cloudstack): without a destination network the field is the id 0.
    return {"id": p.uuid, "name": p.name, "physicalnetworkid": p.physical_network_uuid,
            "destinationphysicalnetworkid": p.destination_physical_network_uuid or "0",
            "state": p.state, "servicelist": [s for s in p.services.split(",") if s],
            "canenableindividualservice": d.kind.individual}


def element_view(e: ProviderElement) -> dict[str, Any]:
    return {"id": e.uuid, "nspid": e.provider_uuid, "enabled": e.enabled}


# --- physical networks ----------------------------------------------------------------


@command("createPhysicalNetwork", is_async=True, creates="physicalnetwork", admin_only=True)
def create_physical_network(ctx: CsContext, p: CsParams) -> Submitted:
    detail = ctx.services.physical_networks.create(PhysicalNetworkRequest(
        zone_uuid=_uuid(p, "zoneid"), name=p.require("name"),
        isolation_methods=p.list("isolationmethods"), vlan=p.get("vlan"),
        broadcast_domain_range=p.get("broadcastdomainrange") or None,
        network_speed=p.get("networkspeed") or None, domain_uuid=p.uuid("domainid"),
        tags=p.list("tags")))
    return _done(ctx, ResourceKind.PHYSICAL_NETWORK, detail.network.uuid, creates=True)


@command("updatePhysicalNetwork", is_async=True, admin_only=True)
def update_physical_network(ctx: CsContext, p: CsParams) -> Submitted:
    raw = p.get("state")
    state = None
    if raw:
        # PhysicalNetwork.State.valueOf: exact spelling.
        states = {s.value: s for s in AllocationState}
        if raw not in states:
            raise invalid_value(f"Unable to resolve state '{raw}' to a supported value "
                                "{Enabled or Disabled}")
        state = states[raw]
    tags = p.list("tags") if p.get("tags") is not None else None
    detail = ctx.services.physical_networks.update(_uuid(p, "id"), PhysicalNetworkChanges(
        state=state, vlan=p.get("vlan"), network_speed=p.get("networkspeed"), tags=tags))
    return _done(ctx, ResourceKind.PHYSICAL_NETWORK, detail.network.uuid)


@command("deletePhysicalNetwork", admin_only=True, meta=_meta(
    "async", "success(SuccessResponse)", "SuccessResponse", {"id": "uuid"}, {}, _SUCCESS,
    "Deletes a Physical Network."))
def delete_physical_network(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = _uuid(p, "id")
    ctx.services.physical_networks.delete(uuid)
    return _done(ctx, ResourceKind.PHYSICAL_NETWORK, uuid)


@command("listPhysicalNetworks", admin_only=True)
def list_physical_networks(ctx: CsContext, p: CsParams) -> Listing:
    found = ctx.services.physical_networks.networks(
        uuid=p.uuid("id"), zone_uuid=p.uuid("zoneid"), name=p.get("name") or None,
        keyword=p.get("keyword") or None)
    return _listing(ctx, p, [physical_network_view(d) for d in found])


@job_result("physicalnetwork")
def _physical_network_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    try:
        return physical_network_view(ctx.services.physical_networks.get(job.resource_uuid or ""))
    except NotFound:
        return None


# --- traffic types --------------------------------------------------------------------

_LABELS = {"xennetworklabel": "string", "kvmnetworklabel": "string",
           "vmwarenetworklabel": "string", "hypervnetworklabel": "string",
           "ovm3networklabel": "string"}


def _labels(p: CsParams) -> TrafficLabels:
    return TrafficLabels(kvm=p.get("kvmnetworklabel"), xen=p.get("xennetworklabel"),
                         vmware=p.get("vmwarenetworklabel"), hyperv=p.get("hypervnetworklabel"),
                         ovm3=p.get("ovm3networklabel"))


@command("addTrafficType", is_async=True, creates="traffictype", admin_only=True)
def add_traffic_type(ctx: CsContext, p: CsParams) -> Submitted:
    row = ctx.services.physical_networks.add_traffic_type(
        _uuid(p, "physicalnetworkid"), p.require("traffictype"), _labels(p),
        vlan=p.get("vlan") or None)
    return _done(ctx, ResourceKind.TRAFFIC_TYPE, row.uuid, creates=True)


@command("updateTrafficType", admin_only=True, meta=_meta(
    "async", "traffictype", "TrafficTypeResponse", {"id": "uuid"}, _LABELS,
    dict(_SPEC["addTrafficType"]["responsefields"]), "Updates traffic type of a physical network"))
def update_traffic_type(ctx: CsContext, p: CsParams) -> Submitted:
    row = ctx.services.physical_networks.update_traffic_type(_uuid(p, "id"), _labels(p))
    return _done(ctx, ResourceKind.TRAFFIC_TYPE, row.uuid)


@command("deleteTrafficType", admin_only=True, meta=_meta(
    "async", "success(SuccessResponse)", "SuccessResponse", {"id": "uuid"}, {}, _SUCCESS,
    "Deletes traffic type of a physical network"))
def delete_traffic_type(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = _uuid(p, "id")
    ctx.services.physical_networks.delete_traffic_type(uuid)
    return _done(ctx, ResourceKind.TRAFFIC_TYPE, uuid)


@command("listTrafficTypes", admin_only=True)
def list_traffic_types(ctx: CsContext, p: CsParams) -> Listing:
    # QUIRK(cloudstack): the command is annotated with ProviderResponse, but the
    # items it sends are traffic types (TrafficTypeResponse fields).
    rows = ctx.services.physical_networks.traffic_types(_uuid(p, "physicalnetworkid"))
    return _listing(ctx, p, [traffic_type_view(t) for t in rows])


@job_result("traffictype")
def _traffic_type_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    try:
        return traffic_type_view(ctx.services.physical_networks.traffic_type(
            job.resource_uuid or ""))
    except NotFound:
        return None


# The guru implementing each traffic type (CloudStack's default gurus).
_IMPLEMENTORS = (("Public", "PublicNetworkGuru"), ("Guest", "ExternalGuestNetworkGuru"),
                 ("Guest", "DirectNetworkGuru"), ("Management", "PodBasedNetworkGuru"),
                 ("Control", "ControlNetworkGuru"), ("Storage", "StorageNetworkGuru"))


@command("listTrafficTypeImplementors", admin_only=True, meta=_meta(
    "sync", "traffictypeimplementorresponse", "TrafficTypeImplementorResponse", {},
    {"traffictype": "string", **_PAGED},
    {"traffictype": "str", "traffictypeimplementor": "str"},
    "Lists implementors of implementor of a network traffic type or implementors of all "
    "network traffic types", listshaped=True))
def list_traffic_type_implementors(ctx: CsContext, p: CsParams) -> Listing:
    wanted = p.get("traffictype")
    if wanted and wanted not in TRAFFIC_TYPES:
        raise invalid_value(f"Unable to resolve trafficType '{wanted}' to a supported value")
    rows = [{"traffictype": t, "traffictypeimplementor": g} for t, g in _IMPLEMENTORS
            if not wanted or t == wanted]
    if wanted:
        rows = rows[:1]
    return _listing(ctx, p, rows)


# --- network service providers --------------------------------------------------------

_PROVIDER_FIELDS = dict(_SPEC["listNetworkServiceProviders"]["responsefields"])


def _provider_state(raw: str | None) -> ProviderState | None:
    if not raw:
        return None
    states = {s.value: s for s in ProviderState}
    if raw not in states:
        raise invalid_value(f"Unable to resolve state '{raw}' to a supported value "
                            "{Enabled or Disabled}")
    return states[raw]


@command("addNetworkServiceProvider", admin_only=True, meta=_meta(
    "async-create", "networkserviceprovider", "ProviderResponse",
    {"name": "string", "physicalnetworkid": "uuid"},
    {"destinationphysicalnetworkid": "uuid", "servicelist": "list"}, _PROVIDER_FIELDS,
    "Adds a network serviceProvider to a physical network"))
def add_network_service_provider(ctx: CsContext, p: CsParams) -> Submitted:
    services = p.list("servicelist") if p.get("servicelist") is not None else None
    detail = ctx.services.physical_networks.add_provider(
        _uuid(p, "physicalnetworkid"), p.require("name"),
        destination_uuid=p.uuid("destinationphysicalnetworkid"), services=services)
    return _done(ctx, ResourceKind.NETWORK_SERVICE_PROVIDER, detail.provider.uuid,
                 creates=True)


@command("updateNetworkServiceProvider", is_async=True, admin_only=True)
def update_network_service_provider(ctx: CsContext, p: CsParams) -> Submitted:
    services = p.list("servicelist") if p.get("servicelist") is not None else None
    detail = ctx.services.physical_networks.update_provider(
        _uuid(p, "id"), state=_provider_state(p.get("state")), services=services)
    return _done(ctx, ResourceKind.NETWORK_SERVICE_PROVIDER, detail.provider.uuid)


@command("deleteNetworkServiceProvider", admin_only=True, meta=_meta(
    "async", "success(SuccessResponse)", "SuccessResponse", {"id": "uuid"}, {}, _SUCCESS,
    "Deletes a Network Service Provider."))
def delete_network_service_provider(ctx: CsContext, p: CsParams) -> Submitted:
    uuid = _uuid(p, "id")
    ctx.services.physical_networks.delete_provider(uuid)
    return _done(ctx, ResourceKind.NETWORK_SERVICE_PROVIDER, uuid)


@command("listNetworkServiceProviders", admin_only=True)
def list_network_service_providers(ctx: CsContext, p: CsParams) -> Listing:
    # An unknown state matches nothing (the reference compares the column).
    raw = p.get("state")
    if raw and raw not in {s.value for s in ProviderState}:
        return Listing([], 0)
    found = ctx.services.physical_networks.providers(
        physical_network_uuid=p.uuid("physicalnetworkid"), name=p.get("name") or None,
        state=_provider_state(raw), keyword=p.get("keyword") or None)
    return _listing(ctx, p, [provider_view(d) for d in found])


@job_result("networkserviceprovider")
def _provider_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    try:
        return provider_view(ctx.services.physical_networks.provider(job.resource_uuid or ""))
    except NotFound:
        return None


@command("listSupportedNetworkServices", admin_only=True, meta=_meta(
    "sync", "networkservice", "ServiceResponse", {},
    {"provider": "string", "service": "string", **_PAGED},
    {"name": "str", "provider": "list[ProviderResponse]",
     "capability": "list[CapabilityResponse]"},
    "Lists all network services provided by CloudStack or for the given Provider.",
    listshaped=True))
def list_supported_network_services(ctx: CsContext, p: CsParams) -> Listing:
    kinds = list(PROVIDERS.values())
    wanted = p.get("provider")
    if wanted:
        kinds = [k for k in kinds if k.name.lower() == wanted.lower()]
        if not kinds:
            raise invalid_value(f"Invalid Network Service Provider={wanted}")
    names: list[str] = []
    for kind in kinds:
        names += [s for s in kind.services if s not in names]
    service = p.get("service")
    if service:
        names = [n for n in names if n.lower() == service.lower()]
    rows = [{"name": n, "provider": [{"name": k.name} for k in kinds if n in k.services]}
            for n in names]
    return _listing(ctx, p, rows)


# --- provider elements ----------------------------------------------------------------


def _list_elements(ctx: CsContext, p: CsParams, kinds: Sequence[str]) -> Listing:
    found = ctx.services.physical_networks.elements(
        kinds, uuid=p.uuid("id"), provider_uuid=p.uuid("nspid"), enabled=p.boolean("enabled"))
    return _listing(ctx, p, [element_view(e) for e in found])


def _element_result(ctx: CsContext, job: Job, kinds: Sequence[str]) -> dict[str, Any] | None:
    found = ctx.services.physical_networks.elements(kinds, uuid=job.resource_uuid or "")
    return element_view(found[0]) if found else None


def _configure_element(ctx: CsContext, p: CsParams, kinds: Sequence[str]) -> Submitted:
    row = ctx.services.physical_networks.configure_element(
        _uuid(p, "id"), kinds, bool(p.boolean("enabled", required=True)))
    return _done(ctx, ResourceKind.PROVIDER_ELEMENT, row.uuid)


@command("listVirtualRouterElements", admin_only=True)
def list_virtual_router_elements(ctx: CsContext, p: CsParams) -> Listing:
    return _list_elements(ctx, p, ROUTER_ELEMENTS)


@command("configureVirtualRouterElement", is_async=True, admin_only=True)
def configure_virtual_router_element(ctx: CsContext, p: CsParams) -> Submitted:
    return _configure_element(ctx, p, ROUTER_ELEMENTS)


@job_result("virtualrouterelement")
def _router_element_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    return _element_result(ctx, job, ROUTER_ELEMENTS)


@command("listInternalLoadBalancerElements", admin_only=True)
def list_internal_load_balancer_elements(ctx: CsContext, p: CsParams) -> Listing:
    return _list_elements(ctx, p, INTERNAL_LB_ELEMENTS)


@command("configureInternalLoadBalancerElement", is_async=True, admin_only=True)
def configure_internal_load_balancer_element(ctx: CsContext, p: CsParams) -> Submitted:
    return _configure_element(ctx, p, INTERNAL_LB_ELEMENTS)


@job_result("internalloadbalancerelement")
def _internal_lb_element_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    return _element_result(ctx, job, INTERNAL_LB_ELEMENTS)
