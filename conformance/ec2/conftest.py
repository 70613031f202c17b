"""Fixtures of the EC2 conformance suite (see harness.py for the environment).

Tests that need the target skip when ``CONFORMANCE_EC2_ENDPOINT`` and the keys
are not set; the offline checker tests (test_shapes.py) always run. Everything
a test creates carries a unique name/tag and is deleted at the end of the run.
The cloud is shared: tests filter by their own ids, never assume it is empty.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import STATS, Target, client, unique, wait_config

RUN_TAG = unique("conformance")


def defect(reason: str) -> pytest.MarkDecorator:
    """Mark a test that fails because of a known product defect (not on real AWS)."""
    target = Target.from_env()
    return pytest.mark.xfail(target is None or not target.on_aws, strict=True, reason=reason)


@pytest.fixture(scope="session")
def target() -> Target:
    found = Target.from_env()
    if found is None:
        pytest.skip("set CONFORMANCE_EC2_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY")
    return found


@pytest.fixture(scope="session")
def ec2(target: Target) -> Any:
    return client(target)


@pytest.fixture(scope="session")
def raw_ec2(target: Target) -> Any:
    """A client without botocore's parameter validation (to see the server's)."""
    return client(target, validate=False)


@pytest.fixture(scope="session")
def wait() -> dict[str, float]:
    return wait_config()


@pytest.fixture(scope="session")
def cleanup() -> Iterator[Callable[[Callable[[], Any]], None]]:
    """Register best-effort undo steps; they run in reverse at the end of the session."""
    steps: list[Callable[[], Any]] = []
    yield steps.append
    for step in reversed(steps):
        try:
            step()
        except Exception:  # noqa: BLE001 - cleanup is best effort
            pass


@pytest.fixture(scope="session")
def image_id(target: Target, ec2: Any) -> str:
    import os

    if os.environ.get("CONFORMANCE_EC2_IMAGE_ID"):
        return os.environ["CONFORMANCE_EC2_IMAGE_ID"]
    images = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*x86_64-gp2"]}])["Images"]
    images = [i for i in images if i["State"] == "available"]
    assert images, "no amzn2 image owned by amazon"
    return str(sorted(images, key=lambda i: i.get("CreationDate", ""))[-1]["ImageId"])


@pytest.fixture(scope="session")
def instance_type() -> str:
    import os

    return os.environ.get("CONFORMANCE_EC2_INSTANCE_TYPE", "t3.micro")


@pytest.fixture(scope="session")
def zone(ec2: Any) -> str:
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    return str(sorted(z["ZoneName"] for z in zones if z["State"] == "available")[0])


@pytest.fixture(scope="session")
def fleet(ec2: Any, image_id: str, instance_type: str, wait: dict[str, float],
          cleanup: Callable[[Callable[[], Any]], None]) -> list[str]:
    """Three running instances of this run, tagged run=<RUN_TAG> and role=fleet,
    shared by the read-only instance tests (lifecycle tests launch their own)."""
    run = ec2.run_instances(
        ImageId=image_id, InstanceType=instance_type, MinCount=3, MaxCount=3,
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": "run", "Value": RUN_TAG},
                                     {"Key": "role", "Value": "fleet"}]}])
    ids = [i["InstanceId"] for i in run["Instances"]]
    cleanup(lambda: ec2.terminate_instances(InstanceIds=ids))
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=wait)
    return ids


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not STATS.responses and not STATS.errors:
        return
    total = sum(STATS.responses.values())
    terminalreporter.write_line(
        f"shape-checked {total} successful responses of {len(STATS.responses)} operations, "
        f"{sum(STATS.errors.values())} error responses ({len(STATS.errors)} op:code pairs), "
        f"{STATS.cli_calls} awscli calls")
