"""GetPasswordData: the instance's password, encrypted with its key pair's public key.

``PasswordData`` is the base64 of RSA PKCS#1 v1.5 ciphertext (decrypt with the
key pair's private key); it is empty when no password was set for the
instance or it has no RSA key pair, as AWS answers while none is available.
"""

from __future__ import annotations

from datetime import UTC, datetime

from awsapi import ids
from awsapi.actions import Params, RequestContext, Result, action
from awsapi.ids import Kind


@action("GetPasswordData", readonly=True)
def get_password_data(ctx: RequestContext, p: Params) -> Result:
    data = ctx.services.passwords.data(ctx.principal, sid=ids.parse(p["InstanceId"],
                                                                   Kind.INSTANCE))
    when = data.set_at.replace(tzinfo=UTC) if data.set_at else datetime.now(UTC)
    return {"InstanceId": p["InstanceId"], "PasswordData": data.encrypted or "",
            "Timestamp": when}
