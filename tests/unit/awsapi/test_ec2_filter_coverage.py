"""Every filter AWS documents (in botocore's model) for each implemented
Describe operation is accepted; any other name is InvalidParameterValue."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from awsapi import filters as f
from awsapi.errors_wire import Ec2Error
from awsapi.filters_compute import IMAGE_FILTERS, INSTANCE_FILTERS
from awsapi.model import service_model

TABLES: dict[str, Mapping[str, Any]] = {
    "DescribeAddresses": f.ADDRESS_FILTERS, "DescribeImages": IMAGE_FILTERS,
    "DescribeInstanceStatus": f.INSTANCE_STATUS_FILTERS, "DescribeInstances": INSTANCE_FILTERS,
    "DescribeKeyPairs": f.KEY_PAIR_FILTERS, "DescribePlacementGroups": f.PLACEMENT_GROUP_FILTERS,
    "DescribeSecurityGroups": f.SECURITY_GROUP_FILTERS,
    "DescribeSecurityGroupRules": f.SECURITY_GROUP_RULE_FILTERS,
    "DescribeSnapshots": f.SNAPSHOT_FILTERS, "DescribeTags": f.TAG_FILTERS,
    "DescribeVolumes": f.VOLUME_FILTERS,
    "DescribeVolumesModifications": f.VOLUME_MODIFICATION_FILTERS,
    "DescribeVolumeStatus": f.VOLUME_STATUS_FILTERS, "DescribeVpcs": f.VPC_FILTERS,
    "DescribeSubnets": f.SUBNET_FILTERS, "DescribeInternetGateways": f.INTERNET_GATEWAY_FILTERS,
    "DescribeRouteTables": f.ROUTE_TABLE_FILTERS,
    "DescribeNetworkInterfaces": f.NETWORK_INTERFACE_FILTERS,
    "DescribeInstanceTypes": f.INSTANCE_TYPE_FILTERS,
    "DescribeInstanceTypeOfferings": f.INSTANCE_TYPE_OFFERING_FILTERS,
}


def documented(operation: str) -> list[str]:
    """The filter names the model's documentation of ``Filters`` lists."""
    doc = service_model().operation_model(operation).input_shape.members["Filters"].documentation
    names = (n.strip() for n in re.findall(r"<li>\s*<p>\s*<code>([^<]+)</code>", doc))
    # tag:<key>, tag-key and tag-value are handled before the tables.
    return [n for n in names if not n.startswith("tag") and "<" not in n]


@pytest.mark.parametrize("operation", sorted(TABLES))
def test_every_documented_filter_is_accepted(operation: str) -> None:
    names = documented(operation)
    assert names, operation
    assert [n for n in names if n not in TABLES[operation]] == []


def test_unknown_filters_are_invalid_parameter_values() -> None:
    with pytest.raises(Ec2Error) as err:
        f.criteria([{"Name": "no-such-filter", "Values": ["x"]}], f.VOLUME_FILTERS)
    assert (err.value.code, err.value.message) == (
        "InvalidParameterValue", "The filter 'no-such-filter' is invalid")
