"""Data-center administration: zones, pods, clusters, hosts, primary and secondary
storage, public IP ranges and capacity.

Everything here is for root admins only (guest networks and network
offerings are in ``networks``). Removal of anything still in use is refused
by the engine (536).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from engine.errors import ResourceKind
from engine.services.inventory import (
    HostQuery,
    HostRequest,
    PoolRequest,
    VlanRangeRequest,
    ZoneChanges,
    ZoneRequest,
)
from engine.states import AllocationState, HostState, ResourceState, StorageScope
from nativeapi import views, views_admin
from nativeapi.commands import (
    CsContext,
    Listing,
    Submitted,
    Success,
    finished,
    invalid_value,
    job_result,
    page_slice,
    paging,
)
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job

E = TypeVar("E", bound=Enum)


def _listing(ctx: CsContext, p: CsParams, rows: Sequence[Any]) -> Listing:
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


def _enum(p: CsParams, name: str, enum: type[E]) -> E | None:
    """A case-insensitive enum value of parameter ``name``; 431 if unknown."""
    raw = p.get(name)
    if not raw:
        return None
    table = {str(m.value).lower(): m for m in enum}
    if raw.lower() not in table:
        raise invalid_value(f"Invalid value {raw} for {name}")
    return table[raw.lower()]


def _allocation(p: CsParams) -> AllocationState | None:
    return _enum(p, "allocationstate", AllocationState)


def _uuid(p: CsParams, name: str) -> str:
    return p.uuid(name, required=True) or ""


# --- zones ----------------------------------------------------------------------------


@command("createZone", admin_only=True)
def create_zone(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    kind = p.require("networktype").capitalize()
    if kind not in ("Basic", "Advanced"):
        raise invalid_value("Invalid zone type; only Advanced and Basic values are supported")
    zone = ctx.services.inventory.add_zone(ZoneRequest(
        name=p.require("name"), network_type=kind, dns1=p.require("dns1"),
        internal_dns1=p.require("internaldns1"), guest_cidr=p.get("guestcidraddress"),
        security_groups_enabled=bool(p.boolean("securitygroupenabled", kind == "Basic")),
        # QUIRK(cloudstack): a new zone is Disabled until an operator enables it.
        allocation_state=_allocation(p) or AllocationState.DISABLED))
    return views.zone(zone)


@command("updateZone", admin_only=True)
def update_zone(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    zone = ctx.services.inventory.update_zone(_uuid(p, "id"), ZoneChanges(
        name=p.get("name") or None, dns1=p.get("dns1") or None,
        internal_dns1=p.get("internaldns1") or None,
        guest_cidr=p.get("guestcidraddress") or None, allocation_state=_allocation(p)))
    return views.zone(zone)


@command("deleteZone", admin_only=True)
def delete_zone(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.inventory.delete_zone(_uuid(p, "id"))
    return Success()


# --- pods and clusters ----------------------------------------------------------------


@command("createPod", admin_only=True)
def create_pod(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    detail = ctx.services.inventory.add_pod(
        _uuid(p, "zoneid"), p.require("name"), gateway=p.get("gateway") or "",
        netmask=p.get("netmask") or "", start_ip=p.get("startip") or "",
        end_ip=p.get("endip") or "",
        allocation_state=_allocation(p) or AllocationState.ENABLED)
    return views_admin.pod(detail)


@command("listPods", admin_only=True)
def list_pods(ctx: CsContext, p: CsParams) -> Listing:
    found = ctx.services.inventory.pods(uuid=p.uuid("id"), zone_uuid=p.uuid("zoneid"),
                                        name=p.get("name"), allocation_state=_allocation(p),
                                        keyword=p.get("keyword"))
    return _listing(ctx, p, [views_admin.pod(d) for d in found])


@command("deletePod", admin_only=True)
def delete_pod(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.inventory.delete_pod(_uuid(p, "id"))
    return Success()


@command("addCluster", admin_only=True)
def add_cluster(ctx: CsContext, p: CsParams) -> Listing:
    if p.require("clustertype") not in ("CloudManaged", "ExternalManaged"):
        raise invalid_value("clustertype must be CloudManaged or ExternalManaged")
    detail = ctx.services.inventory.add_cluster(
        _uuid(p, "podid"), p.require("clustername"), p.require("hypervisor"),
        zone_uuid=_uuid(p, "zoneid"), allocation_state=_allocation(p) or AllocationState.ENABLED)
    # QUIRK(cloudstack): addCluster answers with a list of one cluster.
    return Listing([views_admin.cluster(detail)], 1)


@command("listClusters", admin_only=True)
def list_clusters(ctx: CsContext, p: CsParams) -> Listing:
    found = ctx.services.inventory.clusters(
        uuid=p.uuid("id"), zone_uuid=p.uuid("zoneid"), pod_uuid=p.uuid("podid"),
        name=p.get("name"), hypervisor=p.get("hypervisor") or None,
        allocation_state=_allocation(p), keyword=p.get("keyword"))
    return _listing(ctx, p, [views_admin.cluster(d) for d in found])


@command("deleteCluster", admin_only=True)
def delete_cluster(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.inventory.delete_cluster(_uuid(p, "id"))
    return Success()


# --- hosts ----------------------------------------------------------------------------

# updateHost's allocationstate is a verb (Enable/Disable); "Enabled"/"Disabled" pass too.
_HOST_ALLOCATION = {"enable": ResourceState.ENABLED, "disable": ResourceState.DISABLED,
                    "enabled": ResourceState.ENABLED, "disabled": ResourceState.DISABLED}


@command("addHost", admin_only=True)
def add_host(ctx: CsContext, p: CsParams) -> Listing:
    state = _enum(p, "allocationstate", AllocationState)
    detail = ctx.services.inventory.register_host(
        HostRequest(zone_uuid=_uuid(p, "zoneid"), pod_uuid=_uuid(p, "podid"),
                    cluster_uuid=p.uuid("clusterid") or "", url=p.require("url"),
                    username=p.get("username") or None, password=p.get("password") or None,
                    host_tags=p.get("hosttags") or ""),
        cluster_name=p.get("clustername") or None, hypervisor=p.require("hypervisor"),
        resource_state=ResourceState.DISABLED if state is AllocationState.DISABLED
        else ResourceState.ENABLED)
    # QUIRK(cloudstack): addHost answers with a list of one host.
    return Listing([views_admin.host(detail)], 1)


@command("listHosts", admin_only=True)
def list_hosts(ctx: CsContext, p: CsParams) -> Listing:
    kind = p.get("type")
    if kind and kind.lower() != "routing":
        return Listing([], 0)  # only hypervisor hosts exist (no system VMs or agents)
    state, resource = p.get("state"), p.get("resourcestate")
    states = {s.value.lower(): s for s in HostState}
    resources = {s.value.lower(): s for s in ResourceState}
    if (state and state.lower() not in states) or (resource and resource.lower() not in resources):
        return Listing([], 0)
    found = ctx.services.inventory.hosts(HostQuery(
        uuid=p.uuid("id"), name=p.get("name"), zone_uuid=p.uuid("zoneid"),
        pod_uuid=p.uuid("podid"), cluster_uuid=p.uuid("clusterid"),
        state=states[state.lower()] if state else None,
        resource_state=resources[resource.lower()] if resource else None,
        hypervisor=p.get("hypervisor") or None, instance_uuid=p.uuid("virtualmachineid"),
        keyword=p.get("keyword")))
    if not found and p.uuid("id"):
        ctx.services.inventory.host(p.uuid("id") or "")  # an unknown id is a 431
    return _listing(ctx, p, [views_admin.host(d) for d in found])


@command("updateHost", admin_only=True)
def update_host(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    raw = (p.get("allocationstate") or "").lower()
    if raw and raw not in _HOST_ALLOCATION:
        raise invalid_value(f"Invalid allocationstate {p.get('allocationstate')}; "
                            "use Enable or Disable")
    detail = ctx.services.inventory.update_host(
        _uuid(p, "id"), resource_state=_HOST_ALLOCATION.get(raw),
        name=p.get("name") or None, host_tags=p.get("hosttags"))
    return views_admin.host(detail)


@command("deleteHost", admin_only=True)
def delete_host(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.inventory.delete_host(_uuid(p, "id"), forced=bool(p.boolean("forced", False)))
    return Success()


def _host_job(ctx: CsContext, host_uuid: str) -> Submitted:
    return Submitted(finished(ctx, ResourceKind.HOST, host_uuid))


@command("prepareHostForMaintenance", is_async=True, admin_only=True)
def prepare_host_for_maintenance(ctx: CsContext, p: CsParams) -> Submitted:
    # Nothing to migrate (hosts with VMs are refused), so the job is done at once.
    host = ctx.services.inventory.start_host_maintenance(_uuid(p, "id"))
    return _host_job(ctx, host.host.uuid)


@command("cancelHostMaintenance", is_async=True, admin_only=True)
def cancel_host_maintenance(ctx: CsContext, p: CsParams) -> Submitted:
    host = ctx.services.inventory.end_host_maintenance(_uuid(p, "id"))
    return _host_job(ctx, host.host.uuid)


@job_result("host")
def _host_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    found = ctx.services.inventory.hosts(HostQuery(uuid=job.resource_uuid or ""))
    return views_admin.host(found[0]) if found else None


# --- primary and secondary storage ----------------------------------------------------


@command("createStoragePool", admin_only=True)
def create_storage_pool(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    scope = _enum(p, "scope", StorageScope)
    cluster = p.uuid("clusterid")
    if scope is StorageScope.CLUSTER and not cluster:
        raise p.missing("clusterid")
    detail = ctx.services.inventory.register_storage_pool(PoolRequest(
        zone_uuid=_uuid(p, "zoneid"), name=p.require("name"), url=p.require("url"),
        capacity_bytes=p.long("capacitybytes"), pod_uuid=p.uuid("podid"),
        cluster_uuid=None if scope is StorageScope.ZONE else cluster,
        tags=p.get("tags") or ""))
    return views_admin.storage_pool(detail)


@command("listStoragePools", admin_only=True)
def list_storage_pools(ctx: CsContext, p: CsParams) -> Listing:
    found = ctx.services.inventory.storage_pools(
        uuid=p.uuid("id"), zone_uuid=p.uuid("zoneid"), pod_uuid=p.uuid("podid"),
        cluster_uuid=p.uuid("clusterid"), name=p.get("name"),
        scope=_enum(p, "scope", StorageScope), keyword=p.get("keyword"))
    return _listing(ctx, p, [views_admin.storage_pool(d) for d in found])


@command("deleteStoragePool", admin_only=True)
def delete_storage_pool(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.inventory.delete_storage_pool(_uuid(p, "id"))
    return Success()


@command("addImageStore", admin_only=True)
def add_image_store(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    if p.require("provider").upper() != "NFS":
        raise invalid_value(f"Unsupported image store provider {p.get('provider')}; use NFS")
    detail = ctx.services.inventory.register_image_store(
        p.uuid("zoneid"), p.get("name") or "", p.require("url"))
    return views_admin.image_store(detail)


@command("listImageStores", admin_only=True)
def list_image_stores(ctx: CsContext, p: CsParams) -> Listing:
    found = ctx.services.inventory.image_stores(
        uuid=p.uuid("id"), zone_uuid=p.uuid("zoneid"), name=p.get("name"),
        protocol=p.get("protocol"), provider=p.get("provider"), keyword=p.get("keyword"))
    return _listing(ctx, p, [views_admin.image_store(d) for d in found])


@command("deleteImageStore", admin_only=True)
def delete_image_store(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.inventory.delete_image_store(_uuid(p, "id"))
    return Success()


# --- public IP ranges -----------------------------------------------------------------


def _vlan(raw: str | None) -> str:
    """``vlan://50``/``50`` -> ``50``; nothing or ``untagged`` -> ``untagged``."""
    value = (raw or "untagged").strip()
    value = value.split("://", 1)[1] if "://" in value else value
    if value.lower() == "untagged":
        return "untagged"
    if not value.isdigit() or not 0 < int(value) < 4095:
        raise invalid_value(f"Invalid VLAN id {raw}")
    return value


