"""TemplateService and the template jobs against a real DB, a real HTTP server
and the simulator: download, checksum, Error states, create, copy, delete,
sharing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.errors import InvalidParameter, NotFound, PermissionDenied
from engine.models import ImageStore, Template, TemplateZone, Volume
from engine.services.accounts import principal_of
from engine.services.catalog import TemplateFilter
from engine.services.instances import LaunchRequest
from engine.services.template_permissions import AccountKey, PermissionChange, PermissionOp
from engine.services.templates import TemplateRequest
from engine.states import Role, TemplateState
from tests.integration.engine.worlds import Cloud
from tests.integration.image_server import ImageServer, image_server


@pytest.fixture
def images(tmp_path: Path) -> Iterator[ImageServer]:
    with image_server(tmp_path / "www") as srv:
        yield srv


def _register(cloud: Cloud, url: str, who=None, **kw) -> str:  # type: ignore[no-untyped-def]
    with cloud.runtime.unit() as sv:
        t, jobs = sv.templates.register(who or cloud.admin, TemplateRequest(
            name=kw.pop("name", "tmpl"), url=url, hypervisor="Simulator", **kw))
        assert len(jobs) == 1
        uuid = t.uuid
    cloud.drain()
    return uuid


def _placement(cloud: Cloud, uuid: str) -> TemplateZone:
    with cloud.runtime.unit(readonly=True) as sv:
        tz = sv.session.scalar(select(TemplateZone).where(TemplateZone.template_uuid == uuid))
        assert tz is not None
        return tz


def _store_file(cloud: Cloud, tz: TemplateZone) -> Path:
    home = cloud.runtime.config.simulator_dir.parent
    return home / "secondary" / tz.install_path


def _template(cloud: Cloud, uuid: str) -> Template:
    with cloud.runtime.unit(readonly=True) as sv:
        t = sv.session.get(Template, uuid)
        assert t is not None
        return t


def _used(cloud: Cloud) -> int:
    with cloud.runtime.unit(readonly=True) as sv:
        return sv.session.scalar(select(ImageStore.used_bytes))  # type: ignore[return-value]


def test_register_downloads_into_the_image_store(cloud: Cloud, images: ImageServer) -> None:
    before = _used(cloud)
    sha = images.digest("disk.qcow2", "sha256")
    uuid = _register(cloud, images.url("disk.qcow2"), checksum="{SHA256}" + sha,
                     details={"kernel": "/boot/vmlinuz", "cmdline": "console=ttyS0", "x": "1"})
    tz = _placement(cloud, uuid)
    assert tz.state == TemplateState.READY and tz.download_percent == 100
    path = _store_file(cloud, tz)
    assert path.read_bytes() == images.path("disk.qcow2").read_bytes()
    t = _template(cloud, uuid)
    assert t.size_bytes == path.stat().st_size
    assert t.format == "QCOW2"
    assert '"kernel"' in (t.boot_spec or "") and '"x"' in (t.details or "")
    assert _used(cloud) == before + t.size_bytes


def test_plain_md5_checksum_is_accepted(cloud: Cloud, images: ImageServer) -> None:
    uuid = _register(cloud, images.url("disk.raw"), checksum=images.digest("disk.raw"))
    assert _placement(cloud, uuid).state == TemplateState.READY
    assert _template(cloud, uuid).format == "RAW"


def test_checksum_mismatch_leaves_error_and_no_file(cloud: Cloud, images: ImageServer) -> None:
    uuid = _register(cloud, images.url("disk.raw"), checksum="{SHA1}" + "0" * 40)
    tz = _placement(cloud, uuid)
    assert tz.state == TemplateState.ERROR
    assert "checksum mismatch" in tz.error_text
    home = cloud.runtime.config.simulator_dir.parent
    assert not list((home / "secondary").rglob(f"*{_template(cloud, uuid).sid}*.raw*"))


def test_missing_file_is_an_error_with_the_http_status(cloud: Cloud, images: ImageServer) -> None:
    uuid = _register(cloud, images.url("nope.qcow2"))
    tz = _placement(cloud, uuid)
    assert tz.state == TemplateState.ERROR and "HTTP 404" in tz.error_text


def test_bad_url_and_checksum_are_refused(cloud: Cloud) -> None:
    with cloud.runtime.unit() as sv:
        with pytest.raises(InvalidParameter):
            sv.templates.register(cloud.admin, TemplateRequest(name="x", url="ftp://a/b"))
        with pytest.raises(InvalidParameter):
            sv.templates.register(cloud.admin, TemplateRequest(
                name="x", url="http://a/b.qcow2", checksum="{CRC}00"))


def test_launch_from_registered_template_and_forced_delete(cloud: Cloud,
                                                            images: ImageServer) -> None:
    uuid = _register(cloud, images.url("disk.qcow2"))
    with cloud.runtime.unit() as sv:
        launch = sv.instances.launch(cloud.admin, LaunchRequest(
            template_uuid=uuid, offering_uuid=cloud.offering_uuid, name="fromtmpl"))
        vm = launch.instances[0].instance.uuid
    cloud.drain()
    assert cloud.instance(vm).state.value == "Running"
    path = _store_file(cloud, _placement(cloud, uuid))
    used = _used(cloud)
    with cloud.runtime.unit() as sv, pytest.raises(InvalidParameter, match="in use"):
        sv.templates.delete(cloud.admin, uuid)
    with cloud.runtime.unit() as sv:
        sv.templates.delete(cloud.admin, uuid, force=True)
    cloud.drain()
    assert not path.exists()
    assert _used(cloud) == used - images.path("disk.qcow2").stat().st_size
    assert _template(cloud, uuid).removed_at is not None
    assert cloud.instance(vm).state.value == "Running"


def test_sharing_controls_who_may_launch(cloud: Cloud, images: ImageServer) -> None:
    with cloud.runtime.unit() as sv:
        bob = sv.accounts.create_account("bob-tmpl", Role.USER)
        bob_p = principal_of(sv.session, bob[1])
        bob_number = bob[0].number
    uuid = _register(cloud, images.url("disk.raw"), who=cloud.alice)
    req = LaunchRequest(template_uuid=uuid, offering_uuid=cloud.offering_uuid, name="b")
    with cloud.runtime.unit() as sv, pytest.raises(NotFound):
        sv.instances.launch(bob_p, req)
    with cloud.runtime.unit() as sv, pytest.raises(NotFound):
        sv.templates.delete(bob_p, uuid)
    with cloud.runtime.unit() as sv:
        sharing = sv.templates.permissions.change(cloud.alice, uuid, PermissionChange(
            PermissionOp.ADD, (bob_number,), AccountKey.NUMBER))
        assert [a.number for a in sharing.accounts] == [bob_number]
    with cloud.runtime.unit() as sv:
        shared = sv.catalog.templates(bob_p, TemplateFilter.SHARED_EXECUTABLE).items
        assert [d.template.uuid for d in shared] == [uuid]
        sv.instances.launch(bob_p, req)
    with cloud.runtime.unit() as sv, pytest.raises(PermissionDenied):
        sv.templates.delete(bob_p, uuid)
    with cloud.runtime.unit() as sv:
        sv.templates.permissions.change(cloud.alice, uuid, PermissionChange(PermissionOp.RESET))
    with cloud.runtime.unit() as sv, pytest.raises(NotFound):
        sv.instances.launch(bob_p, req)
    cloud.drain()


def test_create_from_snapshot_and_copy(cloud: Cloud) -> None:
    vm = cloud.launch()
    with cloud.runtime.unit() as sv:
        root = sv.session.scalar(select(Volume.uuid).where(Volume.instance_uuid == vm))
        snap, _ = sv.snapshots.create(cloud.admin, root or "")
        snap_uuid = snap.uuid
    cloud.drain()
    with cloud.runtime.unit() as sv:
        t, _ = sv.templates.create_from_snapshot(cloud.admin, snap_uuid,
                                                 TemplateRequest(name="from-snap"))
        uuid = t.uuid
    cloud.drain()
    assert _placement(cloud, uuid).state == TemplateState.READY
    assert _template(cloud, uuid).source_snapshot_uuid == snap_uuid
    with cloud.runtime.unit() as sv:
        copy, _ = sv.templates.duplicate(cloud.alice, cloud.template_uuid, "my-copy")
        copy_uuid = copy.uuid
    cloud.drain()
    t = _template(cloud, copy_uuid)
    assert t.account_uuid == cloud.alice.account_uuid and not t.is_public
    assert t.source_template_uuid == cloud.template_uuid
    assert _placement(cloud, copy_uuid).state == TemplateState.READY
