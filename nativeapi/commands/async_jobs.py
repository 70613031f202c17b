"""Asynchronous jobs: queryAsyncJobResult and listAsyncJobs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

from engine.errors import NotFound, ResourceKind
from engine.querying import Criterion
from engine.services.instance_details import InstanceDetail, InstanceQuery
from engine.states import JobStatus
from nativeapi import errors, registry, views
from nativeapi.commands import JOB_RESULTS, CsContext, Listing, paging
from nativeapi.errors_wire import ApiErrorCode
from nativeapi.protocol.parser import CsParams
from nativeapi.registry import command

if TYPE_CHECKING:
    from engine.models import Account, Domain, Job


PENDING = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


def _returns_vm(job: Job) -> bool:
    """Whether a successful job's result is ``{"virtualmachine": {...}}``."""
    cmd = registry.lookup(job.command) if job.command else None
    if cmd is not None:
        return cmd.meta.itemkey == "virtualmachine"
    return job.resource_kind is ResourceKind.INSTANCE  # jobs from the EC2 API


def _vms(ctx: CsContext, jobs: Sequence[Job]) -> dict[str, InstanceDetail]:
    """The (fresh) VMs that successful VM jobs report, loaded in one query."""
    uuids = {j.resource_uuid for j in jobs
             if j.status is JobStatus.SUCCEEDED and j.resource_uuid and _returns_vm(j)}
    if not uuids:
        return {}
    crit = (Criterion("uuid", tuple(sorted(uuids)), False),)
    page = ctx.services.instances.list(ctx.principal, InstanceQuery(
        criteria=crit, include_expunged=True))
    found = {d.instance.uuid: d for d in page.items}
    if len(found) < len(uuids):
        # VMs deployed in a project belong to its account: its members see them too.
        for member in ctx.services.projects.member_principals(ctx.principal):
            found.update({d.instance.uuid: d for d in ctx.services.instances.list(
                member, InstanceQuery(criteria=crit, include_expunged=True)).items})
    return found


def _result(ctx: CsContext, job: Job, vms: dict[str, InstanceDetail]
            ) -> tuple[dict[str, Any] | None, int]:
    """(jobresult, jobresultcode) for the job's current status."""
    if job.status in PENDING:
        return None, 0
    if job.status is JobStatus.SUCCEEDED:
        if not _returns_vm(job):
            return _object_result(ctx, job) or {"success": True}, 0
        detail = vms.get(job.resource_uuid or "")
        vm = (views.virtual_machine(detail, show_admin=ctx.is_admin) if detail is not None
              else views.virtual_machine_gone(job.resource_uuid or ""))
        if job.result and '"password"' in job.result:  # resetPasswordForVirtualMachine
            vm["password"] = json.loads(job.result)["password"]
        return {"virtualmachine": vm}, 0
    if job.status is JobStatus.CANCELLED:
        code, text = int(ApiErrorCode.INTERNAL_ERROR), "The job was cancelled"
    else:
        code, text = errors.job_error(job.error_kind, job.error_message,
                                      show_details=ctx.is_admin)
    return {"errorcode": code, "errortext": text}, code


def _object_result(ctx: CsContext, job: Job) -> dict[str, Any] | None:
    """``{itemkey: object}`` for a job of a command registered in ``JOB_RESULTS``."""
    cmd = registry.lookup(job.command) if job.command else None
    itemkey = cmd.meta.itemkey if cmd is not None else None
    # A view registered under the command's own name wins over its item key's.
    view = JOB_RESULTS.get(job.command or "") or (JOB_RESULTS.get(itemkey) if itemkey else None)
    obj = view(ctx, job) if view is not None else None
    return {itemkey: obj} if obj is not None and itemkey else None


class _Owners:
    """account uuid -> (Account, Domain), looked up once per request."""

    def __init__(self, ctx: CsContext) -> None:
        self._ctx = ctx
        self._seen: dict[str, tuple[Account, Domain] | None] = {}

    def __call__(self, account_uuid: str | None) -> tuple[Account, Domain] | None:
        if not account_uuid:
            return None
        if account_uuid not in self._seen:
            try:
                self._seen[account_uuid] = self._ctx.services.catalog.account_domain(account_uuid)
            except NotFound:
                self._seen[account_uuid] = None
        return self._seen[account_uuid]


def _views(ctx: CsContext, jobs: Sequence[Job]) -> list[dict[str, Any]]:
    vms = _vms(ctx, jobs)
    owners = _Owners(ctx)
    out = []
    for job in jobs:
        jobresult, code = _result(ctx, job, vms)
        out.append(views.async_job(job, owner=owners(job.account_uuid), jobresult=jobresult,
                                   resultcode=code))
    return out


@command("queryAsyncJobResult")
def query_async_job_result(ctx: CsContext, p: CsParams) -> dict[str, Any]:
    job = ctx.services.jobs.get(ctx.principal, p.uuid("jobid", required=True) or "")
    return _views(ctx, [job])[0]


@command("listAsyncJobs")
def list_async_jobs(ctx: CsContext, p: CsParams) -> Listing:
    page = ctx.services.jobs.list(ctx.principal, paging(ctx, p),
                                  list_all=bool(p.boolean("listall", False)))
    jobs: list[Job] = list(page.items)
    since = p.date("startdate")
    if since is not None:
        jobs = [j for j in jobs if j.created_at.replace(tzinfo=j.created_at.tzinfo or UTC) >= since]
        return Listing(_views(ctx, jobs), len(jobs))
    return Listing(_views(ctx, jobs), page.total if page.total is not None else len(jobs))
