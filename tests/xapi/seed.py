"""The XAPI double's starting inventory: a pool with one host, as a fresh install has.

* host ``xen-host-1`` (``cpus`` host_cpu records at ``cpu_mhz``, ``memory`` bytes), its
  host_metrics and its control domain (dom0, 1 GiB, running);
* a local ``ext`` SR ``Local storage`` (the pool's default SR) with its PBD, and an ISO SR;
* the management network on ``eth0`` (``xenbr0``) and the host-internal one (``xapi0``);
* a template VM ``TEMPLATE`` (``nimbo-debian-12``: is_a_template, 256 MiB, 1 vCPU) with a
  64 MiB root VDI (``template_disk``), and a stock-style template ``Debian Bookworm 12`` without disks whose
  ``other_config:disks`` asks ``VM.provision`` for an 8 GiB root disk.
"""

from __future__ import annotations

from tests.xapi.schema import NULL
from tests.xapi.server import Xapi

GIB = 1024**3
MIB = 1024**2
TEMPLATE = "nimbo-debian-12"
STOCK_TEMPLATE = "Debian Bookworm 12"
LOCAL_SR = "Local storage"


def seed(x: Xapi, *, cpus: int = 8, cpu_mhz: int = 2600, memory: int = 64 * GIB,
         local_storage: int = 500 * GIB, template_disk: int = 64 * MIB) -> None:
    s = x.store
    with s.lock:
        metrics = s.create("host_metrics", {"memory_total": str(memory),
                                            "memory_free": str(memory - GIB), "live": True,
                                            "last_updated": x.now()})
        host = s.create("host", {
            "name_label": "xen-host-1", "hostname": "xen-host-1", "address": x.address,
            "metrics": metrics, "memory_overhead": str(256 * MIB),
            "software_version": {"product_brand": "XCP-ng", "product_version": "8.2.1",
                                 "platform_version": "3.2.1", "xapi": "1.20",
                                 "xen": "4.13.5", "hostname": "xen-host-1",
                                 "build_number": "release/yangtze/master/58",
                                 "linux": "4.19.0+1"},
            "cpu_info": {"cpu_count": str(cpus), "socket_count": "1",
                         "vendor": "GenuineIntel", "speed": f"{cpu_mhz}.000",
                         "modelname": "Intel(R) Xeon(R) Gold 6126 CPU @ 2.60GHz",
                         "family": "6", "model": "85", "stepping": "4"},
            "capabilities": ["xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_64"],
        })
        x.host = host
        for n in range(cpus):
            s.create("host_cpu", {"host": host, "number": str(n), "speed": str(cpu_mhz),
                                  "modelname": "Intel(R) Xeon(R) Gold 6126 CPU @ 2.60GHz"})
        local = s.create("SR", {"name_label": LOCAL_SR, "type": "ext", "content_type": "user",
                                "physical_size": str(local_storage), "shared": False})
        iso = s.create("SR", {"name_label": "XCP-ng Tools", "type": "iso",
                              "content_type": "iso", "is_tools_sr": True, "shared": True})
        for sr in (local, iso):
            s.create("PBD", {"host": host, "SR": sr, "currently_attached": True,
                             "device_config": {"device": "/dev/sda3"} if sr == local else {}})
        s.create("pool", {"name_label": "", "master": host, "default_SR": local,
                          "suspend_image_SR": local, "crash_dump_SR": local})
        mgmt = s.create("network", {"name_label": "Pool-wide network associated with eth0",
                                    "bridge": "xenbr0"})
        s.create("network", {"name_label": "Host internal management network",
                             "bridge": "xapi0",
                             "other_config": {"is_guest_installer_network": "true",
                                              "is_host_internal_management_network": "true"}})
        s.create("PIF", {"device": "eth0", "network": mgmt, "host": host, "management": True,
                         "MAC": "00:16:3e:00:00:01", "ip_configuration_mode": "Static",
                         "IP": x.address, "netmask": "255.0.0.0"})
        dom0 = s.create("VM", {
            "name_label": "Control domain on host: xen-host-1", "power_state": "Running",
            "is_control_domain": True, "resident_on": host, "domid": "0",
            "memory_static_max": str(GIB), "memory_dynamic_max": str(GIB),
            "memory_dynamic_min": str(GIB), "memory_static_min": str(GIB),
            "VCPUs_max": str(cpus), "VCPUs_at_startup": str(cpus), "domain_type": "pv"})
        s.update("host", host, control_domain=dom0)
        s.update("VM", dom0, metrics=s.create("VM_metrics", {"memory_actual": str(GIB),
                                                             "VCPUs_number": str(cpus)}))
        memory_256 = {f"memory_{k}": str(256 * MIB)
                      for k in ("static_max", "dynamic_max", "dynamic_min", "target")}
        template = s.create("VM", {
            "name_label": TEMPLATE, "name_description": "Debian 12 test template",
            "is_a_template": True, **memory_256, "memory_static_min": str(128 * MIB),
            "VCPUs_max": "1", "VCPUs_at_startup": "1", "HVM_boot_params": {"order": "dc"},
            "platform": {"acpi": "1", "apic": "true", "pae": "true", "viridian": "false"},
            "other_config": {"install-methods": "cdrom", "linux_template": "true"},
            "metrics": s.create("VM_metrics", {}),
        })
        root = s.create("VDI", {"name_label": f"{TEMPLATE} root", "SR": local,
                                "virtual_size": str(template_disk),
                                "physical_utilisation": str(template_disk), "type": "system"})
        s.update("VDI", root, location=s.get("VDI", root)["uuid"])
        s.create("VBD", {"VM": template, "VDI": root, "userdevice": "0", "device": "xvda",
                         "bootable": True, "type": "Disk", "mode": "RW"})
        s.create("VBD", {"VM": template, "VDI": NULL, "userdevice": "3", "type": "CD",
                         "mode": "RO", "empty": True, "bootable": False})
        s.update("SR", local, virtual_allocation=str(template_disk),
                 physical_utilisation=str(template_disk))
        s.create("VM", {
            "name_label": STOCK_TEMPLATE, "is_a_template": True, "is_default_template": True,
            **memory_256, "memory_static_min": str(128 * MIB), "VCPUs_max": "1",
            "VCPUs_at_startup": "1", "HVM_boot_params": {"order": "cdn"},
            "other_config": {"disks": f'<provision><disk device="0" size="{8 * GIB}" sr="" '
                                      'bootable="true" type="system"/></provision>',
                             "linux_template": "true"},
            "metrics": s.create("VM_metrics", {}),
        })
