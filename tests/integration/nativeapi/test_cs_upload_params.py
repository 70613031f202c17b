"""getUploadParamsForVolume, then a real HTTP POST of a file to ``postURL``:
the file becomes the volume's content (extractable again, attachable)."""

from __future__ import annotations

import hashlib
import os
import urllib.request
import uuid
from typing import Any

import requests
from cs import CloudStack

from tests.integration.nativeapi.errors import api_error

CONTENT = os.urandom(64 * 1024) + b"nimbostack"


def _params(cs: CloudStack, catalog: Any, **extra: Any) -> dict[str, Any]:
    out = cs.getUploadParamsForVolume(name=f"post-{uuid.uuid4().hex[:8]}", format="RAW",
                                      zoneid=catalog.zone_id, **extra)
    return out["getuploadparams"]  # type: ignore[no-any-return]


def _post(params: dict[str, Any], content: bytes = CONTENT, *, headers: bool = True,
          **changes: str) -> requests.Response:
    ticket = {"signature": params["signature"], "metadata": params["metadata"],
              "expires": params["expires"], **changes}
    files = {"file": ("disk.raw", content, "application/octet-stream")}
    if headers:
        return requests.post(params["postURL"], files=files, timeout=30,
                             headers={f"X-{k}": v for k, v in ticket.items()})
    return requests.post(params["postURL"], files=files, data=ticket, timeout=30)


def _volume(cs: CloudStack, vid: str) -> dict[str, Any]:
    return cs.listVolumes(id=vid)["volume"][0]  # type: ignore[no-any-return]


def test_post_upload_lands_as_the_volume_content(cs: CloudStack, catalog: Any) -> None:
    params = _params(cs, catalog)
    assert set(params) >= {"id", "postURL", "metadata", "expires", "signature"}
    assert params["postURL"].endswith(f"/client/upload/{params['id']}")
    waiting = _volume(cs, params["id"])
    assert waiting["state"] == "Creating" and waiting["type"] == "DATADISK"

    resp = _post(params)
    assert resp.status_code == 200, resp.text
    vol = _volume(cs, params["id"])
    assert vol["state"] == "Allocated" and vol["size"] == len(CONTENT)
    # The stored bytes are exactly the posted ones: extract them back.
    url = cs.extractVolume(id=vol["id"], mode="HTTP_DOWNLOAD",
                           zoneid=catalog.zone_id)["volume"]["url"]
    with urllib.request.urlopen(url, timeout=30) as got:
        assert hashlib.sha256(got.read()).digest() == hashlib.sha256(CONTENT).digest()
    # A ticket is good for one upload only.
    assert _post(params).status_code == 403
    # The volume attaches like any data volume.
    vm = cs.deployVirtualMachine(**catalog.args())["virtualmachine"]
    attached = cs.attachVolume(id=vol["id"], virtualmachineid=vm["id"])["volume"]
    assert attached["virtualmachineid"] == vm["id"] and attached["state"] == "Ready"
    cs.detachVolume(id=vol["id"])
    cs.destroyVirtualMachine(id=vm["id"], expunge="true")
    cs.deleteVolume(id=vol["id"])


def test_ticket_as_form_fields_and_checksum(cs: CloudStack, catalog: Any) -> None:
    digest = hashlib.md5(CONTENT).hexdigest()
    params = _params(cs, catalog, checksum=digest)
    resp = _post(params, headers=False)
    assert resp.status_code == 200, resp.text
    assert _volume(cs, params["id"])["state"] == "Allocated"
    cs.deleteVolume(id=params["id"])


def test_checksum_mismatch_fails_the_volume(cs: CloudStack, catalog: Any) -> None:
    params = _params(cs, catalog, checksum=hashlib.md5(b"other").hexdigest())
    resp = _post(params)
    assert resp.status_code == 400 and "checksum" in resp.text
    vol = _volume(cs, params["id"])
    assert vol["state"] == "Error" and vol["size"] == 0
    assert "storageid" not in vol  # no capacity was taken
    cs.deleteVolume(id=params["id"])


def test_forged_or_expired_tickets_are_refused(cs: CloudStack, catalog: Any) -> None:
    params = _params(cs, catalog)
    for changes in ({"signature": "x" + params["signature"][1:]},
                    {"expires": "2020-01-01T00:00:00+0000"},
                    {"metadata": params["metadata"] + "A"}):
        assert _post(params, **changes).status_code == 403
    other = _params(cs, catalog)
    # Another volume's ticket does not open this one.
    assert _post({**params, "signature": other["signature"],
                  "metadata": other["metadata"], "expires": other["expires"]}).status_code == 403
    assert _volume(cs, params["id"])["state"] == "Creating"
    # A volume never uploaded can be deleted; its ticket is then dead.
    cs.deleteVolume(id=params["id"])
    assert _post(params).status_code == 403
    assert _post(other, b"").status_code == 400  # empty file
    assert _volume(cs, other["id"])["state"] == "Error"
    cs.deleteVolume(id=other["id"])


def test_refusals(cs: CloudStack, catalog: Any) -> None:
    base = {"name": "bad", "zoneid": catalog.zone_id}
    assert api_error(cs.getUploadParamsForVolume, format="EXE", **base)["errorcode"] == 431
    assert api_error(cs.getUploadParamsForVolume, format="RAW", checksum="{XX}12",
                     **base)["errorcode"] == 431
    assert api_error(cs.getUploadParamsForVolume, format="RAW", name="x",
                     zoneid=str(uuid.uuid4()))["errorcode"] == 431
