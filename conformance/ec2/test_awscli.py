"""The real awscli (``aws ec2 ... --endpoint-url``): a handful of calls run
concurrently (each costs ~1 s of start-up), their JSON output shape-checked,
including auto-pagination and an error's exit status and code."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import RUN_TAG
from harness import Target, aws


def test_awscli_calls(target: Target, ec2: Any, fleet: list[str]) -> None:
    calls = {
        "regions": ("describe-regions",),
        "instances": ("describe-instances", "--filters", f"Name=tag:run,Values={RUN_TAG}",
                      "--page-size", "5"),
        "tags": ("create-tags", "--resources", fleet[0], "--tags", "Key=cli,Value=yes"),
        "missing": ("describe-instances", "--instance-ids", "i-0123456789abcdef0"),
    }
    with ThreadPoolExecutor(4) as pool:
        futures = {name: pool.submit(aws, target, *args, check=name != "missing")
                   for name, args in calls.items()}
        results = {name: f.result() for name, f in futures.items()}

    assert target.region in {r["RegionName"] for r in results["regions"].output["Regions"]}
    listed = {i["InstanceId"] for r in results["instances"].output["Reservations"]
              for i in r["Instances"]}
    assert set(fleet) <= listed
    assert results["tags"].output is None
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [fleet[0]]},
                                      {"Name": "key", "Values": ["cli"]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("cli", "yes")]
    missing = results["missing"]
    assert missing.returncode in (254, 255), missing.stderr  # awscli v2 / v1
    assert "InvalidInstanceID.NotFound" in missing.stderr
