"""SSH key pairs: generation, public-key parsing and fingerprints.

Pure functions over bytes and strings; no database, no wire vocabulary beyond the
key formats themselves. Two key types are supported, ``"rsa"`` and ``"ed25519"``.

Fingerprints (every function returns a plain string; views pick the one they show):

``openssh_md5(blob)``
    MD5 of the SSH public-key blob (the base64-decoded second field of an OpenSSH
    ``ssh-rsa AAAA...`` line), lowercase hex pairs joined by ``:``. Same value as
    ``ssh-keygen -E md5 -lf key.pub`` without the ``MD5:`` prefix. CloudStack shows
    this one for every key pair.

``openssh_sha256(blob)``
    SHA-256 of the same blob, standard base64 *with* its ``=`` padding and without
    a ``SHA256:`` prefix, e.g. ``kDuvBlU9eKx+vfPkn/yKL5R4GDfq4qgP68KH+kmoh78=``.
    ``ssh-keygen -lf`` prints the same digest as ``SHA256:`` + the unpadded text.
    Amazon EC2 shows this for ED25519 key pairs, created or imported (its docs say
    EC2 may add ``=`` padding that ssh-keygen omits; observed values carry it).

``spki_md5(public_key)``
    MD5 of the DER-encoded SubjectPublicKeyInfo, colon hex. Same value as
    ``openssl pkey -pubin -in pub.pem -outform DER | openssl md5 -c``. Amazon EC2
    shows this for *imported* RSA key pairs.

``pkcs8_sha1(private_key)``
    SHA-1 of the private key serialised as unencrypted DER PKCS#8, colon hex. Same
    value as ``openssl pkcs8 -in key.pem -topk8 -nocrypt -outform DER | openssl sha1 -c``.
    Amazon EC2 shows this for RSA key pairs it *created*.

Errors: bad input raises ``engine.errors.InvalidParameter``; nothing else is raised
on purpose.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from engine.errors import InvalidParameter

KEY_TYPES: Final = ("rsa", "ed25519")
KEY_FORMATS: Final = ("pem", "ppk")
RSA_GENERATED_BITS: Final = 2048
RSA_MIN_BITS: Final = 1024
RSA_MAX_BITS: Final = 16384
MAX_MATERIAL_BYTES: Final = 16 * 1024

# Parameter names carried by the InvalidParameter errors raised here.
PARAM_KEY_TYPE: Final = "KeyType"
PARAM_KEY_FORMAT: Final = "KeyFormat"
PARAM_PUBLIC_KEY: Final = "PublicKeyMaterial"

_SSH_TYPE_NAMES: Final = {"ssh-rsa": "rsa", "ssh-ed25519": "ed25519"}
_RFC4716_BEGIN: Final = "---- BEGIN SSH2 PUBLIC KEY ----"
_RFC4716_END: Final = "---- END SSH2 PUBLIC KEY ----"
_B64_TEXT: Final = re.compile(r"^[A-Za-z0-9+/=\s]+$")

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class GeneratedKey:
    """A new key pair. The private key is handed out once and never stored.

    ``private_pem`` is ``-----BEGIN RSA PRIVATE KEY-----`` (PKCS#1, traditional
    OpenSSL PEM) for RSA and ``-----BEGIN OPENSSH PRIVATE KEY-----`` for ED25519,
    both unencrypted, as Amazon EC2 returns them; with the ``ppk`` format it is
    an unencrypted PuTTY key file, version 3 (see :func:`ppk_text`).
    ``public_openssh`` has no comment.
    Fingerprints are described in the module docstring: ``fingerprint_md5`` is
    ``openssh_md5``, ``fingerprint_sha1`` is ``pkcs8_sha1``, ``fingerprint_sha256``
    is ``openssh_sha256`` and ``fingerprint_spki_md5`` is ``spki_md5``.
    """

    key_type: str
    private_pem: str
    public_openssh: str
    fingerprint_md5: str
    fingerprint_sha1: str
    fingerprint_sha256: str
    fingerprint_spki_md5: str


@dataclass(frozen=True)
class ParsedPublicKey:
    """A validated public key, normalised to one OpenSSH line without a comment.

    ``comment`` is the OpenSSH comment or the RFC 4716 ``Comment`` header, if any.
    ``bits`` is the RSA modulus size, or 256 for ED25519.
    """

    key_type: str
    bits: int
    public_openssh: str
    comment: str | None
    fingerprint_md5: str
    fingerprint_sha256: str
    fingerprint_spki_md5: str


# --------------------------------------------------------------------------- digests


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def openssh_blob(public_openssh: str) -> bytes:
    """The binary key blob of an OpenSSH public-key line (``type base64 [comment]``)."""
    try:
        return base64.b64decode(public_openssh.split()[1], validate=True)
    except (IndexError, binascii.Error) as exc:
        raise InvalidParameter(PARAM_PUBLIC_KEY, public_openssh, "not an OpenSSH key") from exc


def openssh_md5(blob: bytes) -> str:
    """MD5 of the SSH key blob, colon hex (``ssh-keygen -E md5 -l`` minus ``MD5:``)."""
    return _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())


def openssh_sha256(blob: bytes) -> str:
    """SHA-256 of the SSH key blob, padded standard base64, no ``SHA256:`` prefix."""
    return base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")


def spki_md5(public_key: PublicKey) -> str:
    """MD5 of the DER SubjectPublicKeyInfo, colon hex."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _colon_hex(hashlib.md5(der, usedforsecurity=False).digest())


