"""Hand-written storage and device semantics of the XAPI double: VDI, VBD, VIF, SR.

Disks live in SRs; their ``virtual_size`` counts against the SR's ``physical_size``
(thick accounting, errors like the ext/LVM SM backends). VBDs and VIFs become
``currently_attached`` when their VM runs or when plugged into a running VM.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.xapi.schema import NULL
from tests.xapi.store import XapiError, int64

if TYPE_CHECKING:
    from tests.xapi.server import Xapi

_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def _allocated(x: Xapi, sr: str) -> int:
    return sum(int(x.store.get("VDI", v)["virtual_size"]) for v in x.store.get("SR", sr)["VDIs"])


def _account(x: Xapi, sr: str) -> None:
    used = _allocated(x, sr)
    x.store.update("SR", sr, virtual_allocation=str(used), physical_utilisation=str(used))


def _reserve(x: Xapi, sr: str, size: int) -> None:
    rec = x.store.get("SR", sr)
    if _allocated(x, sr) + size > int(rec["physical_size"]):
        raise XapiError("SR_BACKEND_FAILURE_44", "", "There is insufficient space", "")


def vdi_create(x: Xapi, record: dict[str, Any]) -> str:
    sr = record.get("SR", NULL)
    x.store.get("SR", sr)
    size = int64(record.get("virtual_size", "0"), "virtual_size")
    if size < 0:
        raise XapiError("FIELD_TYPE_ERROR", "virtual_size")
    _reserve(x, sr, size)
    fields = {k: v for k, v in record.items() if k not in ("uuid", "VBDs", "snapshots")}
    ref = x.store.create("VDI", {**fields, "virtual_size": str(size),
                                 "physical_utilisation": str(size)})
    rec = x.store.get("VDI", ref)
    x.store.update("VDI", ref, location=rec["uuid"])
    _account(x, sr)
    return ref


def duplicate_vdi(x: Xapi, ref: str, *, sr: str | None = None, full_copy: bool = False,
                  snapshot: bool = False) -> str:
    """A clone (same SR, child of ``ref``), snapshot, or full copy (into ``sr``)."""
    src = x.store.get("VDI", ref)
    target = sr or src["SR"]
    _reserve(x, target, int(src["virtual_size"]))
    keep = {k: v for k, v in src.items() if k in (
        "name_label", "name_description", "virtual_size", "type", "sharable", "read_only",
        "other_config", "xenstore_data", "tags")}
    fields: dict[str, Any] = {**keep, "SR": target}
    if not full_copy:
        fields["sm_config"] = {"vhd-parent": src["uuid"]}
    if snapshot:
        fields.update(is_a_snapshot=True, snapshot_of=ref, snapshot_time=x.now())
    new = x.store.create("VDI", fields)
    x.store.update("VDI", new, location=x.store.get("VDI", new)["uuid"],
                   physical_utilisation=src["virtual_size"])
    _account(x, target)
    return new


def vdi_copy(x: Xapi, ref: str, sr: str, base_vdi: str = NULL, into_vdi: str = NULL) -> str:
    """``VDI.copy``: a full copy of ``ref`` as a new VDI in ``sr`` (same virtual size, no
    VHD parent, not a snapshot). The 4-argument form may name an existing ``into_vdi``
    instead, which must be at least as large (``VDI_TOO_SMALL``); ``base_vdi`` only
    limits what real xapi transfers, so it changes nothing here."""
    src = x.store.get("VDI", ref)
    if base_vdi != NULL:
        x.store.get("VDI", base_vdi)
    if into_vdi == NULL:
        x.store.get("SR", sr)
        return duplicate_vdi(x, ref, sr=sr, full_copy=True)
    into = x.store.get("VDI", into_vdi)
    if int(into["virtual_size"]) < int(src["virtual_size"]):
        raise XapiError("VDI_TOO_SMALL", into_vdi, src["virtual_size"])
    return into_vdi


def vdi_destroy(x: Xapi, ref: str) -> str:
    vdi = x.store.get("VDI", ref)
    for vbd in vdi["VBDs"]:
        if x.store.get("VBD", vbd)["currently_attached"]:
            raise XapiError("VDI_IN_USE", ref, "destroy")
    for vbd in list(vdi["VBDs"]):
        x.store.destroy("VBD", vbd)
    for snap in vdi["snapshots"]:
        x.store.update("VDI", snap, snapshot_of=NULL)
    x.store.destroy("VDI", ref)
    _account(x, vdi["SR"])
    return ""


def _resize(x: Xapi, ref: str, size: str, *, online: bool) -> str:
    vdi = x.store.get("VDI", ref)
    attached = any(x.store.get("VBD", v)["currently_attached"] for v in vdi["VBDs"])
    if attached and not online:
        raise XapiError("VDI_IN_USE", ref, "resize")
    new, old = int64(size, "size"), int(vdi["virtual_size"])
    if new < old:
        raise XapiError("SR_BACKEND_FAILURE_79", "", "VDI Invalid size",
                        "shrinking is not supported")
    _reserve(x, vdi["SR"], new - old)
    x.store.update("VDI", ref, virtual_size=str(new), physical_utilisation=str(new))
    _account(x, vdi["SR"])
    return ""


# -- VBD ------------------------------------------------------------------------------------


def vbd_create(x: Xapi, record: dict[str, Any]) -> str:
    vm_ref = record.get("VM", NULL)
    vm = x.store.get("VM", vm_ref)
    vdi = record.get("VDI", NULL)
    empty = bool(record.get("empty", False))
    if not empty:
        x.store.get("VDI", vdi)
    used = {x.store.get("VBD", v)["userdevice"] for v in vm["VBDs"]}
    device = str(record.get("userdevice", ""))
    if device in ("", "autodetect"):
        device = str(next(n for n in range(16) if str(n) not in used))
    elif device in used:
        raise XapiError("DEVICE_ALREADY_EXISTS", device)
    fields = {k: v for k, v in record.items() if k not in ("uuid", "currently_attached")}
    fields.update(userdevice=device, device=f"xvd{chr(ord('a') + int(device))}",
                  currently_attached=False)
    return x.store.create("VBD", fields)


def vbd_plug(x: Xapi, ref: str) -> str:
    vbd = x.store.get("VBD", ref)
    vm = x.store.get("VM", vbd["VM"])
    if vm["power_state"] != "Running":
        raise XapiError("VM_BAD_POWER_STATE", vbd["VM"], "running", vm["power_state"].lower())
    if vbd["currently_attached"]:
        raise XapiError("DEVICE_ALREADY_ATTACHED", ref)
    if not vbd["empty"] and vbd["mode"] == "RW":
        vdi = x.store.get("VDI", vbd["VDI"])
        for other in vdi["VBDs"]:
            rec = x.store.get("VBD", other)
            if other != ref and rec["currently_attached"] and not vdi["sharable"]:
                raise XapiError("VDI_IN_USE", vbd["VDI"], "attach")
    x.store.update("VBD", ref, currently_attached=True)
    return ""


def vbd_unplug(x: Xapi, ref: str) -> str:
    vbd = x.store.get("VBD", ref)
    vm = x.store.get("VM", vbd["VM"])
    if vm["power_state"] != "Running":
        raise XapiError("VM_BAD_POWER_STATE", vbd["VM"], "running", vm["power_state"].lower())
    if not vbd["currently_attached"]:
        raise XapiError("DEVICE_ALREADY_DETACHED", ref)
    if vbd["bootable"] or vbd["userdevice"] == "0" or not vbd["unpluggable"]:
        raise XapiError("VBD_NOT_UNPLUGGABLE", ref)
    x.store.update("VBD", ref, currently_attached=False)
    return ""


def _device_destroy(x: Xapi, cls: str, ref: str) -> str:
    if x.store.get(cls, ref)["currently_attached"]:
        raise XapiError("OPERATION_NOT_ALLOWED",
                        f"{cls} '{ref}' still attached to a running VM")
    x.store.destroy(cls, ref)
    return ""


# -- VIF ------------------------------------------------------------------------------------


def vif_create(x: Xapi, record: dict[str, Any]) -> str:
    vm = x.store.get("VM", record.get("VM", NULL))
    x.store.get("network", record.get("network", NULL))
    mac = record.get("MAC", "")
    if mac and not _MAC.match(mac):
        raise XapiError("MAC_INVALID", mac)
    device = str(record.get("device", ""))
    if device in {x.store.get("VIF", v)["device"] for v in vm["VIFs"]}:
        raise XapiError("DEVICE_ALREADY_EXISTS", device)
    fields = {k: v for k, v in record.items() if k not in ("uuid", "currently_attached")}
    fields.update(MAC=mac or x.random_mac(), MAC_autogenerated=not mac, device=device)
    return x.store.create("VIF", fields)


def vif_plug(x: Xapi, ref: str) -> str:
    vif = x.store.get("VIF", ref)
    vm = x.store.get("VM", vif["VM"])
    if vm["power_state"] != "Running":
        raise XapiError("VM_BAD_POWER_STATE", vif["VM"], "running", vm["power_state"].lower())
    if vif["currently_attached"]:
        raise XapiError("DEVICE_ALREADY_ATTACHED", ref)
    x.store.update("VIF", ref, currently_attached=True)
    return ""


def vif_unplug(x: Xapi, ref: str) -> str:
    vif = x.store.get("VIF", ref)
    if not vif["currently_attached"]:
        raise XapiError("DEVICE_ALREADY_DETACHED", ref)
    x.store.update("VIF", ref, currently_attached=False)
    return ""


def sr_scan(x: Xapi, ref: str) -> str:
    x.store.get("SR", ref)
    _account(x, ref)
    return ""


METHODS: dict[str, Callable[..., Any]] = {
    "VDI.create": vdi_create,
    "VDI.destroy": vdi_destroy,
    "VDI.resize": lambda x, ref, size: _resize(x, ref, size, online=False),
    "VDI.resize_online": lambda x, ref, size: _resize(x, ref, size, online=True),
    "VDI.snapshot": lambda x, ref, driver_params=None: duplicate_vdi(x, ref, snapshot=True),
    "VDI.clone": lambda x, ref, driver_params=None: duplicate_vdi(x, ref),
    "VDI.copy": vdi_copy,
    "VBD.create": vbd_create,
    "VBD.plug": vbd_plug,
    "VBD.unplug": vbd_unplug,
    "VBD.destroy": lambda x, ref: _device_destroy(x, "VBD", ref),
    "VIF.create": vif_create,
    "VIF.plug": vif_plug,
    "VIF.unplug": vif_unplug,
    "VIF.destroy": lambda x, ref: _device_destroy(x, "VIF", ref),
    "SR.scan": sr_scan,
}
