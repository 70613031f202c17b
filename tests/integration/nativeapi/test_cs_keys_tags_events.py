"""SSH key pairs, resource tags and events through the CloudStack API (cs and libcloud)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cs import CloudStack, CloudStackApiException
from libcloud.compute.providers import get_driver
from libcloud.compute.types import KeyPairDoesNotExistError, Provider

from nativeapi import registry


def _error(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(CloudStackApiException) as err:
        call(**params)
    return err.value.error  # type: ignore[no-any-return]


def _public_key() -> tuple[str, str]:
    """A fresh OpenSSH RSA public key line and its MD5 colon fingerprint."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()
    digest = hashlib.md5(base64.b64decode(line.split()[1]), usedforsecurity=False).hexdigest()
    return line + " me@host", ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def _libcloud(server: Any, user: Any) -> Any:
    url = urlsplit(server.url)
    driver = get_driver(Provider.CLOUDSTACK)(user.key, user.secret, host=url.hostname,
                                             port=url.port, secure=False, path="/client/api")
    driver.connection.poll_interval = 0.05
    return driver


# --- SSH key pairs ---------------------------------------------------------------------


def test_create_shows_the_private_key_once(cs_user: CloudStack, user: Any) -> None:
    name = f"key-{uuid.uuid4().hex[:8]}"
    created = cs_user.createSSHKeyPair(name=name)["keypair"]
    assert created["privatekey"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert created["name"] == name and created["account"] == user.name
    parts = created["fingerprint"].split(":")
    assert len(parts) == 16 and all(len(p) == 2 for p in parts)
    assert registry.response_type_errors(registry.metadata("createSSHKeyPair"), created) == []
    [listed] = cs_user.listSSHKeyPairs(name=name)["sshkeypair"]
    assert "privatekey" not in listed and listed["fingerprint"] == created["fingerprint"]
    assert cs_user.listSSHKeyPairs(fingerprint=created["fingerprint"])["count"] == 1
    err = _error(cs_user.createSSHKeyPair, name=name)
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)
    assert cs_user.deleteSSHKeyPair(name=name) == {"success": True}
    assert cs_user.listSSHKeyPairs(name=name) == {}


def test_register_by_post_and_delete_missing(make_cs: Any, user: Any) -> None:
    post = make_cs(user.key, user.secret, method="post")
    line, fingerprint = _public_key()
    name = f"imported-{uuid.uuid4().hex[:6]}"
    key = post.registerSSHKeyPair(name=name, publickey=line)["keypair"]
    assert key["fingerprint"] == fingerprint and "privatekey" not in key
    err = _error(post.registerSSHKeyPair, name=f"{name}-bad", publickey="ssh-rsa AAAA junk")
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)
    assert post.deleteSSHKeyPair(name=name) == {"success": True}
    err = _error(post.deleteSSHKeyPair, name=name)
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)
    assert err["errortext"] == (f"A key pair with name '{name}' does not exist for account "
                                f"{user.name} in specified domain id")
    err = _error(post.deleteSSHKeyPair)
    assert err["errortext"].endswith("due to missing parameter name")


def test_key_pairs_are_per_account(cs: CloudStack, cs_user: CloudStack) -> None:
    name = f"shared-{uuid.uuid4().hex[:6]}"
    mine = cs_user.createSSHKeyPair(name=name)["keypair"]
    admins = cs.createSSHKeyPair(name=name)["keypair"]  # same name, other account: fine
    assert mine["fingerprint"] != admins["fingerprint"]
    assert [k["id"] for k in cs_user.listSSHKeyPairs(name=name)["sshkeypair"]] == [mine["id"]]
    assert {k["id"] for k in cs.listSSHKeyPairs(name=name, listall=True)["sshkeypair"]} == {
        mine["id"], admins["id"]}
    cs.deleteSSHKeyPair(name=name)
    assert [k["id"] for k in cs_user.listSSHKeyPairs(name=name)["sshkeypair"]] == [mine["id"]]
    cs_user.deleteSSHKeyPair(name=name)


def test_libcloud_key_pairs(server: Any, user: Any) -> None:
    driver = _libcloud(server, user)
    line, fingerprint = _public_key()
    name = f"lc-{uuid.uuid4().hex[:6]}"
    imported = driver.import_key_pair_from_string(name, line)
    assert imported.fingerprint == fingerprint
    created = driver.create_key_pair(f"{name}-new")
    assert created.private_key.startswith("-----BEGIN")
    assert {k.name for k in driver.list_key_pairs()} == {name, f"{name}-new"}
    assert driver.get_key_pair(name).fingerprint == fingerprint
    # libcloud compares "success" with the string "true"; CloudStack now sends a boolean.
    driver.delete_key_pair(imported)
    driver.delete_key_pair(created)
    with pytest.raises(KeyPairDoesNotExistError):
        driver.get_key_pair(name)


