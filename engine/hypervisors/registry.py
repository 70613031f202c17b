"""Find and build the driver for a hypervisor type.

Drivers are named ``"module:Class"`` and imported only when first used, so a driver
whose optional library (libvirt-python, pyvmomi, XenAPI) is missing does not break
the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from engine.errors import DriverError, Unsupported

if TYPE_CHECKING:  # imported where used: a server's first requests need no driver
    from engine.hypervisors.base import HostConnection, HypervisorDriver

_DRIVERS: dict[str, str] = {
    "simulator": "engine.hypervisors.simulator:SimulatorDriver",
    "kvm": "engine.hypervisors.libvirt.driver:LibvirtDriver",
    "vmware": "engine.hypervisors.vmware.driver:VmwareDriver",
    "xenserver": "engine.hypervisors.xen.driver:XenDriver",
}

# Other spellings callers use for the same types (CloudStack's names, case-folded).
_ALIASES: dict[str, str] = {
    "sim": "simulator",
    "libvirt": "kvm",
    "qemu": "kvm",
    "vsphere": "vmware",
    "xen": "xenserver",
    "xcp-ng": "xenserver",
}

_LIBVIRT_SCHEMES = frozenset({"qemu", "qemu+ssh", "qemu+tcp", "qemu+tls", "qemu+unix", "test"})
_VMWARE_SCHEMES = frozenset({"vmware", "vsphere"})

_loaded: dict[str, type[HypervisorDriver]] = {}


def canonical_name(hypervisor: str) -> str:
    """The registry's name for ``hypervisor`` (case-insensitive, aliases resolved).

    Raises ``Unsupported`` for a type nobody registered.
    """
    key = hypervisor.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _DRIVERS:
        raise Unsupported(f"hypervisor type {hypervisor!r}")
    return key


def hypervisor_names() -> tuple[str, ...]:
    """Registered hypervisor types (whether or not their libraries are installed)."""
    return tuple(sorted(_DRIVERS))


def register_driver(hypervisor: str, target: str) -> None:
    """Register (or replace) ``hypervisor`` -> ``"module:Class"``; for plugins and tests."""
    if ":" not in target:
        raise ValueError(f"driver target must be 'module:Class', got {target!r}")
    key = hypervisor.strip().lower()
    _DRIVERS[key] = target
    _loaded.pop(key, None)


def driver_class(hypervisor: str) -> type[HypervisorDriver]:
    """Import and return the driver class for ``hypervisor``.

    ``Unsupported`` for an unknown type; ``DriverError`` if its module cannot be
    imported (optional library missing) or the target is not a ``HypervisorDriver``.
    """
    key = canonical_name(hypervisor)
    cls = _loaded.get(key)
    if cls is not None:
        return cls
    from engine.hypervisors.base import HypervisorDriver

    module_name, _, class_name = _DRIVERS[key].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DriverError(key, "load driver", f"cannot import {module_name}: {exc}") from exc
    found = getattr(module, class_name, None)
    if not (isinstance(found, type) and issubclass(found, HypervisorDriver)):
        raise DriverError(key, "load driver", f"{_DRIVERS[key]} is not a HypervisorDriver")
    _loaded[key] = found
    return found


def load_driver(hypervisor: str, conn: HostConnection) -> HypervisorDriver:
    """Build the driver for ``hypervisor`` bound to the host ``conn`` (does not connect)."""
    return driver_class(hypervisor)(conn)


def url_hypervisor(url: str) -> str | None:
    """Guess the hypervisor type from a host URL, or None if the URL does not say.

    ``sim://host`` and CloudStack-style ``http://sim/<cluster>/<host>`` are the
    simulator; libvirt URIs (``qemu://``, ``qemu+ssh://``, ``test://``) are kvm;
    ``vmware://`` and ``vsphere://`` are vmware.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "sim":
        return "simulator"
    if scheme in ("http", "https") and (parts.hostname or "").lower() == "sim":
        return "simulator"
    if scheme in _LIBVIRT_SCHEMES:
        return "kvm"
    if scheme in _VMWARE_SCHEMES:
        return "vmware"
    return None
