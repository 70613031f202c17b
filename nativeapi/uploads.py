"""``POST /client/upload/<volume id>``: the direct upload of a volume's content,
with the ticket of ``getUploadParamsForVolume``.

The request is a multipart form with the content in field ``file``; the
ticket's ``signature``, ``metadata`` and ``expires`` come as the X-signature,
X-metadata and X-expires headers (as CloudStack's secondary storage VM takes
them) or as form fields of the same names (for plain browser forms). The
ticket is the only credential and is good for one upload. A forged, expired or
used ticket, or a volume that is gone, gets 403 without saying which; a bad
upload (no file, empty, checksum mismatch, no pool with room) leaves the
volume in Error and gets 400 (507 for capacity) with the reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, request

from engine.errors import EngineError, InsufficientCapacity
from engine.services.volume_uploads import discard, store_content

blueprint = Blueprint("cloudstack_uploads", __name__)

PATH = "/client/upload/<volume_uuid>"
EXPIRES_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # e.g. 2026-11-22T06:30:00+0000
_RUNTIME_KEY = "nimbostack.runtime"


def init_app(app: Any) -> None:
    """Serve the upload path of ``app`` (the runtime is that of ``/client/api``)."""
    app.register_blueprint(blueprint)


def upload_url(base_url: str, volume_uuid: str) -> str:
    """The ``postURL`` of a volume's upload on the server at ``base_url``."""
    return f"{base_url.rstrip('/')}/client/upload/{volume_uuid}"


def _text(body: str, status: int) -> Response:
    return Response(body + "\n", status=status, mimetype="text/plain")


def _ticket_field(name: str) -> str:
    return request.headers.get(f"X-{name}") or request.form.get(name) or ""


def _expires(text: str) -> int | None:
    try:
        return int(datetime.strptime(text, EXPIRES_FORMAT).timestamp())
    except ValueError:
        return int(text) if text.isdigit() else None


@blueprint.route(PATH, methods=["POST"])
def upload(volume_uuid: str) -> Response:
    runtime = current_app.extensions[_RUNTIME_KEY]
    expires = _expires(_ticket_field("expires"))
    signature, metadata = _ticket_field("signature"), _ticket_field("metadata")
    if expires is None or not signature or not metadata or len(volume_uuid) > 64:
        return _text("Forbidden", 403)
    with runtime.unit() as services:
        target = services.volume_uploads.begin(volume_uuid, metadata, expires, signature)
    if target is None:
        return _text("Forbidden", 403)
    content = request.files.get("file")
    try:
        if content is None:
            raise _Refused("the request has no multipart field 'file'", 400)
        size = store_content(target, content.stream)
        with runtime.unit() as services:
            services.volume_uploads.finish(volume_uuid, size)
    except (EngineError, _Refused) as exc:
        status = exc.status if isinstance(exc, _Refused) else (
            507 if isinstance(exc, InsufficientCapacity) else 400)
        with runtime.unit() as services:
            discard(services.volume_uploads.abort(volume_uuid, str(exc)))
        return _text(f"Upload failed: {exc}", status)
    except BaseException:
        with runtime.unit() as services:
            discard(services.volume_uploads.abort(volume_uuid, "the upload was interrupted"))
        raise
    return _text("OK", 200)


class _Refused(Exception):
    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status
