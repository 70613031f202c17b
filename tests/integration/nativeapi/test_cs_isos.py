"""ISOs through the ``cs`` client: registerIso from a real HTTP server, listIsos
filters (never templates; listTemplates never ISOs), update, permissions,
attach/detach on a VM, deploy from an ISO, delete."""

from __future__ import annotations

import time
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
        (srv.root / "boot.iso").write_bytes(b"CD001" + bytes(100_000))
        yield srv


def _ready(c: CloudStack, iso_id: str) -> dict[str, Any]:
    for _ in range(300):
        iso = c.listIsos(isofilter="self", id=iso_id)["iso"][0]
        if iso["isready"] or not iso["status"].endswith("Downloaded"):
            return iso  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError("ISO stayed downloading")


def _register(c: CloudStack, images: ImageServer, zone: str, **kw: Any) -> dict[str, Any]:
    body = c.registerIso(name=f"iso-{uuid.uuid4().hex[:8]}", displaytext="an iso",
                         url=images.url("boot.iso"), zoneid=zone, **kw)
    assert body["count"] == 1
    return body["iso"][0]  # type: ignore[no-any-return]


def test_register_list_update_delete(cs: CloudStack, images: ImageServer, catalog: Any) -> None:
    iso = _register(cs, images, catalog.zone_id, bootable="false",
                    checksum=images.digest("boot.iso"))
    assert iso["format"] == "ISO" and iso["bootable"] is False
    assert iso["zoneid"] == catalog.zone_id
    done = _ready(cs, iso["id"])
    assert done["isready"] is True and done["status"] == "Download Complete"
    assert done["size"] == images.path("boot.iso").stat().st_size
    # ISOs and templates never mix
    assert all(t["id"] != iso["id"] for t in
               cs.listTemplates(templatefilter="all").get("template", []))
    assert all(i["format"] == "ISO" for i in cs.listIsos(isofilter="all")["iso"])
    assert api_error(cs.deleteIso, id=catalog.template_id)["errorcode"] == 431
    # filters
    assert cs.listIsos(isofilter="self", id=iso["id"], bootable="true").get("iso") is None
    assert cs.listIsos(isofilter="self", keyword=iso["name"][4:])["count"] == 1
    assert cs.listIsos(isofilter="featured", id=iso["id"]).get("iso") is None
    updated = cs.updateIso(id=iso["id"], displaytext="renamed", bootable="true")["iso"]
    assert updated["displaytext"] == "renamed" and updated["bootable"] is True
    cs.deleteIso(id=iso["id"])
    assert api_error(cs.listIsos, isofilter="self", id=iso["id"])["errorcode"] == 431


def test_permissions_and_user_visibility(cs: CloudStack, cs_user: CloudStack, user: Any,
                                         images: ImageServer, catalog: Any) -> None:
    iso = _register(cs, images, catalog.zone_id)
    _ready(cs, iso["id"])
    assert cs_user.listIsos(isofilter="executable").get("iso", []) == [] or all(
        i["id"] != iso["id"] for i in cs_user.listIsos(isofilter="executable")["iso"])
    cs.updateIsoPermissions(id=iso["id"], op="add", accounts=user.name)
    perms = cs.listIsoPermissions(id=iso["id"])["templatepermission"][0]
    assert perms["account"] == [user.name]
    assert [i["id"] for i in cs_user.listIsos(isofilter="sharedexecutable")["iso"]] == [iso["id"]]
    assert api_error(cs_user.deleteIso, id=iso["id"])["errorcode"] == 531
    cs.deleteIso(id=iso["id"])


def test_attach_detach_and_deploy_from_iso(cs: CloudStack, images: ImageServer,
                                           catalog: Any) -> None:
    iso = _register(cs, images, catalog.zone_id)
    _ready(cs, iso["id"])
    vm = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    attached = cs.attachIso(id=iso["id"], virtualmachineid=vm["id"])
    assert attached["virtualmachine"]["id"] == vm["id"]
    err = api_error(cs.attachIso, id=iso["id"], virtualmachineid=vm["id"])
    assert err["errorcode"] == 431
    assert api_error(cs.deleteIso, id=iso["id"])["errorcode"] == 431  # in use
    cs.detachIso(virtualmachineid=vm["id"])
    assert api_error(cs.detachIso, virtualmachineid=vm["id"])["errorcode"] == 431
    cs.destroyVirtualMachine(id=vm["id"], expunge="true")

    err = api_error(cs.deployVirtualMachine, **catalog.args(templateid=iso["id"]))
    assert err["errorcode"] == 431 and "disk offering" in err["errortext"]
    small = next(o for o in cs.listDiskOfferings()["diskoffering"] if not o["iscustomized"])
    vm = cs.deployVirtualMachine(**catalog.args(templateid=iso["id"],
                                                diskofferingid=small["id"]))["virtualmachine"]
    assert vm["state"] == "Running" and vm["templateid"] == iso["id"]
    root = cs.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    assert root["size"] == small["disksize"] * 1024 ** 3
    cs.detachIso(virtualmachineid=vm["id"])  # it booted with the ISO in its drive
    cs.destroyVirtualMachine(id=vm["id"], expunge="true")
    cs.deleteIso(id=iso["id"])
