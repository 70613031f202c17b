"""awsapi.protocol.serializer's per-member element writers (booleans,
timestamps and other non-string scalars): same bytes as xmltodict, strict
types, and timestamp texts reused only for equal instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import xmltodict

from awsapi import model
from awsapi.protocol import serializer

T0 = datetime(2026, 11, 22, 0, 1, 2, 345678, tzinfo=UTC)


def _op() -> Any:
    op = model.operation("DescribeInstances")
    assert op is not None
    return op


def _body(instance: dict[str, Any]) -> bytes:
    result = {"Reservations": [{"ReservationId": "r-1", "OwnerId": "1", "Groups": [],
                                "Instances": [instance]}]}
    body = serializer.success(_op(), result, "req")
    reference = serializer.XML_HEADER + xmltodict.unparse(
        serializer.to_tree(_op(), result, "req"), full_document=False, short_empty_elements=True)
    assert body == reference.encode("utf-8")
    return body


def test_scalars_are_written_as_xmltodict_writes_them() -> None:
    body = _body({"InstanceId": "i-1", "EbsOptimized": False, "EnaSupport": True,
                  "AmiLaunchIndex": 0, "LaunchTime": T0,
                  "CpuOptions": {"CoreCount": 2, "ThreadsPerCore": 1}})
    assert b"<ebsOptimized>false</ebsOptimized><enaSupport>true</enaSupport>" in body
    assert b"<amiLaunchIndex>0</amiLaunchIndex>" in body
    assert b"<launchTime>2026-11-22T00:01:02.345Z</launchTime>" in body


def test_naive_times_are_utc_and_equal_instants_share_one_text() -> None:
    east = T0.astimezone(timezone(timedelta(hours=5)))
    for moment in (T0, T0.replace(tzinfo=None), east, T0):
        assert b"<launchTime>2026-11-22T00:01:02.345Z</launchTime>" in _body(
            {"InstanceId": "i-1", "LaunchTime": moment})
    later = T0 + timedelta(milliseconds=1)
    assert b"<launchTime>2026-11-22T00:01:02.346Z</launchTime>" in _body(
        {"InstanceId": "i-1", "LaunchTime": later})


def test_the_timestamp_texts_kept_are_bounded() -> None:
    for k in range(serializer._STAMPS_MAX + 10):
        _body({"InstanceId": "i-1", "LaunchTime": T0 + timedelta(seconds=k)})
    assert len(serializer._STAMPS) <= serializer._STAMPS_MAX


@pytest.mark.parametrize("member, value", [
    ("EbsOptimized", 1), ("EbsOptimized", "true"), ("AmiLaunchIndex", True),
    ("AmiLaunchIndex", "3"), ("LaunchTime", "2026-01-01"), ("LaunchTime", [T0]),
])
def test_a_value_of_the_wrong_type_is_a_type_error(member: str, value: Any) -> None:
    with pytest.raises(TypeError):
        _body({"InstanceId": "i-1", member: value})
