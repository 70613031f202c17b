"""Global configuration: listConfigurations and updateConfiguration (root admins).

Values are the engine's settings; a change applies to the next request of every
server (placement reads the overprovisioning factors per request). Cluster and
storage-pool scopes exist only for the overprovisioning factors, which the
engine keeps per cluster/pool; other scopes are refused.
"""

from __future__ import annotations

from typing import Any

from nativeapi import views_admin
from nativeapi.commands import CsContext, Listing, invalid_value, page_slice, paging
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

_CLUSTER_SCOPED = {"cpu.overprovisioning.factor": "cpu", "mem.overprovisioning.factor": "memory"}
_POOL_SCOPED = "storage.overprovisioning.factor"
_UNSUPPORTED_SCOPES = ("zoneid", "accountid", "domainid", "imagestoreuuid")


def _number(name: str, listed: list[str]) -> int:
    return listed.index(name) + 1 if name in listed else 0


@command("listConfigurations", admin_only=True)
def list_configurations(ctx: CsContext, p: CsParams) -> Listing:
    settings = ctx.services.settings.listed()
    order = [spec.name for spec, _ in settings]
    name, category, keyword = p.get("name"), p.get("category"), p.get("keyword")
    cluster = ctx.services.inventory.clusters(uuid=p.uuid("clusterid"))[0] \
        if p.uuid("clusterid") else None
    rows = []
    for spec, value in settings:
        if name and name.lower() not in spec.name.lower():
            continue  # QUIRK(cloudstack): name matches as a substring
        if category and category.lower() != spec.category.lower():
            continue
        if keyword and not any(keyword.lower() in t.lower()
                               for t in (spec.name, spec.description, spec.category)):
            continue
        if cluster is not None:
            if spec.name not in _CLUSTER_SCOPED:
                continue
            factor = (cluster.cpu_factor if _CLUSTER_SCOPED[spec.name] == "cpu"
                      else cluster.memory_factor)
            row = views_admin.configuration(spec, str(factor), _number(spec.name, order))
            rows.append({**row, "scope": "cluster"})
            continue
        rows.append(views_admin.configuration(spec, value, _number(spec.name, order)))
    return Listing(page_slice(rows, paging(ctx, p)), len(rows))


def _factor(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise invalid_value(f"{name} takes a number") from None


@command("updateConfiguration", admin_only=True)
def update_configuration(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    name, value = p.require("name"), p.get("value")
    if value is None:
        raise p.missing("value")
    for scope in _UNSUPPORTED_SCOPES:
        if p.get(scope):
            raise invalid_value(f"Configuration {name} cannot be set per {scope[:-2]}")
    settings = ctx.services.settings
    known = {spec.name: spec for spec, _ in settings.listed()}
    order = list(known)
    if p.uuid("clusterid"):
        part = _CLUSTER_SCOPED.get(name)
        if part is None:
            raise invalid_value(f"Configuration {name} cannot be set per cluster")
        factor = _factor(name, value)
        ctx.services.inventory.update_cluster(
            p.uuid("clusterid") or "", cpu_factor=factor if part == "cpu" else None,
            memory_factor=factor if part == "memory" else None)
        row = views_admin.configuration(known[name], str(factor), _number(name, order))
        return {**row, "scope": "cluster"}
    if p.uuid("storageid"):
        if name != _POOL_SCOPED:
            raise invalid_value(f"Configuration {name} cannot be set per storage pool")
        pool = ctx.services.inventory.set_pool_overprovisioning(p.uuid("storageid") or "",
                                                                _factor(name, value))
        row = views_admin.configuration(known[name], str(pool.factor), _number(name, order))
        return {**row, "scope": "storagepool"}
    spec = settings.configure(name, value)
    return views_admin.configuration(spec, settings.raw(name), _number(name, order))
