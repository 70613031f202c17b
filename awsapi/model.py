"""The botocore EC2 service model, loaded once per process.

Everything the EC2 front end knows about operation names, member names and
shapes comes from here (protocol ``ec2``, API version 2016-11-15).
"""

from __future__ import annotations

import functools

import botocore.session
from botocore.model import OperationModel, OperationNotFoundError, ServiceModel

SERVICE_NAME = "ec2"


@functools.cache
def service_model() -> ServiceModel:
    """The EC2 ``ServiceModel`` (loaded on first call, then cached)."""
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


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
