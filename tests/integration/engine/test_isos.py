"""Engine: ISOs are templates of format ISO kept apart from templates; extract
tickets are signed and expiring; an uploaded volume's file lands in the store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import InvalidParameter
from engine.models import Volume, VolumeFile
from engine.services.catalog import TemplateFilter
from engine.services.isos import IsoRequest
from engine.services.volume_transfers import UploadRequest
from engine.states import VolumeState
from tests.integration.engine.worlds import Cloud
from tests.integration.image_server import ImageServer, image_server


@pytest.fixture
def images(tmp_path: Path) -> Iterator[ImageServer]:
    with image_server(tmp_path / "www") as srv:
        yield srv


def _iso(cloud: Cloud, images: ImageServer, **kw: object) -> str:
    with cloud.runtime.unit() as sv:
        t, _ = sv.isos.register(cloud.admin, IsoRequest(name="cd", url=images.url("disk.raw"),
                                                        **kw))  # type: ignore[arg-type]
        uuid = t.uuid
    cloud.drain()
    return uuid


def test_isos_and_templates_never_mix(cloud: Cloud, images: ImageServer) -> None:
    uuid = _iso(cloud, images, bootable=False)
    with cloud.runtime.unit(readonly=True) as sv:
        isos = sv.isos.list(cloud.admin, TemplateFilter.ALL).items
        assert [i.detail.template.uuid for i in isos] == [uuid]
        assert isos[0].bootable is False and isos[0].detail.template.format == "ISO"
        templates = sv.catalog.templates(cloud.admin, TemplateFilter.ALL).items
        assert uuid not in {d.template.uuid for d in templates}
        with pytest.raises(InvalidParameter):
            sv.isos.update(cloud.admin, templates[0].template.uuid, __import__(
                "engine.services.templates", fromlist=["TemplateUpdate"]).TemplateUpdate())


def test_extract_tokens_are_signed_and_expire(cloud: Cloud, images: ImageServer) -> None:
    uuid = _iso(cloud, images)
    with cloud.runtime.unit() as sv:
        ticket, job = sv.extracts.extract_template(cloud.admin, uuid, iso=True)
    with cloud.runtime.unit(readonly=True) as sv:
        found = sv.extracts.resolve(ticket.token)
        assert found is not None
        assert found.path.read_bytes() == images.path("disk.raw").read_bytes()
        assert sv.extracts.resolve(ticket.token, now=time.time() + 5 * 3600) is None
        kind, ident, expires, mac = ticket.token.split(".")
        assert sv.extracts.resolve(f"{kind}.{ident}.{int(expires) + 1}.{mac}") is None
        assert sv.extracts.resolve("garbage") is None


def test_upload_volume_lands_in_the_store(cloud: Cloud, images: ImageServer) -> None:
    zone = cloud.zone_uuid if hasattr(cloud, "zone_uuid") else None
    with cloud.runtime.unit() as sv:
        if zone is None:
            zone = sv.catalog.zones()[0][0].uuid
        v, _ = sv.volume_transfers.upload(cloud.admin, UploadRequest(
            name="up", url=images.url("disk.raw"), format="RAW", zone_uuid=zone))
        uuid = v.uuid
    cloud.drain()
    with cloud.runtime.unit(readonly=True) as sv:
        vol = sv.session.get(Volume, uuid)
        f = sv.session.get(VolumeFile, uuid)
        assert vol is not None and f is not None
        assert vol.state == VolumeState.ALLOCATED and vol.pool_uuid is not None
        assert f.state == "Uploaded" and vol.size_bytes == images.path("disk.raw").stat().st_size
        home = cloud.runtime.config.simulator_dir.parent
        assert (home / "secondary" / f.install_path).read_bytes() == \
            images.path("disk.raw").read_bytes()
