"""Every filter AWS documents for a Describe operation is accepted.

The documented filter names come from botocore's model (the ``Filters``
member's documentation lists them as ``<li><p><code>name</code>``). Each is
sent alone with a dummy value: the server may reject the *value* (e.g. a
number filter given "x"), but must not call the *filter* unknown, and must not
fail with a server error. An undocumented filter name gets
``InvalidParameterValue`` (see test_errors.py).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from conftest import defect
from harness import operation

OPERATIONS = [
    "DescribeAddresses", "DescribeAvailabilityZones", "DescribeImages",
    "DescribeInstanceStatus", "DescribeInstanceTypeOfferings", "DescribeInstanceTypes",
    "DescribeInstances", "DescribeInternetGateways", "DescribeKeyPairs",
    "DescribeNetworkInterfaces", "DescribePlacementGroups", "DescribeRegions",
    "DescribeRouteTables", "DescribeSecurityGroupRules", "DescribeSecurityGroups",
    "DescribeSnapshots", "DescribeSubnets", "DescribeTags", "DescribeVolumeStatus",
    "DescribeVolumes", "DescribeVolumesModifications", "DescribeVpcs",
]

# Filters the server calls unknown (found by this test), by operation.
GAPS: dict[str, str] = {}


def documented_filters(op: str) -> list[str]:
    doc = operation(op).input_shape.members["Filters"].documentation
    names = set(re.findall(r"<li>\s*<p>\s*<code>([^<]+)</code>", doc))
    return sorted(n for n in names if n != "tag" and not n.startswith("tag:"))


def _try(ec2: Any, op: str, name: str) -> str | None:
    """None if the filter is accepted; otherwise what went wrong."""
    kwargs: dict[str, Any] = {"Filters": [{"Name": name, "Values": ["x"]}]}
    if op == "DescribeImages":
        kwargs["Owners"] = ["self"]
    if op == "DescribeSnapshots":
        kwargs["OwnerIds"] = ["self"]
    try:
        getattr(ec2, xform_name(op))(**kwargs)
    except ClientError as exc:
        error = exc.response["Error"]
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        if status >= 500:
            return f"{name}: HTTP {status} {error.get('Code')}"
        if f"'{name}'" in error.get("Message", "") and "invalid" in error.get("Message", ""):
            return f"{name}: unknown"
    except AssertionError as exc:  # the shape checker saw a 5xx or a malformed body
        return f"{name}: {str(exc).splitlines()[0]}"
    return None


def _params() -> list[Any]:
    return [pytest.param(op, marks=defect(GAPS[op])) if op in GAPS else op
            for op in OPERATIONS]


@pytest.mark.parametrize("op", _params())
def test_documented_filters_are_accepted(raw_ec2: Any, op: str) -> None:
    names = documented_filters(op)
    assert names, f"no documented filters found for {op}"
    with ThreadPoolExecutor(4) as pool:
        problems = [p for p in pool.map(lambda n: _try(raw_ec2, op, n), names) if p]
    assert not problems, f"{op}: {len(problems)}/{len(names)} documented filters " \
                         f"fail: {problems}"
