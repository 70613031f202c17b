"""Process-level settings, read once from the environment and the command line.

Settings that operators tune at run time (overcommit factors, planner choice,
thresholds) live in the database's ``settings`` table instead, so that every
management server sharing the database honours the same values; see
``engine.services.settings``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def home_dir() -> Path:
    """``NIMBOSTACK_HOME``, default ``~/.local/share/nimbostack``."""
    return Path(os.environ.get("NIMBOSTACK_HOME") or Path.home() / ".local/share/nimbostack")


def default_db_url() -> str:
    """``NIMBOSTACK_DB_URL`` or a SQLite file under the home directory."""
    url = os.environ.get("NIMBOSTACK_DB_URL")
    if url:
        return url
    return f"sqlite:///{home_dir() / 'nimbostack.db'}"


@dataclass
class Config:
    """What one management-server process needs to run."""

    db_url: str = field(default_factory=default_db_url)
    region: str = "us-east-1"
    job_workers: int = 4
    job_poll_seconds: float = 0.05
    job_lease_seconds: float = 30.0
    # While this process serves requests, queued jobs wait up to this long for an
    # idle runner (another worker) before this one takes them; 0 never waits.
    job_yield_seconds: float = 0.3
    simulator_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get("NIMBOSTACK_SIM_DIR") or home_dir() / "simulator"
        )
    )
    run_jobs: bool = True
    reconcile: bool = True  # run the host reconciler (one worker per server)
