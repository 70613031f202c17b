"""What users choose from: offerings, OS types and templates."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str32, str64, str255, text, uuid_pk
from engine.states import TemplateState


class ServiceOffering(Base):
    """Compute size of a VM (CPU count, speed, memory)."""

    __tablename__ = "service_offerings"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    name: Mapped[str64] = mapped_column(unique=True)
    display_text: Mapped[str255] = mapped_column(default="")
    cpus: Mapped[int]
    cpu_mhz: Mapped[int]
    memory_mib: Mapped[int]
    root_disk_gib: Mapped[int] = mapped_column(default=0)  # 0: the template's size
    network_mbps: Mapped[int] = mapped_column(default=0)
    family: Mapped[str32] = mapped_column(default="")
    host_tags: Mapped[str255] = mapped_column(default="")
    storage_tags: Mapped[str255] = mapped_column(default="")
    is_system: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]


class DiskOffering(Base):
    __tablename__ = "disk_offerings"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    name: Mapped[str64] = mapped_column(unique=True)
    display_text: Mapped[str255] = mapped_column(default="")
    size_gib: Mapped[int] = mapped_column(default=0)
    customized: Mapped[bool] = mapped_column(default=False)
    storage_tags: Mapped[str255] = mapped_column(default="")
    volume_type: Mapped[str32] = mapped_column(default="gp3")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]


class OsType(Base):
    __tablename__ = "os_types"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    name: Mapped[str255] = mapped_column(unique=True)
    category: Mapped[str64] = mapped_column(default="Other")
    platform: Mapped[str32] = mapped_column(default="linux")
    created_at: Mapped[created_at]


class Template(Base):
    """A bootable image (per-zone readiness in :class:`TemplateZone`)."""

    __tablename__ = "templates"
    __table_args__ = (
        Index("ux_templates_account_client_token", "account_uuid", "client_token", unique=True),
    )
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    name: Mapped[str255]
    display_text: Mapped[str255] = mapped_column(default="")
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"), index=True)
    os_type_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("os_types.uuid"))
    format: Mapped[str32] = mapped_column(default="QCOW2")
    hypervisor: Mapped[str32] = mapped_column(default="Simulator")
    template_type: Mapped[str32] = mapped_column(default="USER")
    url: Mapped[str255] = mapped_column(default="")
    checksum: Mapped[str255] = mapped_column(default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    arch: Mapped[str32] = mapped_column(default="x86_64")
    is_public: Mapped[bool] = mapped_column(default=False)
    is_featured: Mapped[bool] = mapped_column(default=False)
    password_enabled: Mapped[bool] = mapped_column(default=False)
    root_device_name: Mapped[str32] = mapped_column(default="/dev/xvda")
    boot_spec: Mapped[text | None]  # JSON: kernel/initrd/cmdline for direct boot
    details: Mapped[text | None]  # JSON object of other free-form details
    is_extractable: Mapped[bool] = mapped_column(default=False)
    source_snapshot_uuid: Mapped[str | None] = mapped_column(String(36))
    source_template_uuid: Mapped[str | None] = mapped_column(String(36))
    client_token: Mapped[str | None] = mapped_column(String(64))  # the creator's idempotency token
    # Digest of the request that used ``client_token`` (a retry must match it).
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    removed_at: Mapped[datetime | None]
    created_at: Mapped[created_at]


class TemplatePermission(Base):
    """An account other than the owner that may launch a private template."""

    __tablename__ = "template_permissions"
    __table_args__ = (UniqueConstraint("template_uuid", "account_uuid"),)
    uuid: Mapped[uuid_pk]
    template_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("templates.uuid"), index=True)
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"), index=True)
    created_at: Mapped[created_at]


class TemplateZone(Base):
    __tablename__ = "template_zones"
    __table_args__ = (UniqueConstraint("template_uuid", "zone_uuid"),)
    uuid: Mapped[uuid_pk]
    template_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("templates.uuid"), index=True)
    zone_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("zones.uuid"))
    image_store_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("image_stores.uuid"))
    state: Mapped[TemplateState] = mapped_column(default=TemplateState.READY)
    download_percent: Mapped[int] = mapped_column(default=100)
    install_path: Mapped[str255] = mapped_column(default="")
    error_text: Mapped[str255] = mapped_column(default="")
    created_at: Mapped[created_at]
