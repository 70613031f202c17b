"""IMDS paths EC2 serves that guests' tools read: scheduled maintenance events
(none: ``[]``) and the identity document's signatures, which verify against
the certificate inside the PKCS#7 signature."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from tests.integration.imds.test_imds import _launch, call


def test_events_and_identity_signatures(server: Any) -> None:
    ec2 = server.ec2()
    iid = _launch(server, ec2)["InstanceId"]
    base = f"{server.url}/imds/{iid}/latest/"
    assert call(base + "meta-data/events/maintenance/scheduled").text == "[]"
    assert call(base + "meta-data/events/maintenance/history").text == "[]"
    assert call(base + "meta-data/events/").text == "maintenance/"
    assert "events/" in call(base + "meta-data/").text.split("\n")

    document = call(base + "dynamic/instance-identity/document").text
    assert json.loads(document)["instanceId"] == iid
    got = call(base + "dynamic/instance-identity/pkcs7")
    assert got.status == 200 and "BEGIN" not in got.text
    assert all(len(line) <= 64 for line in got.text.split("\n"))
    der = base64.b64decode(got.text)
    certs = pkcs7.load_der_pkcs7_certificates(der)
    assert len(certs) == 1
    public = certs[0].public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(certs[0], x509.Certificate)
    # the plain signature is the document's, with the same key
    signature = base64.b64decode(call(base + "dynamic/instance-identity/signature").text)
    public.verify(signature, document.encode(), ec.ECDSA(hashes.SHA256()))
    # and the key is stable: a second pkcs7 carries the same certificate
    again = pkcs7.load_der_pkcs7_certificates(
        base64.b64decode(call(base + "dynamic/instance-identity/pkcs7").text))
    assert again[0] == certs[0]
    ec2.terminate_instances(InstanceIds=[iid])
