"""Stop the real server (SIGTERM) and start it again on the same database.

What was launched before is still there afterwards: the instance with its
key name, tags, addresses and launch time, the key pair itself, and a launch
whose start was still in progress at shutdown. The instance stays
controllable: stop, start and terminate all work after the restart.
"""

from __future__ import annotations

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
import pytest
import requests
from botocore.config import Config as BotoConfig
from sqlalchemy import select

from engine.config import Config
from engine.hypervisors.base import HostConnection
from engine.hypervisors.simulator import SimulatorDriver
from engine.models import Host
from engine.runtime import Runtime
from engine.services.accounts import principal_of

ROOT = Path(__file__).resolve().parents[2]
ACCESS_KEY, SECRET_KEY = "AKIARESTARTTEST00001", "restart-test-secret-key-000000000000000"
IMAGE = "amzn2-ami-hvm-2.0-x86_64-gp2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """``nimbostack serve`` (gunicorn) in its own process group."""

    db_url: str
    home: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBOSTACK_")}
        env.update(NIMBOSTACK_HOME=str(self.home), NIMBOSTACK_JOB_LEASE="10",
                   NIMBOSTACK_ADMIN_ACCESS_KEY=ACCESS_KEY, NIMBOSTACK_ADMIN_SECRET_KEY=SECRET_KEY,
                   NIMBOSTACK_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        with (self.home / f"server-{self.port}.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nimbostack.cli", "serve", "--port", str(self.port),
                 "--db-url", self.db_url],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                if requests.get(self.url + "/", timeout=1).status_code in (400, 401, 403):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server did not answer within 60 s\n{self.log()}")

    def log(self) -> str:
        return (self.home / f"server-{self.port}.log").read_text(errors="replace")[-4000:]

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 45) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        return self.proc.wait(timeout)

    def ec2(self) -> Any:
        return boto3.client(
            "ec2", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=BotoConfig(retries={"total_max_attempts": 1}, read_timeout=60))


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    cfg = Config(db_url=db_url)
    cfg.simulator_dir = tmp_path / "simulator"
    rt = Runtime(cfg)
    yield rt
    rt.shutdown()


def _instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservations[0]["Instances"][0]  # type: ignore[no-any-return]


def _wait_state(ec2: Any, instance_id: str, wanted: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        inst = _instance(ec2, instance_id)
        if inst["State"]["Name"] == wanted:
            return inst
        assert time.monotonic() < deadline, f"{instance_id} is {inst['State']}, not {wanted}"
        time.sleep(0.2)


def _tags(inst: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in inst.get("Tags") or ()}


def test_state_survives_a_graceful_restart(db_url: str, tmp_path: Path,
                                           runtime: Runtime) -> None:
    server = Server(db_url, tmp_path).start()
    try:
        # A key pair (the EC2 key pair actions are not wired yet: made through the engine).
        with runtime.unit() as services:
            admin = principal_of(services.session, services.accounts.user_by_name("admin"))
            key, _private = services.key_pairs.create(admin, "restart-key")
            fingerprint = key.fingerprint
            host_urls = list(services.session.scalars(select(Host.url)))
        ec2 = server.ec2()
        image_id = next(i["ImageId"] for i in ec2.describe_images()["Images"]
                        if i["Name"] == IMAGE)
        launched = ec2.run_instances(
            ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t2.small",
            KeyName="restart-key",
            TagSpecifications=[{"ResourceType": "instance",
                                "Tags": [{"Key": "Name", "Value": "survivor"},
                                         {"Key": "team", "Value": "qa"}]}])["Instances"][0]
        instance_id = launched["InstanceId"]
        before = _wait_state(ec2, instance_id, "running")

        # A second launch is still starting (slow host) when the server is told to stop.
        for url in host_urls:
            SimulatorDriver(HostConnection(url=url, extra={
                "state_dir": str(tmp_path / "simulator")})).configure(**{"delay.start": 2})
        slow_id = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,
                                    InstanceType="t2.micro")["Instances"][0]["InstanceId"]
        time.sleep(0.5)
        assert server.stop(signal.SIGTERM) == 0, server.log()
        for url in host_urls:
            SimulatorDriver(HostConnection(url=url, extra={
                "state_dir": str(tmp_path / "simulator")})).configure(**{"delay.start": None})

        server = Server(db_url, tmp_path).start()
        ec2 = server.ec2()
        after = _instance(ec2, instance_id)
        assert after["State"]["Name"] == "running"
        for field_name in ("KeyName", "PrivateIpAddress", "LaunchTime", "InstanceType",
                           "ImageId", "Placement"):
            assert after[field_name] == before[field_name], field_name
        assert after["KeyName"] == "restart-key"
        assert _tags(after) == {"Name": "survivor", "team": "qa"}
        found = ec2.describe_instances(Filters=[{"Name": "tag:team", "Values": ["qa"]}])
        assert [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]] == [
            instance_id]
        with runtime.unit(readonly=True) as services:
            assert services.key_pairs.get(admin, name="restart-key").key_pair.fingerprint \
                == fingerprint
        _wait_state(ec2, slow_id, "running")

        # Still controllable.
        ec2.stop_instances(InstanceIds=[instance_id])
        _wait_state(ec2, instance_id, "stopped")
        ec2.start_instances(InstanceIds=[instance_id])
        assert _wait_state(ec2, instance_id, "running")["PrivateIpAddress"] == before[
            "PrivateIpAddress"]
        ec2.terminate_instances(InstanceIds=[instance_id, slow_id])
        _wait_state(ec2, instance_id, "terminated")
        _wait_state(ec2, slow_id, "terminated")
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.stop(signal.SIGKILL)
