"""Libvirt domain XML: build it from a ``DomainSpec``, read back what the driver needs.

Pure functions over strings and the dataclasses below; no libvirt import, so
everything here is unit-testable without a hypervisor.

Ownership lives in the domain itself (``<metadata>`` in our namespace): the paths of
the disks ``define`` created (deleted with the domain), the seed ISO, the engine's
metadata and the CPU speed. Any process can therefore tell, from libvirt alone, which
disks belong to a domain and which are attached data volumes.

Disk naming: a disk's file is ``<disk_sid>.qcow2``; its user alias ``ua-<sid>`` (when
the sid is alias-safe) lets a running domain drop it asynchronously.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from engine.hypervisors.base import DomainSpec

NS = "urn:nimbostack:libvirt:1"
NS_PREFIX = "nimbostack"
DISK_SUFFIX = ".qcow2"
SEED_TARGET = "vdzz"  # out of the way of device_id targets (vda.. by slot)
ET.register_namespace(NS_PREFIX, NS)
_ALIAS_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,60}$")


@dataclass(frozen=True)
class DiskDevice:
    """One ``<disk>`` of a domain: where its file is and how the guest sees it.

    ``sid`` is the engine's disk sid (file name without ``.qcow2``), or "" for files
    that are not nimbostack disks (the seed ISO, foreign disks).
    """

    path: str
    target: str
    serial: str = ""
    fmt: str = "qcow2"
    readonly: bool = False
    alias: str = ""

    @property
    def sid(self) -> str:
        return disk_sid_of(self.path)


@dataclass(frozen=True)
class NicDevice:
    """One ``<interface>``: ``kind`` is "network", "bridge" or "user"."""

    mac: str
    kind: str = "user"
    source: str = ""


@dataclass(frozen=True)
class Ownership:
    """What the ``<metadata>`` element records about a domain."""

    owned_paths: tuple[str, ...] = ()
    seed_path: str = ""
    cpu_mhz: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainLayout:
    """Everything ``build_domain_xml`` needs besides the spec (paths resolved by the driver)."""

    domain_type: str
    disks: Sequence[DiskDevice]
    nics: Sequence[NicDevice]
    console_log: str
    ownership: Ownership


def disk_sid_of(path: str) -> str:
    """The disk sid a volume file stands for ("" if it is not ``<sid>.qcow2``)."""
    name = PurePosixPath(path).name
    return name[: -len(DISK_SUFFIX)] if name.endswith(DISK_SUFFIX) else ""


def volume_name(disk_sid: str) -> str:
    return disk_sid + DISK_SUFFIX


def target_for(device_id: int) -> str:
    """virtio target for a slot: 0 -> vda, 25 -> vdz, 26 -> vdaa."""
    if device_id < 0:
        raise ValueError(f"negative device id {device_id}")
    letters = ""
    n = device_id + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return "vd" + letters


def alias_for(disk_sid: str) -> str:
    """The user alias of a disk, or "" if the sid cannot be one."""
    return f"ua-{disk_sid}" if _ALIAS_SAFE.match(disk_sid) else ""


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def disk_element(disk: DiskDevice) -> ET.Element:
    el = ET.Element("disk", {"type": "file", "device": "disk"})
    _sub(el, "driver", name="qemu", type=disk.fmt)
    _sub(el, "source", file=disk.path)
    _sub(el, "target", dev=disk.target, bus="virtio")
    if disk.serial:
        _sub(el, "serial", disk.serial)
    if disk.readonly:
        _sub(el, "readonly")
    if disk.alias:
        _sub(el, "alias", name=disk.alias)
    return el


def disk_xml(disk: DiskDevice) -> str:
    """The ``<disk>`` element alone (for attachDeviceFlags)."""
    return ET.tostring(disk_element(disk), encoding="unicode")


def _nic_element(nic: NicDevice) -> ET.Element:
    el = ET.Element("interface", {"type": nic.kind})
    _sub(el, "mac", address=nic.mac)
    if nic.kind == "network":
        _sub(el, "source", network=nic.source)
    elif nic.kind == "bridge":
        _sub(el, "source", bridge=nic.source)
    _sub(el, "model", type="virtio")
    return el


def _metadata_element(own: Ownership) -> ET.Element:
    root = ET.Element(f"{{{NS}}}domain")
    if own.cpu_mhz:
        _sub(root, f"{{{NS}}}cpu-mhz", str(own.cpu_mhz))
    for key, value in sorted(own.metadata.items()):
        _sub(root, f"{{{NS}}}meta", str(value), key=str(key))
    for path in own.owned_paths:
        _sub(root, f"{{{NS}}}owned-disk", path=path)
    if own.seed_path:
        _sub(root, f"{{{NS}}}seed", path=own.seed_path)
    return root


def build_domain_xml(spec: DomainSpec, layout: DomainLayout) -> str:
    """The persistent definition of ``spec`` laid out as ``layout`` says."""
    dom = ET.Element("domain", {"type": layout.domain_type})
    _sub(dom, "name", spec.name)
    _sub(dom, "uuid", spec.uuid)
    meta = _sub(dom, "metadata")
    meta.append(_metadata_element(layout.ownership))
    _sub(dom, "memory", str(spec.memory_mib), unit="MiB")
    _sub(dom, "vcpu", str(spec.cpus))
    os_el = _sub(dom, "os")
    _sub(os_el, "type", "hvm")
    if spec.boot is not None:
        _sub(os_el, "kernel", spec.boot.kernel)
        if spec.boot.initrd:
            _sub(os_el, "initrd", spec.boot.initrd)
        if spec.boot.cmdline:
            _sub(os_el, "cmdline", spec.boot.cmdline)
    else:
        _sub(os_el, "boot", dev="hd")
    features = _sub(dom, "features")
    _sub(features, "acpi")
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")
    devices = _sub(dom, "devices")
    for disk in layout.disks:
        devices.append(disk_element(disk))
    for nic in layout.nics:
        devices.append(_nic_element(nic))
    serial = _sub(devices, "serial", type="pty")
    _sub(serial, "log", file=layout.console_log, append="off")
    _sub(serial, "target", port="0")
    _sub(devices, "console", type="pty")
    _sub(devices, "memballoon", model="none")
    return ET.tostring(dom, encoding="unicode")


# -- reading domain XML back -------------------------------------------------------


def domain_disks(xml: str) -> list[DiskDevice]:
    """The file-backed disks of a domain XML, in document order."""
    out = []
    for el in ET.fromstring(xml).iterfind("devices/disk"):
        source, target = el.find("source"), el.find("target")
        path = source.get("file", "") if source is not None else ""
        if not path or target is None:
            continue
        driver, alias = el.find("driver"), el.find("alias")
        out.append(DiskDevice(
            path=path, target=target.get("dev", ""), serial=el.findtext("serial") or "",
            fmt=(driver.get("type", "raw") if driver is not None else "raw"),
            readonly=el.find("readonly") is not None,
            alias=(alias.get("name", "") if alias is not None else ""),
        ))  # fmt: skip
    return out


def ownership(xml: str) -> Ownership:
    """The ``Ownership`` recorded in a domain XML (empty for foreign domains)."""
    root = ET.fromstring(xml).find(f"metadata/{{{NS}}}domain")
    if root is None:
        return Ownership()
    mhz = root.findtext(f"{{{NS}}}cpu-mhz") or "0"
    seed = root.find(f"{{{NS}}}seed")
    return Ownership(
        owned_paths=tuple(e.get("path", "") for e in root.iterfind(f"{{{NS}}}owned-disk")),
        seed_path=seed.get("path", "") if seed is not None else "",
        cpu_mhz=int(mhz) if mhz.isdigit() else 0,
        metadata={e.get("key", ""): e.text or "" for e in root.iterfind(f"{{{NS}}}meta")},
    )


def console_log_path(xml: str) -> str:
    """The log file of the first serial port ("" if it has none)."""
    log = ET.fromstring(xml).find("devices/serial/log")
    return log.get("file", "") if log is not None else ""


def free_target(xml: str, device_id: int) -> str:
    """The target for ``device_id``, or the next unused one if that is taken."""
    used = {d.target for d in domain_disks(xml)}
    slot = device_id
    while target_for(slot) in used:
        slot += 1
    return target_for(slot)


def with_disk(xml: str, disk: DiskDevice) -> str:
    """``xml`` with ``disk`` appended after the existing disks (for redefining)."""
    dom = ET.fromstring(xml)
    devices = dom.find("devices")
    if devices is None:
        devices = _sub(dom, "devices")
    disks = devices.findall("disk")
    index = list(devices).index(disks[-1]) + 1 if disks else 0
    devices.insert(index, disk_element(disk))
    return ET.tostring(dom, encoding="unicode")


def without_disk(xml: str, path: str) -> str:
    """``xml`` without the disk whose source file is ``path``."""
    dom = ET.fromstring(xml)
    devices = dom.find("devices")
    for el in list(devices) if devices is not None else []:
        source = el.find("source")
        if el.tag == "disk" and source is not None and source.get("file") == path:
            devices.remove(el)  # type: ignore[union-attr]
    return ET.tostring(dom, encoding="unicode")


def nic_xml(nic: NicDevice) -> str:
    """The ``<interface>`` element alone (for attachDeviceFlags)."""
    return ET.tostring(_nic_element(nic), encoding="unicode")


def domain_nic_macs(xml: str) -> list[str]:
    """MAC addresses of the domain's interfaces, in definition order (lower case)."""
    dom = ET.fromstring(xml)
    out = []
    for el in dom.findall("./devices/interface"):
        mac = el.find("mac")
        if mac is not None and mac.get("address"):
            out.append(str(mac.get("address")).lower())
    return out


