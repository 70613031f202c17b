"""awsapi.protocol.serializer with shared values and deferred escaping.

Views share constant parts (one ``State`` dict per state, one group list per
set of groups ...) across the instances of a listing; the writer writes such a
value once and reuses its text, and checks text for characters to escape once
per document. Both must leave the bytes exactly what xmltodict.unparse gives
for the same tree, and what botocore parses back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import xmltodict
from botocore.parsers import create_parser

from awsapi import model
from awsapi.protocol import serializer

_PARSER = create_parser("ec2")
T0 = datetime(2026, 11, 22, 0, 1, 2, 345000, tzinfo=UTC)


def _op() -> Any:
    op = model.operation("DescribeInstances")
    assert op is not None
    return op


def _check(result: dict[str, Any]) -> bytes:
    op = _op()
    body = serializer.success(op, result, "req-1")
    reference = serializer.XML_HEADER + xmltodict.unparse(
        serializer.to_tree(op, result, "req-1"), full_document=False,
        short_empty_elements=True)
    assert body == reference.encode("utf-8")
    parsed = _PARSER.parse({"body": body, "headers": {}, "status_code": 200}, op.output_shape)
    parsed.pop("ResponseMetadata")
    assert parsed == result
    return body


def _fleet(n: int, *, shared: dict[str, Any], name: str = "web") -> dict[str, Any]:
    groups = [{"GroupId": "sg-1", "GroupName": "default"}]
    instances = [{
        "InstanceId": f"i-{k:017x}",
        "State": shared["state"],
        "Placement": shared["placement"],
        "Monitoring": shared["monitoring"],
        "ProductCodes": shared["codes"],
        "SecurityGroups": groups,
        "LaunchTime": T0,
        "Tags": [{"Key": "Name", "Value": f"{name}-{k}"}, shared["tag"]],
        "NetworkInterfaces": [{"NetworkInterfaceId": f"eni-{k}", "Groups": groups,
                               "Attachment": {"AttachTime": T0, "DeviceIndex": 0}}],
    } for k in range(n)]
    return {"Reservations": [{"ReservationId": "r-1", "OwnerId": "1", "Groups": [],
                              "Instances": instances}]}


def _shared() -> dict[str, Any]:
    return {"state": {"Code": 16, "Name": "running"},
            "placement": {"AvailabilityZone": "zone-1", "GroupName": "", "Tenancy": "default"},
            "monitoring": {"State": "disabled"}, "codes": [],
            "tag": {"Key": "fleet", "Value": "bench"}}


def test_values_shared_by_many_instances_are_written_alike() -> None:
    body = _check(_fleet(5, shared=_shared()))
    assert body.count(b"<instanceState><code>16</code><name>running</name></instanceState>") == 5
    assert body.count(b"<productCodes/>") == 5
    # The same group list under two members (groupSet of the instance and of its NIC).
    assert body.count(b"<groupSet><item><groupId>sg-1</groupId>") == 10


def test_a_shared_value_that_needs_escaping() -> None:
    shared = _shared()
    shared["tag"] = {"Key": "team", "Value": "R&D <core>"}
    body = _check(_fleet(4, shared=shared))
    assert body.count(b"<value>R&amp;D &lt;core&gt;</value>") == 4


def test_escaping_is_found_in_any_text() -> None:
    for text in ("a&b", "a<b", "a>b", "&", "<>"):
        body = _check(_fleet(3, shared=_shared(), name=text))
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert f"<value>{escaped}-2</value>".encode() in body


def test_an_empty_shared_structure_stays_an_empty_element() -> None:
    shared = _shared()
    shared["monitoring"] = {}
    body = _check(_fleet(3, shared=shared))
    assert body.count(b"<monitoring/>") == 3


def test_timestamps_in_any_zone_are_utc_milliseconds() -> None:
    t = T0.replace(microsecond=345678)  # milliseconds are truncated, not rounded
    moments = [t, t.replace(tzinfo=None), t.astimezone(timezone(timedelta(hours=-5))),
               datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)]
    texts = [serializer._text_timestamp(m) for m in moments]
    assert texts == ["2026-11-22T00:01:02.345Z"] * 3 + ["2026-01-02T03:04:05.000Z"]


def test_one_serializer_call_does_not_leak_into_the_next() -> None:
    shared = _shared()
    first = serializer.success(_op(), _fleet(3, shared=shared), "r")
    shared["state"]["Name"] = "stopped"  # same object, new content: written afresh
    shared["state"]["Code"] = 80
    second = serializer.success(_op(), _fleet(3, shared=shared), "r")
    assert first.count(b"<name>running</name>") == 3
    assert second.count(b"<name>stopped</name>") == 3


def test_timestamps_of_one_second_keep_their_own_milliseconds() -> None:
    # The text of a second is formatted once and reused for its other instants.
    base = datetime(2026, 11, 22, 10, 20, 30)
    moments = [base.replace(microsecond=us) for us in (0, 999, 1000, 192000, 999999)]
    moments += [m.replace(tzinfo=UTC) for m in moments]
    moments += [base.replace(tzinfo=timezone(timedelta(hours=2)), microsecond=5000)]
    serializer._STAMPS.clear()
    serializer._SECONDS.clear()
    texts = [serializer._stamp(m) for m in moments]
    assert texts == [serializer._text_timestamp(m) for m in moments]
    assert texts[:5] == [f"2026-11-22T10:20:30.{ms}Z" for ms in ("000", "000", "001", "192",
                                                                  "999")]
    assert texts[-1] == "2026-11-22T08:20:30.005Z"
    fleet = _fleet(3, shared=_shared())
    for k, inst in enumerate(fleet["Reservations"][0]["Instances"]):
        inst["LaunchTime"] = base.replace(microsecond=1000 * k, tzinfo=UTC)
    body = _check(fleet)
    assert b"<launchTime>2026-11-22T10:20:30.002Z</launchTime>" in body


def test_a_tag_list_shared_by_instances_is_written_for_each() -> None:
    shared = _shared()
    tags = [{"Key": "batch", "Value": "b1"}, shared["tag"]]
    fleet = _fleet(4, shared=shared)
    for inst in fleet["Reservations"][0]["Instances"]:
        inst["Tags"] = tags  # as views share equal tag lists
    body = _check(fleet)
    assert body.count(b"<tagSet><item><key>batch</key><value>b1</value></item>"
                      b"<item><key>fleet</key><value>bench</value></item></tagSet>") == 4
