"""Placeholder revision 0023 (filled by hand when a change needs it; empty otherwise)

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
