"""Simulated host URLs, host settings and where the shared state file lives.

Hosts are named by URL: ``sim://<host>`` or CloudStack style
``http://sim/<cluster>/<host>[/cpucore=8&cpuspeed=2000&memory=8589934592&localstorage=...]``.
Settings come from (later wins) the URL's ``k=v`` path segment and query string,
``HostConnection.extra`` (flat keys, or a ``"simulator"`` sub-dict) and the runtime
settings stored with ``SimulatorDriver.configure``. The setting keys are listed in
the package docstring.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from engine.errors import InvalidParameter
from engine.hypervisors.base import GIB, HostConnection

HOST_DEFAULTS: Mapping[str, str] = {
    "cpucore": "4", "cpuspeed": "8000", "memory": str(8 * GIB),
    "localstorage": str(1024 * GIB), "arch": "x86_64", "version": "1.0",
}  # fmt: skip
TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class SimHost:
    """A parsed simulator URL: ``key`` identifies the host in the state file."""

    key: str
    name: str
    cluster: str | None
    settings: Mapping[str, str]

    @classmethod
    def from_url(cls, url: str) -> SimHost:
        """Parse ``sim://h`` or ``http://sim/<cluster>/<host>[/k=v&...]`` (+ ``?k=v``)."""
        parts = urlsplit(url.strip())
        scheme, netloc = parts.scheme.lower(), parts.netloc
        if scheme == "sim":
            names = [netloc] if netloc else []
        elif scheme in ("http", "https") and (parts.hostname or "").lower() == "sim":
            names = []
        else:
            raise InvalidParameter("url", url, "not a simulator URL (sim:// or http://sim/)")
        settings: dict[str, str] = {}
        for segment in parts.path.split("/"):
            if "=" in segment:
                settings.update(parse_qsl(segment, keep_blank_values=True))
            elif segment:
                names.append(unquote(segment))
        settings.update(parse_qsl(parts.query, keep_blank_values=True))
        if not names:
            raise InvalidParameter("url", url, "names no simulated host")
        cluster = names[-2] if len(names) > 1 else None
        return cls(key="/".join(names), name=names[-1], cluster=cluster, settings=settings)


def state_dir_for(conn: HostConnection | None = None) -> Path:
    """Where the state file lives for ``conn``.

    ``extra["state_dir"]``, else ``$NIMBOSTACK_SIM_DIR``, else
    ``$NIMBOSTACK_HOME/simulator``, else ``~/.local/share/nimbostack/simulator``.
    """
    if conn is not None and conn.extra.get("state_dir"):
        return Path(str(conn.extra["state_dir"])).expanduser()
    if os.environ.get("NIMBOSTACK_SIM_DIR"):
        return Path(os.environ["NIMBOSTACK_SIM_DIR"]).expanduser()
    if os.environ.get("NIMBOSTACK_HOME"):
        return Path(os.environ["NIMBOSTACK_HOME"]).expanduser() / "simulator"
    return Path.home() / ".local" / "share" / "nimbostack" / "simulator"


def setting_text(value: object) -> str:
    """A setting value as stored: booleans become ``"1"``/``"0"``, the rest ``str()``."""
    return ("1" if value else "0") if isinstance(value, bool) else str(value)


def flat_settings(extra: Mapping[str, Any]) -> dict[str, str]:
    """Scalar settings of ``HostConnection.extra`` and its ``"simulator"`` sub-dict."""
    out: dict[str, str] = {}
    for source in (extra, extra.get("simulator") or {}):
        for key, value in source.items():
            if key != "state_dir" and isinstance(value, str | int | float | bool):
                out[key] = setting_text(value)
    return out


def fraction(value: str) -> float:
    """A ``fail.<op>`` value as a probability: true-ish words are 1.0, junk is 0.0."""
    text = value.strip().lower()
    if text in TRUE:
        return 1.0
    try:
        return float(text)
    except ValueError:
        return 0.0
