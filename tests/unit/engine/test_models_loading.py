"""engine.models loads its modules on demand: the package's tables of which
module defines which class and refers to which other module match the models,
and a server's first call loads only what it uses (fresh interpreters)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine import models
from engine.db import Base

REPO = Path(__file__).resolve().parents[3]

# What answering a signed DescribeRegions needs (the caller's keys, the regions;
# not the hosts, storage and addresses of engine.models.infrastructure).
FIRST_CALL_MODULES = {"cloud", "identity"}


def _fresh(code: str) -> object:
    """Run ``code`` in a new interpreter at the repository root; it prints one JSON value."""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def _module_of_table() -> dict[str, str]:
    models.load_all()
    return {m.local_table.name: m.class_.__module__.rpartition(".")[2]  # type: ignore[union-attr]
            for m in Base.registry.mappers}


def test_every_mapped_class_is_named_with_its_module() -> None:
    models.load_all()
    found: dict[str, set[str]] = {}
    for mapper in Base.registry.mappers:
        package, _, module = mapper.class_.__module__.rpartition(".")
        if package == "engine.models":
            found.setdefault(module, set()).add(mapper.class_.__name__)
    assert found == {m: set(names) for m, names in models._MODULES.items()}
    assert sorted(models.__all__) == sorted([*models._MODULE_OF, "load_all"])
    pkg_dir = Path(models.__file__).parent
    assert {p.stem for p in pkg_dir.glob("*.py")} - {"__init__"} == set(models._MODULES)


def test_references_are_the_foreign_keys_between_modules_and_have_no_cycle() -> None:
    module_of = _module_of_table()
    refs: dict[str, set[str]] = {m: set() for m in models._MODULES}
    for table in Base.metadata.tables.values():
        for fk in table.foreign_keys:
            source, target = module_of[table.name], module_of[fk.column.table.name]
            if source != target:
                refs[source].add(target)
    assert refs == {m: set(r) for m, r in models._REFERENCES.items()}

    def reach(start: str, seen: set[str]) -> set[str]:
        for nxt in models._REFERENCES[start]:
            if nxt not in seen:
                seen.add(nxt)
                reach(nxt, seen)
        return seen

    assert all(m not in reach(m, set()) for m in models._MODULES)


def test_a_class_by_name_loads_its_module_and_what_it_refers_to_only() -> None:
    loaded = _fresh(
        "import sys, json\n"
        "from engine.models import Instance\n"
        "Instance.__mapper__._sorted_tables  # what a first flush resolves\n"
        "print(json.dumps(sorted(m[14:] for m in sys.modules if m.startswith('engine.models.'))))")
    assert loaded == ["catalog", "cloud", "compute", "identity", "infrastructure"]


def test_a_class_of_a_module_imported_directly_comes_with_its_references() -> None:
    loaded = _fresh(
        "import sys, json\n"
        "from engine.models.nic_extras import NicSecurityGroup as direct\n"
        "before = sorted(m[14:] for m in sys.modules if m.startswith('engine.models.'))\n"
        "from engine.models import NicSecurityGroup\n"
        "assert NicSecurityGroup is direct\n"
        "NicSecurityGroup.__mapper__._sorted_tables\n"
        "print(json.dumps([before, sorted(m[14:] for m in sys.modules\n"
        "                                 if m.startswith('engine.models.'))]))")
    assert loaded == [["nic_extras"], ["catalog", "cloud", "compute", "identity",
                                       "infrastructure", "nic_extras", "security"]]


def test_load_all_loads_every_model() -> None:
    count = _fresh("import json\nfrom engine.models import load_all\nfrom engine.db import Base\n"
                   "load_all()\nprint(json.dumps(len(Base.metadata.tables)))")
    assert count == len(_module_of_table())


def test_the_server_preload_maps_only_what_the_first_call_uses() -> None:
    loaded = _fresh(
        "import sys, json\n"
        "from nimbostack.server import preload\n"
        "preload()\n"
        "print(json.dumps([sorted(m[14:] for m in sys.modules if m.startswith('engine.models.')),\n"
        "                  'engine.hypervisors.base' in sys.modules,\n"
        "                  'engine.services.catalog_templates' in sys.modules]))")
    assert loaded == [sorted(FIRST_CALL_MODULES), False, False]
