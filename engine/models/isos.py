"""ISO images and volume files on secondary storage.

An ISO is a :class:`~engine.models.Template` whose ``format`` is "ISO" (as in
CloudStack, where both are rows of one table); :class:`IsoProperties` holds
what only ISOs have. :class:`IsoAttachment` records the ISO in an instance's
CD-ROM drive (at most one per instance). :class:`VolumeFile` is a volume's
file on an image store: an uploaded volume's content, fetched by a job.
"""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, str32, str255


class IsoProperties(Base):
    __tablename__ = "iso_properties"
    template_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("templates.uuid"), primary_key=True)
    bootable: Mapped[bool] = mapped_column(default=True)


class IsoAttachment(Base):
    __tablename__ = "iso_attachments"
    instance_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("instances.uuid"), primary_key=True)
    template_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("templates.uuid"),
                                               index=True)
    attached_at: Mapped[created_at]


class VolumeFile(Base):
    """``state``: Downloading, Uploaded or Error (``error_text`` says why);
    ``install_path`` is relative to the store's directory."""

    __tablename__ = "volume_files"
    volume_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("volumes.uuid"), primary_key=True)
    image_store_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("image_stores.uuid"))
    url: Mapped[str255] = mapped_column(default="")
    format: Mapped[str32] = mapped_column(default="QCOW2")
    checksum: Mapped[str255] = mapped_column(default="")
    state: Mapped[str32] = mapped_column(default="Downloading")
    download_percent: Mapped[int] = mapped_column(default=0)
    install_path: Mapped[str255] = mapped_column(default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    error_text: Mapped[str255] = mapped_column(default="")
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime | None]
