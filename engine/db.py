"""Declarative base, column conventions and database connections.

SQLite (the embedded default) runs in WAL mode; write transactions start with
``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing on a stale
snapshot (in the order of :mod:`engine.sqlite_writers`' queue, with the busy
timeout behind it), while read-only units of work use a plain deferred
``BEGIN`` and run beside them. MySQL/MariaDB runs at READ COMMITTED
with pre-ping, so a restarted server is reconnected to transparently.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from sqlalchemy import (
    DateTime,
    Dialect,
    Engine,
    String,
    Text,
    TypeDecorator,
    create_engine,
    event,
    make_url,
)
from sqlalchemy import Enum as SaEnum
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeEngine

from engine.ids import new_sid, new_uuid

if TYPE_CHECKING:
    from engine.sqlite_checkpoints import Checkpointer


class _Timestamp(TypeDecorator[datetime]):
    """``DATETIME``, as ``DATETIME(6)`` on MySQL/MariaDB (whose DATETIME drops
    fractions of a second by default): microsecond timestamps everywhere.

    The MySQL dialect's types are imported only when a MySQL/MariaDB database
    uses the column (importing that dialect costs a SQLite server's start-up
    tens of milliseconds for nothing)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())


TIMESTAMP = _Timestamp()


def utcnow() -> datetime:
    """Naive UTC now: every timestamp in the database is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {
        str: String(255),
        datetime: TIMESTAMP,
        enum.Enum: SaEnum(
            enum.Enum,
            native_enum=False,
            length=32,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
    }


uuid_pk = Annotated[str, mapped_column(String(36), primary_key=True, default=new_uuid)]
uuid_ref = Annotated[str, mapped_column(String(36))]
sid_unique = Annotated[str, mapped_column(String(17), unique=True, default=new_sid)]
str32 = Annotated[str, mapped_column(String(32))]
str64 = Annotated[str, mapped_column(String(64))]
str255 = Annotated[str, mapped_column(String(255))]
text = Annotated[str, mapped_column(Text)]
created_at = Annotated[datetime, mapped_column(TIMESTAMP, default=utcnow, index=True)]


@dataclass
class Database:
    """An engine plus the two session factories the callers use."""

    engine: Engine
    session: sessionmaker[Session]
    read_session: sessionmaker[Session]
    checkpointer: Checkpointer | None = None  # SQLite on disk: engine.sqlite_checkpoints

    @property
    def is_mysql(self) -> bool:
        return self.engine.dialect.name in ("mysql", "mariadb")

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()


def connect(url: str, *, pool_size: int = 10) -> Database:
    """Open ``url`` (any SQLAlchemy URL; sqlite and mysql+pymysql are tested)."""
    checkpointer = None
    if url.startswith("sqlite"):
        engine, checkpointer = _sqlite_engine(url)
    else:
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=20,
            pool_recycle=3600,
            isolation_level="READ COMMITTED",
        )
    read_engine = engine.execution_options(nimbo_readonly=True)
    return Database(
        engine=engine,
        session=sessionmaker(engine, expire_on_commit=False),
        read_session=sessionmaker(read_engine, expire_on_commit=False),
        checkpointer=checkpointer,
    )


def _sqlite_engine(url: str) -> tuple[Engine, Checkpointer | None]:
    from engine.sqlite_checkpoints import SAFETY_NET_PAGES, Checkpointer
    from engine.sqlite_writers import QueuedConnection, WriterQueue

    path = make_url(url).database
    on_disk = bool(path) and path != ":memory:" and not path.startswith("file:")
    queue = WriterQueue(path) if on_disk else None
    checkpointer = Checkpointer(path) if on_disk else None
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False,
                                              "factory": QueuedConnection})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        dbapi_conn.writer_queue = queue
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        if checkpointer is not None:  # the checkpointer thread's job (engine.sqlite_checkpoints)
            cur.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("nimbo_readonly"):
            conn.exec_driver_sql("BEGIN")
            return
        dbapi_conn = conn.connection.dbapi_connection
        if checkpointer is not None:
            checkpointer.ensure_running()
        queued = queue is not None and queue.acquire(dbapi_conn)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if queued:
                queue.release(dbapi_conn)
            raise

    return engine, checkpointer


def enum_values(e: type[enum.Enum]) -> list[str]:
    return [m.value for m in e]


__all__ = [
    "TIMESTAMP",
    "Base",
    "Database",
    "Text",
    "connect",
    "created_at",
    "new_sid",
    "new_uuid",
    "sid_unique",
    "str32",
    "str64",
    "str255",
    "text",
    "utcnow",
    "uuid_pk",
    "uuid_ref",
]
