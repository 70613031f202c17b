"""CloudStack API-key request signatures (HMAC-SHA1) and signatureVersion=3 expiry.

The server algorithm (``ApiServer.verifyRequest``):

1. every parameter except ``signature`` (name compared case-insensitively);
2. names sorted case-sensitively in Java (UTF-16 code unit) order, not encoded;
3. ``name=ENC(value)`` joined by ``&``, ENC = Java ``URLEncoder`` (UTF-8; keeps
   ``A-Za-z0-9.-*_``; uppercase ``%XX`` for the rest) with ``+`` -> ``%20``;
4. the whole string lowercased; HMAC-SHA1 with the secret; standard base64.

``verify`` also accepts the variants real clients produce (names sorted by their
lowercased form; ``~`` left bare; ``[`` ``]`` left bare in values by libcloud).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from nativeapi.errors_wire import auth_failed
from nativeapi.protocol.parser import parse_tz_date

_JAVA_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_")
_TILDE = frozenset(b"~")  # Python quote / Go QueryEscape leave '~' bare
_LIBCLOUD = frozenset(b"~[]")  # libcloud: quote(v, safe="[]*")

SortKey = Callable[[str], bytes]


def _java_order(name: str) -> bytes:
    # Java String.compareTo compares UTF-16 code units; big-endian UTF-16 bytes
    # compare the same way.
    return name.encode("utf-16-be", "surrogatepass")


def _lowercase_order(name: str) -> bytes:
    return _java_order(name.lower())


def java_urlencode(value: str, bare: frozenset[int] = frozenset()) -> str:
    """``URLEncoder.encode(value, "UTF-8").replace("+", "%20")``; ``bare`` bytes kept as is."""
    out: list[str] = []
    for byte in value.encode("utf-8", "replace"):  # lone surrogates -> '?', as Java does
        if byte in _JAVA_SAFE or byte in bare:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("%20")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _canonical(params: Mapping[str, str], order: SortKey, bare: frozenset[int]) -> str:
    names = sorted((n for n in params if n.lower() != "signature"), key=order)
    return "&".join(f"{n}={java_urlencode(params[n], bare)}" for n in names).lower()


def canonical(params: Mapping[str, str]) -> str:
    """The exact lowercased string the CloudStack server signs (``signature`` excluded)."""
    return _canonical(params, _java_order, frozenset())


def _hmac_b64(text: str, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def sign(params: Mapping[str, str], secret: str) -> str:
    """The signature the server expects for ``params`` (any ``signature`` key ignored)."""
    return _hmac_b64(canonical(params), secret)


def supplied_signature(params: Mapping[str, str]) -> str | None:
    """The ``signature`` value sent (name matched case-insensitively), if any."""
    for name, value in params.items():
        if name.lower() == "signature":
            return value
    return None


def verify(params: Mapping[str, str], secret: str) -> bool:
    """True if ``params['signature']`` signs ``params`` with ``secret``.

    Tries the server's exact canonical form first, then the lenient client
    variants (lowercase-name sort x {Java, '~' bare, '~[]' bare}). A supplied
    signature whose '+' arrived as ' ' (unencoded in a query string) is
    repaired. Every comparison is constant-time.
    """
    supplied = supplied_signature(params)
    if not supplied:
        return False
    offered = {supplied.encode("utf-8"), supplied.replace(" ", "+").encode("utf-8")}
    seen: set[str] = set()
    ok = False
    for order in (_java_order, _lowercase_order):
        for bare in (frozenset(), _TILDE, _LIBCLOUD):
            text = _canonical(params, order, bare)
            if text in seen:
                continue
            seen.add(text)
            expected = _hmac_b64(text, secret).encode("ascii")
            for candidate in offered:
                ok |= hmac.compare_digest(expected, candidate)
    return ok


def _lookup(params: Mapping[str, str], name: str) -> str | None:
    found = None
    for key, value in params.items():
        if key.lower() == name:
            found = value
    return found


def check_expiry(
    params: Mapping[str, str], now: datetime, *, max_ahead: timedelta | None = None
) -> None:
    """Enforce ``expires`` when ``signatureVersion=3`` (name case-insensitive).

    Raises the 401 ``CloudStackError`` when ``expires`` is missing, is in no
    accepted format, lies before ``now``, or (only if ``max_ahead`` is given,
    i.e. under POST/timestamp enforcement) lies more than ``max_ahead`` after it.
    Without signatureVersion=3 nothing is checked. A naive ``now`` is UTC.
    """
    if _lookup(params, "signatureversion") != "3":
        return
    raw = _lookup(params, "expires")
    if raw is None:
        raise auth_failed("signatureVersion=3 without expires")
    expires = parse_tz_date(raw)
    if expires is None:
        raise auth_failed(f"unparseable expires {raw!r}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if expires < now:
        raise auth_failed(f"request expired at {raw}")
    if max_ahead is not None and expires > now + max_ahead:
        raise auth_failed(f"expires {raw} is too far in the future")
