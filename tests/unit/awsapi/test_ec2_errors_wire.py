"""awsapi.errors_wire: Ec2Error and the HTTP status of each EC2 code."""

from __future__ import annotations

import pytest

from awsapi.errors_wire import STATUS_BY_CODE, Ec2Error, status_for


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AuthFailure", 401),
        ("MissingAuthenticationToken", 401),
        ("UnauthorizedOperation", 403),
        ("DryRunOperation", 412),
        ("RequestExpired", 400),
        ("InvalidAction", 400),
        ("UnsupportedOperation", 400),
        ("InvalidParameterValue", 400),
        ("InvalidInstanceID.NotFound", 400),  # not in the table: default
        ("InternalError", 500),
        ("InsufficientInstanceCapacity", 500),
        ("ServiceUnavailable", 503),
        ("RequestLimitExceeded", 503),
    ],
)
def test_status_by_code(code: str, status: int) -> None:
    assert status_for(code) == status
    assert Ec2Error(code, "m").status == status


def test_explicit_status_wins() -> None:
    assert Ec2Error("AuthFailure", "m", status=403).status == 403


def test_fields_and_str() -> None:
    err = Ec2Error("MissingParameter", "The request must contain the parameter ImageId")
    assert (err.code, err.message) == (
        "MissingParameter",
        "The request must contain the parameter ImageId",
    )
    assert str(err) == "MissingParameter: The request must contain the parameter ImageId"
    assert "MissingParameter" in repr(err)


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        STATUS_BY_CODE["X"] = 1  # type: ignore[index]