@command("createVlanIpRange", admin_only=True)
def create_vlan_ip_range(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    zone_uuid = p.uuid("zoneid")
    pod_uuid = p.uuid("podid")
    if not zone_uuid and pod_uuid:
        pods = ctx.services.inventory.pods(uuid=pod_uuid)
        zone_uuid = pods[0].zone.uuid if pods else None
    if not zone_uuid:
        raise p.missing("zoneid")
    account_uuid = None
    if p.get("account"):
        account_uuid = ctx.services.accounts.account_by_name(
            ctx.principal, p.require("account"), p.uuid("domainid")).uuid
    start = p.get("startip") or ""
    detail = ctx.services.inventory.add_vlan_range(VlanRangeRequest(
        zone_uuid=zone_uuid, gateway=p.get("gateway") or "", netmask=p.get("netmask") or "",
        start_ip=start, end_ip=p.get("endip") or start, vlan=_vlan(p.get("vlan")),
        pod_uuid=pod_uuid, for_virtual_network=bool(p.boolean("forvirtualnetwork", True)),
        account_uuid=account_uuid))
    return views_admin.vlan_range(detail)


@command("listVlanIpRanges", admin_only=True)
def list_vlan_ip_ranges(ctx: CsContext, p: CsParams) -> Listing:
    found = ctx.services.inventory.vlan_ranges(
        uuid=p.uuid("id"), zone_uuid=p.uuid("zoneid"), pod_uuid=p.uuid("podid"),
        vlan=_vlan(p.get("vlan")) if p.get("vlan") else None,
        for_virtual_network=p.boolean("forvirtualnetwork"))
    return _listing(ctx, p, [views_admin.vlan_range(d) for d in found])


@command("deleteVlanIpRange", admin_only=True)
def delete_vlan_ip_range(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.inventory.delete_vlan_range(_uuid(p, "id"))
    return Success()


# --- capacity -------------------------------------------------------------------------


@command("listCapacity", admin_only=True)
def list_capacity(ctx: CsContext, p: CsParams) -> Listing:
    rows = [views_admin.capacity(r) for r in ctx.services.inventory.capacity(
        zone_uuid=p.uuid("zoneid"), pod_uuid=p.uuid("podid"), cluster_uuid=p.uuid("clusterid"))]
    wanted = p.integer("type")
    if wanted is not None:
        rows = [r for r in rows if r["type"] == wanted]
    if (p.get("sortby") or "").lower() == "usage":
        rows.sort(key=lambda r: -float(r["percentused"]))
    else:
        rows.sort(key=lambda r: (r["zonename"], r["type"]))
    return _listing(ctx, p, rows)
