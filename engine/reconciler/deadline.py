"""Calls into a hypervisor that may hang, bounded by a deadline.

A host whose management API stops answering (a wedged libvirtd, a vCenter
behind a dead link) must not stall the reconciler's pass over every other
host. :func:`call_with_deadline` runs the call on a daemon thread and gives up
waiting after ``timeout`` seconds; the call itself cannot be interrupted, so
the caller must treat the driver as spent (drop it and connect afresh next
time) rather than use it again while the abandoned call may still run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    """The call did not return within its deadline (it may still be running)."""


def call_with_deadline(fn: Callable[[], T], timeout: float, *, name: str = "call") -> T:
    """``fn()``'s result or exception, or :class:`DeadlineExceeded` after ``timeout`` s."""
    done = threading.Event()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"deadline-{name}", daemon=True).start()
    if not done.wait(timeout):
        raise DeadlineExceeded(f"{name} did not answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
