"""The CloudStack API endpoint ``/client/api``: authenticate, validate, dispatch, render.

Request flow (``ApiServlet``/``ApiServer`` order):

1. no ``command`` -> 432 ``errorresponse``;
2. ``login``/``logout`` run without credentials (``login`` only over POST, else
   405) and set/clear the ``JSESSIONID`` and ``sessionkey`` cookies;
   otherwise ``apiKey`` -> credentials (short TTL cache); unknown key, unknown
   command, bad signature or an expired ``expires`` (signatureVersion=3) -> 401
   with no ``cserrorcode``. Without an ``apiKey`` the ``sessionkey`` parameter
   and the cookie of that name must both be sent, be equal and name a live
   session (CloudStack's default ``CookieAndParameter`` check), else 401;
3. commands registered ``admin_only`` refuse other callers (531); commands in
   the table that have no handler yet -> 432;
4. ``registry.validate`` (missing/malformed parameters, 430/431);
5. the handler runs in one unit of work (read-only for list/query/get
   commands); engine errors map through ``nativeapi.errors``;
6. the result is rendered by the command's shape, after the commit (so job
   uuids exist).

Every failure is a CloudStack error envelope, never a traceback. One log line
per request: request id, command, status, milliseconds (never the signature).
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from engine.errors import EngineError
from engine.principal import Principal
from engine.runtime import Runtime
from engine.services import Services
from engine.services.accounts import Credentials
from engine.states import Role
from nativeapi import commands, errors, registry
from nativeapi.commands import CsContext, Listing, Submitted, Success
from nativeapi.commands.sessions import SessionClosed, SessionOpened
from nativeapi.errors_wire import (
    USER_ERROR_TEXT,
    ApiErrorCode,
    CloudStackError,
    CsErrorCode,
    auth_failed,
)
from nativeapi.protocol import render, signature
from nativeapi.protocol.parser import CsParams
from nativeapi.protocol.render import Rendered
from nativeapi.registry import Command
from nativeapi.spec import load_commands

log = logging.getLogger("nimbostack.cloudstack")

blueprint = Blueprint("cloudstack", __name__)

PATH = "/client/api"
_CREDENTIAL_TTL = 5.0
_RUNTIME_KEY = "nimbostack.runtime"
_CACHE_KEY = "nimbostack.cloudstack.credentials"
_SESSIONS_KEY = "nimbostack.cloudstack.sessions"
SESSION_COOKIE = "sessionkey"
JSESSION_COOKIE = "JSESSIONID"
# Who runs login/logout: nobody yet (no rights, no account).
ANONYMOUS = Principal(user_uuid="", user_name="anonymous", account_uuid="", account_name="",
                      account_number="", domain_uuid="", domain_path="/", role=Role.USER)


class CredentialCache:
    """API key -> credentials for a few seconds, to spare a query per request.

    A disabled user or a rotated key takes effect within the TTL.
    """

    def __init__(self, runtime: Runtime, ttl: float = _CREDENTIAL_TTL) -> None:
        self._runtime = runtime
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Credentials | None]] = {}

    def get(self, api_key: str) -> Credentials | None:
        now = time.monotonic()
        hit = self._entries.get(api_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._runtime.unit(readonly=True) as services:
            creds = services.accounts.credentials_for_key(api_key)
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[api_key] = (now + self._ttl, creds)
        return creds


class SessionCache:
    """Session key -> principal for a few seconds; keys logged out here are refused.

    Keys are validated by the engine (signature, expiry, user and account
    enabled), so a disabled user's session ends within the TTL.
    """

    def __init__(self, runtime: Runtime, ttl: float = _CREDENTIAL_TTL) -> None:
        self._runtime = runtime
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._revoked: dict[str, float] = {}

    def get(self, key: str) -> Principal | None:
        now = time.monotonic()
        if key in self._revoked:
            return None
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._runtime.unit(readonly=True) as services:
            principal = services.accounts.resume_session(key)
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (now + self._ttl, principal)
        return principal

    def revoke(self, key: str) -> None:
        """Refuse ``key`` in this process from now on (kept a day, then forgotten)."""
        now = time.monotonic()
        self._entries.pop(key, None)
        self._revoked = {k: t for k, t in self._revoked.items() if t > now}
        self._revoked[key] = now + 86_400


def init_app(app: Any, runtime: Runtime) -> None:
    """Serve the CloudStack API at ``/client/api`` of ``app`` over ``runtime``."""
    commands.load()
    app.extensions[_RUNTIME_KEY] = runtime
    app.extensions[_CACHE_KEY] = CredentialCache(runtime)
    app.extensions[_SESSIONS_KEY] = SessionCache(runtime)
    app.register_blueprint(blueprint)
    from nativeapi import downloads  # extract downloads: /client/download/<token>

    downloads.init_app(app)
    from nativeapi import uploads  # direct volume uploads: /client/upload/<volume id>

    uploads.init_app(app)


def _runtime() -> Runtime:
    return current_app.extensions[_RUNTIME_KEY]  # type: ignore[no-any-return]


def _credentials() -> CredentialCache:
    return current_app.extensions[_CACHE_KEY]  # type: ignore[no-any-return]


def _sessions() -> SessionCache:
    return current_app.extensions[_SESSIONS_KEY]  # type: ignore[no-any-return]


def _known(name: str | None) -> bool:
    return bool(name) and (registry.lookup(name or "") is not None or name in load_commands())


@blueprint.route(PATH, methods=["GET", "POST"])
def handle() -> Response:
    request_id = str(uuid.uuid4())
    start = time.perf_counter()
    params = CsParams.from_parts(request.args.items(multi=True), request.form.items(multi=True))
    name = params.command
    error_key = name if _known(name) else None
    try:
        rendered = _handle(params, request_id)
    except CloudStackError as err:
        if err.log_detail:
            log.info("cloudstack request_id=%s refused: %s", request_id, err.log_detail)
        rendered = render.error_from(err, error_key, fmt=params.fmt)
    except EngineError as exc:  # raised outside a command (e.g. the database is down)
        rendered = render.error_from(errors.to_cloudstack(exc, show_details=False), error_key,
                                     fmt=params.fmt)
    except Exception:  # never a traceback on the wire
        log.exception("cloudstack request_id=%s command=%s failed", request_id, name)
        rendered = render.error_response(error_key, ApiErrorCode.INTERNAL_ERROR,
                                         CsErrorCode.CLOUD_RUNTIME, USER_ERROR_TEXT,
                                         fmt=params.fmt)
    response = Response(rendered.body, status=rendered.status,
                        content_type=rendered.content_type)
    for header, value in rendered.headers.items():
        response.headers[header] = value
    for cookie in g.get("cs_cookies", ()):
        response.headers.add("Set-Cookie", cookie)
    log.info("cloudstack request_id=%s command=%s status=%s ms=%.1f", request_id, name or "-",
             rendered.status, (time.perf_counter() - start) * 1000)
    return response


def _handle(params: CsParams, request_id: str) -> Rendered:
    name = params.command
    if not name:
        # QUIRK(cloudstack): no command at all is UNSUPPORTED_ACTION, keyed errorresponse.
        raise CloudStackError(ApiErrorCode.UNSUPPORTED_ACTION_ERROR, "no command specified")
    cmd = registry.lookup(name)
    if cmd is not None and cmd.options.get("unauthenticated", False):
        return _dispatch_open(cmd, params, request_id)
    principal = _authenticate(params, name)
    if cmd is None:
        raise CloudStackError(ApiErrorCode.UNSUPPORTED_ACTION_ERROR,
                              f"The API {name} is not supported by this server",
                              CsErrorCode.UNAVAILABLE_COMMAND)
    if not commands.may_call(cmd, principal):
        raise CloudStackError(ApiErrorCode.ACCOUNT_ERROR,
                              f"The caller is not authorized to call {name}",
                              CsErrorCode.PERMISSION_DENIED)
    registry.validate(params, cmd.meta)
    return _dispatch(cmd, params, principal, request_id)


def _authenticate(params: CsParams, name: str) -> Principal:
    """The caller behind ``apiKey`` (or the session); every failure is the same 401."""
    api_key = params.get("apikey")
    if not api_key:
        return _session_principal(params)
    creds = _credentials().get(api_key)
    if creds is None:
        raise auth_failed("unknown or disabled apiKey")
    if not _known(name):
        # QUIRK(cloudstack): on the apiKey path an unknown command is a 401.
        raise auth_failed(f"unknown command {name!r}")
    signed = params.signing_params()
    if not signature.verify(signed, creds.secret_key):
        raise auth_failed("signature mismatch")
    signature.check_expiry(signed, datetime.now(UTC))
    return creds.principal


def _session_principal(params: CsParams) -> Principal:
    """The session's principal: ``sessionkey`` parameter and cookie, equal and live."""
    key = params.get("sessionkey")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not key and not cookie:
        raise auth_failed("no apiKey and no session")
    if not key or key != cookie:
        raise auth_failed("sessionkey parameter and cookie missing or different")
    principal = _sessions().get(key)
    if principal is None:
        raise auth_failed("unknown, expired or logged-out session")
    return principal


