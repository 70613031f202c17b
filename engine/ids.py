"""Identifier generation: a UUID for every row and a neutral 17-hex short id."""

from __future__ import annotations

import secrets
import uuid


def new_uuid() -> str:
    """A random UUID string, the resource's engine-wide identity."""
    return str(uuid.uuid4())


def new_sid() -> str:
    """17 lowercase hex digits; front ends format public ids from it."""
    return secrets.token_hex(9)[:17]


def is_uuid(value: str) -> bool:
    """True when ``value`` is a canonical UUID string."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except (ValueError, AttributeError, TypeError):
        return False
