"""CreateKeyPair / ImportKeyPair / DescribeKeyPairs / DeleteKeyPair through boto3 and awscli."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.integration.awsapi.awscli import aws


def _name(prefix: str = "kp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _colon(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def _blob(openssh_line: str) -> bytes:
    return base64.b64decode(openssh_line.split()[1])


# ---------------------------------------------------------------------- create
def test_create_rsa_key_pair_returns_material_once_with_aws_fingerprint(ec2) -> None:  # type: ignore[no-untyped-def]
    name = _name()
    made = ec2.create_key_pair(KeyName=name)
    assert made["KeyName"] == name
    assert made["KeyPairId"].startswith("key-") and len(made["KeyPairId"]) == 21
    material = made["KeyMaterial"]
    assert material.startswith("-----BEGIN RSA PRIVATE KEY-----")
    private = serialization.load_pem_private_key(material.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    pkcs8 = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    assert made["KeyFingerprint"] == _colon(hashlib.sha1(pkcs8).digest())

    listed = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"]
    assert len(listed) == 1
    kp = listed[0]
    assert kp["KeyPairId"] == made["KeyPairId"]
    assert kp["KeyFingerprint"] == made["KeyFingerprint"]
    assert kp["KeyType"] == "rsa"
    assert "KeyMaterial" not in kp and kp["CreateTime"].year >= 2024
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    assert kp["PublicKey"].split()[:2] == public.split()[:2]
    without = ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"][0]
    assert "PublicKey" not in without


def test_create_ed25519_key_pair(ec2) -> None:  # type: ignore[no-untyped-def]
    name = _name()
    made = ec2.create_key_pair(KeyName=name, KeyType="ed25519", KeyFormat="pem")
    assert made["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    private = serialization.load_ssh_private_key(made["KeyMaterial"].encode(), password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    line = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode()
    expected = base64.b64encode(hashlib.sha256(_blob(line)).digest()).decode()
    assert made["KeyFingerprint"] == expected and expected.endswith("=")
    kp = ec2.describe_key_pairs(KeyPairIds=[made["KeyPairId"]])["KeyPairs"][0]
    assert kp["KeyType"] == "ed25519" and kp["KeyName"] == name


def test_create_with_tags_and_errors(ec2) -> None:  # type: ignore[no-untyped-def]
    name = _name()
    made = ec2.create_key_pair(KeyName=name, TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "blue"}]}])
    assert made["Tags"] == [{"Key": "team", "Value": "blue"}]
    found = ec2.describe_key_pairs(Filters=[{"Name": "tag:team", "Values": ["blue"]},
                                            {"Name": "key-name", "Values": [name]}])["KeyPairs"]
    assert [k["Tags"] for k in found] == [[{"Key": "team", "Value": "blue"}]]

    with pytest.raises(ClientError) as err:
        ec2.create_key_pair(KeyName=name)
    assert _code(err) == "InvalidKeyPair.Duplicate"
    with pytest.raises(ClientError) as err:
        ec2.create_key_pair(KeyName=_name(), KeyType="dsa")
    assert _code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.create_key_pair(KeyName=_name(), TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}])
    assert _code(err) == "InvalidParameterValue"


# ---------------------------------------------------------------------- import
def test_import_rsa_and_ed25519_fingerprints(ec2) -> None:  # type: ignore[no-untyped-def]
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    line = rsa_key.public_bytes(serialization.Encoding.OpenSSH,
                                serialization.PublicFormat.OpenSSH) + b" me@laptop"
    name = _name()
    got = ec2.import_key_pair(KeyName=name, PublicKeyMaterial=line)
    der = rsa_key.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    assert got["KeyFingerprint"] == _colon(hashlib.md5(der).digest())
    assert got["KeyPairId"].startswith("key-") and "KeyMaterial" not in got
    kp = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"][0]
    assert kp["PublicKey"].split()[1] == line.split()[1].decode()

    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    ed_line = ed.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    got = ec2.import_key_pair(KeyName=_name(), PublicKeyMaterial=ed_line)
    assert got["KeyFingerprint"] == base64.b64encode(
        hashlib.sha256(_blob(ed_line.decode())).digest()).decode()

    with pytest.raises(ClientError) as err:
        ec2.import_key_pair(KeyName=name, PublicKeyMaterial=line)
    assert _code(err) == "InvalidKeyPair.Duplicate"


def test_import_bad_material_is_invalid_key_format(ec2) -> None:  # type: ignore[no-untyped-def]
    for material in (b"not a key at all", b"ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB broken"):
        with pytest.raises(ClientError) as err:
            ec2.import_key_pair(KeyName=_name(), PublicKeyMaterial=material)
        assert _code(err) == "InvalidKey.Format"


# -------------------------------------------------------------------- describe
def test_describe_filters_and_not_found(ec2) -> None:  # type: ignore[no-untyped-def]
    stem = _name("flt")
    a = ec2.create_key_pair(KeyName=f"{stem}-a")
    b = ec2.create_key_pair(KeyName=f"{stem}-b", KeyType="ed25519")

    def names(filters: list[dict[str, Any]]) -> list[str]:
        return sorted(k["KeyName"] for k in ec2.describe_key_pairs(Filters=filters)["KeyPairs"])

    assert names([{"Name": "key-name", "Values": [f"{stem}-*"]}]) == [f"{stem}-a", f"{stem}-b"]
    assert names([{"Name": "key-name", "Values": [f"{stem}-*"]},
                  {"Name": "key-type", "Values": ["ed25519"]}]) == [f"{stem}-b"]
    assert names([{"Name": "fingerprint", "Values": [a["KeyFingerprint"]]}]) == [f"{stem}-a"]
    assert names([{"Name": "key-pair-id", "Values": [b["KeyPairId"]]}]) == [f"{stem}-b"]
    both = ec2.describe_key_pairs(KeyPairIds=[a["KeyPairId"], b["KeyPairId"]])["KeyPairs"]
    assert {k["KeyName"] for k in both} == {f"{stem}-a", f"{stem}-b"}

    for kwargs, code in (({"KeyNames": [f"{stem}-zzz"]}, "InvalidKeyPair.NotFound"),
                         ({"KeyNames": [f"{stem}-a", f"{stem}-zzz"]}, "InvalidKeyPair.NotFound"),
                         ({"KeyPairIds": ["key-0123456789abcdef0"]}, "InvalidKeyPair.NotFound"),
                         ({"KeyPairIds": ["kp-123"]}, "InvalidKeyPair.Malformed"),
                         ({"Filters": [{"Name": "bogus", "Values": ["x"]}]},
                          "InvalidParameterValue")):
        with pytest.raises(ClientError) as err:
            ec2.describe_key_pairs(**kwargs)
        assert _code(err) == code, kwargs


# ---------------------------------------------------------------------- delete
def test_delete_by_name_and_id_is_idempotent(ec2) -> None:  # type: ignore[no-untyped-def]
    a, b = _name(), _name()
    ec2.create_key_pair(KeyName=a)
    made_b = ec2.create_key_pair(KeyName=b)
    assert ec2.delete_key_pair(KeyName=a)["Return"] is True
    gone = ec2.delete_key_pair(KeyPairId=made_b["KeyPairId"])
    assert gone["Return"] is True and gone["KeyPairId"] == made_b["KeyPairId"]
    for name in (a, b):
        with pytest.raises(ClientError) as err:
            ec2.describe_key_pairs(KeyNames=[name])
        assert _code(err) == "InvalidKeyPair.NotFound"
    assert ec2.delete_key_pair(KeyName=a)["Return"] is True
    assert ec2.delete_key_pair(KeyPairId=made_b["KeyPairId"])["Return"] is True
    with pytest.raises(ClientError) as err:
        ec2.delete_key_pair()
    assert _code(err) == "MissingParameter"
    with pytest.raises(ClientError) as err:
        ec2.delete_key_pair(KeyPairId="nope")
    assert _code(err) == "InvalidKeyPair.Malformed"


# ----------------------------------------------------------- tenant isolation
def test_another_account_cannot_see_or_delete(server) -> None:  # type: ignore[no-untyped-def]
    alice = server.ec2(*server.new_user(_name("alice")))
    bob = server.ec2(*server.new_user(_name("bob")))
    name = _name()
    made = alice.create_key_pair(KeyName=name)
    assert bob.describe_key_pairs()["KeyPairs"] == []
    with pytest.raises(ClientError) as err:
        bob.describe_key_pairs(KeyNames=[name])
    assert _code(err) == "InvalidKeyPair.NotFound"
    with pytest.raises(ClientError) as err:
        bob.describe_key_pairs(KeyPairIds=[made["KeyPairId"]])
    assert _code(err) == "InvalidKeyPair.NotFound"
    assert bob.describe_key_pairs(
        Filters=[{"Name": "key-pair-id", "Values": [made["KeyPairId"]]}])["KeyPairs"] == []
    # Deleting someone else's key pair "succeeds" like a missing one, and changes nothing.
    assert bob.delete_key_pair(KeyPairId=made["KeyPairId"])["Return"] is True
    assert bob.delete_key_pair(KeyName=name)["Return"] is True
    assert alice.describe_key_pairs(KeyNames=[name])["KeyPairs"][0]["KeyPairId"] == \
        made["KeyPairId"]
    # Names are per account: bob may use the same one.
    assert bob.create_key_pair(KeyName=name)["KeyPairId"] != made["KeyPairId"]


# ---------------------------------------------------------------------- awscli
def test_awscli_create_describe_delete(server) -> None:  # type: ignore[no-untyped-def]
    keys = server.new_user(_name("cli"))
    name = _name()
    made = aws(server, keys, "create-key-pair", "--key-name", name, "--key-type", "ed25519")
    assert made["KeyName"] == name and "OPENSSH PRIVATE KEY" in made["KeyMaterial"]
    listed = aws(server, keys, "describe-key-pairs", "--key-names", name)["KeyPairs"]
    assert [k["KeyPairId"] for k in listed] == [made["KeyPairId"]]
    aws(server, keys, "delete-key-pair", "--key-name", name)
    assert aws(server, keys, "describe-key-pairs")["KeyPairs"] == []
