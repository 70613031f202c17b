"""call_with_deadline: results, exceptions and the deadline itself."""

from __future__ import annotations

import threading
import time

import pytest

from engine.reconciler.deadline import DeadlineExceeded, call_with_deadline


def test_the_result_and_the_exception_come_back() -> None:
    assert call_with_deadline(lambda: 42, 1) == 42
    with pytest.raises(KeyError):
        call_with_deadline(lambda: {}["missing"], 1)


def test_a_hung_call_is_abandoned_after_the_deadline() -> None:
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="list_domains did not answer within 0.2 s"):
        call_with_deadline(lambda: release.wait(10), 0.2, name="list_domains")
    assert time.monotonic() - started < 1
    release.set()
