"""Building blocks of the filter tables: value transforms and the spec type.

A :data:`FilterSpec` is (engine field, value transform, wildcards allowed).
The transform turns the request's values into the engine's; a transform may
return ``("\\x00",)``, a value no field holds, so the filter matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Final

from awsapi.ids import Kind

Transform = Callable[[Sequence[str]], tuple[str, ...]]
FilterSpec = tuple[str, Transform, bool]  # engine field, value transform, wildcards allowed

NO_MATCH: Final = "\x00"


def same(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(values)


def strip_prefix(kind: Kind) -> Transform:
    return strip_prefix_as(kind.prefix)


def strip_prefix_as(prefix: str) -> Transform:
    """``<prefix>-<sid>`` -> ``<sid>``; any other value matches nothing."""
    head = prefix + "-"
    return lambda values: tuple(v[len(head):] if v.startswith(head) else NO_MATCH + v
                                for v in values)


def lookup(table: Mapping[str, tuple[str, ...]]) -> Transform:
    """Wire values -> engine values through ``table``; a value the table does not
    know matches nothing (no values at all match nothing either). Unknown values
    never reach the database: an enum column would refuse them."""

    def transform(values: Sequence[str]) -> tuple[str, ...]:
        out: tuple[str, ...] = ()
        for v in values:
            out += table.get(v, ())
        return out

    return transform


lookup_known = lookup


def booleans(values: Sequence[str]) -> tuple[str, ...]:
    return tuple("1" if v.lower() == "true" else "0" for v in values)


def nothing(values: Sequence[str]) -> tuple[str, ...]:
    """For filters on features the engine lacks: match no resource."""
    return (NO_MATCH,)


def constant(*facts: str) -> Transform:
    """For a filter whose value is the same for every resource (``encrypted``
    is always ``false`` here): all match if any value (a wildcard pattern)
    matches one of ``facts``, else none. Use with the ``sid`` field, wildcards on
    (with another field: every resource that has that field)."""

    def transform(values: Sequence[str]) -> tuple[str, ...]:
        hit = any(fnmatchcase(f, v) for v in values for f in facts)
        return ("*",) if hit else (NO_MATCH,)

    return transform


def any_prefix(values: Sequence[str]) -> tuple[str, ...]:
    """EC2 ids of any kind -> sids (``i-0abc`` -> ``0abc``)."""
    return tuple(v.partition("-")[2] if "-" in v else NO_MATCH + v for v in values)


def when_matches(table: Mapping[str, tuple[str, ...]]) -> Transform:
    """Like :func:`lookup`, but each value is a wildcard pattern over the keys."""

    def transform(values: Sequence[str]) -> tuple[str, ...]:
        out: list[str] = []
        for v in values:
            for key, engine_values in table.items():
                if fnmatchcase(key, v):
                    out += [e for e in engine_values if e not in out]
        return tuple(out)  # none: matches nothing (and is safe on enum columns)

    return transform


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
