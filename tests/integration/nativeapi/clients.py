"""CloudStack API clients for the tests."""

from __future__ import annotations

from typing import Any

from cs import CloudStack


def cs_client(server: Any, key: str | None = None, secret: str | None = None,
              **kwargs: Any) -> CloudStack:
    """An exoscale ``cs`` client on the server's /client/api, polling jobs quickly."""
    options: dict[str, Any] = {"poll_interval": 0.05, "job_timeout": 30, **kwargs}
    return CloudStack(endpoint=server.cloudstack_url, key=key or server.access_key,
                      secret=secret or server.secret_key, **options)