# --- tags ------------------------------------------------------------------------------


def test_create_list_delete_tags(cs_user: CloudStack, make_cs: Any, user: Any,
                                 catalog: Any) -> None:
    vol = cs_user.createVolume(zoneid=catalog.zone_id, size=1, name="tagged")["volume"]
    submit = make_cs(user.key, user.secret)
    job = submit.createTags(resourcetype="Volume", resourceids=vol["id"],
                            **{"tags[0].key": "env", "tags[0].value": "prod",
                               "tags[1].key": "team", "tags[1].value": "db"})
    assert set(job) == {"jobid"}
    assert submit.queryAsyncJobResult(jobid=job["jobid"])["jobresult"] == {"success": True}
    tags = cs_user.listTags(resourceid=vol["id"])
    assert tags["count"] == 2
    assert tags["tag"][0] == {"key": "env", "value": "prod", "resourcetype": "Volume",
                              "resourceid": vol["id"], "account": user.name,
                              "domainid": tags["tag"][0]["domainid"], "domain": "ROOT",
                              "domainpath": "ROOT"}
    assert cs_user.listTags(resourcetype="volume", key="team")["tag"][0]["value"] == "db"
    found = cs_user.listVolumes(**{"tags[0].key": "env", "tags[0].value": "prod"})["volume"]
    assert [v["id"] for v in found] == [vol["id"]]
    assert [(t["key"], t["value"]) for t in found[0]["tags"]] == [("env", "prod"),
                                                                  ("team", "db")]

    assert cs_user.deleteTags(resourcetype="Volume", resourceids=vol["id"],
                              **{"tags[0].key": "env"}) == {"success": True}
    assert [t["key"] for t in cs_user.listTags(resourceid=vol["id"])["tag"]] == ["team"]
    cs_user.deleteTags(resourcetype="Volume", resourceids=vol["id"])
    assert cs_user.listTags(resourceid=vol["id"]) == {}
    cs_user.deleteVolume(id=vol["id"])


def test_tag_errors_and_admin_tags_belong_to_the_owner(cs: CloudStack, cs_user: CloudStack,
                                                       user: Any, catalog: Any) -> None:
    vol = cs_user.createVolume(zoneid=catalog.zone_id, size=1, name="owned")["volume"]
    err = _error(cs_user.createTags, resourcetype="Frobnicator", resourceids=vol["id"],
                 **{"tags[0].key": "k", "tags[0].value": "v"})
    assert (err["errorcode"], err["errortext"]) == (431, "Invalid resource type Frobnicator")
    missing = str(uuid.uuid4())
    err = _error(cs_user.createTags, resourcetype="UserVm", resourceids=missing,
                 **{"tags[0].key": "k", "tags[0].value": "v"})
    assert err["errortext"] == f"Unable to find resource by id {missing} and type UserVm"
    err = _error(cs_user.createTags, resourcetype="Volume", resourceids=vol["id"])
    assert err["errortext"].endswith("due to missing parameter tags")
    admin_vol = cs.createVolume(zoneid=catalog.zone_id, size=1, name="admins")["volume"]
    err = _error(cs_user.createTags, resourcetype="Volume", resourceids=admin_vol["id"],
                 **{"tags[0].key": "k", "tags[0].value": "v"})
    assert err["errorcode"] == 431 and admin_vol["id"] in err["errortext"]

    # An admin's tag on the user's volume is the user's.
    cs.createTags(resourcetype="Volume", resourceids=vol["id"],
                  **{"tags[0].key": "audited", "tags[0].value": "yes"})
    [tag] = cs_user.listTags(resourceid=vol["id"])["tag"]
    assert (tag["key"], tag["account"]) == ("audited", user.name)
    cs.deleteVolume(id=admin_vol["id"])
    cs_user.deleteVolume(id=vol["id"])


def test_libcloud_tags(server: Any, user: Any, make_cs: Any) -> None:
    driver = _libcloud(server, user)
    c = make_cs(user.key, user.secret, fetch_result=True)
    group = c.createSecurityGroup(name=f"tagged-{uuid.uuid4().hex[:6]}")["securitygroup"]
    assert driver.ex_create_tags([group["id"]], "SecurityGroup", {"app": "web"}) is True
    [listed] = c.listSecurityGroups(id=group["id"])["securitygroup"]
    assert [(t["key"], t["value"], t["resourcetype"]) for t in listed["tags"]] == [
        ("app", "web", "SecurityGroup")]
    assert driver.ex_delete_tags([group["id"]], "SecurityGroup", ["app"]) is True
    assert c.listTags(resourceid=group["id"]) == {}
    c.deleteSecurityGroup(id=group["id"])


