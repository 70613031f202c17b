"""Placeholder revision 0019 (filled by hand when a change needs it; empty otherwise)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