def _dispatch_open(cmd: Command, params: CsParams, request_id: str) -> Rendered:
    """login/logout: no credentials; the result sets or clears the session cookies."""
    if cmd.options.get("post_only", False) and request.method != "POST":
        # QUIRK(cloudstack): login over GET is refused with 405 before anything else.
        raise CloudStackError(ApiErrorCode.METHOD_NOT_ALLOWED,
                              "Please use HTTP POST to authenticate using this API",
                              CsErrorCode.SERVER_API)
    registry.validate(params, cmd.meta)
    result = _run(cmd, params, ANONYMOUS, request_id)
    if isinstance(result, SessionOpened):
        g.cs_cookies = [f"{JSESSION_COOKIE}={uuid.uuid4().hex.upper()}; Path=/client; HttpOnly",
                        f"{SESSION_COOKIE}={result.key}; HttpOnly; SameSite=Lax"]
        return render.flat_response(cmd.name, result.view, fmt=params.fmt)
    if isinstance(result, SessionClosed):
        if result.key:
            _sessions().revoke(result.key)
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            _sessions().revoke(cookie)
        expired = "Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0"
        g.cs_cookies = [f"{JSESSION_COOKIE}=; Path=/client; {expired}",
                        f"{SESSION_COOKIE}=; {expired}"]
        return render.flat_response(cmd.name, {"description": "success"}, fmt=params.fmt)
    return _render(cmd, result, params.fmt)


