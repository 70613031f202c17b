"""uploadVolume, getUploadParamsForVolume (direct POST upload) and migrateVolume."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import request

from engine.errors import ResourceKind
from engine.services.volume_transfers import UploadRequest
from engine.services.volume_uploads import PostUploadRequest
from nativeapi.commands import CsContext, Submitted, finished
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command
from nativeapi.uploads import EXPIRES_FORMAT, upload_url

_UPLOAD_META = {
    "style": "async", "responsekey": "uploadvolumeresponse", "itemkey": "volume",
    "responseclass": "VolumeResponse",
    "required": {"format": "string", "name": "string", "url": "string", "zoneid": "uuid"},
    "optional": {"checksum": "string", "diskofferingid": "uuid", "imagestoreuuid": "string",
                 "account": "string", "domainid": "uuid", "projectid": "uuid"},
}


@command("uploadVolume", meta=_UPLOAD_META, is_async=True)
def upload_volume(ctx: CsContext, p: CsParams) -> Submitted:
    """The job finishes once the file is on secondary storage (the volume is
    then Allocated and attaches like any data volume)."""
    v, job = ctx.services.volume_transfers.upload(ctx.principal, UploadRequest(
        name=p.require("name"), url=p.require("url"), format=p.require("format"),
        zone_uuid=p.uuid("zoneid", required=True) or "", checksum=p.get("checksum") or "",
        disk_offering_uuid=p.uuid("diskofferingid")), command=ctx.command.name)
    return Submitted(job, object_uuid=v.uuid)


_POST_PARAMS_META = {
    "style": "sync", "responsekey": "postuploadvolumeresponse", "itemkey": "getuploadparams",
    "responseclass": "GetUploadParamsResponse",
    "required": {"format": "string", "name": "string", "zoneid": "uuid"},
    "optional": {"checksum": "string", "diskofferingid": "uuid", "imagestoreuuid": "string",
                 "account": "string", "domainid": "uuid", "projectid": "uuid"},
    "responsefields": {"id": "str", "postURL": "str", "metadata": "str", "expires": "str",
                       "signature": "str"},
}


@command("getUploadParamsForVolume", meta=_POST_PARAMS_META)
def get_upload_params_for_volume(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    """A new volume waiting for its content and what a client needs to POST it
    (multipart field ``file``; ``signature``, ``metadata`` and ``expires`` as
    the X-signature/X-metadata/X-expires headers) to ``postURL``."""
    v, ticket = ctx.services.volume_uploads.prepare(ctx.principal, PostUploadRequest(
        name=p.require("name"), format=p.require("format"),
        zone_uuid=p.uuid("zoneid", required=True) or "", checksum=p.get("checksum") or "",
        disk_offering_uuid=p.uuid("diskofferingid")))
    return {"id": v.uuid, "postURL": upload_url(request.url_root, v.uuid),
            "metadata": ticket.metadata,
            "expires": datetime.fromtimestamp(ticket.expires, UTC).strftime(EXPIRES_FORMAT),
            "signature": ticket.signature}


@command("migrateVolume", is_async=True)
def migrate_volume(ctx: CsContext, p: CsParams) -> Submitted:
    """Only cold migration: the volume must be detached or its VM stopped."""
    v = ctx.services.volume_transfers.migrate(
        ctx.principal, p.uuid("volumeid", required=True) or "",
        p.uuid("storageid", required=True) or "", live=bool(p.boolean("livemigrate", False)))
    return Submitted(finished(ctx, ResourceKind.VOLUME, v.uuid))
