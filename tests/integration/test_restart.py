"""Stop the real server (SIGTERM) and start it again on the same database.

What was launched before is still there afterwards: the instance with its
key name, tags, addresses and launch time, the key pair itself, and a launch
whose start was still in progress at shutdown. The instance stays
controllable: stop, start and terminate all work after the restart.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.hypervisors.base import HostConnection
from engine.hypervisors.simulator import SimulatorDriver
from engine.models import Host
from engine.runtime import Runtime
from engine.services.accounts import principal_of
from tests.integration.serverproc import ServerProcess, observer_runtime

ACCESS_KEY, SECRET_KEY = "AKIARESTARTTEST00001", "restart-test-secret-key-000000000000000"
IMAGE = "amzn2-ami-hvm-2.0-x86_64-gp2"


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """An empty database: the servers bootstrap it with this module's admin keys."""
    return empty_db_url


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with observer_runtime(db_url, tmp_path) as rt:
        yield rt


def _serve(db_url: str, home: Path) -> ServerProcess:
    return ServerProcess(db_url, home, ACCESS_KEY, SECRET_KEY).start()


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
    server = _serve(db_url, tmp_path)
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

        server = _serve(db_url, tmp_path)
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
        server.kill_if_running()
