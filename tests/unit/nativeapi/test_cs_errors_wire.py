"""CloudStack error codes and the CloudStackError exception."""

from __future__ import annotations

from nativeapi.errors_wire import (
    AUTH_FAILED_TEXT,
    ApiErrorCode,
    CloudStackError,
    CsErrorCode,
    auth_failed,
    param_error,
)


def test_api_error_codes() -> None:
    assert ApiErrorCode.UNAUTHORIZED == 401
    assert ApiErrorCode.METHOD_NOT_ALLOWED == 405
    assert ApiErrorCode.MALFORMED_PARAMETER_ERROR == 430
    assert ApiErrorCode.PARAM_ERROR == 431
    assert ApiErrorCode.UNSUPPORTED_ACTION_ERROR == 432
    assert ApiErrorCode.INTERNAL_ERROR == 530
    assert ApiErrorCode.ACCOUNT_ERROR == 531
    assert ApiErrorCode.ACCOUNT_RESOURCE_LIMIT_ERROR == 532
    assert ApiErrorCode.INSUFFICIENT_CAPACITY_ERROR == 533
    assert ApiErrorCode.RESOURCE_UNAVAILABLE_ERROR == 534
    assert ApiErrorCode.RESOURCE_ALLOCATION_ERROR == 535
    assert ApiErrorCode.RESOURCE_IN_USE_ERROR == 536
    assert ApiErrorCode.NETWORK_RULE_CONFLICT_ERROR == 537
    assert 436 not in {c.value for c in ApiErrorCode}


def test_cs_error_codes() -> None:
    assert CsErrorCode.CLOUD_RUNTIME == 4250
    assert CsErrorCode.INSUFFICIENT_ADDRESS_CAPACITY == 4320
    assert CsErrorCode.INSUFFICIENT_CAPACITY == 4325
    assert CsErrorCode.INSUFFICIENT_SERVER_CAPACITY == 4335
    assert CsErrorCode.INSUFFICIENT_STORAGE_CAPACITY == 4340
    assert CsErrorCode.INTERNAL_ERROR == 4345
    assert CsErrorCode.INVALID_PARAMETER_VALUE == 4350
    assert CsErrorCode.PERMISSION_DENIED == 4365
    assert CsErrorCode.RESOURCE_ALLOCATION == 4370
    assert CsErrorCode.RESOURCE_IN_USE == 4375
    assert CsErrorCode.RESOURCE_UNAVAILABLE == 4380
    assert CsErrorCode.SERVER_API == 9999


def test_cloudstack_error_fields() -> None:
    exc = CloudStackError(
        ApiErrorCode.PARAM_ERROR,
        "bad",
        CsErrorCode.INVALID_PARAMETER_VALUE,
        [("u", "zoneId")],
        log_detail="why",
    )
    assert (exc.errorcode, exc.errortext, exc.cserrorcode) == (431, "bad", 4350)
    assert type(exc.errorcode) is int
    assert type(exc.cserrorcode) is int
    assert exc.uuid_list == (("u", "zoneId"),)
    assert str(exc) == "bad"
    assert exc.log_detail == "why"
    assert "431" in repr(exc)


def test_helpers() -> None:
    err = param_error("x")
    assert (err.errorcode, err.cserrorcode) == (431, 9999)
    denied = auth_failed("detail")
    assert (denied.errorcode, denied.cserrorcode, denied.errortext) == (401, None, AUTH_FAILED_TEXT)
