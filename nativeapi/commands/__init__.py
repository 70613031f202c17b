"""CloudStack command handlers: one module per resource family, thin translators.

A handler is ``fn(ctx: CsContext, p: CsParams) -> result`` registered with
``nativeapi.registry.command``. What it returns depends on the command's shape
(the dispatcher in ``nativeapi.app`` renders it):

* list-shaped: :class:`Listing`;
* object / flat: a dict (a view);
* success: :class:`Success` (or None for ``{"success": true}``);
* async (any shape): :class:`Submitted`, the job whose uuid becomes ``jobid``
  (plus the new entity's uuid for async-create commands).

Registration options read by the dispatcher: ``admin_only=True`` refuses callers
who are not root admins (531).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from engine.errors import ResourceKind
from engine.principal import Principal
from engine.querying import Paging
from engine.services import Services
from nativeapi.errors_wire import ApiErrorCode, CloudStackError, CsErrorCode, param_error
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import Command

if TYPE_CHECKING:
    from engine.models import Job


MODULES = ("async_jobs", "catalog", "discovery", "virtual_machines",
           "volumes", "snapshots", "addresses", "security_groups", "ssh_keys", "tags", "events",
           "infrastructure", "accounts", "configurations", "sessions", "vm_operations",
           "management", "affinity", "templates", "rules", "networks", "vm_scaling",
           "snapshot_policies", "isos", "extracts", "volume_transfers",
           "physical_networks", "vm_extras", "account_admin", "offering_admin",
           "catalog_lists", "infra_updates", "vpcs", "system_lists", "load_balancers",
           "nics", "resource_limits", "projects", "vm_snapshots")
READONLY = re.compile(r"^(list|query|get|find)[A-Z]")


@dataclass
class CsContext:
    """What a handler gets besides its parameters."""

    principal: Principal
    services: Services
    command: Command
    request_id: str

    @property
    def is_admin(self) -> bool:
        return self.principal.is_root_admin


@dataclass
class Listing:
    """A list body: ``items`` (views) of one page, ``count`` = all matches."""

    items: Sequence[Any]
    count: int


@dataclass
class Success:
    displaytext: str | None = None


@dataclass
class Submitted:
    """An async command's job. Read ``job.uuid`` only after the transaction commits."""

    job: Job
    object_uuid: str | None = None


def readonly(name: str) -> bool:
    """Commands that only read run in a read-only unit of work."""
    return READONLY.match(name) is not None


def may_call(command: Command, principal: Principal) -> bool:
    """Role check before dispatch: admin-only commands need a root admin."""
    return principal.is_root_admin or not command.options.get("admin_only", False)


JobResultView = Callable[[CsContext, "Job"], "dict[str, Any] | None"]
JOB_RESULTS: dict[str, JobResultView] = {}


def job_result(itemkey: str) -> Callable[[JobResultView], JobResultView]:
    """Register the view of a successful async job whose command's item key is
    ``itemkey`` (e.g. "volume"): ``fn(ctx, job)`` returns the object (None: the
    default ``{"success": true}``); queryAsyncJobResult shows ``{itemkey: object}``.
    A view registered under a command's name (e.g. "extractVolume") takes precedence."""

    def register(fn: JobResultView) -> JobResultView:
        JOB_RESULTS[itemkey] = fn
        return fn

    return register


_loaded = False


def load() -> None:
    """Import every command module so their ``@command`` registrations run (idempotent)."""
    global _loaded
    if not _loaded:
        for name in MODULES:
            import_module(f"{__name__}.{name}")
        _loaded = True


# --- list helpers ---------------------------------------------------------------------


def finished(ctx: CsContext, kind: ResourceKind, resource_uuid: str) -> Job:
    """An already-completed job for an async command whose work was done in the request."""
    return ctx.services.jobs.completed(ctx.principal, kind, resource_uuid,
                                       command=ctx.command.name)


def paging(ctx: CsContext, p: CsParams) -> Paging:
    """``page``/``pagesize`` as CloudStack checks them; no paging -> ``default.page.size``.

    ``pagesize=-1`` means unlimited and must come without ``page``; ``page`` is 1-based.
    """
    page = p.integer("page")
    size = p.integer("pagesize")
    maximum = ctx.services.settings.int("default.page.size")
    if size is not None and size != -1 and page is None:
        raise param_error('"page" parameter is required when "pagesize" is specified')
    if page is not None and size is None:
        raise param_error('"pagesize" parameter is required when "page" is specified')
    if size == -1:
        if page is not None:
            raise invalid_value("Can't specify page parameter when pagesize is -1 (Unlimited)")
        return Paging()
    if size is not None and size > maximum:
        raise invalid_value(f"Page size can't exceed max allowed page size value: {maximum}")
    if size is None:
        return Paging(limit=maximum)
    if size < 1 or (page is not None and page < 1):
        raise invalid_value("Page and pagesize must be positive numbers")
    return Paging(limit=size, offset=((page or 1) - 1) * size)


def page_slice(items: Sequence[Any], pg: Paging) -> list[Any]:
    """Apply ``pg`` to an already complete, ordered list."""
    end = None if pg.limit is None else pg.offset + pg.limit
    return list(items[pg.offset : end])


def invalid_value(text: str) -> CloudStackError:
    """A 431 as an InvalidParameterValueException (cserrorcode 4350)."""
    return CloudStackError(ApiErrorCode.PARAM_ERROR, text, CsErrorCode.INVALID_PARAMETER_VALUE)


def tag_criteria_pairs(p: CsParams) -> list[tuple[str, str]]:
    """``tags[i].key``/``tags[i].value`` pairs (an entry without a key is a 431)."""
    pairs = []
    for entry in p.map("tags"):
        low = {k.lower(): v for k, v in entry.items()}
        if not low.get("key"):
            raise invalid_value("Tag key must be specified in tags[i].key")
        pairs.append((low["key"], low.get("value", "")))
    return pairs
