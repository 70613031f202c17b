"""Import boundaries, checked on the AST of every module (STYLE.md rule 5).

* ``engine/**`` knows no web framework, wire format or front end;
* ``engine/hypervisors/**`` knows nothing about persistence or use cases, and one
  driver package never reaches into another;
* the two front ends do not know each other, and reach the engine through its
  services only: no SQL, no ORM models (naming a model in a type annotation under
  ``if TYPE_CHECKING:`` is fine; it is what the services return).

Every ``import``/``from ... import`` counts, wherever it is (inside functions
too), as does ``importlib.import_module("<literal>")``. Relative imports are
resolved against the importing module's package.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "awsapi", "nativeapi", "imds", "nimbostack")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "engine.jobs.runner"
    target: str  # what it imports, e.g. "engine.models.Job"
    line: int
    type_checking: bool  # only under ``if TYPE_CHECKING:``


@dataclass(frozen=True)
class Rule:
    name: str
    applies_to: tuple[str, ...]  # module prefixes
    forbidden: tuple[str, ...]  # target prefixes
    typing_ok: tuple[str, ...] = ()  # targets allowed under TYPE_CHECKING


FRONT_END_FORBIDDEN = ("sqlalchemy", "engine.models", "engine.db", "engine.uow", "engine.schema",
                       "engine.allocators", "engine.hypervisors", "engine.jobs")

RULES = (
    Rule("the engine is API-neutral", ("engine",),
         ("flask", "werkzeug", "gunicorn", "botocore", "boto3", "xmltodict",
          "awsapi", "nativeapi", "imds", "nimbostack")),
    Rule("drivers know no persistence or use cases", ("engine.hypervisors",),
         ("engine.models", "engine.db", "engine.uow", "engine.services", "engine.jobs",
          "engine.allocators", "engine.runtime", "engine.querying", "sqlalchemy")),
    Rule("the EC2 front end does not know the CloudStack one", ("awsapi",), ("nativeapi", "imds")),
    Rule("the CloudStack front end does not know the EC2 one", ("nativeapi",), ("awsapi", "imds")),
    # imds is EC2's metadata service: it shares awsapi's pure id/device codecs.
    Rule("the metadata front end does not know the CloudStack one", ("imds",), ("nativeapi",)),
    Rule("front ends only call services", ("awsapi", "nativeapi", "imds"), FRONT_END_FORBIDDEN,
         typing_ok=("engine.models",)),
)

# Violations that exist today and are reported; each must disappear from the
# code, and then from this list (the test fails on a stale entry too).
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


# ---------------------------------------------------------------- the walker
def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    """Every import in ``source`` (the text of ``module``), resolved to absolute names."""
    found: list[Import] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, typing_only)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module, alias.name, node.lineno, typing_only))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                target = base if alias.name == "*" else f"{base}.{alias.name}"
                found.append(Import(module, target, node.lineno, typing_only))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name)
                       and node.func.id in ("import_module", "__import__")))):
            found.append(Import(module, node.args[0].value, node.lineno, typing_only))
        for child in ast.iter_child_nodes(node):
            visit(child, typing_only)

    visit(ast.parse(source), False)
    return found


@cache
def all_imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found += imports_of(path.read_text(encoding="utf-8"), module_name(path),
                                is_package=path.name == "__init__.py")
    return tuple(found)


def _under(name: str, prefixes: tuple[str, ...]) -> str | None:
    for prefix in prefixes:
        if name == prefix or name.startswith(prefix + "."):
            return prefix
    return None


def driver_packages() -> list[str]:
    base = ROOT / "engine" / "hypervisors"
    return sorted(p.name for p in base.iterdir() if (p / "__init__.py").is_file())


def violations() -> list[tuple[str, Import, str]]:
    """(rule name, offending import, forbidden prefix) for every broken rule."""
    rules = list(RULES)
    drivers = driver_packages()
    for name in drivers:
        others = tuple(f"engine.hypervisors.{o}" for o in drivers if o != name)
        if others:
            rules.append(Rule(f"driver {name} does not import other drivers",
                              (f"engine.hypervisors.{name}",), others))
    out = []
    for imp in all_imports():
        for rule in rules:
            if not _under(imp.module, rule.applies_to):
                continue
            hit = _under(imp.target, rule.forbidden)
            if hit is None:
                continue
            if imp.type_checking and _under(imp.target, rule.typing_ok):
                continue
            out.append((rule.name, imp, hit))
    return out


# ---------------------------------------------------------------- the rules
def test_no_new_boundary_violations() -> None:
    new = [f"{imp.module}:{imp.line} imports {imp.target} ({rule})"
           for rule, imp, hit in violations() if (imp.module, hit) not in KNOWN_VIOLATIONS]
    assert new == [], "\n".join(new)


def test_known_violations_are_still_real() -> None:
    """When a known violation is fixed, drop it from KNOWN_VIOLATIONS."""
    present = {(imp.module, hit) for _, imp, hit in violations()}
    assert sorted(KNOWN_VIOLATIONS - present) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_the_walker_sees_every_package(package: str) -> None:
    modules = {imp.module for imp in all_imports() if _under(imp.module, (package,))}
    assert len(modules) >= 2, modules


# ---------------------------------------------------------------- the walker itself
def test_relative_imports_are_resolved() -> None:
    src = "from . import queue\nfrom ..models import Job\nfrom .handlers import *\n"
    got = [i.target for i in imports_of(src, "engine.jobs.runner")]
    assert got == ["engine.jobs.queue", "engine.models.Job", "engine.jobs.handlers"]
    got = [i.target for i in imports_of("from . import x\n", "engine.jobs", is_package=True)]
    assert got == ["engine.jobs.x"]


def test_type_checking_imports_are_marked_and_nested_imports_found() -> None:
    src = (
        "import typing\n"
        "if typing.TYPE_CHECKING:\n    from engine.models import Zone\n"
        "else:\n    import json\n"
        "def f():\n    import sqlalchemy\n"
        "    importlib.import_module('flask')\n"
    )
    got = {(i.target, i.type_checking) for i in imports_of(src, "awsapi.views")}
    assert got == {("typing", False), ("engine.models.Zone", True), ("json", False),
                   ("sqlalchemy", False), ("flask", False)}


def test_a_violation_is_detected() -> None:
    rule = RULES[-1]
    imp = imports_of("from engine.db import Base\n", "awsapi.actions.x")[0]
    assert _under(imp.module, rule.applies_to)
    assert _under(imp.target, rule.forbidden)
    assert _under("engine.dbx", ("engine.db",)) is None
