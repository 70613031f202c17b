"""Verify AWS request signatures for the EC2 endpoint.

Supported schemes:

* SigV4 in the ``Authorization`` header (``AWS4-HMAC-SHA256``), what boto3,
  the AWS CLI and the SDKs send;
* SigV4 presigned query (``X-Amz-Algorithm``, ``X-Amz-Credential``,
  ``X-Amz-Date``, ``X-Amz-Expires``, ``X-Amz-SignedHeaders``,
  ``X-Amz-Signature`` in the URL);
* the same ``X-Amz-*`` parameters in a form-encoded POST body (older tools):
  the signature is computed as if the form parameters had been moved to the
  query string, as botocore's presigner does, with the empty body's hash;
* SigV2 (``AWSAccessKeyId``, ``SignatureVersion=2``, ``SignatureMethod`` =
  ``HmacSHA256`` or ``HmacSHA1``, ``Timestamp`` or ``Expires``, ``Signature``).

:func:`verify` returns the access key id or raises ``Ec2Error``. Secrets never
appear in any message; signatures are compared in constant time.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final, NamedTuple
from urllib.parse import parse_qsl, quote, unquote

from awsapi.errors_wire import Ec2Error

SERVICE: Final = "ec2"
ALGORITHM: Final = "AWS4-HMAC-SHA256"
MAX_SKEW: Final = timedelta(minutes=15)
MAX_PRESIGN_EXPIRES: Final = 7 * 24 * 3600
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"
EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()

# QUIRK(ec2): EC2 answers AuthFailure (401) with this one message both for an
# unknown access key and for a signature mismatch, where other query services
# say SignatureDoesNotMatch / InvalidClientTokenId.
_CANNOT_VALIDATE: Final = "AWS was not able to validate the provided access credentials"


@dataclass(frozen=True)
class SignedRequest:
    """What signature verification needs from one HTTP request.

    ``host`` is the Host header value (with port if the client sent one);
    ``path`` the URL path as sent (no query); ``query_string`` the raw,
    still-encoded query string; ``headers`` the request headers (looked up
    case-insensitively); ``body`` the raw body bytes as received; ``form`` the
    decoded parameters of query string and form body together.
    """

    method: str
    host: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes
    form: Mapping[str, str]
    _lower_headers: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lower: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            lower[key] = f"{lower[key]},{value}" if key in lower else value
        object.__setattr__(self, "_lower_headers", lower)

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        return self._lower_headers.get(name.lower())


def verify(
    req: SignedRequest,
    secret_for: Callable[[str], str | None],
    *,
    now: datetime,
    region: str,
) -> str:
    """Verify the request's signature; return the caller's access key id.

    ``secret_for`` maps an access key id to its secret (None if unknown).
    ``now`` is the server's aware current time; ``region`` the region this
    endpoint serves (a SigV4 credential scope must name it and ``ec2``).

    Raises ``Ec2Error``: ``MissingAuthenticationToken`` when the request carries
    no credentials, ``IncompleteSignature`` / ``MissingParameter`` /
    ``InvalidParameterValue`` when they are malformed, ``RequestExpired`` when
    the request is outside its validity window, ``AuthFailure`` for a wrong
    scope, an unknown key or a wrong signature.
    """
    authorization = req.header("Authorization")
    if authorization is not None:
        return _verify_v4_header(req, authorization, secret_for, now, region)
    query_params = dict(parse_qsl(req.query_string, keep_blank_values=True))
    if "X-Amz-Algorithm" in query_params:
        return _verify_v4_params(req, query_params, secret_for, now, region, in_body=False)
    if "X-Amz-Algorithm" in req.form:
        return _verify_v4_params(req, req.form, secret_for, now, region, in_body=True)
    if any(k in req.form for k in ("AWSAccessKeyId", "Signature", "SignatureVersion")):
        return _verify_v2(req, secret_for, now)
    raise Ec2Error("MissingAuthenticationToken", "Request is missing Authentication Token")


# --- SigV4 -------------------------------------------------------------------


class _V4(NamedTuple):
    access_key: str
    date: str  # YYYYMMDD from the credential scope
    region: str
    service: str
    amz_date: str  # YYYYMMDD'T'HHMMSS'Z'
    signed_headers: tuple[str, ...]
    signature: str


def _verify_v4_header(
    req: SignedRequest,
    authorization: str,
    secret_for: Callable[[str], str | None],
    now: datetime,
    region: str,
) -> str:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported Authorization Type {algorithm!r}")
    parts: dict[str, str] = {}
    for piece in rest.split(","):
        name, eq, value = piece.strip().partition("=")
        if eq:
            parts[name] = value
    for needed in ("Credential", "SignedHeaders", "Signature"):
        if not parts.get(needed):
            raise _incomplete(f"Authorization header requires '{needed}' parameter.")
    amz_date = req.header("X-Amz-Date")
    moment = _parse_amz_date(amz_date) if amz_date else _parse_http_date(req.header("Date"))
    if amz_date is None:
        amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    v4 = _credential(parts["Credential"], amz_date, parts["SignedHeaders"], parts["Signature"])
    if abs(now - moment) > MAX_SKEW:
        raise _expired()
    _check_scope(v4, region)
    if req.query_string:
        pairs = parse_qsl(req.query_string, keep_blank_values=True)
        query = _canonical_query_candidates(pairs, req.query_string)
    else:
        query = ("",)
    return _check_signature(req, v4, secret_for, query, (_payload_hash(req),))


def _verify_v4_params(
    req: SignedRequest,
    params: Mapping[str, str],
    secret_for: Callable[[str], str | None],
    now: datetime,
    region: str,
    *,
    in_body: bool,
) -> str:
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise _incomplete(f"Unsupported algorithm {params.get('X-Amz-Algorithm')!r}")
    for needed in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature"):
        if not params.get(needed):
            raise _incomplete(f"Query-string authentication requires the {needed} parameter.")
    amz_date = params["X-Amz-Date"]
    moment = _parse_amz_date(amz_date)
    v4 = _credential(
        params["X-Amz-Credential"],
        amz_date,
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
    )
    expires = _presign_expires(params.get("X-Amz-Expires"))
    if now - moment > expires or moment - now > MAX_SKEW:
        raise _expired()
    _check_scope(v4, region)
    if in_body:
        pairs = [(k, v) for k, v in req.form.items() if k != "X-Amz-Signature"]
        raw = None
        payloads: tuple[str, ...] = (EMPTY_SHA256, UNSIGNED_PAYLOAD)
    else:
        pairs = [
            (k, v)
            for k, v in parse_qsl(req.query_string, keep_blank_values=True)
            if k != "X-Amz-Signature"
        ]
        raw = "&".join(
            p for p in req.query_string.split("&") if p.partition("=")[0] != "X-Amz-Signature"
        )
        payloads = (_payload_hash(req),)
        if not req.body:
            payloads += (UNSIGNED_PAYLOAD,)
    query = _canonical_query_candidates(pairs, raw)
    return _check_signature(req, v4, secret_for, query, payloads)


def _payload_hash(req: SignedRequest) -> str:
    """The payload hash to sign: the body's SHA-256, or the declared header value.

    A declared ``X-Amz-Content-SHA256`` must match the body; ``UNSIGNED-PAYLOAD``
    is only accepted for an empty body, so form parameters are always signed.
    """
    actual = hashlib.sha256(req.body).hexdigest()
    declared = req.header("X-Amz-Content-SHA256")
    if declared is None:
        return actual
    if declared.lower() == actual or (declared == UNSIGNED_PAYLOAD and not req.body):
        return declared
    raise Ec2Error("AuthFailure", _CANNOT_VALIDATE)


def _credential(credential: str, amz_date: str, signed_headers: str, signature: str) -> _V4:
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not scope[0]:
        raise _incomplete(
            f"Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/aws4_request, got '{_public_scope(scope)}'."
        )
    return _V4(
        access_key=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        amz_date=amz_date,
        signed_headers=tuple(h.strip().lower() for h in signed_headers.split(";") if h.strip()),
        signature=signature.strip(),
    )


def _public_scope(scope: list[str]) -> str:
    return "/".join(scope[1:]) if len(scope) > 1 else ""


def _check_scope(v4: _V4, region: str) -> None:
    if v4.date != v4.amz_date[:8]:
        raise Ec2Error(
            "AuthFailure",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
            f"date from HTTP: '{v4.date}' != '{v4.amz_date[:8]}'",
        )
    if v4.service != SERVICE:
        raise Ec2Error(
            "AuthFailure", f"Credential should be scoped to correct service: '{SERVICE}'."
        )
    # QUIRK(ec2): a credential scope naming another region is AuthFailure on EC2
    # (other query services answer SignatureDoesNotMatch).
    if v4.region != region:
        raise Ec2Error(
            "AuthFailure", f"Credential should be scoped to a valid region, not '{v4.region}'."
        )
    if "host" not in v4.signed_headers:
        raise _incomplete("The host header must be signed.")


def _check_signature(
    req: SignedRequest,
    v4: _V4,
    secret_for: Callable[[str], str | None],
    queries: tuple[str, ...],
    payloads: tuple[str, ...],
) -> str:
    secret = secret_for(v4.access_key)
    if secret is None:
        raise Ec2Error("AuthFailure", _CANNOT_VALIDATE)
    key = _signing_key(secret, v4.date, v4.region, v4.service)
    scope = f"{v4.date}/{v4.region}/{v4.service}/aws4_request"
    headers = _canonical_headers(req, v4.signed_headers)
    path = _canonical_path(req.path)
    provided = v4.signature.lower().encode("ascii", "replace")
    matched = False
    for query in queries:
        for payload in payloads:
            canonical = "\n".join(
                (req.method.upper(), path, query, headers, ";".join(v4.signed_headers), payload)
            )
            to_sign = "\n".join(
                (ALGORITHM, v4.amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest())
            )
            expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest().encode()
            matched |= hmac.compare_digest(expected, provided)
    if not matched:
        raise Ec2Error("AuthFailure", _CANNOT_VALIDATE)
    return v4.access_key


@functools.lru_cache(maxsize=1024)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The SigV4 signing key; the same for a whole day, so it is memoized."""
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _aws_quote(text: str) -> str:
    return quote(text, safe="-_.~")


