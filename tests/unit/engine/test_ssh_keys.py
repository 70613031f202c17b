"""engine.ssh_keys: generation, parsing and fingerprints.

The fixed vectors below were computed with external tools, not with this module:
``ssh-keygen -E md5 -lf`` / ``ssh-keygen -lf`` (OpenSSH 9.2) for the blob digests and
``openssl pkey -pubin -outform DER | openssl md5 -c`` (OpenSSL 3.0) for the SPKI MD5.
Further tests call those tools at run time when they are installed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from engine import ssh_keys
from engine.errors import InvalidParameter

RSA2048 = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCr8ZrmwEoofttssPdNYEc4ly6LhC4ljwBwBMZK5KxF3oQKEc1Jck"
    "PAU7tS/3Uv2uSsH93IblLEgRJkZp59yqRKAKmAN1A99Ci8zsNV/Paeob2uk0f93VjVUuAXR1OV6kPS+UIPc00M7zwT"
    "B5WowtvfoRwlhgvYoZxkmeSKk2q44bmjWPqAZ3BjHiriCFF+u/EAt6uDIiOd37Ukx/AnMzIFQC2z7/AZCt34D52eHW"
    "voOovvcjWkh3fEc86IXQmRZ6SWPnnbx8P8w+/YBo4PlSRAjB8gOTTmQu9I6PjJddOgfCamZltnAILKHI0ifxXSAvJl"
    "PZpVtZnDrZPMC/vN9nC3"
)
RSA2048_MD5 = "3e:17:5f:40:8d:19:32:da:4c:51:ff:30:a5:7e:53:e3"
RSA2048_SHA256 = "22m21bKI4vw8/tQtQ+0kvsToXNtgvvjZZO00IMSbmzo="
RSA2048_SPKI_MD5 = "38:31:6c:46:32:c7:bb:dc:a8:0b:f0:cb:99:82:e9:97"

RSA2048_RFC4716 = """---- BEGIN SSH2 PUBLIC KEY ----
Comment: "2048-bit RSA, converted by root@vm from \\
OpenSSH"
x-Private: something
AAAAB3NzaC1yc2EAAAADAQABAAABAQCr8ZrmwEoofttssPdNYEc4ly6LhC4ljwBwBMZK5K
xF3oQKEc1JckPAU7tS/3Uv2uSsH93IblLEgRJkZp59yqRKAKmAN1A99Ci8zsNV/Paeob2u
k0f93VjVUuAXR1OV6kPS+UIPc00M7zwTB5WowtvfoRwlhgvYoZxkmeSKk2q44bmjWPqAZ3
BjHiriCFF+u/EAt6uDIiOd37Ukx/AnMzIFQC2z7/AZCt34D52eHWvoOovvcjWkh3fEc86I
XQmRZ6SWPnnbx8P8w+/YBo4PlSRAjB8gOTTmQu9I6PjJddOgfCamZltnAILKHI0ifxXSAv
JlPZpVtZnDrZPMC/vN9nC3
---- END SSH2 PUBLIC KEY ----
"""

RSA2048_SPKI_PEM = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAq/Ga5sBKKH7bbLD3TWBH
OJcui4QuJY8AcATGSuSsRd6EChHNSXJDwFO7Uv91L9rkrB/dyG5SxIESZGaefcqk
SgCpgDdQPfQovM7DVfz2nqG9rpNH/d1Y1VLgF0dTlepD0vlCD3NNDO88EweVqMLb
36EcJYYL2KGcZJnkipNquOG5o1j6gGdwYx4q4ghRfrvxALergyIjnd+1JMfwJzMy
BUAts+/wGQrd+A+dnh1r6DqL73I1pId3xHPOiF0JkWeklj5528fD/MPv2AaOD5Uk
QIwfIDk05kLvSOj4yXXToHwmpmZbZwCCyhyNIn8V0gLyZT2aVbWZw62TzAv7zfZw
twIDAQAB
-----END PUBLIC KEY-----
"""

RSA2048_PKCS1_PEM = """-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAq/Ga5sBKKH7bbLD3TWBHOJcui4QuJY8AcATGSuSsRd6EChHNSXJD
wFO7Uv91L9rkrB/dyG5SxIESZGaefcqkSgCpgDdQPfQovM7DVfz2nqG9rpNH/d1Y
1VLgF0dTlepD0vlCD3NNDO88EweVqMLb36EcJYYL2KGcZJnkipNquOG5o1j6gGdw
Yx4q4ghRfrvxALergyIjnd+1JMfwJzMyBUAts+/wGQrd+A+dnh1r6DqL73I1pId3
xHPOiF0JkWeklj5528fD/MPv2AaOD5UkQIwfIDk05kLvSOj4yXXToHwmpmZbZwCC
yhyNIn8V0gLyZT2aVbWZw62TzAv7zfZwtwIDAQAB
-----END RSA PUBLIC KEY-----
"""

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIpsrGzJ4pUW6QE10tBzCKmK8zmuKJiC7VV032vTQE2U"
ED25519_MD5 = "69:f0:b2:1e:71:ed:51:17:bf:2c:54:18:a6:95:67:ac"
ED25519_SHA256 = "kDuvBlU9eKx+vfPkn/yKL5R4GDfq4qgP68KH+kmoh78="

