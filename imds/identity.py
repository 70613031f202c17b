"""Signatures of the instance identity document (``dynamic/instance-identity/``).

EC2 signs the document with AWS's own regional keys; this cloud cannot, so it
signs with a key of its own that every management server derives from the
same secret seed (:meth:`InstanceMetadataService.identity_seed`): an ECDSA
P-256 key. The public half is published as a self-signed certificate inside
each PKCS#7 signature, so a guest can check that the document it read came
from this cloud unchanged (``openssl smime -verify -noverify``); a check
against AWS's certificates fails, as it must.

* ``signature``: base64 of the ECDSA-SHA256 signature (DER) of the document's
  bytes;
* ``pkcs7``: a detached PKCS#7 ``SignedData`` over the document (SHA-256,
  with the certificate), base64 without PEM armour, as EC2 serves it.
"""

from __future__ import annotations

import base64
import datetime
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

_SUBJECT = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nimbostack"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "instance identity")])
_NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)


@functools.lru_cache(maxsize=4)
def _signer(seed: bytes) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The key derived from ``seed`` and its self-signed certificate."""
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256's n
    key = ec.derive_private_key(int.from_bytes(seed, "big") % (order - 1) + 1, ec.SECP256R1())
    serial = int.from_bytes(seed[:8], "big") >> 1 or 1
    cert = (x509.CertificateBuilder().subject_name(_SUBJECT).issuer_name(_SUBJECT)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(_NOT_BEFORE).not_valid_after(_NOT_AFTER)
            .sign(key, hashes.SHA256()))
    return key, cert


def signature(seed: bytes, document: str) -> str:
    """Base64 of the document's ECDSA-SHA256 signature with the seed's key."""
    key, _ = _signer(seed)
    return base64.b64encode(key.sign(document.encode(), ec.ECDSA(hashes.SHA256()))).decode()


def pkcs7_signature(seed: bytes, document: str) -> str:
    """The detached PKCS#7 signature of the document, base64 in 64-column lines
    without the PEM header and footer (EC2's layout)."""
    key, cert = _signer(seed)
    der = (pkcs7.PKCS7SignatureBuilder().set_data(document.encode())
           .add_signer(cert, key, hashes.SHA256())
           .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature]))
    text = base64.b64encode(der).decode()
    return "\n".join(text[i:i + 64] for i in range(0, len(text), 64))


def certificate_pem(seed: bytes) -> str:
    """The PEM certificate of the seed's key (for checking ``signature``)."""
    return _signer(seed)[1].public_bytes(serialization.Encoding.PEM).decode()
