"""The EC2 description loaded without OrderedDicts equals botocore's own."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from botocore.loaders import create_loader

from awsapi import model


def _has_ordered_dict(value: Any) -> bool:
    if isinstance(value, OrderedDict):
        return True
    if isinstance(value, dict):
        return any(_has_ordered_dict(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_ordered_dict(v) for v in value)
    return False


def test_plain_loader_matches_botocore_in_content_and_order() -> None:
    plain = model._loader().load_service_model("ec2", "service-2")
    reference = create_loader().load_service_model("ec2", "service-2")
    assert not _has_ordered_dict(plain)
    assert plain == reference
    assert list(plain["shapes"]) == list(reference["shapes"])
    run = plain["operations"]["RunInstances"]
    assert list(run) == list(reference["operations"]["RunInstances"])
