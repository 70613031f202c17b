"""``GET /client/download/<token>``: the files of extracted templates, ISOs and
volumes, streamed by the management server itself.

The token (issued by ``extractTemplate``/``extractIso``/``extractVolume``) is
signed and expiring; it is the only credential. Anything invalid, expired or
whose object is gone gets a plain 404 that does not say which check failed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, send_file

blueprint = Blueprint("cloudstack_downloads", __name__)

PATH = "/client/download/<token>"
_RUNTIME_KEY = "nimbostack.runtime"


def init_app(app: Any) -> None:
    """Serve the download path of ``app`` (the runtime is that of ``/client/api``)."""
    app.register_blueprint(blueprint)


@blueprint.route(PATH, methods=["GET", "HEAD"])
def download(token: str) -> Response:
    runtime = current_app.extensions[_RUNTIME_KEY]
    if len(token) > 300:
        return Response("Not Found\n", status=404, mimetype="text/plain")
    with runtime.unit(readonly=True) as services:
        found = services.extracts.resolve(token)
    if found is None:
        return Response("Not Found\n", status=404, mimetype="text/plain")
    return send_file(found.path, mimetype="application/octet-stream", as_attachment=True,
                     download_name=found.filename, conditional=True, max_age=0)
