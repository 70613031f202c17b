"""The classes the XAPI double serves: field defaults, references and back-references.

Field names and default values follow the public XenAPI reference (XenServer 8 /
XCP-ng 8.x). Only the fields a management stack reads or writes are listed; a record
always carries every listed field, as XAPI's ``get_record`` does. Integers (sizes,
memory, counts) travel as strings, like XAPI's ``int`` type on the XML-RPC wire.
"""

from __future__ import annotations

from typing import Any

NULL = "OpaqueRef:NULL"

# Class name -> field -> default. Mutable defaults are copied per record.
FIELDS: dict[str, dict[str, Any]] = {
    "pool": {
        "name_label": "", "name_description": "", "master": NULL, "default_SR": NULL,
        "suspend_image_SR": NULL, "crash_dump_SR": NULL, "ha_enabled": False,
        "other_config": {}, "tags": [],
    },
    "host": {
        "name_label": "", "name_description": "", "hostname": "", "address": "",
        "API_version_major": "2", "API_version_minor": "21", "API_version_vendor": "XenSource",
        "enabled": True, "software_version": {}, "cpu_info": {}, "host_CPUs": [],
        "metrics": NULL, "resident_VMs": [], "PBDs": [], "PIFs": [], "memory_overhead": "0",
        "control_domain": NULL, "sched_policy": "credit", "capabilities": [], "edition": "xcp-ng",
        "other_config": {}, "tags": [], "allowed_operations": [], "current_operations": {},
    },
    "host_cpu": {
        "host": NULL, "number": "0", "vendor": "GenuineIntel", "speed": "2600",
        "modelname": "", "family": "6", "model": "85", "stepping": "4", "flags": "",
        "features": "", "utilisation": 0.0, "other_config": {},
    },
    "host_metrics": {
        "memory_total": "0", "memory_free": "0", "live": True, "last_updated": None,
        "other_config": {},
    },
    "VM": {
        "name_label": "", "name_description": "", "power_state": "Halted", "user_version": "1",
        "is_a_template": False, "is_default_template": False, "is_control_domain": False,
        "is_a_snapshot": False, "snapshot_of": NULL, "snapshots": [], "resident_on": NULL,
        "affinity": NULL, "memory_overhead": "0", "memory_target": "0",
        "memory_static_max": "0", "memory_dynamic_max": "0", "memory_dynamic_min": "0",
        "memory_static_min": "0", "VCPUs_params": {}, "VCPUs_max": "1",
        "VCPUs_at_startup": "1", "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart", "actions_after_crash": "restart", "consoles": [],
        "VIFs": [], "VBDs": [], "crash_dumps": [], "VTPMs": [], "PV_bootloader": "",
        "PV_kernel": "", "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "",
        "PV_legacy_args": "", "HVM_boot_policy": "BIOS order", "HVM_boot_params": {},
        "HVM_shadow_multiplier": 1.0, "platform": {}, "PCI_bus": "", "other_config": {},
        "domid": "-1", "domarch": "", "metrics": NULL, "guest_metrics": NULL,
        "xenstore_data": {}, "ha_always_run": False, "ha_restart_priority": "", "tags": [],
        "blocked_operations": {}, "allowed_operations": [], "current_operations": {},
        "start_delay": "0", "shutdown_delay": "0", "order": "0", "suspend_VDI": NULL,
        "suspend_SR": NULL, "has_vendor_device": False, "domain_type": "hvm",
    },
    "VM_metrics": {
        "memory_actual": "0", "VCPUs_number": "0", "VCPUs_utilisation": {}, "state": [],
        "start_time": None, "install_time": None, "last_updated": None, "other_config": {},
        "hvm": True, "nested_virt": False, "nomigrate": False, "current_domain_type": "unspecified",
    },
    "VM_guest_metrics": {
        "os_version": {}, "PV_drivers_version": {}, "PV_drivers_up_to_date": True,
        "memory": {}, "disks": {}, "networks": {}, "other": {}, "last_updated": None,
        "other_config": {}, "live": True, "can_use_hotplug_vbd": "yes",
        "can_use_hotplug_vif": "yes", "PV_drivers_detected": True,
    },
    "VBD": {
        "VM": NULL, "VDI": NULL, "device": "", "userdevice": "", "bootable": False, "mode": "RW",
        "type": "Disk", "unpluggable": True, "storage_lock": False, "empty": False,
        "other_config": {}, "currently_attached": False, "status_code": "0", "status_detail": "",
        "runtime_properties": {}, "qos_algorithm_type": "", "qos_algorithm_params": {},
        "qos_supported_algorithms": [], "metrics": NULL, "allowed_operations": [],
        "current_operations": {},
    },
    "VDI": {
        "name_label": "", "name_description": "", "SR": NULL, "VBDs": [], "crash_dumps": [],
        "virtual_size": "0", "physical_utilisation": "0", "type": "user", "sharable": False,
        "read_only": False, "other_config": {}, "storage_lock": False, "location": "",
        "managed": True, "missing": False, "parent": NULL, "xenstore_data": {}, "sm_config": {},
        "is_a_snapshot": False, "snapshot_of": NULL, "snapshots": [], "snapshot_time": None,
        "tags": [], "allow_caching": False, "on_boot": "persist", "is_tools_iso": False,
        "cbt_enabled": False, "allowed_operations": [], "current_operations": {},
    },
    "SR": {
        "name_label": "", "name_description": "", "VDIs": [], "PBDs": [],
        "virtual_allocation": "0", "physical_utilisation": "0", "physical_size": "0",
        "type": "ext", "content_type": "user", "shared": False, "other_config": {}, "tags": [],
        "sm_config": {}, "blobs": {}, "local_cache_enabled": False, "clustered": False,
        "is_tools_sr": False, "allowed_operations": [], "current_operations": {},
    },
    "PBD": {"host": NULL, "SR": NULL, "device_config": {}, "currently_attached": True,
            "other_config": {}},
    "VIF": {
        "device": "", "network": NULL, "VM": NULL, "MAC": "", "MTU": "1500", "other_config": {},
        "currently_attached": False, "status_code": "0", "status_detail": "",
        "runtime_properties": {}, "qos_algorithm_type": "", "qos_algorithm_params": {},
        "qos_supported_algorithms": [], "metrics": NULL, "MAC_autogenerated": False,
        "locking_mode": "network_default", "ipv4_allowed": [], "ipv6_allowed": [],
        "allowed_operations": [], "current_operations": {},
    },
    "network": {
        "name_label": "", "name_description": "", "VIFs": [], "PIFs": [], "MTU": "1500",
        "other_config": {}, "bridge": "", "managed": True, "blobs": {}, "tags": [],
        "default_locking_mode": "unlocked", "allowed_operations": [], "current_operations": {},
    },
    "PIF": {
        "device": "", "network": NULL, "host": NULL, "MAC": "", "MTU": "1500", "VLAN": "-1",
        "metrics": NULL, "physical": True, "currently_attached": True,
        "ip_configuration_mode": "None", "IP": "", "netmask": "", "gateway": "", "DNS": "",
        "management": False, "other_config": {}, "disallow_unplug": False,
    },
    "console": {"protocol": "rfb", "location": "", "VM": NULL, "other_config": {}},
    "task": {
        "name_label": "", "name_description": "", "allowed_operations": [],
        "current_operations": {}, "created": None, "finished": None, "status": "pending",
        "resident_on": NULL, "progress": 0.0, "type": "", "result": "", "error_info": [],
        "other_config": {}, "subtask_of": NULL, "subtasks": [], "backtrace": "()",
    },
}

