"""The suite's plumbing: the target (endpoint + keys from the environment),
boto3 clients whose every response is shape-checked, and an awscli runner.

Nothing here knows nimbostack: the same code runs against real AWS.
Environment: ``CONFORMANCE_EC2_ENDPOINT``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION`` (default us-east-1); optional
``CONFORMANCE_EC2_IMAGE_ID``, ``CONFORMANCE_EC2_INSTANCE_TYPE`` (t3.micro),
``CONFORMANCE_EC2_WAIT_DELAY`` (seconds between waiter polls, 0.25).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.model import OperationModel, ServiceModel
from shapes import check_error_xml, check_parsed, check_xml


class ShapeMismatch(AssertionError):
    """A response did not conform to botocore's model or EC2's wire format."""


@dataclass(frozen=True)
class Target:
    endpoint: str
    access_key: str
    secret_key: str
    region: str

    @property
    def on_aws(self) -> bool:
        return "amazonaws.com" in self.endpoint

    @classmethod
    def from_env(cls) -> Target | None:
        endpoint = os.environ.get("CONFORMANCE_EC2_ENDPOINT")
        access = os.environ.get("AWS_ACCESS_KEY_ID")
        secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
        if not (endpoint and access and secret):
            return None
        return cls(endpoint.rstrip("/"), access, secret,
                   os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")


@dataclass
class Stats:
    """What the checker saw, for the end-of-run summary."""

    responses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    request_ids: set[str] = field(default_factory=set)
    cli_calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


STATS = Stats()
# One session for every client: loading the EC2 model costs about a second.
_SESSION = boto3.session.Session()
_MODEL: ServiceModel = botocore.session.get_session().get_service_model("ec2")
_CLI_NAMES = {xform_name(op).replace("_", "-"): op for op in _MODEL.operation_names}


def operation(name: str) -> OperationModel:
    return _MODEL.operation_model(name)


def _record_request_id(request_id: str | None, where: str) -> list[str]:
    if not request_id:
        return [f"{where}: no request id"]
    with STATS.lock:
        if request_id in STATS.request_ids:
            return [f"{where}: request id {request_id} was already used"]
        STATS.request_ids.add(request_id)
    return []


def _check_response(http_response: Any, parsed: dict[str, Any], model: OperationModel,
                    **_: Any) -> None:
    """botocore ``after-call`` hook: raise :class:`ShapeMismatch` on any problem."""
    status = http_response.status_code
    body = http_response.content or b""
    rid = (parsed.get("ResponseMetadata") or {}).get("RequestId")
    where = f"{model.name} (HTTP {status})"
    if status >= 500:
        problems = [f"{where}: server error {body[:300]!r}"]
    elif status >= 300:
        problems = check_error_xml(body)
        code = (parsed.get("Error") or {}).get("Code", "?")
        with STATS.lock:
            STATS.errors[f"{model.name}:{code}"] += 1
    else:
        problems = check_xml(model, body) + check_parsed(model, parsed)
        with STATS.lock:
            STATS.responses[model.name] += 1
    problems += _record_request_id(rid, where)
    if problems:
        raise ShapeMismatch(f"{where} does not conform:\n  " + "\n  ".join(problems[:20]))


def client(target: Target, *, access_key: str | None = None, secret_key: str | None = None,
           validate: bool = True, region: str | None = None) -> Any:
    """A boto3 EC2 client on ``target`` whose every response is shape-checked.

    ``validate=False`` turns off botocore's client-side parameter validation, so
    that the server's own validation (MissingParameter ...) can be observed.
    """
    ec2 = _SESSION.client(
        "ec2", endpoint_url=target.endpoint, region_name=region or target.region,
        aws_access_key_id=access_key or target.access_key,
        aws_secret_access_key=secret_key or target.secret_key,
        config=Config(parameter_validation=validate, retries={"max_attempts": 1},
                      connect_timeout=30, read_timeout=60))
    ec2.meta.events.register("after-call.ec2", _check_response)
    return ec2


def wait_config() -> dict[str, float]:
    delay = float(os.environ.get("CONFORMANCE_EC2_WAIT_DELAY", "0.25"))
    return {"Delay": delay, "MaxAttempts": max(40, int(120 / max(delay, 0.01)))}


def unique(prefix: str) -> str:
    """A name no other run (or concurrent test) uses."""
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class CliResult:
    returncode: int
    output: Any
    stderr: str


def aws(target: Target, *args: str, check: bool = True) -> CliResult:
    """Run ``aws ec2 <args>`` on ``target`` in a subprocess; the JSON output of a
    successful call is shape-checked against the operation's output shape."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": target.access_key,
           "AWS_SECRET_ACCESS_KEY": target.secret_key, "AWS_DEFAULT_REGION": target.region,
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
           "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "ec2", *args, "--endpoint-url", target.endpoint,
         "--region", target.region, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    STATS.cli_calls += 1
    output = json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else None
    if check:
        assert done.returncode == 0, f"aws ec2 {' '.join(args)} failed: {done.stderr}"
    if done.returncode == 0 and output is not None:
        op = operation(_CLI_NAMES[args[0]])
        problems = check_parsed(op, output, json_mode=True)
        if problems:
            raise ShapeMismatch(f"aws ec2 {args[0]} output does not conform:\n  "
                                + "\n  ".join(problems[:20]))
        with STATS.lock:
            STATS.responses[op.name] += 1
    return CliResult(done.returncode, output, done.stderr)
