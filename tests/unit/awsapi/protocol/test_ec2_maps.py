"""Map shapes (absent from EC2's model today) through parser and serializer,
using a small ec2-protocol service model of our own."""

from __future__ import annotations

from typing import Any

import pytest
import xmltodict
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from awsapi.errors_wire import Ec2Error
from awsapi.protocol import parser, serializer

_MODEL = ServiceModel(
    {
        "metadata": {"protocol": "ec2", "apiVersion": "2016-11-15", "endpointPrefix": "ec2"},
        "operations": {
            "ZzPutLabels": {
                "name": "ZzPutLabels",
                "http": {"method": "POST", "requestUri": "/"},
                "input": {"shape": "ZzPutLabelsRequest"},
                "output": {"shape": "ZzPutLabelsResult"},
            }
        },
        "shapes": {
            "ZzPutLabelsRequest": {
                "type": "structure",
                "members": {"Labels": {"shape": "ZzLabelMap", "locationName": "Label"}},
            },
            "ZzPutLabelsResult": {
                "type": "structure",
                "members": {"Labels": {"shape": "ZzLabelMap", "locationName": "labelSet"}},
            },
            "ZzLabelMap": {
                "type": "map",
                "key": {"shape": "ZzString"},
                "value": {"shape": "ZzCount"},
            },
            "ZzString": {"type": "string"},
            "ZzCount": {"type": "integer"},
        },
    },
    "zz",
)
OP = _MODEL.operation_model("ZzPutLabels")


def test_parser_inverts_botocore_map_serialization() -> None:
    labels = {"a": 1, "b c": 2}
    body = create_serializer("ec2").serialize_to_request({"Labels": labels}, OP)["body"]
    assert "Label.entry.1.key" in body
    form = {k: str(v) for k, v in body.items()}
    assert parser.parse(OP, form) == {"Labels": labels}


def test_parser_accepts_indexed_key_value_form() -> None:
    form = {"Label.1.Key": "a", "Label.1.Value": "7"}
    assert parser.parse(OP, form) == {"Labels": {"a": 7}}


@pytest.mark.parametrize("key", ["Label.entry.1.nope", "Label.x.key", "Label.1"])
def test_parser_rejects_bad_map_keys(key: str) -> None:
    with pytest.raises(Ec2Error, match="UnknownParameter"):
        parser.parse(OP, {key: "1"})


def test_serializer_round_trips_maps() -> None:
    result: dict[str, Any] = {"Labels": {"a": 1, "b<": 2}}
    body = serializer.success(OP, result, "r")
    assert b"<labelSet><entry><key>a</key><value>1</value></entry>" in body
    parsed = create_parser("ec2").parse(
        {"body": body, "headers": {}, "status_code": 200}, OP.output_shape
    )
    parsed.pop("ResponseMetadata")
    assert parsed == result
    tree = serializer.to_tree(OP, result, "r")
    assert tree["ZzPutLabelsResponse"]["labelSet"] == {
        "entry": [{"key": "a", "value": "1"}, {"key": "b<", "value": "2"}]
    }
    reference = xmltodict.unparse(tree, full_document=False, short_empty_elements=True)
    assert body == (serializer.XML_HEADER + reference).encode()
