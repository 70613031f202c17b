"""XapiSession without a network: endpoints, task results, task waiting, re-login."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable
from typing import Any

import pytest
import XenAPI

from engine.errors import InvalidParameter
from engine.hypervisors.base import HostConnection
from engine.hypervisors.xen.session import TaskTimeout, XapiSession, endpoint, parse_task_result


@pytest.mark.parametrize(("url", "expected"), [
    ("http://10.0.0.5", "http://10.0.0.5/"), ("https://xen.example:8443/", "https://xen.example:8443/"),
    ("HTTP://h:80/ignored/path", "http://h:80/")])
def test_endpoint(url: str, expected: str) -> None:
    assert endpoint(url) == expected


@pytest.mark.parametrize("url", ["xen://h", "http://", "qemu:///system", ""])
def test_bad_endpoints(url: str) -> None:
    with pytest.raises(InvalidParameter):
        endpoint(url)


def test_parse_task_result() -> None:
    assert parse_task_result("") == ""
    assert parse_task_result("<value>OpaqueRef:abc</value>") == "OpaqueRef:abc"
    assert parse_task_result("<value><array><data><value>a</value></data></array></value>") == ["a"]


class FakeWire:
    """Stands in for ``XenAPI.Session``: answers ``xenapi_request`` from a script."""

    def __init__(self, answer: Callable[[str, tuple[Any, ...]], Any]) -> None:
        self.answer = answer
        self.calls: list[str] = []

    def xenapi_request(self, method: str, args: tuple[Any, ...]) -> Any:
        self.calls.append(method)
        return self.answer(method, args)


def session_with(answer: Callable[[str, tuple[Any, ...]], Any]) -> tuple[XapiSession, FakeWire]:
    s = XapiSession(HostConnection("http://h", "root", "pw"))
    wire = FakeWire(answer)
    s._session = wire  # type: ignore[assignment]
    return s, wire


def task_script(statuses: list[str], *, result: str = "", error: list[str] | None = None,
                events: bool = True) -> Callable[[str, tuple[Any, ...]], Any]:
    def answer(method: str, args: tuple[Any, ...]) -> Any:
        if method == "event.from":
            if not events:
                raise XenAPI.Failure(["MESSAGE_METHOD_UNKNOWN", "event.from"])
            return {"events": [], "valid_ref_counts": {}, "token": "00000000000000000001"}
        if method == "task.get_status":
            return statuses.pop(0) if len(statuses) > 1 else statuses[0]
        return {"Async.VM.start": "OpaqueRef:t", "task.get_result": result,
                "task.get_error_info": error or []}.get(method, "")
    return answer


def test_run_waits_on_events_and_destroys_the_task() -> None:
    s, wire = session_with(task_script(["pending", "success"], result="<value>x</value>"))
    assert s.run("VM.start", "OpaqueRef:v", False, False, timeout=5) == "x"
    assert wire.calls == ["Async.VM.start", "event.from", "task.get_status", "event.from",
                          "task.get_status", "task.get_result", "task.destroy"]


def test_failed_task_raises_its_error_info() -> None:
    s, _ = session_with(task_script(["failure"], error=["VM_BAD_POWER_STATE", "r", "halted",
                                                        "running"]))
    with pytest.raises(XenAPI.Failure) as exc:
        s.run("VM.start", "r", False, False, timeout=5)
    assert exc.value.details[0] == "VM_BAD_POWER_STATE"


def test_timeout_cancels_the_task_and_polls_without_events() -> None:
    s, wire = session_with(task_script(["pending"], events=False))
    with pytest.raises(TaskTimeout) as exc:
        s.run("VM.start", "r", False, False, timeout=0.25)
    assert exc.value.task == "OpaqueRef:t"
    assert wire.calls[-1] == "task.cancel" and wire.calls.count("event.from") == 1


def test_lost_session_logs_in_again(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(method: str, args: tuple[Any, ...]) -> Any:
        raise xmlrpc.client.Fault(500, "Tried 3 times to get a valid session, but failed")

    s, _ = session_with(answer)
    fresh = FakeWire(lambda m, a: ["OpaqueRef:pool"])
    monkeypatch.setattr(s, "login", lambda: setattr(s, "_session", fresh))
    assert s.call("pool.get_all") == ["OpaqueRef:pool"]
    assert fresh.calls == ["pool.get_all"]


def test_other_faults_pass_through() -> None:
    def answer(method: str, args: tuple[Any, ...]) -> Any:
        raise xmlrpc.client.Fault(1, "bad request")

    s, _ = session_with(answer)
    with pytest.raises(xmlrpc.client.Fault):
        s.call("pool.get_all")
