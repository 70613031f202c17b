"""CsParams: lookup rules, map syntax, typed getters and CloudStack's error texts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nativeapi.errors_wire import CloudStackError
from nativeapi.protocol.parser import CsParams, parse_input_date, parse_tz_date

UUID = "a1b2c3d4-0000-0000-0000-000000000001"


def params(**kw: str) -> CsParams:
    return CsParams(kw.items())


def raises(code: int, fn: object, *args: object, **kwargs: object) -> CloudStackError:
    with pytest.raises(CloudStackError) as err:
        fn(*args, **kwargs)  # type: ignore[operator]
    assert err.value.errorcode == code
    return err.value


# --- lookup ---------------------------------------------------------------------------


def test_names_are_case_insensitive_but_signing_keeps_them() -> None:
    p = CsParams([("command", "listZones"), ("zoneId", UUID), ("apiKey", "k")])
    assert p.get("zoneid") == UUID
    assert p.get("ZONEID") == UUID
    assert p.signing_params() == {"command": "listZones", "zoneId": UUID, "apiKey": "k"}
    assert "ZoneId" in p
    assert p.has("apikey")
    assert not p.has("name")
    assert set(p.names()) == {"command", "zoneid", "apikey"}


def test_last_value_wins_and_query_beats_form() -> None:
    p = CsParams([("name", "a"), ("Name", "b"), ("name", "c")])
    assert p.get("name") == "c"
    assert p.signing_params() == {"Name": "b", "name": "c"}
    merged = CsParams.from_parts(
        query=[("name", "from-query")], form=[("name", "from-form"), ("x", "1")]
    )
    assert merged.get("name") == "from-query"
    assert merged.get("x") == "1"


def test_command_fmt_and_label() -> None:
    p = params(command="listZones", response="JSON")
    assert p.command == "listZones"
    assert p.fmt == "json"
    assert p.response_key == "listzonesresponse"
    assert p.label == "listzones"
    assert params(command="listZones").fmt == "xml"
    assert params(command="listZones", response="text").fmt == "xml"
    p.response_key = "restorevmresponse"
    assert p.label == "restorevm"


# --- map syntax -----------------------------------------------------------------------


def test_map_parameters_are_grouped_by_index_in_order_with_field_case_kept() -> None:
    p = CsParams(
        [
            ("tags[1].key", "b"),
            ("tags[1].value", "2"),
            ("Tags[0].key", "a"),
            ("tags[0].value", "1"),
            ("details[0].cpuNumber", "2"),
        ]
    )
    assert p.map("tags") == [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    assert p.map("details") == [{"cpuNumber": "2"}]
    assert p.map("absent") == []
    assert p.has("tags")
    assert p.get("tags") is None
    p.check_request()


@pytest.mark.parametrize(
    "key",
    [
        "tags[0][1].key",
        "tags[0.key",
        "tags]0[.key",
        "tags[0]]",
        "tags[0]",
        "tags[x].key",
        "tags[].key",
        "a.b[0].c",
        "tags[0]key",
    ],
)
def test_malformed_map_syntax_is_430(key: str) -> None:
    p = CsParams([("command", "listZones"), (key, "v")])
    err = raises(430, p.check_request)
    assert err.errortext.startswith(f"Unable to decode parameter {key}; if specifying")
    assert err.cserrorcode == 9999


def test_odd_but_legal_keys() -> None:
    p = CsParams([("[0].x", "plain"), ("tags[+1].key", "k"), ("tags[1]junk.a.b", "v")])
    p.check_request()
    assert p.get("[0].x") == "plain"
    assert p.map("tags") == [{"key": "k", "a.b": "v"}]


def test_plain_value_where_map_expected_is_invalid() -> None:
    err = raises(431, params(command="createTags", tags="x").map, "tags")
    assert "due to invalid value x for parameter tags" in err.errortext


# --- control characters ---------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\x00", "a\tb", "\x0b", "\x1f", "\x7f"])
def test_control_characters_are_431(bad: str) -> None:
    err = raises(431, params(command="listZones", name=bad).check_request)
    assert err.errortext.endswith(
        "for parameter name is invalid, contains illegal ASCII non-printable characters"
    )


def test_newlines_are_allowed() -> None:
    params(command="deployVirtualMachine", userdata="line1\r\nline2\n").check_request()


# --- typed getters --------------------------------------------------------------------


def test_missing_required_text() -> None:
    p = params(command="deployVirtualMachine")
    err = raises(431, p.get, "zoneid", required=True)
    assert err.errortext == (
        "Unable to execute API command deployvirtualmachine due to missing parameter zoneid"
    )
    assert err.cserrorcode == 9999
    raises(431, p.require, "zoneid")
    assert p.get("zoneid", "dflt") == "dflt"


def test_uuid() -> None:
    p = params(command="listZones", id=UUID.upper(), empty="", all="-1", bad="42")
    assert p.uuid("id") == UUID
    assert p.uuid("empty") is None
    assert p.uuid("missing") is None
    assert p.uuid("all") == "-1"
    err = raises(431, p.uuid, "bad")
    assert err.errortext == (
        "Unable to execute API command listzones due to invalid value. Invalid parameter bad "
        "value=42 due to incorrect long value format, or entity does not exist or due to "
        "incorrect parameter annotation for the field in api cmd class."
    )
    raises(431, p.uuid, "empty", required=True)
    assert p.entity_not_found("id").errortext == err.errortext.replace(
        "bad value=42", f"id value={UUID.upper()}"
    )


def test_uuid_list() -> None:
    p = params(ids=f"{UUID},,{UUID.upper()}", bad=f"{UUID},nope")
    assert p.uuid_list("ids") == [UUID, UUID]
    assert "value=nope" in raises(431, p.uuid_list, "bad").errortext


def test_boolean_is_java_boolean_valueof() -> None:
    p = params(a="TRUE", b="yes", c="false", d="")
    assert p.boolean("a") is True
    assert p.boolean("b") is False
    assert p.boolean("c") is False
    assert p.boolean("d") is False
    assert p.boolean("missing") is None
    assert p.boolean("missing", True) is True


def test_integer_long_short() -> None:
    p = params(
        command="listZones",
        page="2",
        neg="-5",
        plus="+7",
        blank=" ",
        big="2147483648",
        x="1.5",
        huge="9223372036854775808",
        s="40000",
    )
    assert p.integer("page") == 2
    assert p.integer("neg") == -5
    assert p.integer("plus") == 7
    assert p.integer("blank") is None
    assert p.integer("blank", 10) == 10
    assert p.integer("missing", 3) == 3
    err = raises(431, p.integer, "big")
    assert err.errortext == (
        "Unable to execute API command listzones due to invalid value 2147483648 for parameter big"
    )
    raises(431, p.integer, "x")
    assert p.long("big") == 2147483648
    raises(431, p.long, "huge")
    raises(431, p.long, "blank")
    raises(431, p.short, "s")
    assert p.short("neg") == -5


def test_list_is_comma_separated_without_empty_items() -> None:
    p = params(cidrlist="0.0.0.0/0,10.0.0.0/8", odd=",a,,b,", empty="")
    assert p.list("cidrlist") == ["0.0.0.0/0", "10.0.0.0/8"]
    assert p.list("odd") == ["a", "b"]
    assert p.list("empty") == []
    assert p.list("missing") == []
    raises(431, p.list, "missing", required=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-30", datetime(2025, 10, 30, tzinfo=UTC)),
        ("2025-10-30 19:21:39", datetime(2025, 10, 30, 19, 21, 39, tzinfo=UTC)),
        ("2025-10-30T19:21:39+0000", datetime(2025, 10, 30, 19, 21, 39, tzinfo=UTC)),
        ("2025-10-30T21:21:39+02:00", datetime(2025, 10, 30, 19, 21, 39, tzinfo=UTC)),
        ("2025-10-30T19:21:39Z", datetime(2025, 10, 30, 19, 21, 39, tzinfo=UTC)),
    ],
)
def test_date_formats(text: str, expected: datetime) -> None:
    assert params(startdate=text).date("startdate") == expected


def test_bad_date_text() -> None:
    p = params(command="listEvents", startdate="30/10/2025")
    err = raises(431, p.date, "startdate")
    assert err.errortext == (
        "Unable to parse date 30/10/2025 for command listevents, please "
        "pass dates in the format mentioned in the api documentation"
    )
    assert p.date("missing") is None


def test_date_helpers() -> None:
    assert parse_tz_date("2025-10-30") is None
    assert parse_tz_date("2025-02-30T00:00:00Z") is None
    assert parse_input_date("2025-02-30") is None
    got = parse_tz_date("2025-10-30T19:21:39.5-05:30")
    assert got is not None
    assert got.utcoffset() is not None
    assert got.astimezone(UTC) == datetime(2025, 10, 31, 0, 51, 39, 500000, tzinfo=UTC)


def test_repr_hides_secrets() -> None:
    text = repr(params(command="login", password="hunter2", username="admin"))
    assert "hunter2" not in text
    assert "admin" in text
