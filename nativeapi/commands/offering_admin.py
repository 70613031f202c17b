"""Creating, changing and retiring compute (service) and disk offerings (root admins).

Deleting an offering does what CloudStack does: it becomes Inactive and drops
out of the lists, while instances and volumes that use it keep it. Custom
(user-sized) compute offerings are not supported: ``cpunumber`` and ``memory``
are required (``cpuspeed`` defaults to 1000 MHz).
"""

from __future__ import annotations

from typing import Any

from engine.services.catalog import DiskOfferingSpec, OfferingChanges, ServiceOfferingSpec
from nativeapi import views
from nativeapi.commands import CsContext, Success, invalid_value
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

DEFAULT_CPU_MHZ = 1000


def _state(p: CsParams) -> bool | None:
    """The ``state`` parameter as "active?" (None when absent)."""
    raw = p.get("state")
    if raw is None:
        return None
    if raw.lower() not in ("active", "inactive"):
        raise invalid_value(f"Invalid state {raw}; use Active or Inactive")
    return raw.lower() == "active"


# --- compute offerings ----------------------------------------------------------------


@command("createServiceOffering", admin_only=True)
def create_service_offering(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    cpus, memory = p.integer("cpunumber"), p.integer("memory")
    if cpus is None or memory is None or p.boolean("customized", False):
        raise invalid_value("Custom compute offerings are not supported: specify cpunumber "
                            "and memory")
    if p.boolean("issystem", False):
        raise invalid_value("System offerings cannot be created")
    name = p.require("name")
    offering = ctx.services.catalog.create_service_offering(ServiceOfferingSpec(
        name=name, cpus=cpus, memory_mib=memory,
        cpu_mhz=p.integer("cpuspeed", DEFAULT_CPU_MHZ) or 0,
        display_text=p.get("displaytext") or name, root_disk_gib=p.long("rootdisksize", 0) or 0,
        network_mbps=p.integer("networkrate", 0) or 0, host_tags=p.get("hosttags") or "",
        storage_tags=p.get("tags") or ""))
    return views.service_offering(offering)


@command("updateServiceOffering", admin_only=True)
def update_service_offering(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    offering = ctx.services.catalog.update_service_offering(
        p.uuid("id", required=True) or "",
        OfferingChanges(name=p.get("name"), display_text=p.get("displaytext"),
                        host_tags=p.get("hosttags"), storage_tags=p.get("storagetags"),
                        active=_state(p)))
    return views.service_offering(offering)


@command("deleteServiceOffering", admin_only=True)
def delete_service_offering(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.catalog.delete_service_offering(p.uuid("id", required=True) or "")
    return Success()


# --- disk offerings -------------------------------------------------------------------


@command("createDiskOffering", admin_only=True)
def create_disk_offering(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    name = p.require("name")
    size = p.long("disksize")
    customized = bool(p.boolean("customized", False))
    if size is None and not customized:
        raise invalid_value("Disksize is required for a non-customized disk offering")
    offering = ctx.services.catalog.create_disk_offering(DiskOfferingSpec(
        name=name, size_gib=size or 0, customized=customized,
        display_text=p.get("displaytext") or name, storage_tags=p.get("tags") or ""))
    return views.disk_offering(offering)


@command("updateDiskOffering", admin_only=True)
def update_disk_offering(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    offering = ctx.services.catalog.update_disk_offering(
        p.uuid("id", required=True) or "",
        OfferingChanges(name=p.get("name"), display_text=p.get("displaytext"),
                        storage_tags=p.get("tags"), active=_state(p)))
    return views.disk_offering(offering)


@command("deleteDiskOffering", admin_only=True)
def delete_disk_offering(ctx: CsContext, p: CsParams) -> Success:
    ctx.services.catalog.delete_disk_offering(p.uuid("id", required=True) or "")
    return Success()
