"""Pure functions over XAPI records (dicts as ``get_record`` returns them).

What nimbostack keeps in XAPI so that ownership is recoverable from XAPI alone:

* ``VM.other_config``: ``nimbostack-uuid`` (the engine's instance uuid; ``define`` is
  idempotent by it), ``nimbostack-cpu-mhz``, ``nimbostack-meta-<key>`` per metadata item;
* ``VM.xenstore_data``: ``vm-data/nimbostack/user-data`` = base64 of the user data
  (readable in the guest with ``xenstore-read vm-data/nimbostack/user-data``);
* ``VDI.other_config``: ``nimbostack-disk`` (the volume's ``disk_sid``, also the VDI's
  name_label), ``nimbostack-owner`` (instance uuid, only on disks ``define`` created and
  ``destroy`` deletes) and ``nimbostack-snapshot`` (snapshot sid) on snapshot VDIs and
  on snapshot copies (full ``VDI.copy`` VDIs, which also carry ``nimbostack-copy-of``, the
  source snapshot's sid).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from engine.hypervisors.base import MIB, DomainSpec, HostInfo, PowerState

NULL = "OpaqueRef:NULL"
VM_UUID = "nimbostack-uuid"
VM_CPU_MHZ = "nimbostack-cpu-mhz"
VM_META = "nimbostack-meta-"
USER_DATA = "vm-data/nimbostack/user-data"
DISK_SID = "nimbostack-disk"
DISK_OWNER = "nimbostack-owner"
SNAPSHOT_SID = "nimbostack-snapshot"
COPY_OF = "nimbostack-copy-of"
SNAPSHOT_OF = "nimbostack-snapshot-of"

Record = Mapping[str, Any]

_POWER = {"Running": PowerState.RUNNING, "Halted": PowerState.STOPPED,
          "Paused": PowerState.PAUSED, "Suspended": PowerState.STOPPED}


def power_state(vm: Record) -> PowerState:
    return _POWER.get(str(vm.get("power_state")), PowerState.UNKNOWN)


def is_guest(vm: Record) -> bool:
    """A real VM: not a template, snapshot or the control domain (dom0)."""
    return not (vm.get("is_a_template") or vm.get("is_control_domain")
                or vm.get("is_a_snapshot"))


def is_null(ref: str | None) -> bool:
    return not ref or ref == NULL


def find_guest(vms: Mapping[str, Record], **other_config: str) -> str | None:
    """The ref of the guest whose other_config has all these entries."""
    for ref, vm in vms.items():
        oc = vm.get("other_config", {})
        if is_guest(vm) and all(oc.get(k) == v for k, v in other_config.items()):
            return ref
    return None


def guests_named(vms: Mapping[str, Record], name: str) -> list[str]:
    return [ref for ref, vm in vms.items() if is_guest(vm) and vm.get("name_label") == name]


def template_for(vms: Mapping[str, Record], image: str) -> str | None:
    """The template named ``image`` (name_label, uuid or OpaqueRef)."""
    for ref, vm in sorted(vms.items(), key=lambda kv: kv[1].get("is_default_template", False)):
        if vm.get("is_a_template") and not vm.get("is_a_snapshot") and image in (
                ref, vm.get("uuid"), vm.get("name_label")):
            return ref
    return None


# -- host ---------------------------------------------------------------------------------


def local_srs(host: str, srs: Mapping[str, Record], pbds: Mapping[str, Record]) -> list[str]:
    """SRs for VM disks plugged only on ``host`` (local storage), largest first."""
    found = {p["SR"] for p in pbds.values() if p.get("host") == host}
    refs = [r for r in found if r in srs and not srs[r].get("shared")
            and srs[r].get("content_type") != "iso" and srs[r].get("type") not in ("iso", "udev")]
    return sorted(refs, key=lambda r: -int(srs[r].get("physical_size", "0")))


def host_info(host: Record, metrics: Record, cpus: Iterable[Record],
              local_storage: int) -> HostInfo:
    cpu_list = list(cpus)
    info = host.get("cpu_info", {})
    cores = len(cpu_list) or int(info.get("cpu_count", "1"))
    speed = cpu_list[0].get("speed") if cpu_list else info.get("speed", "0")
    version = host.get("software_version", {})
    return HostInfo(
        hypervisor="XenServer",
        version=str(version.get("product_version") or version.get("platform_version") or "?"),
        cpu_cores=cores, cpu_mhz=int(float(speed or 0)),
        memory_bytes=int(metrics.get("memory_total", "0")),
        local_storage_bytes=local_storage, arch="x86_64",
        name=str(host.get("name_label") or host.get("hostname") or "xenserver"),
    )


# -- storage pools and networks ------------------------------------------------------------


def sr_for_pool(pool_url: str | None, srs: Mapping[str, Record]) -> str | None:
    """The SR a primary-storage URL names, or None for "the default".

    ``presetup://<host>/<SR name-label or uuid>`` names an SR set up on the host (as
    CloudStack's PreSetup pools do); other schemes carry no SR, so the default SR is used.
    """
    if not pool_url:
        return None
    parts = urlsplit(pool_url)
    if parts.scheme.lower() != "presetup":
        return None
    wanted = unquote(parts.path.strip("/").split("/")[-1])
    for ref, sr in srs.items():
        if wanted and wanted in (sr.get("name_label"), sr.get("uuid")):
            return ref
    return None


def network_for(network_ref: str | None, networks: Mapping[str, Record],
                pifs: Mapping[str, Record]) -> str | None:
    """The network named by ``network_ref`` (name_label, bridge, uuid, or ``vlan://N``
    through a PIF's VLAN), else the one carrying the management PIF, else any guest one."""
    if network_ref:
        for ref, net in networks.items():
            if network_ref in (net.get("name_label"), net.get("bridge"), net.get("uuid")):
                return ref
        tag = network_ref.removeprefix("vlan://")
        for pif in pifs.values():
            if tag.isdigit() and str(pif.get("VLAN")) == tag and pif.get("network") in networks:
                return str(pif["network"])
    for pif in pifs.values():
        if pif.get("management") and pif.get("network") in networks:
            return str(pif["network"])
    for ref, net in networks.items():
        if net.get("other_config", {}).get("is_host_internal_management_network") != "true":
            return ref
    return None


# -- what define writes -----------------------------------------------------------------------


def memory_limits(spec: DomainSpec) -> tuple[str, str, str, str]:
    """static_min, static_max, dynamic_min, dynamic_max: all the spec's memory (strings)."""
    size = str(spec.memory_mib * MIB)
    return size, size, size, size


def vm_other_config(spec: DomainSpec) -> dict[str, str]:
    entries = {VM_UUID: spec.uuid, VM_CPU_MHZ: str(spec.cpu_mhz)}
    entries.update({f"{VM_META}{k}": str(v) for k, v in spec.metadata.items()})
    return entries


def user_data_entry(user_data: bytes | None) -> dict[str, str]:
    if not user_data:
        return {}
    return {USER_DATA: base64.b64encode(user_data).decode("ascii")}


def disk_sid(vdi: Record) -> str | None:
    return vdi.get("other_config", {}).get(DISK_SID)
