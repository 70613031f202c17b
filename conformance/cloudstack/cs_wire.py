"""Raw CloudStack API requests, signed the way real clients sign them.

Only ``requests`` and the standard library: these helpers talk to any
``/client/api`` endpoint (nimbostack or a real CloudStack) given an API key
and secret.

Two signing styles:

* ``modern`` -- what the server itself computes (``ApiServer.verifyRequest``):
  names sorted case-sensitively, values encoded like Java's ``URLEncoder``
  with ``+`` -> ``%20``, the whole string lowercased, HMAC-SHA1, base64.
* ``legacy`` -- older clients (marvin, cloudmonkey 5.x, libcloud): names sorted
  by their *lowercased* form, ``quote_plus(value, safe="*")``, lowercased,
  ``+`` -> ``%20``. Identical to ``modern`` whenever no uppercase letter decides
  the sort order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import requests

_JAVA_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_")


def java_urlencode(value: str) -> str:
    """``URLEncoder.encode(value, "UTF-8")`` with ``+`` -> ``%20`` (uppercase hex)."""
    return "".join(chr(b) if b in _JAVA_SAFE else "%20" if b == 0x20 else f"%{b:02X}"
                   for b in value.encode("utf-8"))


def modern_string(params: dict[str, str]) -> str:
    """The lowercased string CloudStack signs: case-sensitive name order."""
    names = sorted(n for n in params if n.lower() != "signature")
    return "&".join(f"{n}={java_urlencode(params[n])}" for n in names).lower()


def legacy_string(params: dict[str, str]) -> str:
    """The string marvin / cloudmonkey 5.x sign: names sorted by lowercased form."""
    names = sorted((n for n in params if n.lower() != "signature"), key=str.lower)
    text = "&".join(f"{n.lower()}={quote_plus(params[n], safe='*')}" for n in names)
    return text.lower().replace("+", "%20")


def hmac_sha1(text: str, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def expires_in(seconds: float) -> str:
    """An ``expires`` value ``seconds`` from now (negative: in the past), +0000 form."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def inner(self) -> dict[str, Any]:
        """The one object under the single top-level key."""
        assert isinstance(self.body, dict) and len(self.body) == 1, self.body
        return next(iter(self.body.values()))  # type: ignore[no-any-return]

    @property
    def key(self) -> str:
        assert isinstance(self.body, dict) and len(self.body) == 1, self.body
        return next(iter(self.body))


@dataclass
class RawClient:
    """A hand-rolled client: every knob a real client turns differently."""

    endpoint: str
    key: str
    secret: str
    style: str = "modern"  # or "legacy"
    api_key_name: str = "apiKey"
    timeout: float = 30.0

    def signed(self, command: str, params: dict[str, Any], *, secret: str | None = None,
               response: str | None = "json") -> dict[str, str]:
        """The full parameter set for ``command``, ``signature`` included."""
        full: dict[str, str] = {"command": command, self.api_key_name: self.key}
        if response is not None:
            full["response"] = response
        full.update({k: _text(v) for k, v in params.items()})
        text = legacy_string(full) if self.style == "legacy" else modern_string(full)
        full["signature"] = hmac_sha1(text, secret if secret is not None else self.secret)
        return full

    def call(self, command: str, params: dict[str, Any] | None = None, *, method: str = "GET",
             secret: str | None = None, response: str | None = "json",
             sign: bool = True) -> Reply:
        params = dict(params or {})
        if sign:
            full = self.signed(command, params, secret=secret, response=response)
        else:
            full = {"command": command, **{k: _text(v) for k, v in params.items()}}
            if response is not None:
                full["response"] = response
        if method == "GET":
            query = urlencode(full, quote_via=quote if self.style == "modern" else quote_plus)
            http = requests.get(f"{self.endpoint}?{query}", timeout=self.timeout)
        else:
            http = requests.post(self.endpoint, data=full, timeout=self.timeout)
        try:
            body: Any = http.json()
        except ValueError:
            body = http.text
        return Reply(http.status_code, body, dict(http.headers))

    def ok(self, command: str, params: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """``call`` that must succeed (HTTP 200); returns the inner object."""
        reply = self.call(command, params, **kw)
        assert reply.status == 200, (command, reply.status, reply.body)
        return reply.inner()

    def wait(self, jobid: str, *, timeout: float = 60.0, interval: float = 0.1) -> dict[str, Any]:
        """Poll ``queryAsyncJobResult`` until the job leaves status 0; the job body."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            job = self.ok("queryAsyncJobResult", {"jobid": jobid})
            if job["jobstatus"] != 0:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {jobid} still pending after {timeout}s")
            time.sleep(interval)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    return str(value)
