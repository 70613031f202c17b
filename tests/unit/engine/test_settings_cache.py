"""The per-process settings cache: own writes show at once, others' within CACHE_SECONDS."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from engine import settings as settings_module
from engine.db import Base, Database, connect
from engine.models import Setting
from engine.settings import Settings
from engine.uow import unit_of_work


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = connect(f"sqlite:///{tmp_path / 'settings.db'}")
    Base.metadata.create_all(database.engine)
    return database


def _read(db: Database, name: str) -> str:
    with unit_of_work(db.session) as s:
        return Settings(s).str(name)


def test_own_writes_show_at_once_and_inside_their_unit(db: Database) -> None:
    assert _read(db, "vm.allocation.algorithm") == "random"  # now cached
    with unit_of_work(db.session) as s:
        settings = Settings(s)
        settings.update("vm.allocation.algorithm", "firstfit")
        assert settings.str("vm.allocation.algorithm") == "firstfit"
        assert Settings(s).str("vm.allocation.algorithm") == "firstfit"  # same unit, new reader
    assert _read(db, "vm.allocation.algorithm") == "firstfit"


def test_rolled_back_write_does_not_stick(db: Database) -> None:
    with pytest.raises(RuntimeError), unit_of_work(db.session) as s:
        Settings(s).update("expunge.delay", "5")
        raise RuntimeError
    assert _read(db, "expunge.delay") == "86400"


def test_another_servers_write_shows_within_the_bound(db: Database,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with unit_of_work(db.session) as s:
        Settings(s).update("expunge.delay", "10")
    assert _read(db, "expunge.delay") == "10"
    # A write this process did not make through Settings (as another server's would be).
    with unit_of_work(db.session) as s:
        s.execute(update(Setting).where(Setting.name == "expunge.delay").values(value="20"))
    assert _read(db, "expunge.delay") == "10"  # cached
    clock = settings_module.time.monotonic()
    monkeypatch.setattr(settings_module.time, "monotonic",
                        lambda: clock + settings_module.CACHE_SECONDS + 0.1)
    assert _read(db, "expunge.delay") == "20"
