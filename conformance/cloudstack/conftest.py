"""Fixtures for the black-box CloudStack conformance suite.

Input is only the environment: ``CONFORMANCE_CS_ENDPOINT`` (``.../client/api``),
``CONFORMANCE_CS_KEY`` and ``CONFORMANCE_CS_SECRET`` (a root admin's API keys).
Nothing here imports the product; the same tests can run against a real
CloudStack (a simulator zone with a ready template is enough).

Every HTTP exchange with the endpoint -- whichever client made it (``cs``,
libcloud, or the raw requests of ``cs_wire``) -- is recorded, and after each
test every JSON reply is checked by ``cs_checkers.reply_problems``: envelope key,
``count`` on lists, empty lists as ``{}``, JSON types of item fields, and for
errors HTTP status == ``errorcode``. Tests marked ``xfail`` are not re-checked.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import cs_checkers
import pytest
import requests
from cs import CloudStack, CloudStackApiException
from cs_wire import RawClient

ENV = ("CONFORMANCE_CS_ENDPOINT", "CONFORMANCE_CS_KEY", "CONFORMANCE_CS_SECRET")


@dataclass(frozen=True)
class Target:
    endpoint: str
    key: str
    secret: str


@dataclass(frozen=True)
class World:
    """What the cloud offers that the flows need, discovered through the API."""

    zone_id: str
    template_id: str
    offering_id: str
    disk_offering_id: str


@dataclass(frozen=True)
class Account:
    name: str
    domain_id: str
    user_id: str
    key: str
    secret: str
    password: str


# --- recording every exchange -------------------------------------------------------

_recorded: list[tuple[str, int, Any]] = []
_endpoint_prefix: list[str] = []
_original_send = requests.Session.send


def _command_of(prepared: requests.PreparedRequest) -> str:
    params = dict(parse_qsl(urlsplit(prepared.url or "").query))
    body = prepared.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and "=" in body:
        params.update(parse_qsl(body))
    return next((v for k, v in params.items() if k.lower() == "command"), "")


def _recording_send(self: requests.Session, request: requests.PreparedRequest,
                    **kwargs: Any) -> requests.Response:
    response = _original_send(self, request, **kwargs)
    if _endpoint_prefix and (request.url or "").startswith(_endpoint_prefix[0]):
        try:
            body = response.json()
        except ValueError:
            body = None  # XML or not JSON: tests that ask for it check it themselves
        if body is not None:
            _recorded.append((_command_of(request), response.status_code, body))
    return response


@pytest.fixture(scope="session")
def target() -> Target:
    missing = [name for name in ENV if not os.environ.get(name)]
    if missing:
        pytest.skip(f"set {', '.join(missing)} to run the CloudStack conformance suite")
    endpoint = os.environ["CONFORMANCE_CS_ENDPOINT"].rstrip("/")
    _endpoint_prefix[:] = [endpoint]
    return Target(endpoint, os.environ["CONFORMANCE_CS_KEY"], os.environ["CONFORMANCE_CS_SECRET"])


@pytest.fixture(autouse=True)
def wire_check(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Check every JSON reply the test received (see the module docstring)."""
    monkeypatch.setattr(requests.Session, "send", _recording_send)
    _recorded.clear()
    yield
    exchanges = list(_recorded)
    _recorded.clear()
    if request.node.get_closest_marker("xfail") is not None:
        return
    problems = [p for command, status, body in exchanges
                for p in cs_checkers.reply_problems(command, status, body)]
    assert not problems, "wire problems:\n" + "\n".join(problems[:40])


# --- clients --------------------------------------------------------------------------


def cs_client(target: Target, key: str | None = None, secret: str | None = None,
              **options: Any) -> CloudStack:
    """An exoscale ``cs`` client; ``fetch_result=True`` polls jobs with cs's own loop."""
    settings: dict[str, Any] = {"poll_interval": 0.1, "job_timeout": 120, **options}
    return CloudStack(endpoint=target.endpoint, key=key or target.key,
                      secret=secret or target.secret, **settings)


def libcloud_driver(target: Target, key: str | None = None, secret: str | None = None) -> Any:
    """libcloud's ``get_driver(Provider.CLOUDSTACK)`` on the endpoint."""
    from libcloud.compute.providers import get_driver
    from libcloud.compute.types import Provider

    url = urlsplit(target.endpoint)
    secure = url.scheme == "https"
    driver = get_driver(Provider.CLOUDSTACK)(
        key or target.key, secret or target.secret, secure=secure, host=url.hostname,
        port=url.port or (443 if secure else 80), path=url.path)
    driver.connection.poll_interval = 0.1
    driver.connection.timeout = 120
    return driver


@pytest.fixture(scope="session")
def admin(target: Target) -> CloudStack:
    return cs_client(target, fetch_result=True)


@pytest.fixture(scope="session")
def raw(target: Target) -> RawClient:
    return RawClient(target.endpoint, target.key, target.secret)


@pytest.fixture(scope="session")
def world(admin: CloudStack) -> World:
    """An enabled zone, a ready executable template in it, the smallest fixed service
    offering and a fixed-size disk offering."""
    zones = [z for z in admin.listZones(available=True).get("zone", [])
             if z.get("allocationstate", "Enabled") == "Enabled"]
    for zone in zones:
        templates = admin.listTemplates(templatefilter="executable", zoneid=zone["id"])
        ready = [t for t in templates.get("template", []) if t.get("isready")]
        if ready:
            break
    else:
        pytest.skip("no enabled zone with a ready executable template")
    offerings = [o for o in admin.listServiceOfferings().get("serviceoffering", [])
                 if not o.get("iscustomized") and o.get("cpunumber") and o.get("memory")]
    offering = min(offerings, key=lambda o: (o["memory"], o["cpunumber"]))
    disks = [d for d in admin.listDiskOfferings().get("diskoffering", [])
             if not d.get("iscustomized") and d.get("disksize", 0) > 0]
    disk = min(disks, key=lambda d: d["disksize"])
    return World(zone["id"], ready[0]["id"], offering["id"], disk["id"])


@pytest.fixture(scope="session")
def account(admin: CloudStack, target: Target) -> Iterator[Account]:
    """A fresh user-role account (type 0) in ROOT with its own API keys; deleted after."""
    name = f"conf-{uuid.uuid4().hex[:8]}"
    root = next(d for d in admin.listDomains(level=0)["domain"] if d["level"] == 0)
    password = uuid.uuid4().hex
    created = admin.createAccount(accounttype=0, username=name, account=name,
                                  email=f"{name}@example.com", firstname="Conf",
                                  lastname="Ormance", password=password,
                                  domainid=root["id"])["account"]
    user_id = created["user"][0]["id"]
    keys = admin.registerUserKeys(id=user_id)["userkeys"]
    yield Account(name, root["id"], user_id, keys["apikey"], keys["secretkey"], password)
    # Best effort: the run's verdict is the tests', not the cleanup's.
    with contextlib.suppress(CloudStackApiException):
        admin.deleteAccount(id=created["id"])


@pytest.fixture(scope="session")
def user_cs(target: Target, account: Account) -> CloudStack:
    return cs_client(target, account.key, account.secret, fetch_result=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
