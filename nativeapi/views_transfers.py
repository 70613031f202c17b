"""Views of ISOs, extracts and volume transfers (engine objects -> CloudStack dicts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nativeapi import views

if TYPE_CHECKING:
    from engine.services.extracts import ExtractTicket
    from engine.services.isos import IsoDetail

View = dict[str, Any]
DOWNLOAD_PATH = "/client/download/"


def iso_rows(d: IsoDetail, zone_uuid: str | None = None) -> list[View]:
    """One row per zone the ISO is in (only ``zone_uuid``'s when given)."""
    rows = views.template_rows(d.detail, zone_uuid)
    for row in rows:
        row["bootable"] = d.bootable
        row.pop("details", None)
    return rows


def download_url(base_url: str, token: str) -> str:
    """The management server's own URL of an extract's file."""
    return base_url.rstrip("/") + DOWNLOAD_PATH + token


def extract(ticket: ExtractTicket, base_url: str, extract_id: str) -> View:
    """CloudStack's ExtractResponse for an HTTP_DOWNLOAD extract."""
    return {
        "id": ticket.uuid,
        "name": ticket.name,
        "extractId": extract_id,
        "uploadpercentage": 100,
        "status": "DOWNLOAD_URL_CREATED",
        "state": "DOWNLOAD_URL_CREATED",
        "accountid": ticket.account_uuid,
        "storagetype": "Secondary" if ticket.kind != "volume" else "Image",
        "zoneid": ticket.zone_uuid,
        "zonename": ticket.zone_name,
        "extractMode": "HTTP_DOWNLOAD",
        "url": download_url(base_url, ticket.token),
        "created": datetime.fromtimestamp(ticket.created, UTC),
    }