# --- events ----------------------------------------------------------------------------


def test_events_record_what_happened(cs_user: CloudStack, user: Any) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    name = f"ev-{uuid.uuid4().hex[:6]}"
    key = cs_user.createSSHKeyPair(name=name)["keypair"]
    cs_user.deleteSSHKeyPair(name=name)
    events = cs_user.listEvents(type="KEYPAIR.CREATE", keyword=name)["event"]
    assert len(events) == 1
    event = events[0]
    assert (event["type"], event["level"], event["account"], event["username"]) == (
        "KEYPAIR.CREATE", "INFO", user.name, user.name)
    assert event["resourceid"] == key["id"] and event["resourcetype"] == "SSHKeyPair"
    assert event["state"] == "Completed" and name in event["description"]
    assert registry.response_type_errors(registry.metadata("listEvents"), event) == []
    listed = [e["type"] for e in cs_user.listEvents(keyword=name)["event"]]
    assert listed == ["KEYPAIR.DELETE", "KEYPAIR.CREATE"]  # newest first, like CloudStack

    stamp = "%Y-%m-%d %H:%M:%S"
    assert cs_user.listEvents(keyword=name, startdate=before.strftime(stamp))["count"] == 2
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime(stamp)
    assert cs_user.listEvents(keyword=name, startdate=later) == {}
    assert cs_user.listEvents(keyword=name, enddate=before.strftime(stamp)) == {}
    assert cs_user.listEvents(keyword=name, level="ERROR") == {}
    page = cs_user.listEvents(keyword=name, page=2, pagesize=1)
    assert page["count"] == 2 and [e["type"] for e in page["event"]] == ["KEYPAIR.CREATE"]
    err = _error(cs_user.listEvents, level="LOUD")
    assert (err["errorcode"], err["cserrorcode"]) == (431, 4350)
    err = _error(cs_user.listEvents, startdate=later, enddate=before.strftime(stamp))
    assert err["errorcode"] == 431


def test_users_do_not_see_other_accounts_events(cs: CloudStack, cs_user: CloudStack) -> None:
    name = f"adm-{uuid.uuid4().hex[:6]}"
    cs.createSSHKeyPair(name=name)
    assert cs_user.listEvents(keyword=name) == {}
    assert cs.listEvents(keyword=name)["count"] == 1
    cs.deleteSSHKeyPair(name=name)


def test_event_types(cs_user: CloudStack) -> None:
    names = [t["name"] for t in cs_user.listEventTypes()["eventtype"]]
    assert {"VOLUME.CREATE", "SG.AUTH.INGRESS", "KEYPAIR.CREATE", "TAG.CREATE"} <= set(names)
    assert names == sorted(names)


# --- the same resources through EC2 ----------------------------------------------------


def test_key_pairs_are_shared_with_ec2(server: Any, user: Any, cs_user: CloudStack) -> None:
    name = f"both-{uuid.uuid4().hex[:6]}"
    cs_user.createSSHKeyPair(name=name)
    ec2 = server.ec2(user.key, user.secret)
    [seen] = ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"]
    assert seen["KeyName"] == name
    line, fingerprint = _public_key()
    ec2.import_key_pair(KeyName=f"{name}-ec2", PublicKeyMaterial=line.encode())
    [imported] = cs_user.listSSHKeyPairs(name=f"{name}-ec2")["sshkeypair"]
    assert imported["fingerprint"] == fingerprint
    ec2.delete_key_pair(KeyName=name)
    assert cs_user.listSSHKeyPairs(name=name) == {}
    cs_user.deleteSSHKeyPair(name=f"{name}-ec2")


def test_tags_are_shared_with_ec2(server: Any, user: Any, cs_user: CloudStack) -> None:
    group = cs_user.createSecurityGroup(name=f"t-{uuid.uuid4().hex[:6]}")["securitygroup"]
    cs_user.createTags(resourcetype="SecurityGroup", resourceids=group["id"],
                       **{"tags[0].key": "owner", "tags[0].value": "cs"})
    ec2 = server.ec2(user.key, user.secret)
    [seen] = ec2.describe_security_groups(GroupNames=[group["name"]])["SecurityGroups"]
    assert seen["Tags"] == [{"Key": "owner", "Value": "cs"}]
    ec2.create_tags(Resources=[seen["GroupId"]], Tags=[{"Key": "via", "Value": "ec2"}])
    assert [(t["key"], t["value"]) for t in cs_user.listTags(resourceid=group["id"])["tag"]] == [
        ("owner", "cs"), ("via", "ec2")]
    cs_user.deleteSecurityGroup(id=group["id"])
