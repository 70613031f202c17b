"""The optional NIC operations of ``LibvirtDriver`` (a mixin; see ``driver``).

A running domain gets the interface hot-plugged and its definition updated in
one call (``attachDeviceFlags`` with LIVE|CONFIG); a stopped one has its
definition rewritten (``defineXML``, which every libvirt driver supports).
Detaching a live interface uses the element libvirt itself reports (matched
by MAC), so libvirt finds the same device again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import libvirt

from engine.hypervisors.base import Capability, DomainRef, NicSpec
from engine.hypervisors.libvirt import domain_xml as dx
from engine.hypervisors.libvirt import inspect


class NicOperations:
    """NIC hot-plug; the host class provides ``lv``, ``_dom``, ``_errors`` and ``_nic``."""

    lv: libvirt.virConnect
    capabilities: frozenset[Capability]
    _unsupported: Callable[[str], Exception]
    _errors: Callable[[str], contextlib.AbstractContextManager[None]]
    _dom: Callable[[DomainRef], libvirt.virDomain]
    _nic: Callable[[NicSpec], dx.NicDevice]

    def attach_nic(self, ref: DomainRef, nic: NicSpec) -> None:
        if Capability.HOT_PLUG_NIC not in self.capabilities:
            raise self._unsupported("attach_nic")
        with self._errors("attach the interface"):
            dom = self._dom(ref)
            config = inspect.config_xml(dom)
            if nic.mac.lower() in dx.domain_nic_macs(config):
                return
            device = self._nic(nic)
            if dom.isActive():
                flags = libvirt.VIR_DOMAIN_AFFECT_LIVE
                if dom.isPersistent():
                    flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
                dom.attachDeviceFlags(dx.nic_xml(device), flags)
            else:
                self.lv.defineXML(dx.with_nic(config, device))

    def detach_nic(self, ref: DomainRef, mac: str) -> None:
        if Capability.HOT_PLUG_NIC not in self.capabilities:
            raise self._unsupported("detach_nic")
        with self._errors("detach the interface"):
            dom = self._dom(ref)
            if dom.isActive():
                live = dx.interface_xml(dom.XMLDesc(0), mac)
                if live:
                    dom.detachDeviceFlags(live, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            if dom.isPersistent():
                config = inspect.config_xml(dom)
                if dx.interface_xml(config, mac):
                    self.lv.defineXML(dx.without_nic(config, mac))
