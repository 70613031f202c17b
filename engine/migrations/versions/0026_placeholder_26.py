"""Placeholder revision 0026 (filled by hand when a change needs it; empty otherwise)

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
