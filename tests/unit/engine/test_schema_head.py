"""The migration head read from the scripts agrees with Alembic's."""

from __future__ import annotations

from engine import schema


def test_quick_head_matches_alembic() -> None:
    assert schema.quick_head() is not None
    assert schema.quick_head() == schema.head_revision()
