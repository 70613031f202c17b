"""awsapi.model: the botocore EC2 service model, loaded once."""

from __future__ import annotations

from awsapi import model


def test_service_model_is_ec2_and_cached() -> None:
    service = model.service_model()
    assert service.protocol == "ec2"
    assert service.api_version == "2016-11-15" == model.api_version()
    assert model.service_model() is service


def test_operation_lookup() -> None:
    op = model.operation("RunInstances")
    assert op is not None
    assert op.name == "RunInstances"
    assert model.operation("RunInstances") is op


def test_unknown_operations_are_none_and_not_cached() -> None:
    assert model.operation("runinstances") is None  # case-sensitive, as on the wire
    assert model.operation("NoSuchAction") is None
    assert model.operation("") is None
    before = model._operation.cache_info().currsize
    for n in range(100):
        model.operation(f"Junk{n}")
    assert model._operation.cache_info().currsize == before


def test_operation_names() -> None:
    names = model.operation_names()
    assert isinstance(names, frozenset)
    assert {"RunInstances", "DescribeInstances", "CreateTags", "AllocateAddress"} <= names
    assert len(names) > 500
