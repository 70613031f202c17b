"""The launch's rows written without the ORM: values completed with their
defaults become records equal to a fresh read, they stay out of the session,
and the spawn's last step (Running, the start event) writes what the ORM
path wrote."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import IncorrectState, InvalidParameter, LimitExceeded, NotFound, ResourceKind
from engine.jobs.job_rows import instance_record, mark_running
from engine.jobs.queue import JobKind, enqueue, enqueued
from engine.models import Account, Event, Instance, Job, ServiceOffering, Tag, Template
from engine.querying import record_columns, record_type
from engine.services.events import event_values, record_event
from engine.services.instances import LaunchRequest
from engine.services.launch_rows import NewRows, insert_rows, new_row
from engine.services.tags import apply_tags, new_tag_values
from engine.states import JobStatus, VmState
from tests.integration.engine.worlds import Cloud


def _fresh(sv: object, model: type, uuid: str) -> object:
    record = record_type(model)
    session = sv.session  # type: ignore[attr-defined]
    row = session.execute(select(*record_columns(record)).where(
        record.column("uuid") == uuid)).one()
    return record(row)


def test_new_row_is_what_a_fresh_read_gives(cloud: Cloud) -> None:
    with cloud.runtime.unit() as sv:
        values = event_values(cloud.alice, "VM.CREATE", "x" * 300, ResourceKind.INSTANCE, "i-1")
        made = new_row(Event, values)
        assert made.uuid and made.sid and made.created_at  # Python defaults filled in
        assert made.description == "x" * 255
        rows = NewRows(sv.session)
        rows.add_values([(Event, values)])
        rows.write()
        assert not [o for o in sv.session.identity_map.values() if isinstance(o, Event)]
        assert _fresh(sv, Event, made.uuid) == made


def test_insert_rows_equals_the_orm_path(cloud: Cloud) -> None:
    with cloud.runtime.unit() as sv:
        orm = record_event(sv.session, cloud.alice, "VM.START", "Started", ResourceKind.INSTANCE,
                           "i-2", account_uuid=cloud.alice.account_uuid)
        sv.session.flush()
        values = event_values(cloud.alice, "VM.START", "Started", ResourceKind.INSTANCE, "i-2",
                              account_uuid=cloud.alice.account_uuid)
        insert_rows(sv.session, [(Event, values)])
        a, b = _fresh(sv, Event, orm.uuid), _fresh(sv, Event, values["uuid"])
    skip = {"uuid", "sid", "created_at"}
    assert ({f: v for f, v in zip(a._fields, a, strict=True) if f not in skip}
            == {f: v for f, v in zip(b._fields, b, strict=True) if f not in skip})


def test_new_tag_values_match_apply_tags(cloud: Cloud) -> None:
    pairs = [("role", "web"), ("env", "test"), ("role", "front")]
    values = new_tag_values(cloud.alice, ResourceKind.INSTANCE, ["a", "b"], pairs)
    assert [(v["resource_uuid"], v["key"], v["value"]) for v in values] == [
        ("a", "role", "front"), ("a", "env", "test"), ("b", "role", "front"), ("b", "env", "test")]
    assert {v["account_uuid"] for v in values} == {cloud.alice.account_uuid}
    with cloud.runtime.unit() as sv:
        tags = apply_tags(sv.session, cloud.alice, ResourceKind.INSTANCE, ["a"], pairs,
                          new_resources=True)
        assert [(t.key, t.value) for t in tags] == [("role", "front"), ("env", "test")]
        assert all(isinstance(t, Tag) for t in tags)
        sv.session.rollback()
    with pytest.raises(InvalidParameter):
        new_tag_values(cloud.alice, ResourceKind.INSTANCE, ["a"], [("aws:x", "1")])
    with pytest.raises(LimitExceeded):
        new_tag_values(cloud.alice, ResourceKind.INSTANCE, ["a"],
                       [(f"k{n}", "v") for n in range(51)])


def test_a_launch_leaves_its_new_rows_out_of_the_session(cloud: Cloud) -> None:
    with cloud.runtime.unit() as sv:
        launch = sv.instances.launch(cloud.alice, LaunchRequest(
            template_uuid=cloud.template_uuid, offering_uuid=cloud.offering_uuid,
            tags=(("k", "v"),)))
        d = launch.instances[0]
        held = [o for o in sv.session.identity_map.values()
                if isinstance(o, (Instance, Tag, Event))]
        assert held == []
        assert _fresh(sv, Instance, d.instance.uuid) == d.instance
        assert _fresh(sv, Tag, d.tags[0].uuid) == d.tags[0]
        # Read through the ORM later in the same transaction: the row is there.
        assert sv.session.get(Instance, d.instance.uuid).name == d.instance.name


def test_a_launch_queues_its_spawn_jobs_as_rows(cloud: Cloud) -> None:
    with cloud.runtime.unit() as sv:
        template = sv.catalog.template_record(cloud.alice, uuid=cloud.template_uuid)
        offering = sv.catalog.offering_record(uuid=cloud.offering_uuid)
        assert not isinstance(template, Template) and template.uuid == cloud.template_uuid
        assert offering.uuid == cloud.offering_uuid and offering.active
        launch = sv.instances.launch(cloud.alice, LaunchRequest(
            template_uuid=cloud.template_uuid, offering_uuid=cloud.offering_uuid,
            command="RunInstances"), template=template, offering=offering)
        (job,) = launch.jobs
        assert not [o for o in sv.session.identity_map.values()
                    if isinstance(o, (Job, Account, Template, ServiceOffering))]
        assert enqueued(sv.session)  # the committer wakes the runner
        assert _fresh(sv, Job, job.uuid) == job
        assert (job.kind, job.status, job.resource_uuid, job.command, job.payload) == (
            JobKind.SPAWN.value, JobStatus.QUEUED, launch.instances[0].instance.uuid,
            "RunInstances", "{}")
        orm = enqueue(sv.session, JobKind.SPAWN, cloud.alice, resource_kind=ResourceKind.INSTANCE,
                      resource_uuid=job.resource_uuid, command="RunInstances")
        sv.session.flush()
        same = _fresh(sv, Job, orm.uuid)
        differ = {"uuid", "sid", "created_at"}
        assert {f: v for f, v in zip(same._fields, same) if f not in differ} == {
            f: v for f, v in zip(job._fields, job) if f not in differ}
        sv.session.rollback()


def test_a_launch_checks_the_rows_it_is_given(cloud: Cloud) -> None:
    with cloud.runtime.unit() as sv:
        template = sv.catalog.template_record(cloud.alice, uuid=cloud.template_uuid)
        offering = sv.catalog.offering_record(uuid=cloud.offering_uuid)
        inactive = type(offering)(False if f == "active" else v
                                  for f, v in zip(offering._fields, offering))
        with pytest.raises(NotFound):
            sv.instances.launch(cloud.alice, LaunchRequest(
                template_uuid=cloud.template_uuid, offering_uuid=cloud.offering_uuid),
                template=template, offering=inactive)
        sv.session.rollback()


def test_mark_running(cloud: Cloud) -> None:
    with cloud.runtime.unit() as sv:
        uuid = sv.instances.launch(cloud.alice, LaunchRequest(
            template_uuid=cloud.template_uuid, offering_uuid=cloud.offering_uuid)
        ).instances[0].instance.uuid
    with cloud.runtime.unit() as sv:
        inst = instance_record(sv.session, uuid)
        assert inst is not None and inst.state == VmState.STARTING
        now = mark_running(sv.session, inst, "dom-1")
        assert (now.state, now.power_state, now.domain_ref) == (VmState.RUNNING, "PowerOn",
                                                                "dom-1")
        assert now.updated_at == now.state_changed_at is not None
        assert _fresh(sv, Instance, uuid) == now
    with cloud.runtime.unit() as sv:
        sv.session.execute(Instance.__table__.update().where(  # type: ignore[attr-defined]
            Instance.__table__.c.uuid == uuid).values(state=VmState.DESTROYED))  # type: ignore[attr-defined]
        gone = instance_record(sv.session, uuid)
        with pytest.raises(IncorrectState):
            mark_running(sv.session, gone, "dom-1")