def pkcs8_sha1(private_key: PrivateKey) -> str:
    """SHA-1 of the unencrypted DER PKCS#8 private key, colon hex."""
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _colon_hex(hashlib.sha1(der, usedforsecurity=False).digest())


# --------------------------------------------------------------------------- generate


def generate(key_type: str, fmt: str = "pem") -> GeneratedKey:
    """Create a new key pair of ``key_type`` (``"rsa"`` 2048-bit or ``"ed25519"``).

    ``fmt`` is the private key file format: ``"pem"`` or ``"ppk"`` (PuTTY);
    anything else raises ``InvalidParameter``. An unknown ``key_type`` raises
    ``InvalidParameter`` too.
    """
    if key_type not in KEY_TYPES:
        raise InvalidParameter(PARAM_KEY_TYPE, key_type, f"must be one of {', '.join(KEY_TYPES)}")
    if fmt not in KEY_FORMATS:
        raise InvalidParameter(PARAM_KEY_FORMAT, fmt, "the format must be pem or ppk")

    private_key: PrivateKey
    if key_type == "rsa":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_GENERATED_BITS)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    else:
        private_key = ed25519.Ed25519PrivateKey.generate()
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    public_key = private_key.public_key()
    public_openssh = _openssh_line(public_key)
    blob = openssh_blob(public_openssh)
    private_text = (ppk_text(private_key, f"{key_type}-key") if fmt == "ppk"
                    else pem.decode("ascii"))
    return GeneratedKey(
        key_type=key_type,
        private_pem=private_text,
        public_openssh=public_openssh,
        fingerprint_md5=openssh_md5(blob),
        fingerprint_sha1=pkcs8_sha1(private_key),
        fingerprint_sha256=openssh_sha256(blob),
        fingerprint_spki_md5=spki_md5(public_key),
    )


