"""Running the real awscli against the live test server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


def aws(server: Any, keys: tuple[str, str], *args: str) -> Any:
    """Run ``aws ec2 <args>`` against the live server; return its JSON output."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1],
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_PAGER": ""}
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "ec2", *args, "--endpoint-url", server.url,
         "--region", "us-east-1", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None
