"""Response envelopes: JSON types, empty lists, XML shape, async and error bodies."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import pytest
import xmltodict

from nativeapi.errors_wire import CloudStackError
from nativeapi.protocol import render
from nativeapi.protocol.render import (
    JSON_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    Rendered,
    async_response,
    error_from,
    error_response,
    flat_response,
    list_response,
    object_response,
    response_key,
    success_response,
)
from nativeapi.spec import load_commands

XML_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>'


def body_json(r: Rendered) -> Any:
    assert r.content_type == JSON_CONTENT_TYPE
    return json.loads(r.body)


def body_xml(r: Rendered) -> ET.Element:
    assert r.content_type == XML_CONTENT_TYPE
    assert r.body.startswith(XML_HEAD)
    return ET.fromstring(r.body)


VM = {
    "id": "6c3c1c1e-0000-0000-0000-000000000001",
    "name": "web-01",
    "cpunumber": 2,
    "memory": 1024,
    "isdynamicallyscalable": False,
    "cpuused": 12.5,
    "created": datetime(2025, 10, 30, 19, 21, 39, tzinfo=UTC),
    "password": None,
    "nic": [{"id": "n1", "ipaddress": "10.1.1.2"}, {"id": "n2", "ipaddress": "10.1.1.3"}],
    "tags": [],
    "details": {"cpuNumber": "2"},
}


# --- keys -----------------------------------------------------------------------------


def test_response_key_default_and_overrides() -> None:
    assert response_key("listZones") == "listzonesresponse"
    assert response_key("restoreVirtualMachine") == "restorevmresponse"
    assert response_key("resetSSHKeyForVirtualMachine") == "resetSSHKeyforvirtualmachineresponse"
    assert response_key("activateProject") == "activaterojectresponse"


def test_response_keys_agree_with_the_command_table() -> None:
    for name, entry in load_commands().items():
        assert response_key(name) == entry["responsekey"], name


# --- lists ----------------------------------------------------------------------------


def test_empty_list_is_exactly_empty_object() -> None:
    r = list_response("listZones", "zone", [], 0, fmt="json")
    assert r.status == 200
    assert r.headers == {}
    assert r.body == b'{"listzonesresponse":{}}'


def test_empty_list_xml() -> None:
    r = list_response("listZones", "zone", [], 0)
    assert r.body == XML_HEAD + b"<listzonesresponse></listzonesresponse>"


def test_list_json_types_and_omitted_nulls() -> None:
    doc = body_json(list_response("listVirtualMachines", "virtualmachine", [VM], 7, fmt="json"))
    inner = doc["listvirtualmachinesresponse"]
    assert list(doc) == ["listvirtualmachinesresponse"]
    assert inner["count"] == 7
    (vm,) = inner["virtualmachine"]
    assert vm["cpunumber"] == 2
    assert isinstance(vm["cpunumber"], int)
    assert vm["isdynamicallyscalable"] is False
    assert vm["cpuused"] == 12.5
    assert vm["created"] == "2025-10-30T19:21:39+0000"
    assert "password" not in vm
    assert vm["tags"] == []
    assert vm["details"] == {"cpuNumber": "2"}
    assert [n["ipaddress"] for n in vm["nic"]] == ["10.1.1.2", "10.1.1.3"]


def test_page_past_the_end_keeps_count_only() -> None:
    doc = body_json(list_response("listZones", "zone", [], 3, fmt="json"))
    assert doc == {"listzonesresponse": {"count": 3}}


def test_list_xml_repeats_items_without_wrapper() -> None:
    root = body_xml(list_response("listVirtualMachines", "virtualmachine", [VM, VM], 2))
    assert root.tag == "listvirtualmachinesresponse"
    assert [c.tag for c in root] == ["count", "virtualmachine", "virtualmachine"]
    assert root.findtext("count") == "2"
    vm = root.find("virtualmachine")
    assert vm is not None
    assert vm.findtext("isdynamicallyscalable") == "false"
    assert vm.findtext("created") == "2025-10-30T19:21:39+0000"
    assert vm.find("password") is None
    assert vm.find("tags") is None
    assert [n.findtext("ipaddress") for n in vm.findall("nic")] == ["10.1.1.2", "10.1.1.3"]
    assert vm.findtext("details/cpuNumber") == "2"


def test_xml_escapes_and_round_trips_through_xmltodict() -> None:
    item = {"name": "a<b>&\"c'", "displaytext": "ünï"}
    r = list_response("listZones", "zone", [item], 1)
    assert b"a&lt;b&gt;&amp;" in r.body
    parsed = xmltodict.parse(r.body)
    assert parsed["listzonesresponse"]["zone"] == item


def test_xml_drops_characters_xml_cannot_carry() -> None:
    r = object_response("getVMPassword", "password", {"encryptedpassword": "a\x01b"})
    assert body_xml(r).findtext("password/encryptedpassword") == "ab"


# --- other shapes ---------------------------------------------------------------------


def test_object_response() -> None:
    doc = body_json(object_response("createZone", "zone", {"id": "z", "name": "Z"}, fmt="json"))
    assert doc == {"createzoneresponse": {"zone": {"id": "z", "name": "Z"}}}
    root = body_xml(object_response("createZone", "zone", {"id": "z"}))
    assert ET.tostring(root) == b"<createzoneresponse><zone><id>z</id></zone></createzoneresponse>"


def test_list_capabilities_is_single_object() -> None:
    doc = body_json(
        object_response(
            "listCapabilities", "capability", {"cloudstackversion": "4.22.0.0"}, fmt="json"
        )
    )
    assert doc["listcapabilitiesresponse"]["capability"]["cloudstackversion"] == "4.22.0.0"


def test_success_response() -> None:
    assert body_json(success_response("deleteZone", fmt="json")) == {
        "deletezoneresponse": {"success": True}
    }
    assert body_json(success_response("deleteZone", "done", fmt="json")) == {
        "deletezoneresponse": {"success": True, "displaytext": "done"}
    }
    root = body_xml(success_response("deleteZone"))
    assert [(c.tag, c.text) for c in root] == [("success", "true")]


def test_async_responses() -> None:
    assert body_json(async_response("stopVirtualMachine", "j1", fmt="json")) == {
        "stopvirtualmachineresponse": {"jobid": "j1"}
    }
    r = async_response("deployVirtualMachine", "j1", "vm1", fmt="json")
    assert r.body == b'{"deployvirtualmachineresponse":{"id":"vm1","jobid":"j1"}}'
    root = body_xml(async_response("deployVirtualMachine", "j1", "vm1"))
    assert [(c.tag, c.text) for c in root] == [("id", "vm1"), ("jobid", "j1")]


def test_flat_job_result_nests_the_object() -> None:
    fields = {
        "jobid": "j1",
        "jobstatus": 1,
        "jobprocstatus": 0,
        "jobresultcode": 0,
        "jobresulttype": "object",
        "jobresult": {"virtualmachine": VM},
        "created": datetime(2025, 1, 1, 12, 0),
        "completed": None,
    }
    doc = body_json(flat_response("queryAsyncJobResult", fields, fmt="json"))
    inner = doc["queryasyncjobresultresponse"]
    assert inner["jobstatus"] == 1
    assert inner["jobresultcode"] == 0
    assert inner["jobresult"]["virtualmachine"]["memory"] == 1024
    assert inner["created"] == "2025-01-01T12:00:00+0000"
    assert "completed" not in inner
    root = body_xml(flat_response("queryAsyncJobResult", fields))
    assert root.findtext("jobresult/virtualmachine/name") == "web-01"
    assert len(root.findall("jobresult/virtualmachine/nic")) == 2


def test_login_response_keeps_string_types() -> None:
    doc = body_json(
        flat_response(
            "login",
            {"timeout": 1800, "type": "1", "registered": "false", "sessionkey": "k"},
            fmt="json",
        )
    )
    assert doc == {
        "loginresponse": {"timeout": 1800, "type": "1", "registered": "false", "sessionkey": "k"}
    }


# --- errors ---------------------------------------------------------------------------


def test_error_json() -> None:
    r = error_response("listZones", 431, 4350, "Unable to execute", fmt="json")
    assert r.status == 431
    assert r.headers == {"X-Description": "Unable to execute"}
    assert r.body == (
        b'{"listzonesresponse":{"uuidList":[],"errorcode":431,"cserrorcode":4350,'
        b'"errortext":"Unable to execute"}}'
    )


def test_error_uuid_list() -> None:
    r = error_response(
        "deleteZone", 536, 4375, "in use", [("u1", "zoneId"), ("u2", None)], fmt="json"
    )
    assert body_json(r)["deletezoneresponse"]["uuidList"] == [
        {"uuid": "u1", "description": "zoneId"},
        {"uuid": "u2"},
    ]
    root = body_xml(error_response("deleteZone", 536, 4375, "in use", [("u1", "zoneId")]))
    assert [c.tag for c in root] == ["uuidList", "errorcode", "cserrorcode", "errortext"]
    assert [(c.tag, c.text) for c in root.find("uuidList")] == [  # type: ignore[union-attr]
        ("uuid", "u1"),
        ("uuidProperty", "zoneId"),
    ]


def test_error_xml_without_uuids_has_no_uuid_list() -> None:
    root = body_xml(error_response("listZones", 431, 4350, "bad <value>"))
    assert root.tag == "listzonesresponse"
    assert [(c.tag, c.text) for c in root] == [
        ("errorcode", "431"),
        ("cserrorcode", "4350"),
        ("errortext", "bad <value>"),
    ]


def test_unknown_command_and_432_use_errorresponse() -> None:
    assert "errorresponse" in body_json(error_response(None, 401, None, "x", fmt="json"))
    doc = body_json(error_response("noSuchApi", 432, 9999, "Unknown API", fmt="json"))
    assert list(doc) == ["errorresponse"]
    assert body_xml(error_response(None, 432, 9999, "x")).tag == "errorresponse"


def test_auth_failure_has_no_cserrorcode() -> None:
    doc = body_json(error_response("listZones", 401, 4290, "unable to verify", fmt="json"))
    assert doc == {
        "listzonesresponse": {"uuidList": [], "errorcode": 401, "errortext": "unable to verify"}
    }


def test_x_description_is_ascii_safe() -> None:
    r = error_response("listZones", 530, 4250, "bad ünicode\r\nnext", fmt="json")
    header = r.headers["X-Description"]
    assert header.isascii()
    assert "\n" not in header
    assert "\r" not in header
    assert header.startswith("bad ?nicode")
    assert body_json(r)["listzonesresponse"]["errortext"] == "bad ünicode\r\nnext"


def test_error_from_exception() -> None:
    exc = CloudStackError(535, "no IPs", 4370, [("p1", "networkId")])
    r = error_from(exc, "associateIpAddress", fmt="json")
    assert r.status == 535
    assert body_json(r)["associateipaddressresponse"]["cserrorcode"] == 4370


def test_unknown_fmt_defaults_to_xml() -> None:
    assert success_response("deleteZone", fmt="yaml").content_type == XML_CONTENT_TYPE


# --- value conversion -----------------------------------------------------------------


class Colour(Enum):
    RED = "Red"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("5"), 5),
        (Decimal("2.5"), 2.5),
        (Colour.RED, "Red"),
        (UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (date(2025, 1, 2), "2025-01-02T00:00:00+0000"),
        (
            datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            "2025-01-02T01:04:05+0000",
        ),
        ((1, None, 2), [1, 2]),
        ({"a": None, "b": {"c": None}}, {"b": {}}),
    ],
)
def test_to_wire(value: Any, expected: Any) -> None:
    assert render.to_wire(value) == expected
