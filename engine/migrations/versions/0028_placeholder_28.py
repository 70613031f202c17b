"""Placeholder revision 0028 (filled by hand when a change needs it; empty otherwise)

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
