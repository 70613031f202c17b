"""Model modules loading while the ORM is in use (engine.models loads them on
demand): in a fresh interpreter that mapped only the first call's models,
threads query those while other threads load every other module; afterwards
the late models query and flush (their foreign keys resolved)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine import models

REPO = Path(__file__).resolve().parents[3]

_CHILD = r"""
import faulthandler, importlib, json, sys, threading
faulthandler.dump_traceback_later(60, exit=True)  # a deadlock fails the test, with stacks
from pathlib import Path
from sqlalchemy import func, select
import engine.models as models
from engine.models import Account, Region
from engine.runtime import Runtime
from engine.errors import ResourceKind
from tests.support import make_config

runtime = Runtime(make_config(sys.argv[1], Path(sys.argv[2])))
early = sorted(m[14:] for m in sys.modules if m.startswith("engine.models."))
errors, reads = [], [0]
stop = threading.Event()

def read():
    try:
        while not stop.is_set():
            with runtime.unit(readonly=True) as sv:
                sv.session.scalars(select(Region)).all()
                sv.session.scalars(select(Account).limit(5)).all()
            reads[0] += 1
    except Exception as exc:
        errors.append(repr(exc))

def load(how):
    try:
        how()
    except Exception as exc:
        errors.append(repr(exc))

def by_module():
    for name in models._MODULES:
        importlib.import_module("engine.models." + name)

def by_class():
    for name in reversed(models._MODULE_OF):
        getattr(models, name)

readers = [threading.Thread(target=read) for _ in range(3)]
for t in readers:
    t.start()
loaders = [threading.Thread(target=load, args=(how,))
           for how in (by_module, by_class, models.load_all)]
for t in loaders:
    t.start()
for t in loaders:
    t.join()
stop.set()
for t in readers:
    t.join()

from engine.models import Instance, Tag, Template
with runtime.unit() as sv:
    s = sv.session
    account = s.scalars(select(Account).order_by(Account.created_at)).first()
    tag = Tag(resource_kind=ResourceKind.TEMPLATE, resource_uuid=account.uuid,
              account_uuid=account.uuid, key="lazy-loading", value="yes")
    s.add(tag)
    s.flush()
    counts = [s.scalar(select(func.count()).select_from(m)) for m in (Instance, Template, Tag)]
    s.delete(tag)
runtime.shutdown()
late = sorted(m[14:] for m in sys.modules if m.startswith("engine.models."))
print(json.dumps({"early": early, "late": late, "errors": errors, "reads": reads[0],
                  "counts": counts}))
"""


def test_models_load_from_threads_while_others_query(db_url: str, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", _CHILD, db_url, str(tmp_path)], cwd=REPO,
                         check=True, capture_output=True, text=True, timeout=120).stdout
    result = json.loads(out.splitlines()[-1])
    assert result["early"] == ["cloud", "identity"]
    assert result["errors"] == []
    assert result["reads"] > 0
    assert result["late"] == sorted(models._MODULES)
    instances, templates, tags = result["counts"]
    assert templates >= 1 and tags >= 1 and instances >= 0
