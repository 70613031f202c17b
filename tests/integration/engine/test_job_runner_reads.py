"""The job runner asks for work without taking the database's write lock:
an empty queue costs no write transaction (on SQLite, every unit of work wakes
the runner, and a claim would otherwise queue requests behind it), and the
spawn job reads its instance outside one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from tests.integration.engine.worlds import Cloud
from tests.support import BACKEND


def _begins(cloud: Cloud, action: Any) -> list[str]:
    seen: list[str] = []

    def on_execute(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(cloud.runtime.db.engine, "before_cursor_execute", on_execute)
    try:
        action()
    finally:
        event.remove(cloud.runtime.db.engine, "before_cursor_execute", on_execute)
    return seen


@pytest.mark.skipif(BACKEND == "mysql", reason="SQLite's BEGIN IMMEDIATE marks write transactions")
def test_an_empty_queue_costs_no_write_transaction(cloud: Cloud) -> None:
    runner = cloud.runtime.runner
    assert runner is not None
    assert _begins(cloud, lambda: runner.claim()) == ["BEGIN"]


@pytest.mark.skipif(BACKEND == "mysql", reason="SQLite's BEGIN IMMEDIATE marks write transactions")
def test_a_spawn_takes_write_transactions_only_to_change_rows(cloud: Cloud) -> None:
    cloud.launch(start=False)  # the account's default group exists from here on
    from engine.services.instances import LaunchRequest

    with cloud.runtime.unit() as sv:
        uuid = sv.instances.launch(cloud.admin, LaunchRequest(
            template_uuid=cloud.template_uuid, offering_uuid=cloud.offering_uuid)
        ).instances[0].instance.uuid
    begins = _begins(cloud, cloud.drain)
    # claim, the domain reference (recorded before the start, so a failed
    # spawn's compensation finds the domain), then Running with the job's
    # result (writes); the rest are reads.
    assert begins.count("BEGIN IMMEDIATE") == 3
    assert cloud.instance(uuid).state.value == "Running"


@pytest.mark.parametrize("mysql", [False, True])
def test_the_claim_query_is_prepared_once(mysql: bool) -> None:
    """The next-runnable select compiles to fixed SQL text (no expanding IN
    list), so a claim runs it without SQLAlchemy's per-call compilation."""
    from sqlalchemy.dialects import mysql as mysql_dialect
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    from engine.jobs.runner import _next_runnable

    dialect = mysql_dialect.dialect() if mysql else sqlite_dialect.dialect()
    assert _next_runnable(mysql)._plan(dialect) is not None
