"""Runs the black-box EC2 conformance suite (conformance/ec2/) against a live
server on a fresh database, in a subprocess, and asserts it passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import bootstrapped_database_url, start_live_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ec2_conformance_suite_passes(tmp_path: Path) -> None:
    live, httpd = start_live_server(bootstrapped_database_url(tmp_path), tmp_path)
    try:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "CONFORMANCE_", "PYTEST_"))}
        env.update(CONFORMANCE_EC2_ENDPOINT=live.url, AWS_ACCESS_KEY_ID=live.access_key,
                   AWS_SECRET_ACCESS_KEY=live.secret_key, AWS_DEFAULT_REGION=live.region)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "conformance/ec2", "-q", "-p", "no:cacheprovider"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    finally:
        httpd.shutdown()
        live.runtime.shutdown()
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout.splitlines()[-1]
