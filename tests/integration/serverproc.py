"""The real server as a child process, for the tests that kill or restart it.

:class:`ServerProcess` runs ``python -m nimbostack.cli serve`` (gunicorn) in its
own session, so that a signal reaches the master and every worker at once.
:func:`observer_runtime` gives a test its own view of the same database.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config as BotoConfig

from engine.config import Config
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # seconds the server may take to answer its first request


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """``nimbostack serve`` in its own process group.

    The server's home is ``home`` (its simulator state lives there too), its
    admin user gets ``access_key``/``secret_key``, jobs are leased for 10 s, and
    its output goes to ``home/server-<port>.log`` (see :meth:`log`).
    ``NIMBOSTACK_*`` variables of the calling environment are not passed on.
    """

    db_url: str
    home: Path
    access_key: str
    secret_key: str
    connect_timeout: float = 60  # of the clients made by :meth:`ec2`
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        """Start the server and return once it answers HTTP; fail if it dies or
        stays silent for :data:`START_TIMEOUT` seconds."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBOSTACK_")}
        env.update(NIMBOSTACK_HOME=str(self.home), NIMBOSTACK_JOB_LEASE="10",
                   NIMBOSTACK_ADMIN_ACCESS_KEY=self.access_key,
                   NIMBOSTACK_ADMIN_SECRET_KEY=self.secret_key,
                   NIMBOSTACK_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        with (self.home / f"server-{self.port}.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nimbostack.cli", "serve", "--port", str(self.port),
                 "--db-url", self.db_url],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                if requests.get(self.url + "/", timeout=1).status_code in (400, 401, 403):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server did not answer within {START_TIMEOUT:g} s\n{self.log()}")

    def log(self) -> str:
        """The last 4000 characters the server wrote."""
        return (self.home / f"server-{self.port}.log").read_text(errors="replace")[-4000:]

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 45) -> int:
        """Send ``sig`` to the whole process group and return the exit status."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        return self.proc.wait(timeout)

    def kill_if_running(self) -> None:
        """SIGKILL the server unless it has already exited (for ``finally:``)."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop(signal.SIGKILL)

    def ec2(self) -> Any:
        """A boto3 EC2 client for the admin that never retries."""
        return boto3.client(
            "ec2", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=BotoConfig(retries={"total_max_attempts": 1},
                              connect_timeout=self.connect_timeout, read_timeout=60))


@contextlib.contextmanager
def observer_runtime(db_url: str, home: Path) -> Iterator[Runtime]:
    """A test's own Runtime on the server's database (no job runner), with the
    simulator state under ``home`` like the server's; shut down on exit."""
    cfg = Config(db_url=db_url)
    cfg.simulator_dir = home / "simulator"
    rt = Runtime(cfg)
    try:
        yield rt
    finally:
        rt.shutdown()
