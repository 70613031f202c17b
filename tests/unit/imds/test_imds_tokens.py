"""Stateless guest tokens: bound to one instance and an expiry, signed with a shared key."""

from __future__ import annotations

import base64

from engine.services.instance_metadata import TokenClaims, issue_token, read_token

KEY = b"k" * 32
SID = "0123456789abcdef0"


def test_a_token_round_trips_until_it_expires() -> None:
    token = issue_token(KEY, SID, 1_000)
    assert read_token(KEY, token, 999.5) == TokenClaims(SID, 1_000)
    assert read_token(KEY, token, 1_000) is None
    assert read_token(KEY, token, 5_000) is None


def test_another_key_or_a_changed_byte_is_refused() -> None:
    token = issue_token(KEY, SID, 1_000)
    assert read_token(b"x" * 32, token, 0) is None
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[3] ^= 1  # push the expiry
    assert read_token(KEY, base64.urlsafe_b64encode(bytes(raw)).decode(), 0) is None
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[-20] ^= 1  # the sid
    assert read_token(KEY, base64.urlsafe_b64encode(bytes(raw)).decode(), 0) is None


def test_garbage_never_raises() -> None:
    for junk in ("", "abc", "not base64 !!", "é", "AAAA", base64.urlsafe_b64encode(b"x" * 60).decode()):
        assert read_token(KEY, junk, 0) is None


def test_tokens_differ_per_instance_and_expiry() -> None:
    assert issue_token(KEY, SID, 1_000) != issue_token(KEY, "fedcba98765432100", 1_000)
    assert issue_token(KEY, SID, 1_000) != issue_token(KEY, SID, 1_001)
    assert issue_token(KEY, SID, 1_000) == issue_token(KEY, SID, 1_000)  # stateless
