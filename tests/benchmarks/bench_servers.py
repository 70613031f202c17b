"""Starting nimbostack and moto's server as real processes, timing start-up and reading RSS."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bench_http import Ec2CallError, Ec2Connection, Endpoint

ADMIN_ACCESS = "AKIABENCHADMIN00000A"
ADMIN_SECRET = "benchSecretKeyForTheBenchmarkOnly0000000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident set size of one process in MiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    """Direct child pids of ``pid`` (gunicorn workers of a master)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


@dataclass
class Server:
    """A running server process and how long it took to answer its first call."""

    name: str
    endpoint: Endpoint
    proc: subprocess.Popen[bytes]
    startup_s: float = 0.0
    workdir: Path | None = None
    log_path: Path | None = None
    log_file: IO[bytes] | None = None
    notes: list[str] = field(default_factory=list)

    def worker_pids(self) -> list[int]:
        kids = children(self.proc.pid)
        return kids or [self.proc.pid]

    def worker_rss_mib(self) -> list[float]:
        return [rss_mib(pid) for pid in self.worker_pids()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log_file is not None:
            self.log_file.close()


def wait_ready(endpoint: Endpoint, proc: subprocess.Popen[bytes], started: float,
               timeout: float = 120.0) -> float:
    """Seconds from ``started`` to the first successful signed DescribeRegions."""
    while True:
        conn = Ec2Connection(endpoint, timeout=5.0)
        try:
            conn.call("DescribeRegions")
            return time.perf_counter() - started
        except (OSError, Ec2CallError):
            pass
        finally:
            conn.close()
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering")
        if time.perf_counter() - started > timeout:
            raise RuntimeError("server did not answer DescribeRegions in time")
        time.sleep(0.01)


REPO_ROOT = Path(__file__).resolve().parents[2]


def _nimbostack_env(home: Path, source: Path) -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env.update({
        "PYTHONPATH": f"{source}{os.pathsep}{path}" if path else str(source),
        "NIMBOSTACK_HOME": str(home),
        "NIMBOSTACK_ADMIN_ACCESS_KEY": ADMIN_ACCESS,
        "NIMBOSTACK_ADMIN_SECRET_KEY": ADMIN_SECRET,
        "NIMBOSTACK_LOG_LEVEL": os.environ.get("NIMBOSTACK_LOG_LEVEL", "INFO"),
    })
    return env


def _nimbostack_cmd() -> list[str]:
    # ``python -m nimbostack`` with the source tree first on PYTHONPATH runs exactly
    # that tree (the installed ``nimbostack`` script would run the editable checkout).
    return [sys.executable, "-m", "nimbostack"]


_PACKAGES = ("awsapi", "engine", "imds", "nativeapi", "nimbostack")


def precompile(source: Path) -> None:
    """Write the bytecode of ``source``'s packages (untimed), as installing
    nimbostack with pip does. A checkout run with ``PYTHONDONTWRITEBYTECODE=1``
    never gets any, and compiling every module again costs each start-up about
    half a second of CPU; bytecode written here is ignored by git."""
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    *(str(source / p) for p in _PACKAGES)],
                   check=False, stdout=subprocess.DEVNULL, cwd=source)


def start_nimbostack(*, hosts: int, workers: int | None = None, fresh_db: bool = False,
                     db_url: str | None = None, source: Path = REPO_ROOT,
                     compile_first: bool = True) -> Server:
    """``nimbostack init --hosts N`` (untimed, unless ``fresh_db``) then ``nimbostack serve``
    with its default workers/threads, timed to the first DescribeRegions.

    ``source`` is the nimbostack tree to run (default: this checkout); a fresh
    database gets the embedded default from ``serve`` itself (timed).
    ``compile_first`` writes the tree's bytecode beforehand (untimed; see
    :func:`precompile`), so the figure is that of an installed server."""
    home = Path(tempfile.mkdtemp(prefix="nimbobench-"))
    url = db_url or f"sqlite:///{home / 'bench.db'}"
    env = _nimbostack_env(home, source)
    if compile_first:
        precompile(source)
    if not fresh_db:
        subprocess.run([*_nimbostack_cmd(), "init", "--hosts", str(hosts), "--db-url", url],
                       env=env, check=True, stdout=subprocess.DEVNULL, cwd=source)
    port = free_port()
    cmd = [*_nimbostack_cmd(), "serve", "--port", str(port), "--db-url", url]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    log_path = home / "serve.log"
    endpoint = Endpoint(f"http://127.0.0.1:{port}", ADMIN_ACCESS, ADMIN_SECRET)
    started = time.perf_counter()
    log_file = open(log_path, "wb")  # noqa: SIM115 (closed by Server.stop)
    proc = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=source)
    server = Server("nimbostack", endpoint, proc, workdir=home, log_path=log_path,
                    log_file=log_file)
    try:
        server.startup_s = wait_ready(endpoint, proc, started)
    except BaseException:
        server.stop()
        raise
    return server


def start_moto() -> Server:
    """``moto_server`` on a free port, timed to the first DescribeRegions (moto ignores keys)."""
    exe = shutil.which("moto_server")
    if exe is None:
        raise RuntimeError("moto_server not found: pip install 'moto[server]'")
    home = Path(tempfile.mkdtemp(prefix="motobench-"))
    port = free_port()
    log_path = home / "moto.log"
    endpoint = Endpoint(f"http://127.0.0.1:{port}", "AKIAMOTOBENCH0000000", "moto-secret")
    started = time.perf_counter()
    log_file = open(log_path, "wb")  # noqa: SIM115 (closed by Server.stop)
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log_file, stderr=subprocess.STDOUT)
    server = Server("moto", endpoint, proc, workdir=home, log_path=log_path, log_file=log_file)
    try:
        server.startup_s = wait_ready(endpoint, proc, started)
    except BaseException:
        server.stop()
        raise
    return server