# (class, reference field) -> (target class, set field kept in step on the target).
BACKREFS: dict[tuple[str, str], tuple[str, str]] = {
    ("VBD", "VM"): ("VM", "VBDs"),
    ("VBD", "VDI"): ("VDI", "VBDs"),
    ("VIF", "VM"): ("VM", "VIFs"),
    ("VIF", "network"): ("network", "VIFs"),
    ("console", "VM"): ("VM", "consoles"),
    ("VDI", "SR"): ("SR", "VDIs"),
    ("VDI", "snapshot_of"): ("VDI", "snapshots"),
    ("VM", "snapshot_of"): ("VM", "snapshots"),
    ("VM", "resident_on"): ("host", "resident_VMs"),
    ("PBD", "SR"): ("SR", "PBDs"),
    ("PBD", "host"): ("host", "PBDs"),
    ("PIF", "network"): ("network", "PIFs"),
    ("PIF", "host"): ("host", "PIFs"),
    ("host_cpu", "host"): ("host", "host_CPUs"),
}

# Fields no set_<field> exists for (XAPI answers MESSAGE_METHOD_UNKNOWN).
READ_ONLY: frozenset[str] = frozenset({
    "uuid", "power_state", "resident_on", "domid", "metrics", "guest_metrics", "VBDs",
    "VIFs", "consoles", "snapshots", "snapshot_of", "is_a_snapshot", "is_control_domain",
    "VDIs", "PBDs", "PIFs", "host_CPUs", "resident_VMs", "currently_attached", "SR",
    "virtual_size", "physical_utilisation", "physical_size", "status", "result",
    "error_info", "progress", "VM", "VDI", "network", "allowed_operations",
    "current_operations", "control_domain", "master", "memory_static_max",
    "memory_static_min", "memory_dynamic_max", "memory_dynamic_min", "VCPUs_max",
})

# Classes whose generic <class>.create(record) exists (the others have special ones or none).
CREATABLE: frozenset[str] = frozenset({"VM", "VDI", "VBD", "VIF", "network", "PBD", "console"})

# Classes with a name_label (for get_by_name_label).
NAMED: frozenset[str] = frozenset(c for c, f in FIELDS.items() if "name_label" in f)

# event.from class names are case-insensitive in XAPI; canonical spelling by lower case.
CLASS_BY_LOWER: dict[str, str] = {name.lower(): name for name in FIELDS}
