"""Structured log lines: ``ts level logger message`` with key=value fields.

Secrets never reach the log: messages are built from ids and codes only, and
:class:`RedactingFilter` masks anything that looks like a secret or signature
parameter in case a library logs a URL.
"""

from __future__ import annotations

import logging
import re
import sys

_SECRET = re.compile(
    r"(?i)((?:secret(?:key)?|signature|password|x-amz-signature|sessionkey)[\"']?\s*[=:]\s*[\"']?)"
    r"[^&\s\"',]+"
)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s pid=%(process)d %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("werkzeug", "alembic", "gunicorn.error"):
        logging.getLogger(noisy).setLevel("WARNING")
