"""The EC2 Query API endpoint: authenticate, parse, dispatch, serialize.

Every response carries a fresh request id; every failure is an EC2 XML error
with AWS's code and status, never a traceback.

The endpoint is a plain WSGI application mounted ahead of the Flask app (see
:func:`init_app`): a signed ``DescribeRegions`` costs a few tenths of a
millisecond, less than Flask's request/response objects and routing would add.
Importing this module imports neither Flask nor werkzeug, so a server can
answer EC2 before it has loaded them (:mod:`nimbostack.wsgi`).

Each request is logged as ``ec2 request_id=... action=... status=... ms=...``:
at INFO for actions that change something and for every error, at DEBUG for
successful read-only actions (the Describe* polls clients run all the time,
which would otherwise dominate both the log and the cost of the call).
"""

from __future__ import annotations

import codecs
import functools
import io
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from awsapi import actions
from awsapi.actions import RequestContext
from awsapi.errors_wire import Ec2Error, status_for
from awsapi.model import operation
from awsapi.protocol import auth, parser, serializer
from engine.errors import EngineError
from engine.principal import Principal
from engine.runtime import Runtime
from engine.services import Services
from engine.services.access import own_account_only
from engine.services.accounts import Credentials

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

log = logging.getLogger("nimbostack.ec2")

CONTENT_TYPE: Final = "text/xml;charset=UTF-8"
# Query and form values are decoded as Flask decodes them: an escape that is
# not UTF-8 stays percent-encoded (upper-case hex, as werkzeug writes it).
_KEEP_ESCAPES: Final = "nimbostack.keep_escapes"


