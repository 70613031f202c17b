"""XAPI failures and transport errors -> engine errors."""

from __future__ import annotations

import xmlrpc.client

import pytest
import XenAPI

from engine.errors import (
    DriverError,
    EngineError,
    IncorrectState,
    InsufficientCapacity,
    InUse,
    InvalidParameter,
    NotFound,
    ResourceKind,
    Unavailable,
)
from engine.hypervisors.xen.errors import code, guarded, translate


def fail(*details: str) -> XenAPI.Failure:
    return XenAPI.Failure(list(details))


def test_handle_invalid_names_the_resource() -> None:
    err = translate(fail("HANDLE_INVALID", "VM", "OpaqueRef:x"), "start")
    assert isinstance(err, NotFound) and err.kind is ResourceKind.INSTANCE
    assert translate(fail("UUID_INVALID", "VDI", "u"), "x").kind is ResourceKind.VOLUME  # type: ignore[attr-defined]
    assert isinstance(translate(fail("HANDLE_INVALID", "task", "t"), "x"), DriverError)


def test_power_state_capacity_and_use() -> None:
    err = translate(fail("VM_BAD_POWER_STATE", "OpaqueRef:v", "halted", "running"), "start")
    assert isinstance(err, IncorrectState)
    assert (err.state, err.allowed) == ("running", ("halted",))
    err = translate(fail("HOST_NOT_ENOUGH_FREE_MEMORY", "2048", "1024"), "start")
    assert isinstance(err, InsufficientCapacity) and err.resource is ResourceKind.HOST
    err = translate(fail("SR_BACKEND_FAILURE_44", "", "There is insufficient space"), "x")
    assert isinstance(err, InsufficientCapacity) and err.resource is ResourceKind.STORAGE_POOL
    assert isinstance(translate(fail("VDI_IN_USE", "OpaqueRef:d", "destroy"), "x"), InUse)
    assert isinstance(translate(fail("VM_IS_TEMPLATE", "r"), "start"), InvalidParameter)
    assert isinstance(translate(fail("HOST_OFFLINE", "h"), "x"), Unavailable)


def test_authentication_and_unknown_codes_are_driver_errors() -> None:
    err = translate(fail("SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"),
                    "connect")
    assert isinstance(err, DriverError) and "authentication failed" in err.detail
    assert "not-the-password" not in err.message
    err = translate(fail("SOMETHING_NEW", "a", "b"), "define")
    assert isinstance(err, DriverError) and err.detail == "SOMETHING_NEW a b"


def test_transport_errors() -> None:
    assert isinstance(translate(ConnectionRefusedError(), "x", "http://h/"), Unavailable)
    assert isinstance(translate(TimeoutError(), "x"), Unavailable)
    proto = xmlrpc.client.ProtocolError("h/", 502, "Bad Gateway", {})
    assert "502" in translate(proto, "x").message
    assert isinstance(translate(xmlrpc.client.Fault(500, "boom"), "x"), DriverError)
    engine_error = NotFound(ResourceKind.VOLUME, "v")
    assert translate(engine_error, "x") is engine_error


def test_code() -> None:
    assert code(fail("HANDLE_INVALID", "VM", "r")) == "HANDLE_INVALID"
    assert code(ValueError()) == ""


def test_guarded_translates_only_xapi_and_transport_failures() -> None:
    class Thing:
        where = "http://h/"

        @guarded("do it")
        def run(self, exc: BaseException) -> None:
            raise exc

    with pytest.raises(NotFound):
        Thing().run(fail("HANDLE_INVALID", "VM", "r"))
    with pytest.raises(Unavailable, match="http://h/"):
        Thing().run(OSError("refused"))
    with pytest.raises(EngineError):
        Thing().run(InvalidParameter("a", 1, "b"))
    with pytest.raises(KeyError):
        Thing().run(KeyError("programming error"))
