"""Placeholder revision 0027 (filled by hand when a change needs it; empty otherwise)

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
