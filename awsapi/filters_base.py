"""Building blocks of the filter tables: value transforms and the spec type.

A :data:`FilterSpec` is (engine field, value transform, wildcards allowed).
The transform turns the request's values into the engine's; a transform may
return ``("\\x00",)``, a value no field holds, so the filter matches nothing.

AWS takes ``*`` and ``?`` in every filter value. A spec either passes the
patterns on (wildcards allowed: the engine field LIKE-matches them, and the
transform keeps them patterns, e.g. :func:`strip_prefix` turns ``ami-04*``
into the sid pattern ``04*``) or its transform expands them into the exact
values they match (:func:`lookup`, :func:`booleans`, :func:`when_matches`,
:func:`numbers` ...): such transforms are marked with :func:`expanding`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, Final

from awsapi.ids import Kind

Transform = Callable[[Sequence[str]], tuple[str, ...]]
FilterSpec = tuple[str, Transform, bool]  # engine field, value transform, wildcards allowed

NO_MATCH: Final = "\x00"


def has_wildcards(value: str) -> bool:
    return "*" in value or "?" in value


@cache
def _pattern(value: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in value), re.DOTALL)


def wildcard_match(text: str, pattern: str) -> bool:
    """Whether ``text`` matches ``pattern`` (``*`` any run, ``?`` one character;
    nothing else is special), case-sensitively as AWS matches."""
    return _pattern(pattern).fullmatch(text) is not None


def expanding(transform: Any) -> Any:
    """Mark ``transform`` as one that turns patterns into exact values."""
    transform.expands_patterns = True
    return transform


def same(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(values)


def strip_prefix(kind: Kind) -> Transform:
    return strip_prefix_as(kind.prefix)


def _tail_patterns(head: str, pattern: str) -> list[str]:
    """Every pattern ``t`` such that ``head + x`` matches ``pattern`` exactly
    when ``x`` matches one of the ``t`` (``*`` may cover part of ``head``)."""
    if not head:
        return [pattern]
    if not pattern:
        return []
    first = pattern[0]
    if first == "*":  # the star covers none of head, or head's first character and more
        return list(dict.fromkeys(_tail_patterns(head, pattern[1:])
                                  + _tail_patterns(head[1:], pattern)))
    if first == "?" or first == head[0]:
        return _tail_patterns(head[1:], pattern[1:])
    return []


def id_tails(prefix: str, value: str) -> list[str]:
    """The sid patterns of the ``<prefix>-<sid>`` ids that ``value`` (an id or
    an id pattern) matches; none when it can match no such id."""
    return _tail_patterns(prefix + "-", value)


def strip_prefix_as(prefix: str) -> Transform:
    """``<prefix>-<sid>`` -> ``<sid>``; any other value matches nothing. A
    pattern is matched against the whole id: ``ami-04*`` -> ``04*``, ``*`` ->
    ``*``, ``a*-0?`` -> ``0?``. Use with wildcards allowed."""
    head = prefix + "-"

    def transform(values: Sequence[str]) -> tuple[str, ...]:
        out: list[str] = []
        for v in values:
            if v.startswith(head) and not has_wildcards(head):
                out.append(v[len(head):])
            elif has_wildcards(v):
                out += _tail_patterns(head, v) or [NO_MATCH + v]
            else:
                out.append(NO_MATCH + v)
        return tuple(out)

    return transform


def lookup(table: Mapping[str, tuple[str, ...]]) -> Transform:
    """Wire values -> engine values through ``table``; a value is a pattern over
    the table's keys. A value the table does not know matches nothing (no values
    at all match nothing either). Unknown values never reach the database: an
    enum column would refuse them."""

    def transform(values: Sequence[str]) -> tuple[str, ...]:
        out: list[str] = []
        for v in values:
            hits = [table[k] for k in table if wildcard_match(k, v)] if has_wildcards(v) \
                else [table.get(v, ())]
            for engine_values in hits:
                out += [e for e in engine_values if e not in out]
        return tuple(out)

    return expanding(transform)


lookup_known = lookup


@expanding
def booleans(values: Sequence[str]) -> tuple[str, ...]:
    """``true`` -> ``1``, anything else ``0``; a pattern -> the values whose
    word (``true``/``false``) it matches."""
    out: list[str] = []
    for v in values:
        if has_wildcards(v):
            out += [n for word, n in (("true", "1"), ("false", "0"))
                    if wildcard_match(word, v.lower()) and n not in out]
        elif (n := "1" if v.lower() == "true" else "0") not in out:
            out.append(n)
    return tuple(out)


def numbers(candidates: range) -> Transform:
    """Whole numbers as given; a pattern -> the ``candidates`` it matches (the
    engine field compares numbers, so patterns are expanded here). A pattern
    matching none gives ``-1``, a number no candidate is."""

    def transform(values: Sequence[str]) -> tuple[str, ...]:
        out: list[str] = []
        for v in values:
            if has_wildcards(v):
                out += [str(n) for n in candidates if wildcard_match(str(n), v)]
            else:
                out.append(v)
        return tuple(dict.fromkeys(out)) or ("-1",)

    return expanding(transform)


@expanding
def nothing(values: Sequence[str]) -> tuple[str, ...]:
    """For filters on features the engine lacks: match no resource."""
    return (NO_MATCH,)


def constant(*facts: str) -> Transform:
    """For a filter whose value is the same for every resource (``encrypted``
    is always ``false`` here): all match if any value (a wildcard pattern)
    matches one of ``facts``, else none. Use with the ``sid`` field, wildcards on
    (with another field: every resource that has that field)."""

    def transform(values: Sequence[str]) -> tuple[str, ...]:
        hit = any(wildcard_match(f, v) for v in values for f in facts)
        return ("*",) if hit else (NO_MATCH,)

    return transform


def when_matches(table: Mapping[str, tuple[str, ...]]) -> Transform:
    """Like :func:`lookup`, but each value is a wildcard pattern over the keys."""

    def transform(values: Sequence[str]) -> tuple[str, ...]:
        out: list[str] = []
        for v in values:
            for key, engine_values in table.items():
                if wildcard_match(key, v):
                    out += [e for e in engine_values if e not in out]
        return tuple(out)  # none: matches nothing (and is safe on enum columns)

    return expanding(transform)


_ZONE_ID = re.compile(r"^([a-z]{2})([a-z]*)(\d+)-az(\d+)$")


def zone_ids(values: Sequence[str]) -> tuple[str, ...]:
    """AWS zone ids (``use1-az1``, see ``views.zone_id``) -> zone-name patterns
    (``us-e*-1a``). Use with a zone-name field, wildcards on."""
    out: list[str] = []
    for v in values:
        m = _ZONE_ID.match(v)
        if m is None or not 0 < int(m.group(4)) <= 26:
            out.append(NO_MATCH + v)
            continue
        head, initials, number, ordinal = m.groups()
        middle = "".join(f"{c}*-" for c in initials)
        out.append(f"{head}*-{middle}{number}{chr(ord('a') + int(ordinal) - 1)}")
    return tuple(out)


_PRIVATE_DNS = re.compile(r"^ip-([0-9*?-]+)\.ec2\.internal$")


def private_dns_names(values: Sequence[str]) -> tuple[str, ...]:
    """``ip-10-0-0-5.ec2.internal`` -> ``10.0.0.5`` (see ``views.private_dns``)."""
    out: list[str] = []
    for v in values:
        m = _PRIVATE_DNS.match(v)
        out.append("*" if v == "*" else m.group(1).replace("-", ".") if m else NO_MATCH + v)
    return tuple(out)


def arn_tail(marker: str, then: Transform = same) -> Transform:
    """ARNs ``arn:aws:ec2:<region>:<account>:<marker>/<x>`` -> ``then(x)``."""
    pattern = re.compile(rf"^arn:aws:ec2:[^:]*:[^:]*:{re.escape(marker)}/(.+)$")

    def transform(values: Sequence[str]) -> tuple[str, ...]:
        out: list[str] = []
        for v in values:
            m = pattern.match(v)
            out += then([m.group(1)]) if m else [NO_MATCH + v]
        return tuple(out)

    return transform


def nothing_specs(*names: str) -> dict[str, FilterSpec]:
    """Filters on features that do not exist here: accepted, match nothing."""
    return {name: ("sid", nothing, False) for name in names}


def constant_specs(facts: Mapping[str, str | tuple[str, ...]],
                   field: str = "sid") -> dict[str, FilterSpec]:
    """``constant`` filters by name: wire name -> the value(s) every resource has."""
    return {name: (field, constant(*((f,) if isinstance(f, str) else f)), True)
            for name, f in facts.items()}