# --------------------------------------------------------------------------- PuTTY


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _ssh_mpint(n: int) -> bytes:
    """A non-negative SSH-2 mpint: big-endian, a leading zero byte when the
    top bit is set, no bytes at all for zero."""
    raw = n.to_bytes((n.bit_length() + 8) // 8, "big") if n else b""
    return _ssh_string(raw)


def _base64_lines(data: bytes) -> list[str]:
    text = base64.b64encode(data).decode("ascii")
    return [text[i:i + 64] for i in range(0, len(text), 64)]


def ppk_text(private_key: PrivateKey, comment: str) -> str:
    """``private_key`` as an unencrypted PuTTY private key file, format version 3.

    Layout: ``PuTTY-User-Key-File-3: <ssh key type>``, ``Encryption: none``,
    ``Comment``, the public blob (the OpenSSH key blob) and the private blob in
    base64 lines of 64 characters after ``Public-Lines``/``Private-Lines``
    counts, then ``Private-MAC``: lowercase hex HMAC-SHA-256, with an empty key
    (no passphrase), over the SSH strings of the key type, the encryption
    name, the comment, the public blob and the private blob. Private blobs:
    RSA mpints d, p, q, iqmp (q^-1 mod p); ED25519 the 32-byte seed as a string.
    Unencrypted files carry no padding.
    """
    public_blob = openssh_blob(_openssh_line(private_key.public_key()))
    if isinstance(private_key, rsa.RSAPrivateKey):
        algorithm = "ssh-rsa"
        numbers = private_key.private_numbers()
        private_blob = b"".join(_ssh_mpint(v) for v in (
            numbers.d, numbers.p, numbers.q, numbers.iqmp))
    else:
        algorithm = "ssh-ed25519"
        private_blob = _ssh_string(private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption()))
    encryption = "none"
    comment = comment.replace("\r", " ").replace("\n", " ")
    mac = hmac.new(b"", b"".join(_ssh_string(part) for part in (
        algorithm.encode("ascii"), encryption.encode("ascii"), comment.encode("utf-8"),
        public_blob, private_blob)), hashlib.sha256).hexdigest()
    public_lines, private_lines = _base64_lines(public_blob), _base64_lines(private_blob)
    lines = [f"PuTTY-User-Key-File-3: {algorithm}", f"Encryption: {encryption}",
             f"Comment: {comment}", f"Public-Lines: {len(public_lines)}", *public_lines,
             f"Private-Lines: {len(private_lines)}", *private_lines, f"Private-MAC: {mac}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- parse


def parse_public(material: bytes | str) -> ParsedPublicKey:
    """Validate and normalise public key material.

    Accepted encodings (surrounding whitespace and CRLF line ends are ignored):

    * OpenSSH one line: ``ssh-rsa AAAA... [comment]`` or ``ssh-ed25519 AAAA... [comment]``;
    * RFC 4716 (``---- BEGIN SSH2 PUBLIC KEY ----``), with optional headers;
    * PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo) or ``RSA PUBLIC KEY`` (PKCS#1);
    * DER of either, raw or as base64 text; a bare base64 SSH key blob.

    Accepted keys: RSA with a modulus of 1024 to 16384 bits, and ED25519. Anything
    else (other key types, private keys, several keys, garbage) raises
    ``InvalidParameter`` named ``PublicKeyMaterial``.
    """
    raw = material.encode("utf-8") if isinstance(material, str) else bytes(material)
    if not raw.strip():
        raise _invalid(material, "the key material is empty")
    if len(raw) > MAX_MATERIAL_BYTES:
        raise _invalid(b"", f"the key material is longer than {MAX_MATERIAL_BYTES} bytes")

    public_key, comment = _load_any(raw)
    if isinstance(public_key, rsa.RSAPublicKey):
        bits = public_key.key_size
        if not RSA_MIN_BITS <= bits <= RSA_MAX_BITS:
            raise _invalid(
                material, f"RSA keys must have {RSA_MIN_BITS} to {RSA_MAX_BITS} bits, not {bits}"
            )
        key_type = "rsa"
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        bits, key_type = 256, "ed25519"
    else:
        raise _invalid(material, "only RSA and ED25519 keys are supported")

    public_openssh = _openssh_line(public_key)
    blob = openssh_blob(public_openssh)
    return ParsedPublicKey(
        key_type=key_type,
        bits=bits,
        public_openssh=public_openssh,
        comment=comment or None,
        fingerprint_md5=openssh_md5(blob),
        fingerprint_sha256=openssh_sha256(blob),
        fingerprint_spki_md5=spki_md5(public_key),
    )


def _invalid(material: bytes | str, reason: str) -> InvalidParameter:
    shown = material if isinstance(material, str) else material.decode("ascii", "replace")
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return InvalidParameter(PARAM_PUBLIC_KEY, shown, reason)


def _openssh_line(public_key: PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode("ascii")


def _load_any(raw: bytes) -> tuple[object, str]:
    """Decode ``raw`` in whichever supported encoding it uses -> (key object, comment)."""
    if raw[:1] == b"\x30":  # DER SEQUENCE tag; no accepted text form starts with "0"
        return _load_der(raw, raw), ""
    try:  # UTF-8, not ASCII: OpenSSH comments may carry any text
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n").strip()
    except UnicodeDecodeError:
        return _load_der(raw, raw), ""

    if text.startswith(_RFC4716_BEGIN):
        return _load_rfc4716(text, raw)
    if text.startswith("-----BEGIN"):
        if "PRIVATE KEY-----" in text.splitlines()[0]:
            raise _invalid(
                "(private key)", "a private key was given where a public key is expected"
            )
        try:
            return serialization.load_pem_public_key(text.encode("ascii")), ""
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise _invalid(raw, "the PEM public key cannot be decoded") from exc
    fields = text.split(None, 2)
    if fields and not _B64_TEXT.match(text):
        return _load_openssh(text, fields, raw)
    return _load_base64(text, raw)


def _load_openssh(text: str, fields: list[str], raw: bytes) -> tuple[object, str]:
    if "\n" in text:
        raise _invalid(raw, "expected exactly one OpenSSH public key line")
    if len(fields) < 2:
        raise _invalid(raw, "an OpenSSH public key has the form '<type> <base64> [comment]'")
    if fields[0] not in _SSH_TYPE_NAMES:
        raise _invalid(raw, f"unsupported key type '{fields[0]}'")
    try:
        key = serialization.load_ssh_public_key(f"{fields[0]} {fields[1]}".encode("ascii"))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _invalid(raw, "the OpenSSH public key cannot be decoded") from exc
    return key, fields[2].strip() if len(fields) > 2 else ""


def _load_rfc4716(text: str, raw: bytes) -> tuple[object, str]:
    lines = [line.strip() for line in text.split("\n")]
    if lines[-1] != _RFC4716_END:
        raise _invalid(raw, f"missing '{_RFC4716_END}'")
    headers: dict[str, str] = {}
    body: list[str] = []
    pending = ""
    for line in lines[1:-1]:
        if pending or (not body and ":" in line):
            line = pending + line
            if line.endswith("\\"):
                pending = line[:-1]
                continue
            pending = ""
            tag, _, value = line.partition(":")
            headers[tag.strip().lower()] = value.strip()
        elif line:
            body.append(line)
    try:
        blob = base64.b64decode("".join(body), validate=True)
    except binascii.Error as exc:
        raise _invalid(raw, "the RFC 4716 key body is not valid base64") from exc
    comment = headers.get("comment", "")
    if len(comment) >= 2 and comment[0] == comment[-1] == '"':
        comment = comment[1:-1]
    return _load_blob(blob, raw), comment


def _load_base64(text: str, raw: bytes) -> tuple[object, str]:
    try:
        decoded = base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error as exc:
        raise _invalid(raw, "the key material is in no supported format") from exc
    if _blob_type_name(decoded) is not None:
        return _load_blob(decoded, raw), ""
    return _load_der(decoded, raw), ""


def _blob_type_name(data: bytes) -> str | None:
    """The key type name an SSH key blob starts with, or None if ``data`` is no blob.

    A blob starts with a 4-byte big-endian length and that many printable ASCII
    bytes (``ssh-rsa``, ``ecdsa-sha2-nistp256``...); DER starts with 0x30 instead.
    """
    name_len = int.from_bytes(data[:4], "big")
    name = data[4 : 4 + name_len]
    if not 0 < name_len <= 64 or len(name) != name_len:
        return None
    if not all(0x21 <= b < 0x7F for b in name):
        return None
    return name.decode("ascii")


def _load_blob(blob: bytes, raw: bytes) -> object:
    """An SSH wire-format key blob (RFC 4253 section 6.6)."""
    name = _blob_type_name(blob)
    if name not in _SSH_TYPE_NAMES:
        raise _invalid(raw, f"unsupported key type '{name}'")
    line = f"{name} {base64.b64encode(blob).decode('ascii')}"
    try:
        return serialization.load_ssh_public_key(line.encode("ascii"))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _invalid(raw, "the SSH public key blob cannot be decoded") from exc


def _load_der(der: bytes, raw: bytes) -> object:
    try:
        return serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _invalid(raw, "the key material is in no supported format") from exc
