"""Wire behaviour of /client/api: auth failures, error envelopes, XML, discovery."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests
from cs import CloudStack, CloudStackApiException

from nativeapi import registry


def _error(call: Any, **params: Any) -> tuple[dict[str, Any], requests.Response]:
    with pytest.raises(CloudStackApiException) as err:
        call(**params)
    return err.value.error, err.value.response


def test_bad_signature_is_401_without_cserrorcode(make_cs: Any) -> None:
    bad = make_cs(secret="not-the-secret")
    body, response = _error(bad.listZones)
    assert response.status_code == 401
    assert body == {"uuidList": [], "errorcode": 401,
                    "errortext": "unable to verify user credentials and/or request signature"}
    assert list(response.json()) == ["listzonesresponse"]
    assert response.headers["X-Description"] == body["errortext"]


def test_unknown_api_key_is_401(make_cs: Any) -> None:
    body, response = _error(make_cs(key="AKIANOSUCHKEY0000000").listZones)
    assert response.status_code == 401 and body["errorcode"] == 401


def test_expired_signature_v3_is_401(cs: CloudStack) -> None:
    body, response = _error(cs.listZones, signatureVersion="3",
                            expires="2000-01-01T00:00:00+0000")
    assert response.status_code == 401 and "cserrorcode" not in body
    # Without signatureVersion=3 the same expires is not checked (libcloud-style clients).
    assert cs.listZones(expires="2000-01-01T00:00:00+0000")["count"] == 1


def test_unknown_command_is_401_errorresponse(cs: CloudStack) -> None:
    body, response = _error(cs.listFrobnicators)
    assert response.status_code == 401
    assert list(response.json()) == ["errorresponse"]
    assert body["errorcode"] == 401


def test_no_command_is_432(server: Any) -> None:
    response = requests.get(server.cloudstack_url, params={"response": "json"}, timeout=10)
    assert response.status_code == 432
    assert response.json() == {"errorresponse": {"uuidList": [], "errorcode": 432,
                                                 "errortext": "no command specified"}}


def test_missing_required_parameter_is_431(cs: CloudStack) -> None:
    body, response = _error(cs.listTemplates)
    assert response.status_code == 431
    assert body == {"uuidList": [], "errorcode": 431, "cserrorcode": 9999,
                    "errortext": "Unable to execute API command listtemplates due to missing "
                                 "parameter templatefilter"}


def test_unknown_uuid_has_the_canonical_text(cs: CloudStack, catalog: Any) -> None:
    missing = str(uuid.uuid4())
    body, response = _error(cs.listVirtualMachines, id=missing)
    assert response.status_code == 431
    assert body["errortext"] == (
        "Unable to execute API command listvirtualmachines due to invalid value. Invalid "
        f"parameter id value={missing} due to incorrect long value format, or entity does not "
        "exist or due to incorrect parameter annotation for the field in api cmd class.")
    body, _ = _error(cs.deployVirtualMachine, **catalog.args(zoneid=missing))
    assert body["errorcode"] == 431
    assert f"Invalid parameter zoneid value={missing} due to" in body["errortext"]
    body, _ = _error(cs.queryAsyncJobResult, jobid=missing, fetch_result=False)
    assert f"Invalid parameter jobid value={missing} due to" in body["errortext"]
    body, _ = _error(cs.startVirtualMachine, id="not-a-uuid")
    assert "Invalid parameter id value=not-a-uuid due to" in body["errortext"]


def test_invalid_values_are_431(cs: CloudStack, catalog: Any) -> None:
    body, _ = _error(cs.listTemplates, templatefilter="bogus")
    assert (body["errorcode"], body["cserrorcode"]) == (431, 4350)
    body, _ = _error(cs.deployVirtualMachine, **catalog.args(userdata="%%%not base64"))
    assert (body["errorcode"], body["cserrorcode"]) == (431, 4350)
    body, _ = _error(cs.listZones, page="x", pagesize=1)
    assert body["errortext"] == ("Unable to execute API command listzones due to invalid "
                                 "value x for parameter page")


def test_empty_list_is_an_empty_object(server: Any, user: Any) -> None:
    response = requests.get(server.cloudstack_url, timeout=10, params=_signed(
        server, user, command="listVirtualMachines", response="json"))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert response.json() == {"listvirtualmachinesresponse": {}}


def _signed(server: Any, user: Any, **params: str) -> dict[str, str]:
    from nativeapi.protocol.signature import sign

    params["apiKey"] = user.key
    params["signature"] = sign(params, user.secret)
    return params


def test_xml_is_the_default_format(cs: CloudStack) -> None:
    text = cs.listZones(json=False)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text)
    assert root.tag == "listzonesresponse"
    assert root.findtext("count") == "1"
    zone = root.find("zone")
    assert zone is not None and zone.findtext("securitygroupsenabled") == "true"
    unsigned = requests.get(cs.endpoint, params={"command": "listTemplates"}, timeout=10)
    assert unsigned.status_code == 401
    assert unsigned.headers["Content-Type"] == "text/xml; charset=UTF-8"
    error = ET.fromstring(unsigned.text)
    assert error.tag == "listtemplatesresponse" and error.findtext("errorcode") == "401"
    assert error.find("cserrorcode") is None


def test_post_form_requests_work(make_cs: Any) -> None:
    poster = make_cs(method="post")
    assert poster.listZones()["count"] == 1


def test_list_apis_types(cs: CloudStack, cs_user: CloudStack) -> None:
    apis = cs.listApis()
    assert apis["count"] == len(apis["api"]) == len(registry.registered())
    by_name = {a["name"]: a for a in apis["api"]}
    deploy = by_name["deployVirtualMachine"]
    assert deploy["isasync"] is True and by_name["listZones"]["isasync"] is False
    for api in apis["api"]:
        assert isinstance(api["description"], str) and isinstance(api["response"], list)
        for param in api["params"]:
            assert isinstance(param["length"], int) and isinstance(param["required"], bool)
            assert isinstance(param["type"], str) and isinstance(param["name"], str)
    zone = next(p for p in deploy["params"] if p["name"] == "zoneid")
    assert zone["required"] is True and zone["type"] == "uuid"
    assert cs.listApis(name="listZones")["api"][0]["name"] == "listZones"
    assert cs_user.listApis()["count"] < apis["count"]


def test_list_capabilities(cs: CloudStack) -> None:
    cap = cs.listCapabilities()["capability"]
    assert cap["cloudstackversion"].startswith("4.")
    assert cap["securitygroupsenabled"] is True
    assert registry.response_type_errors(registry.metadata("listCapabilities"), cap) == []
