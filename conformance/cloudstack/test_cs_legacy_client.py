"""An older client's habits, with raw requests: names sorted by their lowercased form
before signing (marvin, cloudmonkey 5.x), camelCase parameter names
(``serviceOfferingId``), ``True``/``False`` booleans, no signatureVersion/expires,
GET query strings and POST form bodies.

CloudStack lowercases parameter names for dispatch (``ParamUnpackWorker``),
parses booleans with ``Boolean.valueOf`` (case-insensitive "true") and takes
parameters from the query string or a form body alike. It sorts names
case-sensitively for the signature, so the legacy order only verifies where it
agrees with that order -- as it does for every request below.
"""

from __future__ import annotations

import pytest
from conftest import Account, Target, World, unique
from cs_wire import RawClient, legacy_string, modern_string


@pytest.fixture(params=["GET", "POST"])
def method(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def old(target: Target, account: Account) -> RawClient:
    return RawClient(target.endpoint, account.key, account.secret, style="legacy")


@pytest.fixture
def old_admin(target: Target) -> RawClient:
    return RawClient(target.endpoint, target.key, target.secret, style="legacy")


def test_legacy_string_matches_server_order_for_these_names(world: World) -> None:
    params = {"command": "deployVirtualMachine", "apiKey": "k", "response": "json",
              "serviceOfferingId": world.offering_id, "templateId": world.template_id,
              "zoneId": world.zone_id, "startVm": "False", "name": "a b*"}
    assert legacy_string(params) == modern_string(params)


def test_camel_case_deploy_with_capitalised_booleans(old: RawClient, old_admin: RawClient,
                                                     world: World, method: str) -> None:
    name = unique("old")
    submitted = old.ok("deployVirtualMachine", {
        "serviceOfferingId": world.offering_id, "templateId": world.template_id,
        "zoneId": world.zone_id, "startVm": "False", "displayName": name, "name": name},
        method=method)
    assert set(submitted) >= {"id", "jobid"}
    job = old.wait(submitted["jobid"])
    assert job["jobstatus"] == 1 and job["jobresultcode"] == 0
    vm = job["jobresult"]["virtualmachine"]
    assert vm["id"] == submitted["id"] and vm["state"] == "Stopped"  # startVm=False honoured
    assert vm["displayname"] == name

    listed = old.ok("listVirtualMachines", {"id": vm["id"], "listAll": "True"}, method=method)
    assert listed["count"] == 1 and listed["virtualmachine"][0]["name"] == name
    started = old.wait(old.ok("startVirtualMachine", {"id": vm["id"]}, method=method)["jobid"])
    assert started["jobresult"]["virtualmachine"]["state"] == "Running"
    stopped = old.wait(old.ok("stopVirtualMachine", {"id": vm["id"], "forced": "True"},
                              method=method)["jobid"])
    assert stopped["jobresult"]["virtualmachine"]["state"] == "Stopped"
    gone = old_admin.wait(old_admin.ok("destroyVirtualMachine",
                                       {"id": vm["id"], "expunge": "True"},
                                       method=method)["jobid"])
    assert gone["jobstatus"] == 1


def test_mixed_case_names_and_values_in_lists(old: RawClient, world: World,
                                              method: str) -> None:
    everything = old.ok("listZones", {"available": "True"}, method=method)
    assert world.zone_id in {z["id"] for z in everything["zone"]}
    one = old.ok("listZones", {"Id": world.zone_id, "showCapacities": "False"}, method=method)
    assert one["count"] == 1 and one["zone"][0]["id"] == world.zone_id
    templates = old.ok("listTemplates", {"templateFilter": "executable",
                                         "zoneId": world.zone_id}, method=method)
    assert world.template_id in {t["id"] for t in templates["template"]}


def test_key_pair_via_form_post_and_keyword_listing(old: RawClient) -> None:
    name = unique("oldkp")
    made = old.ok("createSSHKeyPair", {"name": name}, method="POST")["keypair"]
    assert made["name"] == name and made["privatekey"]
    found = old.ok("listSSHKeyPairs", {"name": name})
    assert found["count"] == 1 and found["sshkeypair"][0]["fingerprint"] == made["fingerprint"]
    assert old.ok("deleteSSHKeyPair", {"name": name}, method="POST")["success"] is True
    assert old.ok("listSSHKeyPairs", {"name": name}) == {}


def test_lowercase_api_key_name_and_no_response_param_defaults_to_xml(
        target: Target, account: Account) -> None:
    lower = RawClient(target.endpoint, account.key, account.secret, style="legacy",
                      api_key_name="apikey")
    assert lower.ok("listZones", {})["count"] >= 1
    xml = lower.call("listZones", {}, response=None)
    assert xml.status == 200 and isinstance(xml.body, str)
    assert xml.body.lstrip().startswith("<?xml") and "<listzonesresponse" in xml.body
    assert "text/xml" in xml.headers.get("Content-Type", "")
