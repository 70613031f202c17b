"""Management servers as CloudStack shows them (``ManagementServerResponse``)."""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.models import ManagementServer

View = dict[str, Any]


def _ip(address: str) -> str:
    host, sep, _port = address.rpartition(":")
    return host if sep else address


def management_server(m: ManagementServer, *, pending_jobs: int,
                      peers: Sequence[ManagementServer] | None = None) -> View:
    """One row; ``peers`` (the other rows) only when the caller asked for them.

    The Java and OS fields describe the Python runtime of the server answering,
    which is the same build on every server of a deployment.
    """
    view: View = {
        "id": m.uuid,
        "name": m.name,
        "state": m.state,
        "version": m.version,
        "javadistribution": platform.python_implementation(),
        "javaversion": sys.version.split()[0],
        "osdistribution": platform.system(),
        "kernelversion": platform.release(),
        "lastserverstart": m.started_at,
        "lastserverstop": m.stopped_at,
        "serviceip": _ip(m.address),
        "ipaddress": _ip(m.address),
        "pendingjobscount": pending_jobs,
    }
    if peers is not None:
        view["peers"] = [peer(m, p) for p in peers if p.uuid != m.uuid]
    return view


def peer(owner: ManagementServer, p: ManagementServer) -> View:
    """``PeerManagementServerNodeResponse``: how ``owner`` sees peer ``p``."""
    return {
        "peermanagementserverid": p.uuid,
        "peermanagementservername": p.name,
        "peermanagementserverip": _ip(p.address),
        "peermanagementserverstate": p.state,
        "state": p.state,
        "lastupdated": p.heartbeat_at,
        "managementserverid": owner.uuid,
    }