RSA1024 = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC76z6YGp9Kx80ZNuDuhKeDQw8gdUr7IGjwbvTaGxbYQE3LEK5LjM"
    "V9hg8u/buHJlzJvt65WpnL7FfScZDKsDTRdmdzx1ODP+Xj5hmjojabiiyl6zK1sr6b4vxq1Aw8XkRPYXwU0KdBs/bIa"
    "oY+e/WM3ZoNkJoocys37mbXAOh38Q=="
)
RSA1024_MD5 = "a9:a0:0d:cb:64:d3:ea:cb:c5:61:93:91:a1:12:4c:30"
RSA1024_SHA256 = "Kup+oT2JAgfBr0skwfol9uaMDVWd5JPgvgDkvrTNmB8="

RSA512 = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAQQDGG+j4EkUWbhxCG81CiM6PaRTmG2EOhS9nf6/njn/nkUnJ/SeFRz"
    "b+ucqmBPB29ryjddV9njZoz5QGmX9mdvkX"
)
ECDSA = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAPNepyg15jvAqDnQn"
    "zntzwGlWdXBW7FAtgYppb2MDndJcsZy3omxY4oR+Fw8VCnQ2OLTqTKUo6GW28XutDUGKM= root@vm"
)

needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="no ssh-keygen")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")


def _spki_der() -> bytes:
    return serialization.load_pem_public_key(RSA2048_SPKI_PEM.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pkcs1_der() -> bytes:
    return serialization.load_pem_public_key(RSA2048_PKCS1_PEM.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )


# ----------------------------------------------------------------- fixed vectors


def test_rsa_openssh_line_gives_the_tool_computed_fingerprints() -> None:
    parsed = ssh_keys.parse_public(f"{RSA2048} alice@example\n".encode())

    assert parsed.key_type == "rsa"
    assert parsed.bits == 2048
    assert parsed.public_openssh == RSA2048
    assert parsed.comment == "alice@example"
    assert parsed.fingerprint_md5 == RSA2048_MD5
    assert parsed.fingerprint_sha256 == RSA2048_SHA256
    assert parsed.fingerprint_spki_md5 == RSA2048_SPKI_MD5


def test_ed25519_openssh_line_gives_the_tool_computed_fingerprints() -> None:
    parsed = ssh_keys.parse_public(f"{ED25519} bob@example".encode())

    assert (parsed.key_type, parsed.bits) == ("ed25519", 256)
    assert parsed.public_openssh == ED25519
    assert parsed.fingerprint_md5 == ED25519_MD5
    assert parsed.fingerprint_sha256 == ED25519_SHA256


def test_sha256_fingerprint_is_ssh_keygen_value_with_padding_and_no_prefix() -> None:
    fp = ssh_keys.parse_public(ED25519.encode()).fingerprint_sha256

    assert not fp.startswith("SHA256:")
    assert len(fp) == 44
    assert fp.endswith("=")
    assert base64.b64decode(fp) == hashlib.sha256(ssh_keys.openssh_blob(ED25519)).digest()


def test_rsa_1024_is_accepted_and_has_no_comment() -> None:
    parsed = ssh_keys.parse_public(RSA1024.encode())

    assert parsed.bits == 1024
    assert parsed.comment is None
    assert parsed.fingerprint_md5 == RSA1024_MD5
    assert parsed.fingerprint_sha256 == RSA1024_SHA256


@pytest.mark.parametrize("bits", [3072, 4096])
def test_larger_rsa_keys_are_accepted(bits: int) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)

    assert ssh_keys.parse_public(line).bits == bits


# ----------------------------------------------------------------- input encodings


