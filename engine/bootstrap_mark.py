"""Whether a database already holds the current embedded default, in one query.

:func:`engine.bootstrap.bootstrap` is idempotent but costs a server's start-up
some twenty queries and the import of the services it uses. When it completes
it records :func:`generation` (a fingerprint of the code that decides what the
embedded default contains) as the counter :data:`MARK` of the ``sequences``
table; :func:`is_current` then tells a starting server, with one primary-key
read and without importing the bootstrap, that there is nothing to add.

Any change to the fingerprinted sources (a new instance type, OS type,
template, default network offering or counter) changes the generation, so
the next start runs the bootstrap again and adds what is missing. Rows a user
deleted afterwards are not re-created at start-up while the mark is current;
``nimbostack init`` (explicit options) always runs the whole bootstrap.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from sqlalchemy import Connection, text

MARK = "embedded-default"  # the row's name in ``sequences``

_ROOT = Path(__file__).parent
# The modules whose code decides what bootstrap() adds to an existing cloud.
_SOURCES = ("bootstrap.py", "bootstrap_mark.py", "sequences.py",
            "services/network_offerings.py")


@functools.cache
def generation() -> int:
    """A positive 63-bit fingerprint of the sources in :data:`_SOURCES` (0 when
    one cannot be read: then no database is ever considered current)."""
    digest = hashlib.sha256()
    try:
        for name in _SOURCES:
            digest.update((_ROOT / name).read_bytes())
    except OSError:
        return 0
    return int.from_bytes(digest.digest()[:8], "big") >> 1 or 1


def is_current(conn: Connection) -> bool:
    """Whether the database behind ``conn`` holds the embedded default of this
    code's :func:`generation` (the schema must be at the head)."""
    current = generation()
    if not current:
        return False
    stored = conn.execute(text("SELECT next_value FROM sequences WHERE name = :n"),
                          {"n": MARK}).scalar()
    return stored == current
