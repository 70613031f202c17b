"""Placeholder revision 0025 (filled by hand when a change needs it; empty otherwise)

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
