"""Changing data-center resources after they exist: pods, clusters, hosts,
primary storage (settings and maintenance), the old addSecondaryStorage, and
configureSimulator (the simulator driver's fault and delay settings).

All root-admin only. The async commands do their work within the request;
their job is already finished when it is returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.errors import ResourceKind
from engine.services.inventory import HostQuery
from engine.states import AllocationState
from nativeapi import views_admin, views_infra_more
from nativeapi.commands import (
    CsContext,
    Submitted,
    finished,
    invalid_value,
    job_result,
)
from nativeapi.commands.infrastructure import _enum
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command
from nativeapi.spec import load_commands

if TYPE_CHECKING:
    from engine.models import Job

# CloudStack's simulator names the agent command; the simulator driver names its operation.
SIMULATED_COMMANDS: dict[str, str] = {
    "startcommand": "start", "stopcommand": "stop", "rebootcommand": "reboot",
    "migratecommand": "migrate", "readycommand": "connect", "connectcommand": "connect",
    "gethoststatscommand": "host_stats", "getvmstatscommand": "info",
    "checkvirtualmachinecommand": "info", "createcommand": "create_disk",
    "createobjectcommand": "create_disk", "destroycommand": "delete_disk",
    "deletecommand": "delete_disk", "attachcommand": "attach_disk",
    "dettachcommand": "detach_disk", "resizevolumecommand": "resize_disk",
    "createsnapshotcommand": "snapshot_disk",
}
# MockResponse's object name is not in the spec table (it is marked unverified there).
_CONFIGURE_SIMULATOR_META: dict[str, Any] = {
    **load_commands()["configureSimulator"], "itemkey": "configuresimulator"}


def _id(p: CsParams, name: str = "id") -> str:
    return p.uuid(name, required=True) or ""


# --- pods and clusters ----------------------------------------------------------------


@command("updatePod", admin_only=True)
def update_pod(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    detail = ctx.services.inventory.update_pod(
        _id(p), name=p.get("name") or None, gateway=p.get("gateway") or None,
        netmask=p.get("netmask") or None, start_ip=p.get("startip") or None,
        end_ip=p.get("endip") or None,
        allocation_state=_enum(p, "allocationstate", AllocationState))
    return views_admin.pod(detail)


def _ratio(p: CsParams, name: str) -> float | None:
    raw = p.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise invalid_value(f"Invalid value {raw} for {name}") from None


@command("updateCluster", admin_only=True)
def update_cluster(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    managed = (p.get("managedstate") or "").lower()
    if managed and managed != "managed":
        # Unmanaging a cluster (disconnecting its hosts) is not supported.
        raise invalid_value(f"Unsupported managedstate {p.get('managedstate')}; "
                            "only Managed is supported")
    kind = p.get("clustertype")
    if kind and kind != "CloudManaged":
        raise invalid_value(f"Unsupported clustertype {kind}; only CloudManaged is supported")
    current = ctx.services.inventory.clusters(uuid=_id(p))
    hypervisor = p.get("hypervisor")
    if current and hypervisor and hypervisor.lower() != current[0].cluster.hypervisor.lower():
        raise invalid_value("The hypervisor type of a cluster cannot be changed")
    # cpuovercommitratio/memoryovercommitratio: older releases took them here.
    detail = ctx.services.inventory.update_cluster(
        _id(p), allocation_state=_enum(p, "allocationstate", AllocationState),
        cpu_factor=_ratio(p, "cpuovercommitratio"),
        memory_factor=_ratio(p, "memoryovercommitratio"), name=p.get("clustername") or None)
    return views_admin.cluster(detail)


# --- hosts ----------------------------------------------------------------------------


@command("reconnectHost", is_async=True, admin_only=True)
def reconnect_host(ctx: CsContext, p: CsParams) -> Submitted:
    detail = ctx.services.inventory.reconnect_host(_id(p))
    return Submitted(finished(ctx, ResourceKind.HOST, detail.host.uuid))


@job_result("reconnectHost")
def _reconnected(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    found = ctx.services.inventory.hosts(HostQuery(uuid=job.resource_uuid or ""))
    return views_admin.host(found[0]) if found else None


# --- storage --------------------------------------------------------------------------


@command("updateStoragePool", admin_only=True)
def update_storage_pool(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    tags = p.list("tags") if p.get("tags") is not None else None
    detail = ctx.services.inventory.update_storage_pool(
        _id(p), name=p.get("name") or None, tags=None if tags is None else ",".join(tags),
        capacity_bytes=p.long("capacitybytes"), enabled=p.boolean("enabled"))
    return views_admin.storage_pool(detail)


def _pool_job(ctx: CsContext, pool_uuid: str) -> Submitted:
    return Submitted(finished(ctx, ResourceKind.STORAGE_POOL, pool_uuid))


@command("enableStorageMaintenance", is_async=True, admin_only=True)
def enable_storage_maintenance(ctx: CsContext, p: CsParams) -> Submitted:
    return _pool_job(ctx, ctx.services.inventory.start_pool_maintenance(_id(p)).pool.uuid)


@command("cancelStorageMaintenance", is_async=True, admin_only=True)
def cancel_storage_maintenance(ctx: CsContext, p: CsParams) -> Submitted:
    return _pool_job(ctx, ctx.services.inventory.end_pool_maintenance(_id(p)).pool.uuid)


def _pool_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    found = ctx.services.inventory.storage_pools(uuid=job.resource_uuid or "")
    return views_admin.storage_pool(found[0]) if found else None


job_result("enableStorageMaintenance")(_pool_result)
job_result("cancelStorageMaintenance")(_pool_result)


@command("addSecondaryStorage", admin_only=True)
def add_secondary_storage(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    """The pre-4.2 form of addImageStore: an NFS store from a URL."""
    url = p.require("url")
    if not url.lower().startswith("nfs://"):
        raise invalid_value(f"Unsupported secondary storage URL {url}; use nfs://server/path")
    detail = ctx.services.inventory.register_image_store(p.uuid("zoneid"), "", url)
    return views_admin.image_store(detail)


# --- simulator ------------------------------------------------------------------------


def _simulator_settings(name: str, value: str, count: int | None) -> dict[str, object]:
    """CloudStack's (command, "result:fail|wait:<ms>") as simulator driver settings;
    a name that is no agent command is a driver setting itself (e.g. ``memory``)."""
    op = SIMULATED_COMMANDS.get(name.lower())
    if op is None:
        if name.lower().endswith("command"):
            raise invalid_value(f"The simulator cannot configure {name}")
        return {name: value}
    out: dict[str, object] = {}
    for token in filter(None, (t.strip() for t in value.replace("|", ",").split(","))):
        key, _, arg = token.partition(":")
        key, arg = key.strip().lower(), arg.strip()
        if key == "result" and arg.lower() in ("fail", "failure", "false"):
            out[f"fail.{op}"] = 1
            if count is not None:
                out[f"fail.{op}.count"] = count
        elif key == "result" and arg.lower() in ("success", "true"):
            out[f"fail.{op}"] = None
            out[f"fail.{op}.count"] = None
        elif key == "wait" and arg.isdigit():
            out[f"delay.{op}"] = int(arg) / 1000
        elif key == "message":
            continue
        else:
            raise invalid_value(f"Invalid simulator setting {token}; "
                                "use result:fail, result:success or wait:<milliseconds>")
    if not out:
        raise invalid_value(f"Invalid simulator value {value}")
    return out


@command("configureSimulator", meta=_CONFIGURE_SIMULATOR_META, admin_only=True)
def configure_simulator(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    name, count = p.require("name"), p.integer("count")
    settings = _simulator_settings(name, p.require("value"), count)
    done = ctx.services.inventory.configure_simulated_hosts(HostQuery(
        uuid=p.uuid("hostid"), cluster_uuid=p.uuid("clusterid"), pod_uuid=p.uuid("podid"),
        zone_uuid=p.uuid("zoneid"), hypervisor="simulator"), settings)
    if not done:
        raise invalid_value("No simulator host matches the given zone, pod, cluster or host")
    return views_infra_more.simulator_setting(name, count)