def _canonical_query_candidates(pairs: list[tuple[str, str]], raw: str | None) -> tuple[str, ...]:
    """The AWS-canonical query string, plus the raw pairs sorted if they differ.

    The first form decodes and re-encodes every pair (the SigV4 rule); the
    second keeps each pair as sent (what botocore signs for a pre-encoded URL).
    """
    encoded = sorted((_aws_quote(k), _aws_quote(v)) for k, v in pairs)
    canonical = "&".join(f"{k}={v}" for k, v in encoded)
    if not raw:
        return (canonical,)
    as_sent = "&".join(
        f"{k}={v}" for k, v in sorted(p.partition("=")[::2] for p in raw.split("&") if p)
    )
    return (canonical,) if as_sent == canonical else (canonical, as_sent)


def _canonical_headers(req: SignedRequest, names: tuple[str, ...]) -> str:
    lines = []
    for name in names:
        value = req.header(name)
        if value is None and name == "host":
            value = req.host
        lines.append(f"{name}:{' '.join((value or '').split())}\n")
    return "".join(lines)


def _canonical_path(path: str) -> str:
    if not path or path == "/":
        return "/"
    segments: list[str] = []
    for segment in unquote(path).split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in (".", ""):
            segments.append(segment)
    normalized = "/" + "/".join(segments)
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return quote(normalized, safe="/~")


