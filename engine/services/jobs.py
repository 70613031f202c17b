"""Reading jobs (the results of asynchronous operations)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import NotFound, ResourceKind
from engine.jobs import queue
from engine.models import Job
from engine.principal import Principal
from engine.querying import ListResult, Paging, list_owned
from engine.services.access import may_act


class JobService:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, principal: Principal, uuid: str) -> Job:
        job = self._s.get(Job, uuid)
        if job is None or not may_act(self._s, principal, job.account_uuid):
            raise NotFound(ResourceKind.JOB, uuid)
        return job

    def completed(self, principal: Principal, resource_kind: ResourceKind | None,
                  resource_uuid: str | None, command: str = "",
                  result: dict[str, Any] | None = None) -> Job:
        """A job that is already finished: for asynchronous API calls whose work
        was done (or needed nothing) within the request."""
        job = queue.completed(self._s, principal, resource_kind=resource_kind,
                              resource_uuid=resource_uuid, result=result, command=command)
        self._s.flush()
        return job

    def list(self, principal: Principal, paging: Paging = Paging(), list_all: bool = True) -> ListResult:
        return list_owned(self._s, Job, principal, kind=ResourceKind.JOB, fields={},
                          paging=paging, list_all=list_all)


def result_of(job: Job) -> dict[str, Any]:
    return json.loads(job.result) if job.result else {}
