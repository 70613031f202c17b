"""The shape checker itself, offline: it must catch what it claims to catch."""

from __future__ import annotations

import datetime as dt

from harness import operation
from shapes import check_error_xml, check_parsed, check_xml

NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


def _body(op: str, inner: str, rid: str = "r-1") -> bytes:
    return f'<{op}Response xmlns="{NS}"><requestId>{rid}</requestId>{inner}' \
           f"</{op}Response>".encode()


GOOD_INSTANCES = (
    "<reservationSet><item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId>"
    "<instancesSet><item><instanceId>i-1</instanceId><amiLaunchIndex>0</amiLaunchIndex>"
    "<instanceState><code>16</code><name>running</name></instanceState>"
    "<launchTime>2024-01-02T03:04:05.000Z</launchTime><ebsOptimized>false</ebsOptimized>"
    "<tagSet><item><key>a</key><value>b</value></item></tagSet>"
    "</item></instancesSet></item></reservationSet>")


def test_a_well_formed_describe_instances_passes() -> None:
    assert check_xml(operation("DescribeInstances"), _body("DescribeInstances",
                                                           GOOD_INSTANCES)) == []


def test_unknown_elements_bad_scalars_and_enums_are_caught() -> None:
    op = operation("DescribeInstances")
    bad = (GOOD_INSTANCES.replace("<amiLaunchIndex>0<", "<amiLaunchIndex>zero<")
           .replace("<ebsOptimized>false<", "<ebsOptimized>False<")
           .replace("<name>running<", "<name>spinning<")
           .replace("2024-01-02T03:04:05.000Z", "yesterday")
           .replace("<ownerId>", "<bogus>x</bogus><ownerId>"))
    problems = "\n".join(check_xml(op, _body("DescribeInstances", bad)))
    for needle in ("AmiLaunchIndex", "EbsOptimized", "spinning", "yesterday", "<bogus>"):
        assert needle in problems


def test_envelope_errors_are_caught() -> None:
    op = operation("DescribeRegions")
    assert check_xml(op, b"<DescribeRegionsResponse><regionInfo/></DescribeRegionsResponse>")
    wrong_root = f'<FooResponse xmlns="{NS}"><requestId>x</requestId></FooResponse>'.encode()
    assert any("root element" in p for p in check_xml(op, wrong_root))
    assert any("not XML" in p for p in check_xml(op, b"Traceback (most recent call last)"))
    # A list must use <item> children.
    listed = _body("DescribeRegions", "<regionInfo><member><regionName>x</regionName>"
                   "</member></regionInfo>")
    assert any("expected <item>" in p for p in check_xml(op, listed))


def test_operations_without_output_accept_return_only() -> None:
    op = operation("RebootInstances")
    assert check_xml(op, _body("RebootInstances", "<return>true</return>")) == []
    assert check_xml(op, _body("RebootInstances", "<instancesSet/>"))


def test_error_envelope() -> None:
    good = (b"<Response><Errors><Error><Code>InvalidInstanceID.Malformed</Code>"
            b"<Message>bad</Message></Error></Errors><RequestID>x</RequestID></Response>")
    assert check_error_xml(good) == []
    assert check_error_xml(b"<ErrorResponse><Error><Code>X</Code></Error></ErrorResponse>")
    assert check_error_xml(b"<Response><Errors><Error><Code/><Message>m</Message></Error>"
                           b"</Errors><RequestID>x</RequestID></Response>")


def test_parsed_walk_checks_names_types_and_json_timestamps() -> None:
    op = operation("DescribeInstances")
    good = {"Reservations": [{"ReservationId": "r-1", "Instances": [
        {"InstanceId": "i-1", "AmiLaunchIndex": 0, "LaunchTime": dt.datetime.now(dt.UTC),
         "State": {"Code": 16, "Name": "running"}}]}], "ResponseMetadata": {}}
    assert check_parsed(op, good) == []
    bad = {"Reservations": [{"ReservationId": 1, "Extra": 2, "Instances": [
        {"AmiLaunchIndex": True, "LaunchTime": "2024", "State": {"Name": "spinning"}}]}]}
    problems = "\n".join(check_parsed(op, bad))
    for needle in ("ReservationId", "'Extra'", "AmiLaunchIndex", "LaunchTime", "spinning"):
        assert needle in problems
    as_json = {"Reservations": [{"Instances": [{"LaunchTime": "2024-01-02T03:04:05+00:00"}]}]}
    assert check_parsed(op, as_json, json_mode=True) == []
