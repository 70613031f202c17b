"""VMware vSphere driver: one ESXi host, managed through vCenter or directly.

See ``urls.py`` for the host URL form and ``driver.py`` for the driver itself.
Needs pyvmomi (the ``vmware`` extra); importing this package without it fails,
which the registry reports as a ``DriverError``.
"""

from __future__ import annotations

from engine.hypervisors.vmware.driver import VmwareDriver
from engine.hypervisors.vmware.urls import VsphereTarget, parse_host_url

__all__ = ["VmwareDriver", "VsphereTarget", "parse_host_url"]
