"""The EC2 Query API endpoint: authenticate, parse, dispatch, serialize.

Every response carries a fresh request id; every failure is an EC2 XML error
with AWS's code and status, never a traceback.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request

from awsapi import actions
from awsapi.actions import RequestContext
from awsapi.errors import to_ec2
from awsapi.errors_wire import Ec2Error, status_for
from awsapi.model import operation
from awsapi.protocol import auth, parser, serializer
from engine.errors import EngineError
from engine.principal import Principal
from engine.runtime import Runtime
from engine.services import Services
from engine.services.accounts import Credentials

log = logging.getLogger("nimbostack.ec2")

blueprint = Blueprint("ec2", __name__)

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
    """
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def _runtime() -> Runtime:
    return current_app.extensions["nimbostack.runtime"]  # type: ignore[no-any-return]


def _credentials() -> CredentialCache:
    return current_app.extensions["nimbostack.ec2.credentials"]  # type: ignore[no-any-return]


def _xml(body: bytes, status: int) -> Response:
    return Response(body, status=status, content_type="text/xml;charset=UTF-8")


def _error(err: Ec2Error, request_id: str) -> Response:
    status = err.status if err.status else status_for(err.code)
    return _xml(serializer.error(err.code, err.message, request_id), status)


@blueprint.route("/", methods=["GET", "POST"])
def handle() -> Response:
    request_id = new_request_id()
    start = time.perf_counter()
    action_name = "-"
    status = 500
    try:
        body = request.get_data(cache=True)  # before form parsing consumes the stream
        form: dict[str, str] = {}
        for source in (request.args, request.form):
            for key in source:
                form[key] = source.get(key, "")
        action_name = form.get("Action", "-")
        principal = _authenticate(form, body)
        response = _dispatch(principal, form, request_id)
    except Ec2Error as err:
        response = _error(err, request_id)
    except EngineError as exc:
        response = _error(to_ec2(exc), request_id)
    except Exception:
        log.exception("unexpected error request_id=%s action=%s", request_id, action_name)
        response = _error(Ec2Error("InternalError", "An internal error has occurred", 500),
                          request_id)
    status = response.status_code
    response.headers["x-amzn-RequestId"] = request_id
    log.info("ec2 request_id=%s action=%s status=%s ms=%.1f", request_id, action_name, status,
             (time.perf_counter() - start) * 1000)
    return response


def _authenticate(form: dict[str, str], body: bytes) -> Principal:
    signed = auth.SignedRequest(
        method=request.method,
        host=request.headers.get("Host", ""),
        path=request.path,
        query_string=request.query_string.decode("latin-1"),
        headers=dict(request.headers),
        body=body,
        form=form,
    )
    creds: dict[str, Credentials] = {}

    def secret_for(access_key: str) -> str | None:
        found = _credentials().get(access_key)
        if found is None:
            return None
        creds["found"] = found
        return found.secret_key

    auth.verify(signed, secret_for, now=datetime.now(UTC), region=_runtime().config.region)
    return creds["found"].principal


def _dispatch(principal: Principal, form: dict[str, str], request_id: str) -> Response:
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
    runtime = _runtime()

    def run(services: Services) -> bytes:
        ctx = RequestContext(principal, services, runtime.config.region, request_id)
        result: dict[str, Any] = spec.handler(ctx, params)
        if dry_run:
            # Validation and authorization ran (bad ids, missing rights raised their
            # own errors); undo everything the handler did by rolling back.
            raise _DryRunPassed()
        return serializer.success(op, result, request_id)

    try:
        body = runtime.call(run, readonly=spec.readonly)
    except _DryRunPassed:
        raise Ec2Error("DryRunOperation",
                       "Request would have succeeded, but DryRun flag is set.") from None
    except EngineError as exc:
        raise to_ec2(exc, show_details=principal.is_root_admin) from exc
    return _xml(body, 200)


class _DryRunPassed(Exception):
    """Raised inside the unit of work so a DryRun request's changes roll back."""


def init_app(app: Any, runtime: Runtime) -> None:
    app.extensions["nimbostack.runtime"] = runtime
    app.extensions["nimbostack.ec2.credentials"] = CredentialCache(runtime)
    app.register_blueprint(blueprint)