def interface_xml(xml: str, mac: str) -> str:
    """The ``<interface>`` element with MAC ``mac`` as libvirt holds it, or ""."""
    dom = ET.fromstring(xml)
    for el in dom.findall("./devices/interface"):
        found = el.find("mac")
        if found is not None and str(found.get("address", "")).lower() == mac.lower():
            return ET.tostring(el, encoding="unicode")
    return ""


def with_nic(xml: str, nic: NicDevice) -> str:
    """``xml`` with ``nic`` appended after the existing interfaces (for redefining)."""
    dom = ET.fromstring(xml)
    devices = dom.find("devices")
    if devices is None:
        devices = _sub(dom, "devices")
    nics = devices.findall("interface")
    index = list(devices).index(nics[-1]) + 1 if nics else len(devices)
    devices.insert(index, _nic_element(nic))
    return ET.tostring(dom, encoding="unicode")


def without_nic(xml: str, mac: str) -> str:
    """``xml`` without the interface whose MAC is ``mac``."""
    dom = ET.fromstring(xml)
    devices = dom.find("devices")
    for el in list(devices) if devices is not None else []:
        found = el.find("mac")
        if el.tag == "interface" and found is not None and (
                str(found.get("address", "")).lower() == mac.lower()):
            devices.remove(el)  # type: ignore[union-attr]
    return ET.tostring(dom, encoding="unicode")
