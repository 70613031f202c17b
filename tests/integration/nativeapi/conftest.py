"""Fixtures for the CloudStack API tests: real clients against the live ``server``.

``server`` (tests/conftest.py) is one live app per session; these fixtures only
build clients and look up what the bootstrap seeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from cs import CloudStack
from sqlalchemy import select

from engine.jobs.drivers import HostAccess
from engine.models import Host
from tests.integration.nativeapi.clients import cs_client


@pytest.fixture
def make_cs(server: Any) -> Callable[..., CloudStack]:
    """``make_cs(key=None, secret=None, **options)``: a client with other keys/options."""
    return partial(cs_client, server)


@pytest.fixture
def cs(server: Any) -> CloudStack:
    """The admin, waiting for async jobs (``fetch_result``)."""
    return cs_client(server, fetch_result=True)


@pytest.fixture
def cs_submit(server: Any) -> CloudStack:
    """The admin, returning async submit bodies ({id, jobid}) as they are."""
    return cs_client(server)


@dataclass
class User:
    name: str
    key: str
    secret: str


@pytest.fixture
def user(server: Any) -> User:
    """A fresh non-admin account (nothing in it yet)."""
    name = f"user-{uuid.uuid4().hex[:8]}"
    key, secret = server.new_user(name)
    return User(name, key, secret)


@pytest.fixture
def cs_user(server: Any, user: User) -> CloudStack:
    return cs_client(server, user.key, user.secret, fetch_result=True)


@dataclass(frozen=True)
class Catalog:
    zone_id: str
    template_id: str
    offering_id: str
    offering_name: str

    def args(self, **extra: Any) -> dict[str, Any]:
        """deployVirtualMachine parameters for a small VM, plus ``extra``."""
        return {"zoneid": self.zone_id, "templateid": self.template_id,
                "serviceofferingid": self.offering_id, **extra}


@pytest.fixture(scope="session")
def catalog(server: Any) -> Catalog:
    c = cs_client(server)
    zone = c.listZones()["zone"][0]
    template = next(t for t in c.listTemplates(templatefilter="executable")["template"]
                    if t["name"].startswith("amzn2"))
    offering = next(o for o in c.listServiceOfferings()["serviceoffering"]
                    if o["name"] == "t2.micro")
    return Catalog(zone["id"], template["id"], offering["id"], offering["name"])


@pytest.fixture
def fail_spawns(server: Any) -> Iterator[Callable[..., None]]:
    """``fail_spawns(error="driver")``: every simulated host fails its next ``define``
    with that error kind (driver, capacity or unavailable). Cleared afterwards."""
    with server.runtime.unit(readonly=True) as services:
        hosts = [HostAccess(h.uuid, h.hypervisor, h.url, h.username, h.password)
                 for h in services.session.scalars(select(Host))]
    drivers = [server.runtime.drivers.get(h) for h in hosts]

    def arm(error: str = "driver") -> None:
        for driver in drivers:
            driver.configure(**{"fail.define": 1, "fail.define.count": 1,
                                "fail.define.error": error})

    try:
        yield arm
    finally:
        for driver in drivers:
            driver.clear_settings()
