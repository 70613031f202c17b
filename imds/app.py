"""The instance metadata endpoint: ``/imds/<instance-id>/`` on the management server.

EC2 tells guests apart by their source address on 169.254.169.254; simulated
instances have no address of their own, so here the instance is named in the
path and the endpoint answers loopback callers only (it is a local address of
the management server, like the link-local one is of a hypervisor host):

* a caller whose source address is not loopback, or a request that went
  through a proxy (``X-Forwarded-For``/``Forwarded``/``Via``), gets 403, so a
  reverse proxy in front of the server cannot expose it to other tenants;
* ``PUT latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds``
  (1..21600, else 400) returns a token bound to the instance and its expiry;
* ``GET`` with ``X-aws-ec2-metadata-token`` must carry a valid, unexpired
  token of that instance (else 401); without one it is IMDSv1, refused with
  401 when the instance requires tokens; a disabled endpoint answers 403;
* unknown paths, unknown or stopped instances: 404;
* ``dynamic/instance-identity/signature`` and ``pkcs7`` sign the identity
  document with this cloud's own key (see :mod:`imds.identity`).

Handlers only translate: one engine call per request, then the tree layout of
:mod:`imds.tree`.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any, Final

from flask import Blueprint, Response, current_app, request

from awsapi import ids
from awsapi.ids import Kind
from engine.errors import EngineError, NotFound
from engine.runtime import Runtime
from engine.services import Services
from engine.services.instance_metadata import (
    InstanceMetadata,
    TokenClaims,
    for_unit,
    issue_token,
    read_token,
)
from imds import tree

log = logging.getLogger("nimbostack.imds")

blueprint = Blueprint("imds", __name__)

PREFIX: Final = "/imds"
TOKEN_PATH: Final = "latest/api/token"
TOKEN_HEADER: Final = "X-aws-ec2-metadata-token"
TTL_HEADER: Final = "X-aws-ec2-metadata-token-ttl-seconds"
MAX_TTL: Final = 21600
_PROXY_HEADERS: Final = ("X-Forwarded-For", "Forwarded", "Via")
_RUNTIME_KEY: Final = "nimbostack.runtime"


def init_app(app: Any, runtime: Runtime) -> None:
    """Serve instance metadata under ``/imds/<instance-id>/`` of ``app``."""
    app.extensions[_RUNTIME_KEY] = runtime
    app.register_blueprint(blueprint, url_prefix=PREFIX)


def _runtime() -> Runtime:
    return current_app.extensions[_RUNTIME_KEY]  # type: ignore[no-any-return]


def _page(status: int, title: str) -> Response:
    body = (f'<?xml version="1.0" encoding="iso-8859-1"?>\n<html><head><title>{status} - '
            f"{title}</title></head><body><h1>{status} - {title}</h1></body></html>\n")
    return Response(body, status=status, content_type="text/html")


def _text(body: str | bytes, **headers: str) -> Response:
    response = Response(body, status=200, content_type="text/plain")
    response.headers.update(headers)
    return response


def is_local(remote_addr: str | None, headers: Any) -> bool:
    """Whether the request comes straight from this machine (loopback, no proxy)."""
    if any(h in headers for h in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address((remote_addr or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def parse_ttl(value: str | None) -> int | None:
    """The requested token lifetime, or None when missing or out of 1..21600."""
    if value is None or not value.strip().isdigit():
        return None
    ttl = int(value)
    return ttl if 1 <= ttl <= MAX_TTL else None


@blueprint.route("/<instance_id>/", defaults={"path": ""}, methods=["GET", "PUT"])
@blueprint.route("/<instance_id>/<path:path>", methods=["GET", "PUT"])
def handle(instance_id: str, path: str) -> Response:
    start = time.perf_counter()
    try:
        response = _handle(instance_id, path)
    except NotFound:
        response = _page(404, "Not Found")
    except EngineError as exc:
        log.warning("imds instance=%s path=%s: %s", instance_id, path, exc)
        response = _page(500, "Internal Server Error")
    except Exception:
        log.exception("imds instance=%s path=%s", instance_id, path)
        response = _page(500, "Internal Server Error")
    log.info("imds instance=%s method=%s path=%s status=%s ms=%.1f", instance_id,
             request.method, path, response.status_code, (time.perf_counter() - start) * 1000)
    return response


def _handle(instance_id: str, path: str) -> Response:
    if not is_local(request.remote_addr, request.headers):
        return _page(403, "Forbidden")
    if not ids.is_valid(instance_id, Kind.INSTANCE):
        return _page(404, "Not Found")
    sid = ids.parse(instance_id, Kind.INSTANCE)
    is_token_path = path.strip("/") == TOKEN_PATH
    if request.method == "PUT":
        return _put_token(sid) if is_token_path else _page(405, "Method Not Allowed")
    if is_token_path:
        return _page(405, "Method Not Allowed")
    return _get(sid, path)


def _put_token(sid: str) -> Response:
    ttl = parse_ttl(request.headers.get(TTL_HEADER))
    if ttl is None:
        return _page(400, "Bad Request")
    expires_at = int(time.time()) + ttl

    def issue(services: Services) -> str | None:
        svc = for_unit(services)
        if not svc.describe(sid).access.endpoint_enabled:
            return None
        key = svc.token_key(create=True)
        assert key is not None
        return issue_token(key, sid, expires_at)

    token = _runtime().call(issue)
    if token is None:
        return _page(403, "Forbidden")
    return _text(token, **{TTL_HEADER: str(ttl)})


def _get(sid: str, path: str) -> Response:
    token = request.headers.get(TOKEN_HEADER)
    now = time.time()

    def read(services: Services) -> tuple[InstanceMetadata, TokenClaims | None]:
        svc = for_unit(services)
        metadata = svc.describe(sid)
        key = svc.token_key(create=False) if token is not None else None
        claims = read_token(key, token, now) if key is not None and token is not None else None
        return metadata, claims

    metadata, claims = _runtime().call(read, readonly=True)
    if not metadata.access.endpoint_enabled:
        return _page(403, "Forbidden")
    headers: dict[str, str] = {}
    if token is not None:
        if claims is None or claims.instance_sid != sid:
            return _page(401, "Unauthorized")
        headers[TTL_HEADER] = str(max(0, int(claims.expires_at - now)))
    elif metadata.access.require_token:
        return _page(401, "Unauthorized")
    return _render(metadata, path, headers)


def _render(metadata: InstanceMetadata, path: str, headers: dict[str, str]) -> Response:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return _text("\n".join(tree.VERSIONS), **headers)
    if parts[0] not in tree.VERSIONS:
        return _page(404, "Not Found")
    node = tree.resolve(tree.version_tree(metadata, _identity_seed), "/".join(parts[1:]))
    if node is None:
        return _page(404, "Not Found")
    if isinstance(node, tree.Directory):
        return _text(tree.listing(node), **headers)
    return _text(node() if callable(node) else node, **headers)


def _identity_seed() -> bytes:
    """The seed of the identity document's signing key (made if missing)."""
    seed = _runtime().call(lambda services: for_unit(services).identity_seed(create=True))
    assert seed is not None
    return seed
