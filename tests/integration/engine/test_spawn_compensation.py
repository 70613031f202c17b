"""A spawn whose database write fails right after the domain was defined
(the database restarting, say) leaves no domain behind: the reference was
never recorded, so the job's compensation could not have found it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from engine.jobs import handlers
from engine.services.instances import LaunchRequest
from tests.integration.engine.worlds import Cloud


def _launch_unstarted_spawn(cloud: Cloud) -> str:
    with cloud.runtime.unit() as sv:
        return sv.instances.launch(cloud.admin, LaunchRequest(
            template_uuid=cloud.template_uuid, offering_uuid=cloud.offering_uuid,
            name="doomed")).instances[0].instance.uuid


def _domains(cloud: Cloud) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for driver in cloud.drivers():
        found.update(driver.list_domains())
    return found


def test_a_spawn_that_cannot_record_its_domain_destroys_it(
        cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud.launch(name="first")  # the account's default group and one domain exist
    before = _domains(cloud)
    uuid = _launch_unstarted_spawn(cloud)
    real_tx = handlers.JobContext.tx
    calls = {"n": 0}

    def failing_first_write(self: handlers.JobContext):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:  # the write that records the defined domain's reference
            raise OperationalError("UPDATE instances", {}, Exception("server has gone away"))
        return real_tx(self)

    monkeypatch.setattr(handlers.JobContext, "tx", failing_first_write)
    cloud.drain()
    monkeypatch.undo()

    inst = cloud.instance(uuid)
    assert inst.state.value == "Error"
    assert inst.domain_ref is None
    assert _domains(cloud) == before  # the defined domain is gone again
    assert calls["n"] >= 2  # the compensation ran after the failed write