@pytest.mark.parametrize(
    "material",
    [
        pytest.param(RSA2048.encode(), id="openssh-no-comment"),
        pytest.param(f"  {RSA2048} a comment with spaces \r\n".encode(), id="openssh-crlf"),
        pytest.param(f"{RSA2048} x", id="openssh-str"),
        pytest.param(RSA2048_RFC4716.encode(), id="rfc4716"),
        pytest.param(RSA2048_RFC4716.replace("\n", "\r\n").encode(), id="rfc4716-crlf"),
        pytest.param(RSA2048_SPKI_PEM.encode(), id="pem-spki"),
        pytest.param(RSA2048_PKCS1_PEM.encode(), id="pem-pkcs1"),
        pytest.param(_spki_der(), id="der-spki"),
        pytest.param(_pkcs1_der(), id="der-pkcs1"),
        pytest.param(base64.b64encode(_spki_der()), id="base64-der-spki"),
        pytest.param(base64.encodebytes(_pkcs1_der()), id="base64-der-pkcs1-wrapped"),
        pytest.param(RSA2048.split()[1].encode(), id="base64-ssh-blob"),
    ],
)
def test_every_supported_encoding_normalises_to_the_same_key(material: bytes | str) -> None:
    parsed = ssh_keys.parse_public(material)

    assert parsed.public_openssh == RSA2048
    assert parsed.fingerprint_md5 == RSA2048_MD5
    assert parsed.fingerprint_spki_md5 == RSA2048_SPKI_MD5


def test_utf8_comment_is_kept() -> None:
    parsed = ssh_keys.parse_public(f"{ED25519} José's laptop ✓".encode())

    assert parsed.comment == "José's laptop ✓"
    assert parsed.public_openssh == ED25519


def test_private_key_material_is_not_echoed_in_the_error() -> None:
    pem = ssh_keys.generate("ed25519").private_pem

    with pytest.raises(InvalidParameter) as err:
        ssh_keys.parse_public(pem.encode())

    assert pem.splitlines()[1][:20] not in err.value.message


def test_rfc4716_comment_header_is_kept_without_quotes() -> None:
    parsed = ssh_keys.parse_public(RSA2048_RFC4716.encode())

    assert parsed.comment == "2048-bit RSA, converted by root@vm from OpenSSH"


def test_ed25519_rfc4716_and_pem_forms_are_accepted() -> None:
    blob_b64 = ED25519.split()[1]
    rfc4716 = f"---- BEGIN SSH2 PUBLIC KEY ----\n{blob_b64}\n---- END SSH2 PUBLIC KEY ----\n"
    pem = serialization.load_ssh_public_key(ED25519.encode()).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    for material in (rfc4716.encode(), pem):
        parsed = ssh_keys.parse_public(material)
        assert parsed.public_openssh == ED25519
        assert parsed.fingerprint_sha256 == ED25519_SHA256


