"""extractTemplate/extractIso/extractVolume: the job's url downloads the stored
file from the management server; refusals for non-extractable images, bad
modes and forged tokens."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
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


def _template(cs: CloudStack, images: ImageServer, catalog: Any, **kw: Any) -> str:
    t = cs.registerTemplate(name=f"x-{uuid.uuid4().hex[:8]}", displaytext="x",
                            url=images.url("disk.raw"), zoneid=catalog.zone_id, format="RAW",
                            hypervisor="Simulator", **kw)["template"][0]
    for _ in range(300):
        if cs.listTemplates(templatefilter="self", id=t["id"])["template"][0]["isready"]:
            return t["id"]  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError("template not ready")


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()  # type: ignore[no-any-return]


def test_extract_template_downloads_the_file(cs: CloudStack, cs_user: CloudStack,
                                             images: ImageServer, catalog: Any) -> None:
    tid = _template(cs, images, catalog, isextractable="true", ispublic="true")
    result = cs.extractTemplate(id=tid, mode="HTTP_DOWNLOAD")["template"]
    assert result["id"] == tid and result["extractMode"] == "HTTP_DOWNLOAD"
    assert result["state"] == "DOWNLOAD_URL_CREATED" and result["zoneid"] == catalog.zone_id
    assert "/client/download/" in result["url"]
    assert _fetch(result["url"]) == images.path("disk.raw").read_bytes()
    forged = result["url"][:-3] + ("AAA" if not result["url"].endswith("AAA") else "BBB")
    with pytest.raises(urllib.error.HTTPError) as err:
        _fetch(forged)
    assert err.value.code == 404
    assert api_error(cs.extractTemplate, id=tid, mode="FTP_UPLOAD")["errorcode"] == 431
    assert api_error(cs.extractIso, id=tid, mode="HTTP_DOWNLOAD")["errorcode"] == 431
    cs.deleteTemplate(id=tid)
    with pytest.raises(urllib.error.HTTPError):
        _fetch(result["url"])  # gone with the template


def test_not_extractable_is_refused_for_users(cs: CloudStack, cs_user: CloudStack,
                                              images: ImageServer, catalog: Any) -> None:
    tid = _template(cs, images, catalog, ispublic="true")
    err = api_error(cs_user.extractTemplate, id=tid, mode="HTTP_DOWNLOAD")
    assert err["errorcode"] == 531
    # the built-in template has no stored file
    err = api_error(cs.extractTemplate, id=catalog.template_id, mode="HTTP_DOWNLOAD")
    assert err["errorcode"] in (431, 531)
    cs.deleteTemplate(id=tid)


def test_extract_iso_and_uploaded_volume(cs: CloudStack, images: ImageServer,
                                         catalog: Any) -> None:
    iso = cs.registerIso(name=f"i-{uuid.uuid4().hex[:8]}", displaytext="i",
                         url=images.url("disk.raw"), zoneid=catalog.zone_id,
                         isextractable="true")["iso"][0]
    for _ in range(300):
        if cs.listIsos(isofilter="self", id=iso["id"])["iso"][0]["isready"]:
            break
        time.sleep(0.1)
    got = cs.extractIso(id=iso["id"], mode="HTTP_DOWNLOAD")["iso"]
    assert _fetch(got["url"]) == images.path("disk.raw").read_bytes()
    cs.deleteIso(id=iso["id"])

    vol = cs.uploadVolume(name=f"u-{uuid.uuid4().hex[:8]}", url=images.url("disk.raw"),
                          format="RAW", zoneid=catalog.zone_id)["volume"]
    got = cs.extractVolume(id=vol["id"], mode="HTTP_DOWNLOAD", zoneid=catalog.zone_id)["volume"]
    assert got["id"] == vol["id"]
    assert _fetch(got["url"]) == images.path("disk.raw").read_bytes()
    plain = cs.createVolume(name="plain", zoneid=catalog.zone_id, size=1,
                            diskofferingid=next(o["id"] for o in cs.listDiskOfferings()[
                                "diskoffering"] if o["iscustomized"]))["volume"]
    err = api_error(cs.extractVolume, id=plain["id"], mode="HTTP_DOWNLOAD", zoneid=catalog.zone_id)
    assert err["errorcode"] == 431
    cs.deleteVolume(id=plain["id"])
    cs.deleteVolume(id=vol["id"])