def _keep_escapes(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return "".join(f"%{b:02X}" for b in err.object[err.start:err.end]), err.end


codecs.register_error(_KEEP_ESCAPES, _keep_escapes)

_CREDENTIAL_TTL = 5.0


class CredentialCache:
    """Access key -> credentials for a few seconds, to spare a query per request.

    A disabled user or a rotated key takes effect within the TTL.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._entries: dict[str, tuple[float, Credentials | None]] = {}

    def get(self, access_key: str) -> Credentials | None:
        now = time.monotonic()
        hit = self._entries.get(access_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._runtime.unit(readonly=True) as services:
            creds = services.accounts.credentials_for_key(access_key)
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[access_key] = (now + _CREDENTIAL_TTL, creds)
        return creds


def new_request_id() -> str:
    """A fresh request id (a version-4 UUID string).

    Request ids need to be unique, not unpredictable, so they come from
    :mod:`random` (reseeded in every forked worker) rather than
    :func:`uuid.uuid4`: its ``os.urandom`` call releases the GIL, and getting it
    back behind the job runner's threads cost a request up to a thread switch.
    The version and variant bits are set as :class:`uuid.UUID` sets them.
    """
    n = random.getrandbits(128) & _UUID_CLEAR | _UUID_V4
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_UUID_CLEAR: Final = ~((0xC000 << 48) | (0xF000 << 64))
_UUID_V4: Final = (0x8000 << 48) | (4 << 76)


class Ec2Endpoint:
    """The EC2 Query endpoint as a plain WSGI application.

    It answers ``GET`` and ``POST`` on ``/`` without Flask's per-request
    machinery (request and response objects, URL matching, context stacks),
    which cost a small call like ``DescribeRegions`` more than the call itself;
    :func:`init_app` mounts it in front of the Flask app. Every answer is EC2
    XML with ``Content-Type``, ``Content-Length`` and ``x-amzn-RequestId``.
    """

    def __init__(self, runtime: Runtime, credentials: CredentialCache,
                 max_body: Callable[[], int | None] = lambda: None) -> None:
        self.runtime = runtime
        self.credentials = credentials
        self._max_body = max_body

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        status, body, request_id = self.handle(environ)
        start_response(_status_line(status), [
            ("Content-Type", CONTENT_TYPE),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", request_id),
        ])
        return [body]

    def handle(self, environ: WSGIEnvironment) -> tuple[int, bytes, str]:
        """Answer one request: (HTTP status, XML body, request id); never raises."""
        request_id = new_request_id()
        start = time.perf_counter()
        action_name = "-"
        level = logging.INFO
        try:
            req = read_request(environ, self._max_body())
            action_name = req.form.get("Action", "-")
            principal = self._authenticate(req)
            spec, body = self._dispatch(principal, req.form, request_id)
            status = 200
            if spec.readonly:
                level = logging.DEBUG
        except Ec2Error as err:
            status, body = _error(err, request_id)
        except EngineError as exc:
            status, body = _error(to_ec2(exc), request_id)
        except Exception:
            log.exception("unexpected error request_id=%s action=%s", request_id, action_name)
            status, body = _error(Ec2Error("InternalError", "An internal error has occurred", 500),
                                  request_id)
        if log.isEnabledFor(level):
            log.log(level, "ec2 request_id=%s action=%s status=%s ms=%.1f", request_id,
                    action_name, status, (time.perf_counter() - start) * 1000)
        return status, body, request_id

    def _authenticate(self, req: auth.SignedRequest) -> Principal:
        found: list[Credentials] = []

        def secret_for(access_key: str) -> str | None:
            creds = self.credentials.get(access_key)
            if creds is None:
                return None
            found.append(creds)
            return creds.secret_key

        auth.verify(req, secret_for, now=datetime.now(UTC), region=self.runtime.config.region)
        return found[-1].principal

    def _dispatch(self, principal: Principal, form: Mapping[str, str],
                  request_id: str) -> tuple[actions.ActionSpec, bytes]:
        name = form.get("Action")
        if not name:
            raise Ec2Error("MissingAction", "The request must contain the parameter Action")
        op = operation(name)
        if op is None:
            raise Ec2Error("InvalidAction", f"The action {name} is not valid for this web service.")
        spec = actions.lookup(name)
        if spec is None:
            raise Ec2Error("UnsupportedOperation", f"The operation {name} is not supported yet.")
        params = parser.parse(op, form)
        dry_run = bool(params.pop("DryRun", False))
        region = self.runtime.config.region

        # Reads answer the caller's own account only, as AWS does, for admins too;
        # an operator's powers over other accounts' resources stay with writes by id.
        actor = own_account_only(principal) if _is_read(spec) else principal

        def run(services: Services) -> bytes:
            ctx = RequestContext(actor, services, region, request_id)
            try:
                result: dict[str, Any] = spec.handler(ctx, params)
            except (EngineError, Ec2Error) as exc:
                if dry_run and _is_state_error(exc):
                    raise _DryRunPassed() from exc
                raise
            if dry_run:
                # Validation and authorization ran (bad ids, missing rights raised their
                # own errors); undo everything the handler did by rolling back.
                raise _DryRunPassed()
            return serializer.success(op, result, request_id)

        try:
            return spec, self.runtime.call(run, readonly=spec.readonly)
        except _DryRunPassed:
            raise Ec2Error("DryRunOperation",
                           "Request would have succeeded, but DryRun flag is set.") from None
        except EngineError as exc:
            raise to_ec2(exc, show_details=principal.is_root_admin) from exc


def to_ec2(exc: EngineError, *, show_details: bool = False) -> Ec2Error:
    """:func:`awsapi.errors.to_ec2`, imported on the first error: the error
    table pulls in engine services a server's first call does not need."""
    from awsapi.errors import to_ec2 as translate

    return translate(exc, show_details=show_details)


# Actions that only read (whatever their transaction): named so in EC2's API.
_READ_PREFIXES: Final = ("Describe", "Get", "List", "Search")


def _is_read(spec: actions.ActionSpec) -> bool:
    """Whether ``spec`` answers what the caller's account sees (every Describe*,
    Get*, List* and Search* action, and any other registered read-only)."""
    return spec.readonly or spec.name.startswith(_READ_PREFIXES)


class _DryRunPassed(Exception):
    """Raised inside the unit of work so a DryRun request's changes roll back."""


# EC2's DryRun checks the request, the ids and the caller's rights, not the
# resources' states or dependents: a DryRun request that got as far as one of
# these errors would have been allowed, so it answers DryRunOperation.
_STATE_CODES: Final = frozenset({
    "IncorrectInstanceState", "IncorrectState", "IncorrectModificationState",
    "DependencyViolation", "VolumeInUse", "InvalidIPAddress.InUse", "InvalidSnapshot.InUse",
    "InvalidPlacementGroup.InUse", "InvalidNetworkInterface.InUse", "InvalidGroup.InUse",
    "Resource.AlreadyAssociated",
})


def _is_state_error(exc: EngineError | Ec2Error) -> bool:
    """Whether ``exc`` reports a resource's state or dependents (not the request)."""
    code = exc.code if isinstance(exc, Ec2Error) else to_ec2(exc).code
    return code in _STATE_CODES


def _error(err: Ec2Error, request_id: str) -> tuple[int, bytes]:
    status = err.status if err.status else status_for(err.code)
    return status, serializer.error(err.code, err.message, request_id)


# Where werkzeug's reason phrase (what Flask sends) differs from http.HTTPStatus's.
_PHRASES: Final = {413: "Request Entity Too Large"}


@functools.lru_cache(maxsize=64)
def _status_line(status: int) -> str:
    """``"200 OK"``, ``"400 BAD REQUEST"``: the status line werkzeug sends."""
    phrase = _PHRASES.get(status)
    if phrase is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
    return f"{status} {phrase.upper()}"


# --- reading the request ------------------------------------------------------

_FORM_TYPE: Final = "application/x-www-form-urlencoded"


def read_request(environ: WSGIEnvironment, max_body: int | None = None) -> auth.SignedRequest:
    """What signature checking and parsing need from a WSGI request.

    ``form`` holds the query string's parameters, then the form body's (a
    ``application/x-www-form-urlencoded`` or ``multipart/form-data`` body); a
    body parameter replaces a query parameter of the same name and, within
    one source, the first of repeated names wins. Undecodable percent-escapes
    stay percent-encoded. A body longer than ``max_body`` bytes is refused with
    ``RequestEntityTooLarge`` (413) before it is read.
    """
    body = _read_body(environ, max_body)
    query = environ.get("QUERY_STRING", "")
    form = _pairs(query.encode("latin-1").decode("utf-8", "replace")) if query else {}
    content_type = environ.get("CONTENT_TYPE", "")
    if body and content_type:
        mimetype = content_type.partition(";")[0].strip().lower()
        if mimetype == _FORM_TYPE:
            form.update(_pairs(body.decode("utf-8", "replace")))
        elif mimetype == "multipart/form-data":
            form.update(_multipart(body, content_type))
    return auth.SignedRequest(
        method=environ.get("REQUEST_METHOD", "GET"),
        host=environ.get("HTTP_HOST", ""),
        path="/",
        query_string=query,
        headers=_headers(environ),
        body=body,
        form=form,
    )


def _read_body(environ: WSGIEnvironment, max_body: int | None) -> bytes:
    length = environ.get("CONTENT_LENGTH", "")
    stream = environ["wsgi.input"]
    if length:
        try:
            size = max(int(length), 0)
        except ValueError:
            size = 0
    elif environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
        data: bytes = stream.read() if max_body is None else stream.read(max_body + 1)
        if max_body is not None and len(data) > max_body:
            raise _too_large(max_body)
        return data
    else:
        return b""
    if max_body is not None and size > max_body:
        raise _too_large(max_body)
    return stream.read(size) if size else b""


def _too_large(limit: int) -> Ec2Error:
    return Ec2Error("RequestEntityTooLarge", f"The request body exceeds {limit} bytes.", 413)


def _pairs(encoded: str) -> dict[str, str]:
    """Decoded ``name=value`` pairs, the first of repeated names winning."""
    out: dict[str, str] = {}
    for key, value in parse_qsl(encoded, keep_blank_values=True, errors=_KEEP_ESCAPES):
        out.setdefault(key, value)
    return out


def _multipart(body: bytes, content_type: str) -> dict[str, str]:
    from werkzeug.formparser import FormDataParser  # rare: no SDK sends multipart
    from werkzeug.http import parse_options_header

    mimetype, options = parse_options_header(content_type)
    _, fields, _ = FormDataParser().parse(io.BytesIO(body), mimetype, len(body), options)
    return {key: fields.get(key, "") for key in fields}


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    """The request headers by lower-case name, as the WSGI server passed them."""
    headers = {key[5:].replace("_", "-").lower(): value
               for key, value in environ.items() if key[:5] == "HTTP_"}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        value = environ.get(key)
        if value:
            headers[key.replace("_", "-").lower()] = value
    return headers


# --- mounting -----------------------------------------------------------------


class _Mount:
    """WSGI middleware: ``GET``/``POST /`` to the EC2 endpoint, the rest to ``app``."""

    def __init__(self, endpoint: Ec2Endpoint, app: WSGIApplication) -> None:
        self.endpoint = endpoint
        self.app = app

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if is_ec2_request(environ):
            return self.endpoint(environ, start_response)
        return self.app(environ, start_response)


def is_ec2_request(environ: WSGIEnvironment) -> bool:
    """Whether :class:`Ec2Endpoint` answers this request (``GET``/``POST /``)."""
    return environ.get("PATH_INFO") == "/" and environ.get("REQUEST_METHOD") in ("POST", "GET")


def init_app(app: Flask, runtime: Runtime, endpoint: Ec2Endpoint | None = None) -> None:
    """Serve EC2 at ``/`` of ``app``: ``endpoint`` (by default a new
    :class:`Ec2Endpoint` whose bodies are bounded by ``MAX_CONTENT_LENGTH`` of the
    app's config) answers ``GET`` and ``POST`` ahead of Flask; Flask still routes
    ``HEAD`` there (and answers other methods with 405)."""
    from flask import Blueprint

    if endpoint is None:
        endpoint = Ec2Endpoint(runtime, CredentialCache(runtime),
                               max_body=lambda: app.config.get("MAX_CONTENT_LENGTH"))
    app.extensions["nimbostack.runtime"] = runtime
    app.extensions["nimbostack.ec2.credentials"] = endpoint.credentials
    app.extensions["nimbostack.ec2.endpoint"] = endpoint
    blueprint = Blueprint("ec2", __name__)
    blueprint.add_url_rule("/", "handle", lambda: endpoint, methods=["GET", "POST"])
    app.register_blueprint(blueprint)
    app.wsgi_app = _Mount(endpoint, app.wsgi_app)  # type: ignore[method-assign]
