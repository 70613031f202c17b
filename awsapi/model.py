"""The botocore EC2 service model, loaded once per process.

Everything the EC2 front end knows about operation names, member names and
shapes comes from here (protocol ``ec2``, API version 2016-11-15).

Parsing botocore's gzipped JSON description (about 2.8 MB of JSON) is a
noticeable part of a server's start-up, so the parsed description is kept in a
:mod:`marshal` file under ``$NIMBOSTACK_HOME/cache`` (see :func:`cache_dir`).
The file's name carries the botocore version, the Python version and the size
and modification time of the JSON file it was made from, so a botocore upgrade
or another interpreter simply writes a new one. Any problem with the cache
(unwritable directory, truncated file) falls back to botocore's own loader.
``NIMBOSTACK_MODEL_CACHE=0`` turns the cache off; so does ``AWS_DATA_PATH``
(models from elsewhere are not cached).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import marshal
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import JSONFileLoader, Loader
from botocore.model import OperationModel, OperationNotFoundError, ServiceModel

SERVICE_NAME = "ec2"
_TYPE = "service-2"

log = logging.getLogger("nimbostack.ec2")


def cache_dir() -> Path:
    """Where the parsed model is cached: ``$NIMBOSTACK_HOME/cache`` (the home
    default is ``~/.local/share/nimbostack``)."""
    from engine.config import home_dir

    return home_dir() / "cache"


@functools.cache
def service_model() -> ServiceModel:
    """The EC2 ``ServiceModel`` (loaded on first call, then cached)."""
    return ServiceModel(_service_description(), service_name=SERVICE_NAME)


class _PlainJsonFiles(JSONFileLoader):  # type: ignore[misc]
    """botocore's model files parsed into plain dicts (which keep the order)
    instead of ``OrderedDict``: about twice as fast to load, and :mod:`marshal`
    writes them to the cache as they are."""

    def load_file(self, file_path: str) -> Any:
        for suffix, opener in ((".json", open), (".json.gz", gzip.open)):
            path = file_path + suffix
            if os.path.isfile(path):
                with opener(path, "rb") as fh:
                    return json.loads(fh.read().decode("utf-8"))
        return None


def _loader() -> Loader:
    """A botocore loader over botocore's own model files."""
    return Loader(file_loader=_PlainJsonFiles())


def _service_description() -> dict[str, Any]:
    loader = _loader()
    path = _cache_path(loader)
    if path is not None:
        try:
            data = marshal.loads(path.read_bytes())
            if isinstance(data, dict) and "operations" in data:
                return data
        except (OSError, EOFError, ValueError, TypeError):
            pass
    data = loader.load_service_model(SERVICE_NAME, _TYPE)
    if path is not None:
        _store(path, data)
    return data


def _cache_path(loader: Loader) -> Path | None:
    """The cache file for the description ``loader`` would load, or None when
    caching is off or the source file cannot be found."""
    if os.environ.get("NIMBOSTACK_MODEL_CACHE", "1") == "0" or os.environ.get("AWS_DATA_PATH"):
        return None
    try:
        version = loader.determine_latest_version(SERVICE_NAME, _TYPE)
        for base in loader.search_paths:
            for suffix in (".json", ".json.gz"):
                source = Path(base, SERVICE_NAME, version, _TYPE + suffix)
                if source.is_file():
                    st = source.stat()
                    key = hashlib.sha256(
                        f"{source}|{st.st_size}|{st.st_mtime_ns}|{botocore.__version__}|"
                        f"{sys.version_info[:2]}|{marshal.version}".encode()).hexdigest()[:16]
                    return cache_dir() / f"botocore-{SERVICE_NAME}-{version}-{key}.marshal"
    except Exception:  # noqa: BLE001 - the cache is an optimisation only
        return None
    return None


def _store(path: Path, data: dict[str, Any]) -> None:
    """Write the cache file atomically (a temporary file renamed into place), so
    servers starting together never read a half-written one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(marshal.dumps(data))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError) as exc:
        log.debug("not caching the EC2 model at %s: %s", path, exc)


@functools.cache
def operation_names() -> frozenset[str]:
    """Every EC2 action name in the model (``"RunInstances"``, ...)."""
    return frozenset(service_model().operation_names)


def operation(name: str) -> OperationModel | None:
    """The ``OperationModel`` for action ``name``, or None if EC2 has no such action.

    Names are case-sensitive, as on the wire (``Action=RunInstances``). Only
    known names are cached, so junk action names cannot grow the cache.
    """
    if name not in operation_names():
        return None
    return _operation(name)


@functools.cache
def _operation(name: str) -> OperationModel | None:
    try:
        return service_model().operation_model(name)
    except OperationNotFoundError:  # pragma: no cover - guarded by the name check
        return None


def api_version() -> str:
    """The model's API version, used in the response namespace."""
    return str(service_model().api_version)
