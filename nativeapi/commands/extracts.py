"""extractTemplate, extractIso and extractVolume (mode HTTP_DOWNLOAD).

The job is finished within the request; its result is an ExtractResponse
whose ``url`` points at this management server's signed, expiring download
path (``nativeapi.downloads``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import request

from engine.services.extracts import ticket_of
from engine.services.jobs import result_of
from nativeapi import views_transfers
from nativeapi.commands import CsContext, Submitted, invalid_value, job_result
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Job

_EXTRACT_FIELDS = {
    "id": "str", "name": "str", "extractId": "str", "uploadpercentage": "int", "status": "str",
    "accountid": "str", "resultstring": "str", "created": "date-str", "state": "str",
    "storagetype": "str", "zoneid": "str", "zonename": "str", "extractMode": "str",
    "url": "str",
}


def _meta(name: str, itemkey: str) -> dict[str, Any]:
    return {"style": "async", "responsekey": f"{name.lower()}response", "itemkey": itemkey,
            "responseclass": "ExtractResponse", "required": {"id": "uuid", "mode": "string"},
            "optional": {"url": "string", "zoneid": "uuid"},
            "responsefields": _EXTRACT_FIELDS}


def _mode(p: CsParams) -> None:
    mode = p.require("mode").upper()
    if mode == "FTP_UPLOAD":
        raise invalid_value("FTP_UPLOAD extraction is not supported; use HTTP_DOWNLOAD")
    if mode != "HTTP_DOWNLOAD":
        raise invalid_value("Please specify a valid extract Mode: HTTP_DOWNLOAD or FTP_UPLOAD")


def _extract_view(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    ticket = ticket_of(result_of(job))
    if ticket is None:
        return None
    return views_transfers.extract(ticket, request.url_root, job.uuid)


for _name in ("extractTemplate", "extractIso", "extractVolume"):
    job_result(_name)(_extract_view)


@command("extractTemplate", is_async=True)
def extract_template(ctx: CsContext, p: CsParams) -> Submitted:
    _mode(p)
    _, job = ctx.services.extracts.extract_template(
        ctx.principal, p.uuid("id", required=True) or "", p.uuid("zoneid"),
        command=ctx.command.name)
    return Submitted(job)


@command("extractIso", meta=_meta("extractIso", "iso"), is_async=True)
def extract_iso(ctx: CsContext, p: CsParams) -> Submitted:
    _mode(p)
    _, job = ctx.services.extracts.extract_template(
        ctx.principal, p.uuid("id", required=True) or "", p.uuid("zoneid"), iso=True,
        command=ctx.command.name)
    return Submitted(job)


@command("extractVolume", meta={**_meta("extractVolume", "volume"),
                                "required": {"id": "uuid", "mode": "string", "zoneid": "uuid"}},
         is_async=True)
def extract_volume(ctx: CsContext, p: CsParams) -> Submitted:
    _mode(p)
    _, job = ctx.services.extracts.extract_volume(
        ctx.principal, p.uuid("id", required=True) or "", p.uuid("zoneid"),
        command=ctx.command.name)
    return Submitted(job)
