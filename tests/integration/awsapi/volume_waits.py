"""Waiting for a volume modification (EC2 keeps a volume ``available`` while it is
modified, so the volume waiters cannot tell when a modification is done)."""

from __future__ import annotations

import time
from typing import Any


def wait_modified(ec2: Any, volume_id: str, timeout: float = 30) -> None:
    """Return once the volume's latest modification is ``completed``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mods = ec2.describe_volumes_modifications(VolumeIds=[volume_id])["VolumesModifications"]
        if mods and max(mods, key=lambda m: m["StartTime"])["ModificationState"] == "completed":
            return
        time.sleep(0.2)
    raise AssertionError(f"the modification of {volume_id} did not complete")