# ----------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("material", "reason_part"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"  \n\t ", "empty", id="blank"),
        pytest.param(b"not a key at all", "no supported format", id="garbage-text"),
        pytest.param(b"not-a-key at all", "unsupported key type", id="garbage-words"),
        pytest.param(b"\x00\x01\x02\xff\xfe", "no supported format", id="garbage-binary"),
        pytest.param(b"ssh-rsa", "form", id="type-only"),
        pytest.param(b"ssh-rsa !!!notbase64!!!", "cannot be decoded", id="bad-base64"),
        pytest.param(RSA2048[:200].encode(), "cannot be decoded", id="truncated"),
        pytest.param(
            ("ssh-ed25519 " + RSA2048.split()[1]).encode(), "cannot be decoded", id="type-mismatch"
        ),
        pytest.param(RSA512.encode(), "1024", id="rsa-512-too-small"),
        pytest.param(ECDSA.encode(), "unsupported key type", id="ecdsa"),
        pytest.param(ECDSA.split()[1].encode(), "unsupported key type", id="ecdsa-blob"),
        pytest.param(f"{RSA2048}\n{ED25519}".encode(), "exactly one", id="two-keys"),
        pytest.param(
            RSA2048_RFC4716.replace("---- END SSH2 PUBLIC KEY ----", "").encode(),
            "END SSH2",
            id="rfc4716-no-end",
        ),
        pytest.param(
            b"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n",
            "private key",
            id="private-key",
        ),
        pytest.param(
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "PEM", id="bad-pem"
        ),
        pytest.param(b"x" * (ssh_keys.MAX_MATERIAL_BYTES + 1), "longer", id="too-long"),
    ],
)
def test_invalid_material_raises_invalid_parameter(material: bytes, reason_part: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        ssh_keys.parse_public(material)

    assert err.value.name == "PublicKeyMaterial"
    assert reason_part in err.value.reason


def test_ecdsa_pem_is_rejected_as_unsupported_type() -> None:
    pem = serialization.load_ssh_public_key(ECDSA.rsplit(" ", 1)[0].encode()).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    with pytest.raises(InvalidParameter, match="only RSA and ED25519"):
        ssh_keys.parse_public(pem)


# ----------------------------------------------------------------- generation


def test_generated_rsa_key_is_pkcs1_pem_2048_with_matching_public_key() -> None:
    key = ssh_keys.generate("rsa", "pem")

    assert key.key_type == "rsa"
    assert key.private_pem.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert key.private_pem.rstrip().endswith("-----END RSA PRIVATE KEY-----")
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048
    assert private.public_key().public_numbers().e == 65537
    expected_line = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert key.public_openssh == expected_line.decode()


def test_generated_rsa_fingerprints_match_independent_computation() -> None:
    key = ssh_keys.generate("rsa")
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    blob = base64.b64decode(key.public_openssh.split()[1])

    def colon(digest: bytes) -> str:
        return ":".join(format(b, "02x") for b in digest)

    assert key.fingerprint_sha1 == colon(hashlib.sha1(pkcs8).digest())
    assert key.fingerprint_spki_md5 == colon(hashlib.md5(spki).digest())
    assert key.fingerprint_md5 == colon(hashlib.md5(blob).digest())
    assert key.fingerprint_sha256 == base64.b64encode(hashlib.sha256(blob).digest()).decode()
    assert len(key.fingerprint_sha1.split(":")) == 20


def test_generated_ed25519_key_is_openssh_private_key() -> None:
    key = ssh_keys.generate("ed25519")

    assert key.private_pem.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    private = serialization.load_ssh_private_key(key.private_pem.encode(), password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    assert key.public_openssh.startswith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")
    assert ssh_keys.parse_public(key.public_openssh).fingerprint_sha256 == key.fingerprint_sha256


def test_generated_keys_are_distinct() -> None:
    assert (
        ssh_keys.generate("ed25519").public_openssh != ssh_keys.generate("ed25519").public_openssh
    )


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_parsing_a_generated_public_key_reproduces_its_fingerprints(key_type: str) -> None:
    key = ssh_keys.generate(key_type)
    parsed = ssh_keys.parse_public(key.public_openssh.encode())

    assert parsed.key_type == key_type
    assert parsed.public_openssh == key.public_openssh
    assert (parsed.fingerprint_md5, parsed.fingerprint_sha256, parsed.fingerprint_spki_md5) == (
        key.fingerprint_md5,
        key.fingerprint_sha256,
        key.fingerprint_spki_md5,
    )


@pytest.mark.parametrize(
    ("key_type", "fmt", "param"),
    [
        ("dsa", "pem", "KeyType"),
        ("RSA", "pem", "KeyType"),
        ("rsa", "PPK", "KeyFormat"),
        ("ed25519", "der", "KeyFormat"),
    ],
)
def test_unsupported_type_or_format_raises(key_type: str, fmt: str, param: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        ssh_keys.generate(key_type, fmt)

    assert err.value.name == param


# ----------------------------------------------------------------- external tools


def _run(args: list[str], stdin: bytes | None = None) -> str:
    done = subprocess.run(args, input=stdin, capture_output=True, check=True)
    return done.stdout.decode().strip()


def _write_private(tmp_path: Path, pem: str) -> Path:
    path = tmp_path / "key"
    path.write_text(pem)
    os.chmod(path, 0o600)
    return path


@needs_ssh_keygen
@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_ssh_keygen_agrees_on_public_key_and_fingerprints(tmp_path: Path, key_type: str) -> None:
    key = ssh_keys.generate(key_type)
    private = _write_private(tmp_path, key.private_pem)

    assert _run(["ssh-keygen", "-y", "-f", str(private)]).split()[:2] == key.public_openssh.split()
    md5_line = _run(["ssh-keygen", "-E", "md5", "-l", "-f", str(private)])
    assert md5_line.split()[1] == "MD5:" + key.fingerprint_md5
    sha_line = _run(["ssh-keygen", "-E", "sha256", "-l", "-f", str(private)])
    assert sha_line.split()[1] == "SHA256:" + key.fingerprint_sha256.rstrip("=")


@needs_openssl
def test_openssl_agrees_on_created_rsa_sha1_and_spki_md5(tmp_path: Path) -> None:
    key = ssh_keys.generate("rsa")
    private = _write_private(tmp_path, key.private_pem)

    pkcs8 = subprocess.run(
        ["openssl", "pkcs8", "-in", str(private), "-topk8", "-nocrypt", "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    assert _run(["openssl", "sha1", "-c"], pkcs8).split("= ")[-1] == key.fingerprint_sha1
    spki = subprocess.run(
        ["openssl", "pkey", "-in", str(private), "-pubout", "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    assert _run(["openssl", "md5", "-c"], spki).split("= ")[-1] == key.fingerprint_spki_md5


@needs_ssh_keygen
def test_ssh_keygen_export_formats_are_accepted(tmp_path: Path) -> None:
    pub = tmp_path / "key.pub"
    pub.write_text(RSA2048 + " alice@example\n")

    for mode in (["-e"], ["-e", "-m", "PKCS8"], ["-e", "-m", "PEM"], ["-e", "-m", "RFC4716"]):
        exported = _run(["ssh-keygen", *mode, "-f", str(pub)])
        assert ssh_keys.parse_public(exported.encode()).public_openssh == RSA2048
