"""How an instance's guest may reach its metadata (one optional row per instance).

An instance without a row uses the defaults of :class:`MetadataAccess` (the
endpoint on, tokens optional, hop limit 1, tags not exposed).

NOTE(schema): this table needs a migration (and an import in
``engine/models/__init__.py``); see the report of the instance metadata work.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class MetadataAccess(Base):
    __tablename__ = "instance_metadata_access"
    instance_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("instances.uuid"), primary_key=True)
    endpoint_enabled: Mapped[bool] = mapped_column(default=True)
    require_token: Mapped[bool] = mapped_column(default=False)
    token_hop_limit: Mapped[int] = mapped_column(default=1)
    ipv6_enabled: Mapped[bool] = mapped_column(default=False)
    expose_tags: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
