"""Command registry: registration rules, listApis entries, request validation."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from nativeapi import registry
from nativeapi.errors_wire import CloudStackError
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import CommandMeta, Registry, RegistryError, response_type_errors, validate

UUID = "a1b2c3d4-0000-0000-0000-000000000001"


def handler(ctx: Any, params: CsParams) -> object:
    return {"ok": True}


@pytest.fixture
def reg() -> Registry:
    return Registry()


# --- registration ---------------------------------------------------------------------


def test_register_reads_metadata_from_the_table(reg: Registry) -> None:
    decorated = reg.command(
        "deployVirtualMachine", is_async=True, creates="virtualmachine", post_only=True
    )(handler)
    assert decorated is handler
    cmd = reg.lookup("deployVirtualMachine")
    assert cmd is not None
    assert cmd.handler is handler
    assert cmd.name == "deployVirtualMachine"
    assert cmd.options == {"post_only": True}
    meta = cmd.meta
    assert meta.style == "async-create"
    assert meta.is_async
    assert meta.creates
    assert meta.responsekey == "deployvirtualmachineresponse"
    assert meta.itemkey == "virtualmachine"
    assert meta.shape == "object"
    assert not meta.listshaped
    zone = meta.param("ZONEID")
    assert zone is not None
    assert zone.type == "uuid"
    assert zone.required
    assert meta.responsefields["cpunumber"] == "int"


def test_lookup_is_case_sensitive_and_registered_is_read_only(reg: Registry) -> None:
    reg.command("listZones")(handler)
    assert reg.lookup("listzones") is None
    view = reg.registered()
    assert list(view) == ["listZones"]
    with pytest.raises(TypeError):
        view["x"] = None  # type: ignore[index]


def test_unknown_name_raises_at_registration(reg: Registry) -> None:
    with pytest.raises(RegistryError, match="listZonez"):
        reg.command("listZonez")


def test_explicit_meta_for_a_command_outside_the_table(reg: Registry) -> None:
    reg.command(
        "getApiVersion",
        meta={
            "style": "sync",
            "itemkey": "version",
            "optional": {"verbose": "boolean"},
            "responsefields": {"version": "str"},
        },
    )(handler)
    meta = reg.metadata("getApiVersion")
    assert meta.responsekey == "getapiversionresponse"
    assert meta.itemkey == "version"
    assert meta.shape == "object"
    assert meta.params[0].name == "verbose"


def test_duplicates_and_contradictions_raise(reg: Registry) -> None:
    reg.command("listZones")(handler)
    with pytest.raises(RegistryError, match="twice"):
        reg.command("listZones")(handler)
    with pytest.raises(RegistryError, match="is_async"):
        reg.command("deleteVolume", is_async=True)
    with pytest.raises(RegistryError, match="creates"):
        reg.command("stopVirtualMachine", creates="virtualmachine")
    with pytest.raises(RegistryError, match="style"):
        reg.command("x", meta={"style": "sometimes"})


def test_shapes_from_the_table(reg: Registry) -> None:
    assert reg.metadata("listZones").shape == "list"
    assert reg.metadata("addHost").shape == "list"
    assert reg.metadata("deleteZone").shape == "success"
    assert reg.metadata("deleteZone").itemkey is None
    assert reg.metadata("queryAsyncJobResult").shape == "flat"
    assert reg.metadata("login").shape == "flat"
    assert reg.metadata("listCapabilities").shape == "object"
    assert reg.metadata("restoreVirtualMachine").responsekey == "restorevmresponse"
    assert reg.metadata("linkUserDataToTemplate").itemkey == "template"
    with pytest.raises(KeyError):
        reg.metadata("nope")


def test_module_level_functions_use_the_default_registry() -> None:
    assert registry.command.__self__ is registry.default_registry  # type: ignore[attr-defined]
    assert registry.lookup.__self__ is registry.default_registry  # type: ignore[attr-defined]
    assert registry.list_apis.__self__ is registry.default_registry  # type: ignore[attr-defined]


# --- listApis -------------------------------------------------------------------------


def test_list_api_entry_has_what_cmk_go_asserts(reg: Registry) -> None:
    reg.command(
        "deployVirtualMachine",
        description="Creates and starts a VM",
        param_docs={"zoneid": "the zone"},
    )(handler)
    (api,) = reg.list_apis(["deployVirtualMachine"])
    assert api["name"] == "deployVirtualMachine"
    assert api["description"] == "Creates and starts a VM"
    assert api["isasync"] is True
    assert isinstance(api["related"], str)
    assert isinstance(api["params"], list)
    assert isinstance(api["response"], list)
    zone = next(p for p in api["params"] if p["name"] == "zoneid")
    assert zone == {
        "name": "zoneid",
        "description": "the zone",
        "type": "uuid",
        "length": 255,
        "required": True,
        "related": "",
    }


def test_every_table_command_gives_a_well_typed_entry(reg: Registry) -> None:
    names = list(registry.load_commands())
    apis = reg.list_apis(names)
    json.dumps(apis)  # serializable
    for api in apis:
        for key, kind in (
            ("name", str),
            ("description", str),
            ("isasync", bool),
            ("related", str),
            ("params", list),
            ("response", list),
        ):
            assert isinstance(api[key], kind), (api["name"], key)
        for p in api["params"]:
            assert isinstance(p["name"], str)
            assert isinstance(p["type"], str)
            assert isinstance(p["required"], bool)
            assert isinstance(p["description"], str)
            assert int(p["length"]) == p["length"]  # cloudmonkey 5.3 does int(length)
            assert p["type"] in registry.PARAM_TYPES
        for r in api["response"]:
            assert isinstance(r["name"], str)
            assert isinstance(r["type"], str)


def test_nested_response_fields_for_marvin(reg: Registry) -> None:
    (api,) = reg.list_apis(["listVirtualMachines"])
    nic = next(r for r in api["response"] if r["name"] == "nic")
    assert nic["type"] == "list"
    assert any(sub["name"] == "ipaddress" for sub in nic.get("response", []))
    created = next(r for r in api["response"] if r["name"] == "created")
    assert created["type"] == "date"


def test_list_apis_unknown_name(reg: Registry) -> None:
    with pytest.raises(KeyError):
        reg.list_apis(["noSuchApi"])


# --- validation -----------------------------------------------------------------------


def meta(reg: Registry, name: str) -> CommandMeta:
    return reg.metadata(name)


def check(reg: Registry, command: str, **kw: str) -> CloudStackError:
    p = CsParams([("command", command), *kw.items()])
    with pytest.raises(CloudStackError) as err:
        validate(p, meta(reg, command))
    return err.value


def test_valid_request_passes(reg: Registry) -> None:
    p = CsParams(
        [
            ("command", "deployVirtualMachine"),
            ("zoneId", UUID),
            ("serviceofferingid", UUID),
            ("rootdisksize", "20"),
            ("details[0].cpuNumber", "2"),
            ("startvm", "maybe"),
            ("unknown", "ignored"),
        ]
    )
    validate(p, meta(reg, "deployVirtualMachine"))
    assert p.label == "deployvirtualmachine"


def test_missing_required_uses_the_response_name(reg: Registry) -> None:
    err = check(reg, "restoreVirtualMachine")
    assert err.errorcode == 431
    assert err.errortext == (
        "Unable to execute API command restorevm due to missing parameter virtualmachineid"
    )


def test_bad_uuid_integer_date_are_431(reg: Registry) -> None:
    assert (
        "Invalid parameter zoneid value=nope"
        in check(reg, "deployVirtualMachine", zoneid="nope", serviceofferingid=UUID).errortext
    )
    assert (
        "invalid value x for parameter pagesize" in check(reg, "listZones", pagesize="x").errortext
    )
    assert "Unable to parse date" in check(reg, "listAsyncJobs", startdate="yesterday").errortext


def test_request_level_errors_come_first(reg: Registry) -> None:
    assert check(reg, "listZones", name="\x01").errorcode == 431
    assert check(reg, "listZones", **{"tags[0]": "x"}).errorcode == 430


def test_response_type_errors(reg: Registry) -> None:
    m = meta(reg, "listZones")
    good = {
        "id": UUID,
        "name": "z",
        "securitygroupsenabled": False,
        "tags": [],
        "resourcedetails": {},
        "gputotal": 0,
        "description": None,
    }
    assert response_type_errors(m, good) == []
    bad = {"id": 5, "securitygroupsenabled": "false", "gputotal": True, "tags": {}, "surprise": 1}
    problems = response_type_errors(m, bad)
    assert len(problems) == 5
    assert response_type_errors(m, {"surprise": 1}, allow_unknown=True) == []
    vm = meta(reg, "deployVirtualMachine")
    assert response_type_errors(vm, {"created": datetime(2025, 1, 1), "cpunumber": 2}) == []
