"""The text a simulated domain writes to its serial console."""

from __future__ import annotations

import json
from typing import Any

CONSOLE_LIMIT = 64 * 1024
POWER_OFF_LOG = b"[  OK  ] Reached target System Power Off.\nreboot: Power down\n"
REBOOT_LOG = b"reboot: Restarting system\n"


def boot_log(name: str, host: str, boot: int, dom: tuple[Any, ...], disks: list[str]) -> bytes:
    """A plausible serial console boot log; it echoes the user data it received.

    ``dom`` is (cpus, memory_mib, user_data, spec JSON) of the domain; ``disks``
    are one-line descriptions of its disks, in device order.
    """
    cpus, memory_mib, user_data, spec = dom[0], dom[1], dom[2], json.loads(dom[3])
    cmdline = (spec.get("boot") or {}).get("cmdline") or "console=ttyS0 root=/dev/vda1 ro"
    nics = spec.get("nics", ())
    lines = [
        f"[    0.000000] Linux version 6.1.0-sim (nimbostack simulator on {host}) boot {boot}",
        f"[    0.000000] Command line: {cmdline}",
        f"[    0.010000] Memory: {memory_mib * 1024}K available",
        f"[    0.020000] smp: Brought up 1 node, {cpus} CPUs",
        *(f"[    0.500000] virtio_blk {disk}" for disk in disks),
        *(f"[    0.600000] virtio_net eth{n['device_id']}: {n['mac']}" for n in nics),
        f"[    1.000000] cloud-init: {name} up; network:",
        *(f"ci-info: | eth{n['device_id']} | {n['ip'] or '-'} | {n['mac']} |" for n in nics),
    ]
    if user_data:
        lines.append(f"cloud-init: user-data ({len(user_data)} bytes):")
        try:
            lines.append(bytes(user_data).decode("utf-8"))
        except UnicodeDecodeError:
            lines.append("(binary user-data)")
    else:
        lines.append("cloud-init: no user-data")
    lines += [f"cloud-init: finished at boot {boot}", "", f"{name} login: ", ""]
    return "\n".join(lines).encode()


def append(console: bytes, text: bytes) -> bytes:
    """``console`` + ``text``, keeping only the last ``CONSOLE_LIMIT`` bytes."""
    return (bytes(console) + text)[-CONSOLE_LIMIT:]
