"""Template management through the ``cs`` client: registerTemplate from a real
HTTP server, createTemplate from a snapshot and a stopped VM's root volume,
copy, update, permissions across accounts, delete."""

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
        yield srv


def _name() -> str:
    return f"tmpl-{uuid.uuid4().hex[:8]}"


def _get(c: CloudStack, tid: str, which: str = "self") -> dict[str, Any]:
    return c.listTemplates(templatefilter=which, id=tid)["template"][0]  # type: ignore[no-any-return]


def _settled(c: CloudStack, tid: str) -> dict[str, Any]:
    for _ in range(300):
        t = _get(c, tid)
        if t["isready"] or not t["status"].endswith("Downloaded"):
            return t
        time.sleep(0.1)
    raise AssertionError("template stayed downloading")


def _register(c: CloudStack, images: ImageServer, catalog: Any, **kw: Any) -> dict[str, Any]:
    args = {"name": _name(), "displaytext": "test", "url": images.url("disk.qcow2"),
            "zoneid": catalog.zone_id, "format": "QCOW2", "hypervisor": "Simulator",
            "ostypeid": c.listOsTypes()["ostype"][0]["id"], **kw}
    body = c.registerTemplate(**args)
    assert body["count"] == 1
    return body["template"][0]  # type: ignore[no-any-return]


def test_register_download_deploy_delete(cs: CloudStack, images: ImageServer,
                                         catalog: Any) -> None:
    sha = images.digest("disk.qcow2", "sha512")
    t = _register(cs, images, catalog, checksum="{SHA-512}" + sha, isextractable="true",
                  **{"details[0].kernel": "/boot/vmlinuz", "details[0].cmdline": "quiet"})
    assert t["templatetype"] == "USER" and t["zoneid"] == catalog.zone_id
    assert t["isextractable"] is True
    done = _settled(cs, t["id"])
    assert done["isready"] is True and done["status"] == "Download Complete"
    assert done["size"] == images.path("disk.qcow2").stat().st_size
    assert done["details"] == {"kernel": "/boot/vmlinuz", "cmdline": "quiet"}

    vm = cs.deployVirtualMachine(**catalog.args(templateid=t["id"]))["virtualmachine"]
    assert vm["state"] == "Running" and vm["templateid"] == t["id"]
    err = api_error(cs.deleteTemplate, id=t["id"])
    assert err["errorcode"] == 431 and "in use" in err["errortext"]
    cs.deleteTemplate(id=t["id"], forced="true")
    assert cs.listTemplates(templatefilter="self", name=t["name"]).get("template") is None
    assert cs.listVirtualMachines(id=vm["id"])["virtualmachine"][0]["state"] == "Running"
    cs.destroyVirtualMachine(id=vm["id"], expunge="true")


def test_failed_download_shows_error_status(cs: CloudStack, images: ImageServer,
                                            catalog: Any) -> None:
    t = _register(cs, images, catalog, url=images.url("disk.raw"), checksum="0" * 32)
    done = _settled(cs, t["id"])
    assert done["isready"] is False and "checksum mismatch" in done["status"]
    cs.deleteTemplate(id=t["id"])
    err = api_error(cs.registerTemplate, name=_name(), displaytext="x", url="gopher://a/b",
                 zoneid=catalog.zone_id, format="QCOW2", hypervisor="Simulator")
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)


def test_create_from_snapshot_and_stopped_vm(cs: CloudStack, catalog: Any) -> None:
    ostype = cs.listOsTypes()["ostype"][0]["id"]
    vm = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    root = cs.listVolumes(virtualmachineid=vm["id"], type="ROOT")["volume"][0]
    err = api_error(cs.createTemplate, name=_name(), ostypeid=ostype, volumeid=root["id"])
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)  # the VM is running
    snap = cs.createSnapshot(volumeid=root["id"])["snapshot"]
    t = cs.createTemplate(name=_name(), displaytext="from snap", ostypeid=ostype,
                          snapshotid=snap["id"])["template"]
    assert t["isready"] is True and t["ostypeid"] == ostype
    cs.stopVirtualMachine(id=vm["id"])
    t2 = cs.createTemplate(name=_name(), displaytext="from vol", ostypeid=ostype,
                           volumeid=root["id"])["template"]
    assert t2["isready"] is True
    vm2 = cs.deployVirtualMachine(**catalog.args(templateid=t2["id"]))["virtualmachine"]
    assert vm2["state"] == "Running"
    updated = cs.updateTemplate(id=t2["id"], name="renamed-" + t2["name"],
                                displaytext="new text")["template"]
    assert updated["name"].startswith("renamed-") and updated["displaytext"] == "new text"
    err = api_error(cs.copyTemplate, id=t["id"], destzoneid=catalog.zone_id)
    assert err["errorcode"] == 431
    for v in (vm, vm2):
        cs.destroyVirtualMachine(id=v["id"], expunge="true")
    for x in (t, t2):
        cs.deleteTemplate(id=x["id"])


def test_permissions_across_accounts(cs: CloudStack, cs_user: CloudStack, user: Any,
                                     server: Any, images: ImageServer, catalog: Any) -> None:
    from tests.integration.nativeapi.clients import cs_client

    other_name = f"other-{uuid.uuid4().hex[:6]}"
    other = cs_client(server, *server.new_user(other_name), fetch_result=True)
    t = _register(cs_user, images, catalog)
    _settled(cs_user, t["id"])

    def visible_to_other() -> bool:
        return any(x["id"] == t["id"] for x in
                   other.listTemplates(templatefilter="executable").get("template", []))

    assert not visible_to_other()
    err = api_error(other.deployVirtualMachine, **catalog.args(templateid=t["id"]))
    assert err["errorcode"] == 431
    err = api_error(cs_user.updateTemplatePermissions, id=t["id"], accounts="nobody-here",
                 op="add")
    assert err["errorcode"] == 431

    assert cs_user.updateTemplatePermissions(id=t["id"], accounts=other_name, op="add")[
        "success"] is True
    perms = cs_user.listTemplatePermissions(id=t["id"])["templatepermission"][0]
    assert perms["account"] == [other_name] and perms["ispublic"] is False
    assert visible_to_other()
    shared = other.listTemplates(templatefilter="sharedexecutable")["template"]
    assert [x["id"] for x in shared if x["id"] == t["id"]] == [t["id"]]
    vm = other.deployVirtualMachine(**catalog.args(templateid=t["id"]))["virtualmachine"]
    assert vm["state"] == "Running"
    assert api_error(other.deleteTemplate, id=t["id"])["errorcode"] == 531
    assert api_error(other.updateTemplatePermissions, id=t["id"], ispublic="true")[
        "errorcode"] == 531
    assert api_error(cs_user.updateTemplatePermissions, id=t["id"], isfeatured="true")[
        "errorcode"] == 531

    cs_user.updateTemplatePermissions(id=t["id"], op="reset")
    assert not visible_to_other()
    cs_user.updateTemplatePermissions(id=t["id"], ispublic="true")
    assert visible_to_other()
    assert _get(cs_user, t["id"])["ispublic"] is True
    other.destroyVirtualMachine(id=vm["id"])
    # A destroyed VM not yet expunged still uses the template (as in CloudStack).
    assert api_error(cs_user.deleteTemplate, id=t["id"])["errorcode"] == 431
    cs_user.deleteTemplate(id=t["id"], forced="true")
