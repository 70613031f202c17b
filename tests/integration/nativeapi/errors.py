"""Small assertions the CloudStack API tests share (import them; they are not fixtures)."""

from __future__ import annotations

from typing import Any

import pytest
from cs import CloudStackApiException

from nativeapi import registry


def api_error(call: Any, **params: Any) -> dict[str, Any]:
    """Call ``call(**params)``, which must raise CloudStackApiException; return its error body."""
    with pytest.raises(CloudStackApiException) as err:
        call(**params)
    return err.value.error  # type: ignore[no-any-return]


def type_errors(command: str, obj: dict[str, Any]) -> list[str]:
    """Where ``obj`` departs from ``command``'s documented response types ([] if nowhere)."""
    return registry.response_type_errors(registry.metadata(command), obj)
