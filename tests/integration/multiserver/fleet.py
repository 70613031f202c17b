"""Several real ``nimbostack serve`` processes on one database, and a private
MariaDB the tests may stop and start.

The servers share one home (so one simulator state: the hypervisor hosts are
the same for all of them, as real hosts would be) and differ by port.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.serverproc import ROOT, ServerProcess, free_port

ACCESS_KEY, SECRET_KEY = "AKIAMULTISERVER00001", "multi-server-secret-key-0000000000000000"


@dataclass
class Fleet:
    db_url: str
    home: Path
    size: int = 3
    servers: list[ServerProcess] = field(default_factory=list)

    def start(self) -> Fleet:
        """Start every server at once (they migrate and bootstrap under locks)."""
        self.servers = [ServerProcess(self.db_url, self.home, ACCESS_KEY, SECRET_KEY,
                                      connect_timeout=3) for _ in range(self.size)]
        with ThreadPoolExecutor(self.size) as pool:
            list(pool.map(ServerProcess.start, self.servers))
        for server in self.servers:
            warm_up(server)
        return self

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def kill(self, n: int) -> None:
        self.servers[n].stop(signal.SIGKILL, timeout=30)

    def restart(self, n: int) -> None:
        """Start server ``n`` again on its old port."""
        warm_up(self.servers[n].start())

    def stop_all(self) -> None:
        for s in self.servers:
            s.kill_if_running()

    def logs(self) -> str:
        return "\n".join(f"--- {s.url}\n{s.log()}" for s in self.servers)


def warm_up(server: ServerProcess) -> None:
    """Bursts of concurrent reads, so every gunicorn worker has loaded its
    front ends before the load starts (a worker's very first concurrent
    requests race on the lazy loading of the EC2 action registry)."""
    clients = [server.ec2() for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        for _ in range(3):
            list(pool.map(lambda c: c.describe_availability_zones(), clients))


class PrivateMariaDB:
    """A MariaDB of this test alone (scripts/mariadb-start.sh on a free port in a
    short temporary directory), so stopping it disturbs nobody else."""

    def __init__(self) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="nsdb", dir="/tmp"))
        self.port = free_port()
        self.url = ""

    def start(self) -> str:
        out = subprocess.run(["bash", str(ROOT / "scripts/mariadb-start.sh"), str(self.state),
                              str(self.port)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        self.url = out.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self) -> None:
        subprocess.run(["bash", str(ROOT / "scripts/mariadb-stop.sh"), str(self.state)],
                       capture_output=True, text=True, timeout=90, check=True)

    def remove(self) -> None:
        import shutil

        self.stop()
        shutil.rmtree(self.state, ignore_errors=True)
