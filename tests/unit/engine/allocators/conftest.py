"""Fixtures of the allocator tests (the cloud itself is built in ``tiny_cloud``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tiny_cloud import Cloud, tiny_cloud


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    with tiny_cloud(tmp_path) as built:
        yield built
