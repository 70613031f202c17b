"""awsapi.model: the parsed EC2 description cached under the home directory."""

from __future__ import annotations

import json
from pathlib import Path

import botocore
import botocore.session
import pytest
from botocore.loaders import Loader

from awsapi import model


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NIMBOSTACK_HOME", str(tmp_path))
    monkeypatch.delenv("NIMBOSTACK_MODEL_CACHE", raising=False)
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    return tmp_path


def _cache_files(home: Path) -> list[Path]:
    return sorted((home / "cache").glob("botocore-ec2-*.marshal"))


def _no_botocore_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_a: object, **_k: object) -> None:
        raise AssertionError("parsed botocore's JSON although a cache file exists")

    monkeypatch.setattr(Loader, "load_service_model", fail)


def test_first_load_writes_the_cache_and_the_second_reads_it(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = model._service_description()
    files = _cache_files(home)
    assert len(files) == 1
    _no_botocore_parsing(monkeypatch)
    assert model._service_description() == first


def test_cached_description_is_botocores(home: Path) -> None:
    model._service_description()
    cached = model._service_description()
    reference = botocore.session.get_session().get_service_model("ec2")._service_description
    # Same content and the same member order (serialization follows it).
    assert json.dumps(cached) == json.dumps(reference)
    service = botocore.model.ServiceModel(cached, service_name="ec2")
    ref_service = botocore.model.ServiceModel(reference, service_name="ec2")
    for name in ("DescribeInstances", "RunInstances"):
        out = service.operation_model(name).output_shape
        assert list(out.members) == list(ref_service.operation_model(name).output_shape.members)


def test_a_damaged_cache_file_is_replaced(home: Path) -> None:
    good = model._service_description()
    (path,) = _cache_files(home)
    path.write_bytes(b"\x00not marshal")
    assert model._service_description() == good
    assert path.read_bytes() != b"\x00not marshal"


def test_another_botocore_version_gets_its_own_file(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model._service_description()
    monkeypatch.setattr(botocore, "__version__", "0.0.0-test")
    model._service_description()
    assert len(_cache_files(home)) == 2


def test_cache_can_be_turned_off(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIMBOSTACK_MODEL_CACHE", "0")
    assert "operations" in model._service_description()
    assert _cache_files(home) == []


def test_models_from_aws_data_path_are_not_cached(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(home / "models"))
    model._service_description()
    assert _cache_files(home) == []


def test_unwritable_cache_directory_still_loads(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "cache").write_text("a file where the directory should be")
    assert "operations" in model._service_description()
