"""Reference data for the CloudStack front end.

``commands.json`` is our own table of ~210 core CloudStack commands (style,
response key, item key, list shape, parameters with types, response fields with
JSON types). ``load_commands()`` returns it parsed, without the ``_about`` note.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_commands() -> dict[str, dict[str, Any]]:
    """Command name (exact case) -> its JSON entry. Parsed once per process.

    Callers must treat the result as read-only (it is shared).
    """
    text = resources.files(__name__).joinpath("commands.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return {name: entry for name, entry in data.items() if not name.startswith("_")}