def _parse_amz_date(value: str) -> datetime:
    try:
        if (len(value) == 16 and value[8] == "T" and value[15] == "Z" and value.isascii()
                and value[:8].isdigit() and value[9:15].isdigit()):
            # The usual shape, read by slicing (strptime costs ~10x as much).
            return datetime(int(value[:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]),
                            int(value[11:13]), int(value[13:15]), tzinfo=UTC)
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise _incomplete(
            f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None


def _parse_http_date(value: str | None) -> datetime:
    if not value:
        raise _incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise _incomplete(f"Invalid date header '{value}'.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _presign_expires(value: str | None) -> timedelta:
    if value is None:
        return MAX_SKEW
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_PRESIGN_EXPIRES:
        raise _incomplete(
            f"X-Amz-Expires must be between 1 and {MAX_PRESIGN_EXPIRES} seconds, got '{value}'."
        )
    return timedelta(seconds=int(value))


# --- SigV2 -------------------------------------------------------------------

_V2_METHODS: Final = {"HmacSHA256": hashlib.sha256, "HmacSHA1": hashlib.sha1}


def _verify_v2(req: SignedRequest, secret_for: Callable[[str], str | None], now: datetime) -> str:
    form = req.form
    for needed in ("AWSAccessKeyId", "SignatureVersion", "SignatureMethod", "Signature"):
        if not form.get(needed):
            raise Ec2Error("MissingParameter", f"The request must contain the parameter {needed}")
    if form["SignatureVersion"] != "2":
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({form['SignatureVersion']}) for parameter SignatureVersion is invalid. "
            "Valid Signature versions are 2 and 4.",
        )
    digest = _V2_METHODS.get(form["SignatureMethod"])
    if digest is None:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({form['SignatureMethod']}) for parameter SignatureMethod is invalid. "
            "Valid values are HmacSHA256 and HmacSHA1.",
        )
    _check_v2_time(form, now)
    secret = secret_for(form["AWSAccessKeyId"])
    if secret is None:
        raise Ec2Error("AuthFailure", _CANNOT_VALIDATE)
    query = "&".join(
        f"{_aws_quote(k)}={_aws_quote(form[k])}" for k in sorted(form) if k != "Signature"
    )
    path = req.path or "/"
    # A '+' sent unencoded arrives as a space after form decoding.
    provided = form["Signature"].replace(" ", "+").encode("ascii", "replace")
    matched = False
    for host in dict.fromkeys((req.host, req.host.lower())):
        to_sign = f"{req.method.upper()}\n{host}\n{path}\n{query}"
        mac = hmac.new(secret.encode(), to_sign.encode(), digest).digest()
        matched |= hmac.compare_digest(base64.b64encode(mac), provided)
    if not matched:
        raise Ec2Error("AuthFailure", _CANNOT_VALIDATE)
    return form["AWSAccessKeyId"]


def _check_v2_time(form: Mapping[str, str], now: datetime) -> None:
    timestamp, expires = form.get("Timestamp"), form.get("Expires")
    if timestamp and expires:
        raise Ec2Error(
            "InvalidParameterCombination",
            "The parameter Timestamp cannot be used with the parameter Expires",
        )
    if timestamp:
        if abs(now - _parse_iso(timestamp, "Timestamp")) > MAX_SKEW:
            raise _expired()
    elif expires:
        if now > _parse_iso(expires, "Expires"):
            raise _expired()
    else:
        raise Ec2Error("MissingParameter", "The request must contain the parameter Timestamp")


def _parse_iso(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({value}) for parameter {name} is invalid."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- errors ------------------------------------------------------------------


def _incomplete(message: str) -> Ec2Error:
    return Ec2Error("IncompleteSignature", message)


def _expired() -> Ec2Error:
    return Ec2Error("RequestExpired", "Request has expired.")
