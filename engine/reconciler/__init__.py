"""Keeping the engine's records in step with the hosts (VM sync and host heartbeat).

``Reconciler`` (reconciler.py) runs the passes; ``compare`` holds the pure
decision rules; ``ownership`` the per-host leases that let several management
servers share one database with each host checked by exactly one of them;
``records`` and ``corrections`` the reads and writes.
"""

from __future__ import annotations

from engine.reconciler.reconciler import PassReport, Reconciler

__all__ = ["PassReport", "Reconciler"]
