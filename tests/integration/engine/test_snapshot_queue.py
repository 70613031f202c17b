"""Snapshots of one volume queue: a snapshot asked for while the volume is
being snapshotted is taken after the earlier one, and the volume settles only
when the last is taken (or has failed). Also: a snapshot a live template
records as its source is kept when the caller asks for that rule."""

from __future__ import annotations

import pytest

from engine.errors import IncorrectState, InUse
from engine.models import Snapshot, Template
from engine.services.templates import TemplateRequest
from engine.states import JobStatus, SnapshotState, VolumeState
from tests.integration.engine.worlds import Cloud


def _state(c: Cloud, uuid: str) -> SnapshotState:
    with c.runtime.unit(readonly=True) as sv:
        snap = sv.session.get(Snapshot, uuid)
        assert snap is not None
        return snap.state


def test_snapshots_of_one_volume_queue(cloud: Cloud) -> None:
    inst = cloud.launch()
    v = cloud.create(1)
    cloud.attach(v.uuid, inst)
    with cloud.runtime.unit() as sv:
        first, first_job = sv.snapshots.create(cloud.admin, v.uuid)
    with cloud.runtime.unit() as sv:
        second, second_job = sv.snapshots.create(cloud.admin, v.sid)
    assert cloud.volume(v.uuid).state == VolumeState.SNAPSHOTTING
    # Other work still waits for the volume.
    with pytest.raises(IncorrectState), cloud.runtime.unit() as sv:
        sv.volumes.detach(cloud.admin, v.uuid)
    cloud.drain()
    assert cloud.job(first_job.uuid).status == JobStatus.SUCCEEDED
    assert cloud.job(second_job.uuid).status == JobStatus.SUCCEEDED
    assert {_state(cloud, s.uuid) for s in (first, second)} == {SnapshotState.BACKED_UP}
    assert cloud.volume(v.uuid).state == VolumeState.READY


def test_queued_snapshots_that_fail_settle_the_volume(cloud: Cloud) -> None:
    inst = cloud.launch()
    v = cloud.create(1)
    cloud.attach(v.uuid, inst)
    cloud.fault("snapshot_disk")
    with cloud.runtime.unit() as sv:
        first, _ = sv.snapshots.create(cloud.admin, v.uuid)
        second, _ = sv.snapshots.create(cloud.admin, v.uuid)
    cloud.drain()
    cloud.fault("snapshot_disk", on=False)
    assert {_state(cloud, s.uuid) for s in (first, second)} == {SnapshotState.ERROR}
    assert cloud.volume(v.uuid).state == VolumeState.READY


def test_template_source_snapshot_is_kept_on_request(cloud: Cloud) -> None:
    inst = cloud.launch()
    v = cloud.create(1)
    cloud.attach(v.uuid, inst)
    with cloud.runtime.unit() as sv:
        snap, _ = sv.snapshots.create(cloud.admin, v.uuid)
    cloud.drain()
    with cloud.runtime.unit() as sv:
        template, _ = sv.templates.create_from_snapshot(
            cloud.admin, snap.uuid, TemplateRequest(name="from-snap", display_text="t"))
        template_sid, template_uuid = template.sid, template.uuid
    cloud.drain()
    with pytest.raises(InUse) as err, cloud.runtime.unit() as sv:
        sv.snapshots.delete(cloud.admin, snap.uuid, keep_template_sources=True)
    assert err.value.user is not None and err.value.user[1] == template_sid
    with cloud.runtime.unit() as sv:  # the default (CloudStack's rule): deletable
        sv.snapshots.delete(cloud.admin, snap.uuid)
    with cloud.runtime.unit(readonly=True) as sv:
        kept = sv.session.get(Template, template_uuid)
        assert kept is not None and kept.removed_at is None


def test_the_runner_takes_a_volumes_snapshots_one_at_a_time(cloud: Cloud) -> None:
    """A later snapshot of a volume is not claimed while an earlier one is
    unfinished (it does not sit in a worker waiting for its turn), while a job
    of another resource is."""
    inst = cloud.launch()
    v = cloud.create(1)
    cloud.attach(v.uuid, inst)
    with cloud.runtime.unit() as sv:
        _, first_job = sv.snapshots.create(cloud.admin, v.uuid)
        _, second_job = sv.snapshots.create(cloud.admin, v.uuid)
    with cloud.runtime.unit() as sv:
        _, other = sv.instances.stop(cloud.admin, inst)
    assert other is not None
    runner = cloud.runtime.runner
    assert runner is not None
    claimed = runner.claim_job()
    assert claimed is not None and claimed.uuid == first_job.uuid
    following = runner.claim_job()  # the second snapshot is blocked by the first
    assert following is not None and following.uuid == other.uuid
    assert runner.claim_job() is None
    runner.run(claimed.uuid, claimed=claimed)
    last = runner.claim_job()
    assert last is not None and last.uuid == second_job.uuid
    runner.run(last.uuid, claimed=last)
    runner.run(following.uuid, claimed=following)
    assert {cloud.job(j).status for j in (first_job.uuid, second_job.uuid, other.uuid)} == {
        JobStatus.SUCCEEDED}
