"""EC2 device names <-> the engine's disk slots (slot 3 is kept for a CD-ROM)."""

from __future__ import annotations

import re
from typing import Final

from engine.states import VolumeKind

DEVICE_LETTERS: Final = "fghijklmnopqrstuvwxyz"
DATA_SLOTS: Final = tuple(s for s in range(1, 26) if s != 3)[:len(DEVICE_LETTERS)]
ROOT_DEVICE: Final = "/dev/xvda"
ROOT_DEVICES: Final = frozenset({"/dev/xvda", "/dev/sda1", "/dev/sda"})
_DEVICE_RE: Final = re.compile(r"/dev/(?:sd|xvd)([f-z])")


def device_name(slot: int | None, kind: VolumeKind = VolumeKind.DATADISK) -> str:
    """The EC2 device name of an engine slot (``/dev/sdf`` for slot 1)."""
    if kind == VolumeKind.ROOT or not slot:
        return ROOT_DEVICE
    if slot in DATA_SLOTS:
        return f"/dev/sd{DEVICE_LETTERS[DATA_SLOTS.index(slot)]}"
    return f"/dev/sd{slot}"


def device_slot(name: str) -> int | None:
    """The engine slot for an EC2 device name; 0 for a root device name,
    None for a name EC2 would not accept for an EBS volume."""
    if name in ROOT_DEVICES:
        return 0
    m = _DEVICE_RE.fullmatch(name)
    return DATA_SLOTS[DEVICE_LETTERS.index(m.group(1))] if m else None