def _run(cmd: Command, params: CsParams, principal: Principal, request_id: str) -> object:
    """Run the handler in one unit of work; engine errors become CloudStack errors."""
    def run(services: Services) -> object:
        return cmd.handler(CsContext(principal, services, cmd, request_id), params)

    try:
        return _runtime().call(run, readonly=commands.readonly(cmd.name))
    except EngineError as exc:
        raise errors.to_cloudstack(exc, show_details=principal.is_root_admin, params=params,
                                   meta=cmd.meta) from exc


def _dispatch(cmd: Command, params: CsParams, principal: Principal, request_id: str) -> Rendered:
    return _render(cmd, _run(cmd, params, principal, request_id), params.fmt)


def _render(cmd: Command, result: object, fmt: str) -> Rendered:
    """The success body for ``result`` by the command's style and shape."""
    meta = cmd.meta
    if meta.is_async:
        if not isinstance(result, Submitted):
            raise TypeError(f"{cmd.name} must return Submitted, got {type(result).__name__}")
        object_id = result.object_uuid if meta.creates else None
        return render.async_response(cmd.name, result.job.uuid, object_id, fmt=fmt)
    if meta.shape == "list":
        if not isinstance(result, Listing):
            raise TypeError(f"{cmd.name} must return Listing, got {type(result).__name__}")
        return render.list_response(cmd.name, meta.itemkey or "item", result.items,
                                    result.count, fmt=fmt)
    if meta.shape == "success":
        text = result.displaytext if isinstance(result, Success) else None
        return render.success_response(cmd.name, text, fmt=fmt)
    if not isinstance(result, dict):
        raise TypeError(f"{cmd.name} must return a dict, got {type(result).__name__}")
    if meta.shape == "object" and meta.itemkey:
        return render.object_response(cmd.name, meta.itemkey, result, fmt=fmt)
    return render.flat_response(cmd.name, result, fmt=fmt)
