"""uploadVolume from a real HTTP server (then attached like any data volume)
and migrateVolume between primary storage pools."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cs import CloudStack

from tests.integration.image_server import ImageServer, image_server
from tests.integration.nativeapi.errors import api_error


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageServer]:
    with image_server(tmp_path_factory.mktemp("www")) as srv:
        yield srv


def test_upload_then_attach(cs: CloudStack, images: ImageServer, catalog: Any) -> None:
    vol = cs.uploadVolume(name=f"up-{uuid.uuid4().hex[:8]}", url=images.url("disk.raw"),
                          format="RAW", zoneid=catalog.zone_id,
                          checksum=images.digest("disk.raw"))["volume"]
    assert vol["size"] == images.path("disk.raw").stat().st_size
    assert vol["state"] == "Allocated" and vol["type"] == "DATADISK"
    vm = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    attached = cs.attachVolume(id=vol["id"], virtualmachineid=vm["id"])["volume"]
    assert attached["virtualmachineid"] == vm["id"] and attached["state"] == "Ready"
    cs.detachVolume(id=vol["id"])
    cs.destroyVirtualMachine(id=vm["id"], expunge="true")
    cs.deleteVolume(id=vol["id"])


def test_upload_refusals_and_failed_download(cs: CloudStack, images: ImageServer,
                                             catalog: Any) -> None:
    base = {"name": "bad", "zoneid": catalog.zone_id}
    assert api_error(cs.uploadVolume, url=images.url("disk.raw"), format="EXE",
                  **base)["errorcode"] == 431
    assert api_error(cs.uploadVolume, url="ftp://x/y", format="RAW", **base)["errorcode"] == 431
    err = api_error(cs.uploadVolume, url=images.url("missing.raw"), format="RAW", **base)
    assert err["errorcode"] == 530
    bad = [v for v in cs.listVolumes(name="bad").get("volume", []) if v["state"] == "Error"]
    assert bad
    for v in bad:
        cs.deleteVolume(id=v["id"])


def test_migrate_detached_volume(cs: CloudStack, catalog: Any) -> None:
    custom = next(o for o in cs.listDiskOfferings()["diskoffering"] if o["iscustomized"])
    vol = cs.createVolume(name="mig", zoneid=catalog.zone_id, size=1,
                          diskofferingid=custom["id"])["volume"]
    pools = [p for p in cs.listStoragePools(zoneid=catalog.zone_id)["storagepool"]
             if p["state"] == "Up"]
    current = cs.listVolumes(id=vol["id"])["volume"][0].get("storageid")
    err = api_error(cs.migrateVolume, volumeid=vol["id"], storageid=current or pools[0]["id"])
    assert err["errorcode"] == 431
    assert api_error(cs.migrateVolume, volumeid=vol["id"], storageid=pools[0]["id"],
                  livemigrate="true")["errorcode"] == 431
    others = [p for p in pools if p["id"] != current]
    if others:
        moved = cs.migrateVolume(volumeid=vol["id"], storageid=others[0]["id"])["volume"]
        assert moved["storageid"] == others[0]["id"]
    cs.deleteVolume(id=vol["id"])
