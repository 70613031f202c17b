"""KeyPairService through a Runtime: create, import, fingerprints, delete,
listing and tenant isolation, on SQLite or MariaDB (see tests/conftest.py)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import select

from engine.errors import Duplicate, InvalidParameter, MissingParameter, NotFound, ResourceKind
from engine.models import Event, KeyPair, Tag
from engine.querying import Criterion, Paging
from tests.integration.engine.worlds import World


def _colon(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def _blob_md5(openssh: str) -> str:
    return _colon(hashlib.md5(base64.b64decode(openssh.split()[1])).digest())


def _rsa_public() -> tuple[rsa.RSAPublicKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return key, key.public_bytes(serialization.Encoding.OpenSSH,
                                 serialization.PublicFormat.OpenSSH) + b" me@laptop"


# ------------------------------------------------------------------- create
def test_create_rsa_returns_the_private_key_once_with_ec2_and_md5_fingerprints(
        world: World) -> None:
    with world.runtime.unit() as sv:
        kp, pem = sv.key_pairs.create(world.alice, "laptop", tags=[("env", "dev")])
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    pkcs8 = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    assert kp.fingerprint == _colon(hashlib.sha1(pkcs8).digest())
    assert kp.fingerprint_md5 == _blob_md5(kp.public_key)
    assert kp.key_type == "rsa" and kp.created_by_engine and kp.public_key.startswith("ssh-rsa ")
    with world.runtime.unit(readonly=True) as sv:
        row = sv.session.get(KeyPair, kp.uuid)
        assert row is not None and "PRIVATE" not in row.public_key
        assert pem not in str([getattr(row, c.key) for c in KeyPair.__table__.columns])
        detail = sv.key_pairs.get(world.alice, name="laptop")
        assert detail.key_pair.uuid == kp.uuid and detail.account.name == "alice"
        assert detail.domain.path == "/" and [(t.key, t.value) for t in detail.tags] == [
            ("env", "dev")]
        assert sv.session.scalar(select(Event.event_type).where(
            Event.resource_uuid == kp.uuid)) == "KEYPAIR.CREATE"


def test_create_ed25519_shows_the_sha256_fingerprint(world: World) -> None:
    with world.runtime.unit() as sv:
        kp, pem = sv.key_pairs.create(world.alice, "edkey", "ed25519")
    assert pem.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    blob = base64.b64decode(kp.public_key.split()[1])
    assert kp.fingerprint == base64.b64encode(hashlib.sha256(blob).digest()).decode()
    assert kp.fingerprint_md5 == _blob_md5(kp.public_key) and kp.key_type == "ed25519"


def test_create_rejects_bad_arguments_and_duplicates(world: World) -> None:
    with world.runtime.unit() as sv:
        sv.key_pairs.create(world.alice, "k")
    with pytest.raises(Duplicate) as err, world.runtime.unit() as sv:
        sv.key_pairs.create(world.alice, "k")
    assert err.value.kind is ResourceKind.KEY_PAIR
    with pytest.raises(Duplicate), world.runtime.unit() as sv:
        sv.key_pairs.import_key(world.alice, "k", _rsa_public()[1])
    with world.runtime.unit() as sv:
        sv.key_pairs.create(world.bob, "k")  # another account may use the name
    for kw, error in (({"key_type": "dsa"}, InvalidParameter), ({"fmt": "der"}, InvalidParameter)):
        with pytest.raises(error), world.runtime.unit() as sv:
            sv.key_pairs.create(world.alice, "other", **kw)
    with pytest.raises(MissingParameter), world.runtime.unit() as sv:
        sv.key_pairs.create(world.alice, "")
    with pytest.raises(InvalidParameter), world.runtime.unit() as sv:
        sv.key_pairs.create(world.alice, "n" * 256)


# ------------------------------------------------------------------- import
def test_import_rsa_shows_the_spki_md5_and_keeps_the_comment(world: World) -> None:
    key, material = _rsa_public()
    with world.runtime.unit() as sv:
        kp = sv.key_pairs.import_key(world.alice, "mine", material)
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    assert kp.fingerprint == _colon(hashlib.md5(der).digest())
    assert kp.fingerprint_md5 == _blob_md5(kp.public_key)
    assert not kp.created_by_engine and kp.key_type == "rsa"
    assert kp.public_key.endswith(" me@laptop")


def test_import_ed25519_and_bad_material(world: World) -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    with world.runtime.unit() as sv:
        kp = sv.key_pairs.import_key(world.alice, "ed", line.decode())
    blob = base64.b64decode(line.split()[1])
    assert kp.fingerprint == base64.b64encode(hashlib.sha256(blob).digest()).decode()
    assert kp.key_type == "ed25519"
    with pytest.raises(InvalidParameter) as err, world.runtime.unit() as sv:
        sv.key_pairs.import_key(world.alice, "junk", b"not a key")
    assert err.value.name == "PublicKeyMaterial"
    with world.runtime.unit(readonly=True) as sv:
        assert sv.key_pairs.list(world.alice, (Criterion("name", ("junk",)),)).items == []


# ------------------------------------------------------------------- delete
def test_delete_is_idempotent_unless_asked_otherwise(world: World) -> None:
    with world.runtime.unit() as sv:
        kp, _ = sv.key_pairs.create(world.alice, "gone", tags=[("a", "b")])
    with world.runtime.unit() as sv:
        assert sv.key_pairs.delete(world.alice, name="gone") is True
    with world.runtime.unit() as sv:
        assert sv.session.get(KeyPair, kp.uuid) is None
        assert sv.session.scalar(select(Tag).where(Tag.resource_uuid == kp.uuid)) is None
        assert sv.key_pairs.delete(world.alice, name="gone") is False
        assert sv.key_pairs.delete(world.alice, uuid=kp.uuid) is False
        with pytest.raises(NotFound):
            sv.key_pairs.delete(world.alice, name="gone", missing_ok=False)
    with world.runtime.unit() as sv:
        other, _ = sv.key_pairs.create(world.alice, "by-sid")
    with world.runtime.unit() as sv:
        assert sv.key_pairs.delete(world.alice, sid=other.sid)
        with pytest.raises(MissingParameter):
            sv.key_pairs.delete(world.alice)


# ------------------------------------------------------------------ listing
def test_list_criteria_and_paging(world: World) -> None:
    with world.runtime.unit() as sv:
        rsa_kp, _ = sv.key_pairs.create(world.alice, "web-1")
        ed_kp, _ = sv.key_pairs.create(world.alice, "web-2", "ed25519", tags=[("team", "x")])
        sv.key_pairs.create(world.alice, "db_1")

    def names(*crit: Criterion) -> set[str]:
        with world.runtime.unit(readonly=True) as sv:
            return {d.key_pair.name for d in sv.key_pairs.list(world.alice, crit).items}

    assert names() == {"web-1", "web-2", "db_1"}
    assert names(Criterion("name", ("web-*",))) == {"web-1", "web-2"}
    assert names(Criterion("name", ("web-?", "db_1"))) == {"web-1", "web-2", "db_1"}
    assert names(Criterion("name", ("db?1",))) == {"db_1"}
    assert names(Criterion("name", ("db%",))) == set()  # LIKE characters are literal
    assert names(Criterion("key_type", ("ed25519",))) == {"web-2"}
    assert names(Criterion("fingerprint", (rsa_kp.fingerprint,))) == {"web-1"}
    assert names(Criterion("fingerprint_md5", (ed_kp.fingerprint_md5,))) == {"web-2"}
    assert names(Criterion("uuid", (ed_kp.uuid,))) == {"web-2"}
    assert names(Criterion("sid", (rsa_kp.sid,))) == {"web-1"}
    assert names(Criterion("tag:team", ("x",))) == {"web-2"}
    with world.runtime.unit(readonly=True) as sv:
        first = sv.key_pairs.list(world.alice, paging=Paging(limit=2), count=True)
        assert first.total == 3 and len(first.items) == 2 and first.next_token
        rest = sv.key_pairs.list(world.alice, paging=Paging(limit=2, token=first.next_token))
        assert len(rest.items) == 1 and rest.next_token is None
        assert {d.key_pair.name for d in first.items + rest.items} == {"web-1", "web-2", "db_1"}


# ---------------------------------------------------------------- isolation
def test_other_accounts_cannot_see_or_touch_a_key_pair(world: World) -> None:
    with world.runtime.unit() as sv:
        kp, _ = sv.key_pairs.create(world.alice, "secret")
    with world.runtime.unit() as sv:
        assert sv.key_pairs.list(world.bob).items == []
        for kw in ({"name": "secret"}, {"uuid": kp.uuid}, {"sid": kp.sid},
                   {"name": "secret", "account_uuid": world.alice.account_uuid}):
            with pytest.raises(NotFound):
                sv.key_pairs.get(world.bob, **kw)
            assert sv.key_pairs.delete(world.bob, **kw) is False
        with pytest.raises(NotFound):
            sv.key_pairs.create(world.bob, "planted", account_uuid=world.alice.account_uuid)
        # bob may use the same name for his own key
        sv.key_pairs.create(world.bob, "secret")
    with world.runtime.unit() as sv:
        assert sv.key_pairs.get(world.alice, name="secret").key_pair.uuid == kp.uuid
        # the root admin sees all and acts for an account when it names it
        assert len(sv.key_pairs.list(world.admin).items) == 2
        assert sv.key_pairs.list(world.admin, list_all=False).items == []
        with pytest.raises(NotFound):
            sv.key_pairs.get(world.admin, name="secret")  # not in the admin's account
        assert sv.key_pairs.get(world.admin, name="secret",
                                account_uuid=world.alice.account_uuid).key_pair.uuid == kp.uuid
        assert sv.key_pairs.delete(world.admin, name="secret",
                                   account_uuid=world.bob.account_uuid) is True
