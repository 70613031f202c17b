"""awsapi.protocol.serializer against its reference, for every output shape.

For each EC2 operation with an output shape, results are generated from the
shape (seeded, so reproducible): structures with their members in shuffled
orders, some None; nested and empty lists, lists holding None, flattened
lists; strings needing escaping, control and non-ASCII characters, str
subclasses, ints given for strings; integers, floats, booleans, blobs;
timestamps naive, in UTC and in other zones, with and without microseconds;
the same object shared at several places. The bytes of ``success`` must equal
``xmltodict.unparse`` of ``to_tree`` (an independent writer), and botocore's
parser must read them (but for control characters, which both write as given).
"""

from __future__ import annotations

import random
import zlib
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest
import xmltodict
from botocore.model import Shape
from botocore.parsers import create_parser

from awsapi import model
from awsapi.protocol import serializer


class Color(StrEnum):
    RED = "red"


_STRINGS: list[Any] = ["", "plain", "R&D <core> a>b", "tab\tnew\nline\r", "\x01\x1f",
                       "déjà vu 中文 🙂", "&amp;", Color.RED, 42, "x" * 300]
_MOMENTS = [datetime(2026, 11, 22, 0, 1, 2, 345678, tzinfo=UTC),
            datetime(2026, 11, 22, 0, 1, 2),
            datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=timezone(timedelta(hours=-5))),
            datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=9)))]


class _Maker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.shared: dict[str, list[Any]] = {}  # shape name -> values made

    def value(self, shape: Shape, depth: int) -> Any:
        rng, kind = self.rng, shape.type_name
        if kind == "structure":
            made = self.shared.setdefault(shape.name, [])
            if made and rng.random() < 0.3:
                return rng.choice(made)  # the same object at several places
            names = list(shape.members)
            rng.shuffle(names)
            out: dict[str, Any] = {}
            for name in names[:rng.randint(0, 12)]:
                member = shape.members[name]
                if depth > 3 and member.type_name in ("structure", "list", "map"):
                    continue
                out[name] = None if rng.random() < 0.1 else self.value(member, depth + 1)
            made.append(out)
            return out
        if kind == "list":
            count = rng.choice([0, 1, 2, 3])
            return [None if rng.random() < 0.1 else self.value(shape.member, depth + 1)
                    for _ in range(count)]
        if kind == "map":
            return {f"k{i}": self.value(shape.value, depth + 1) for i in range(rng.randint(0, 2))}
        if kind in ("string", "character"):
            return rng.choice(_STRINGS)
        if kind in ("integer", "long"):
            return rng.choice([0, 1, -7, 2**40])
        if kind in ("float", "double"):
            return rng.choice([0.0, 1.5, -2, 1e-7, 3])
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "timestamp":
            return rng.choice(_MOMENTS)
        if kind == "blob":
            return rng.choice([b"", b"\x00\xffbytes", "text"])
        raise AssertionError(kind)


def _result(op: Any, seed: int) -> dict[str, Any]:
    result: dict[str, Any] = _Maker(seed).value(op.output_shape, 0)
    return result


def _reference(op: Any, result: dict[str, Any], request_id: str = "req-&<1>") -> bytes:
    tree = serializer.to_tree(op, result, request_id)
    body = xmltodict.unparse(tree, full_document=False, short_empty_elements=True)
    return (serializer.XML_HEADER + body).encode("utf-8")


_OPS = [name for name in model.service_model().operation_names
        if model.operation(name) is not None and model.operation(name).output_shape is not None]


@pytest.mark.parametrize("chunk", range(8))
def test_every_output_shape_writes_what_xmltodict_writes(chunk: int) -> None:
    parser = create_parser("ec2")
    for name in _OPS[chunk::8]:
        op = model.operation(name)
        for seed in range(3):
            result = _result(op, zlib.crc32(f"{name}:{seed}".encode()))
            body = serializer.success(op, result, "req-&<1>")
            assert body == _reference(op, result), (name, seed)
            if b"\x01" not in body:  # (control characters are written as given: not XML)
                parser.parse({"body": body, "headers": {}, "status_code": 200},
                             op.output_shape)


def test_many_key_orders_of_one_structure_stay_exact() -> None:
    op = model.operation("DescribeInstances")
    assert op is not None
    state = {"Code": 16, "Name": "running"}
    instance = {"InstanceId": "i-1", "ImageId": "ami-1", "State": state, "AmiLaunchIndex": 3,
                "EbsOptimized": False, "LaunchTime": _MOMENTS[0], "KeyName": None,
                "PublicDnsName": "", "Tags": [{"Key": "a", "Value": "b&c"}]}
    rng = random.Random(7)
    for _ in range(48):
        keys = list(instance)
        rng.shuffle(keys)
        result = {"Reservations": [{"ReservationId": "r-1",
                                    "Instances": [{k: instance[k] for k in keys}] * 2}]}
        assert serializer.success(op, result, "r") == _reference(op, result, "r")


def test_a_non_member_key_is_refused_unless_its_value_is_none() -> None:
    op = model.operation("DescribeInstances")
    assert op is not None
    ok = {"Reservations": [{"ReservationId": "r-1", "Bogus": None}]}
    assert serializer.success(op, ok, "r") == _reference(op, ok, "r")
    with pytest.raises(ValueError, match="Bogus"):
        serializer.success(op, {"Reservations": [{"ReservationId": "r-1", "Bogus": 1}]}, "r")
