"""The built distribution carries what ``pip install .`` users need at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_wheel_ships_migrations_command_table_and_entry_point(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, timeout=300,
                   capture_output=True)
    wheel = next(tmp_path.glob("nimbostack-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "nimbostack = nimbostack.cli:main" in zf.read(entry_points).decode()
    assert "engine/migrations/env.py" in names
    assert "engine/migrations/script.py.mako" in names
    assert any(n.startswith("engine/migrations/versions/0001") for n in names)
    assert "nativeapi/spec/commands.json" in names
    assert not any(n.startswith("tests/") for n in names)
