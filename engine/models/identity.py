"""Domains, accounts and users (with their API keys)."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, created_at, sid_unique, str64, str255, uuid_pk
from engine.states import AccountState, Role


class Domain(Base):
    __tablename__ = "domains"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    name: Mapped[str255]
    path: Mapped[str255] = mapped_column(unique=True)  # "/" for ROOT, "/sub/" below it
    parent_uuid: Mapped[str | None] = mapped_column(String(36), ForeignKey("domains.uuid"))
    level: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("domain_uuid", "name"),)
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    # A 12-digit number shown by the EC2 API as the owner id.
    number: Mapped[str] = mapped_column(String(12), unique=True)
    domain_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("domains.uuid"), index=True)
    name: Mapped[str255]
    role: Mapped[Role]
    state: Mapped[AccountState] = mapped_column(default=AccountState.ENABLED)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]


class User(Base):
    __tablename__ = "users"
    uuid: Mapped[uuid_pk]
    sid: Mapped[sid_unique]
    account_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("accounts.uuid"), index=True)
    username: Mapped[str255] = mapped_column(unique=True)
    password_hash: Mapped[str255 | None]
    first_name: Mapped[str64] = mapped_column(default="")
    last_name: Mapped[str64] = mapped_column(default="")
    email: Mapped[str255] = mapped_column(default="")
    api_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # Needed in clear to verify HMAC signatures; never logged or shown to others.
    secret_key: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[AccountState] = mapped_column(default=AccountState.ENABLED)
    created_at: Mapped[created_at]
    removed_at: Mapped[datetime | None]
