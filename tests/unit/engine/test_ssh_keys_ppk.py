"""PuTTY private key files (format 3, unencrypted) made by engine.ssh_keys.

The test parses the file back with its own reader (headers, base64 blocks,
SSH strings and mpints), checks the MAC and rebuilds the private key, which
must be the pair of the public key generated with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from engine import ssh_keys
from engine.errors import InvalidParameter


def _fields(text: str) -> tuple[dict[str, str], dict[str, bytes]]:
    """Header values and the decoded Public/Private blocks of a .ppk file."""
    lines = text.split("\n")
    assert lines[-1] == ""  # ends with a newline
    headers: dict[str, str] = {}
    blobs: dict[str, bytes] = {}
    i = 0
    while i < len(lines) - 1:
        name, sep, value = lines[i].partition(": ")
        assert sep, lines[i]
        headers[name] = value
        i += 1
        if name in ("Public-Lines", "Private-Lines"):
            count = int(value)
            block = lines[i:i + count]
            assert all(len(b) <= 64 and len(b) % 4 == 0 for b in block)
            blobs[name.split("-")[0]] = base64.b64decode("".join(block), validate=True)
            i += count
    return headers, blobs


def _strings(data: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        (n,) = struct.unpack(">I", data[at:at + 4])
        out.append(data[at + 4:at + 4 + n])
        at += 4 + n
    assert at == len(data)
    return out


def _mpint(raw: bytes) -> int:
    assert not raw or raw[0] < 0x80  # non-negative
    return int.from_bytes(raw, "big")


def _verified(text: str) -> tuple[dict[str, str], bytes, bytes]:
    headers, blobs = _fields(text)
    assert next(iter(headers)) == "PuTTY-User-Key-File-3"
    assert headers["Encryption"] == "none"
    assert "Key-Derivation" not in headers
    mac_input = b"".join(struct.pack(">I", len(p)) + p for p in (
        headers["PuTTY-User-Key-File-3"].encode(), b"none", headers["Comment"].encode(),
        blobs["Public"], blobs["Private"]))
    expected = hmac.new(b"", mac_input, hashlib.sha256).hexdigest()
    assert headers["Private-MAC"] == expected
    return headers, blobs["Public"], blobs["Private"]


def test_rsa_ppk_round_trips() -> None:
    generated = ssh_keys.generate("rsa", "ppk")
    headers, public_blob, private_blob = _verified(generated.private_pem)
    assert headers["PuTTY-User-Key-File-3"] == "ssh-rsa"
    assert public_blob == ssh_keys.openssh_blob(generated.public_openssh)
    name, e, n = _strings(public_blob)
    assert name == b"ssh-rsa"
    d, p, q, iqmp = (_mpint(x) for x in _strings(private_blob))
    assert p * q == _mpint(n)
    assert (iqmp * q) % p == 1
    numbers = rsa.RSAPrivateNumbers(
        p=p, q=q, d=d, dmp1=d % (p - 1), dmq1=d % (q - 1), iqmp=iqmp,
        public_numbers=rsa.RSAPublicNumbers(_mpint(e), _mpint(n)))
    key = numbers.private_key()
    rebuilt = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                            serialization.PublicFormat.OpenSSH).decode()
    assert rebuilt == generated.public_openssh
    # The fingerprint EC2 shows for keys it makes is over the same private key.
    assert ssh_keys.pkcs8_sha1(key) == generated.fingerprint_sha1


def test_ed25519_ppk_round_trips() -> None:
    generated = ssh_keys.generate("ed25519", "ppk")
    headers, public_blob, private_blob = _verified(generated.private_pem)
    assert headers["PuTTY-User-Key-File-3"] == "ssh-ed25519"
    name, public_raw = _strings(public_blob)
    assert name == b"ssh-ed25519" and len(public_raw) == 32
    (seed,) = _strings(private_blob)
    assert len(seed) == 32
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    assert key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw) == public_raw
    assert f"ssh-ed25519 {base64.b64encode(public_blob).decode()}" == generated.public_openssh


def test_a_tampered_ppk_fails_its_mac() -> None:
    text = ssh_keys.generate("ed25519", "ppk").private_pem
    tampered = text.replace("Comment: ed25519-key", "Comment: other")
    with pytest.raises(AssertionError):
        _verified(tampered)


@pytest.mark.skipif(shutil.which("puttygen") is None, reason="puttygen is not installed")
@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_puttygen_reads_the_file(tmp_path: Path, key_type: str) -> None:
    generated = ssh_keys.generate(key_type, "ppk")
    path = tmp_path / "key.ppk"
    path.write_text(generated.private_pem)
    out = subprocess.run(["puttygen", str(path), "-L"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.split()[:2] == generated.public_openssh.split()[:2]


def test_unknown_formats_are_refused() -> None:
    with pytest.raises(InvalidParameter):
        ssh_keys.generate("rsa", "der")
