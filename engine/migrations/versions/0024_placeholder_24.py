"""Placeholder revision 0024 (filled by hand when a change needs it; empty otherwise)

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
