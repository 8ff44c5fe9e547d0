"""Tasks: add one or a collection, read, replace constraints, terminate, reactivate, delete."""

from __future__ import annotations

import builtins
import copy
from typing import Any

from batchite.domain import states
from batchite.domain.errors import BatchError, conflict, exists, invalid_property, not_found
from batchite.domain.filters import Filter
from batchite.domain.ids import check_id
from batchite.service.context import Page, ServiceContext, require
from batchite.service.jobs import BUSY_STATES, UNLIMITED
from batchite.store.base import Record

MAX_TASKS_PER_COLLECTION = 100
JOB_MANAGER_ONLY = ("killJobOnCompletion", "runExclusive", "allowLowPriorityNode")


class TaskService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _job(self, account: str, job_id: str) -> Record:
        return require(self.ctx.store.get(account, "job", "", job_id), not_found("job"))

    def get(self, account: str, job_id: str, task_id: str) -> Record:
        job = self._job(account, job_id)
        return require(self.ctx.store.get(account, "task", job.key, task_id), not_found("task"))

    def list(self, account: str, job_id: str, after: int, limit: int, flt: Filter | None = None) -> Page:
        job = self._job(account, job_id)
        return self.ctx.page(account, "task", job.key, after, limit, flt)

    # -- add ----------------------------------------------------------------------------
    def _open_job(self, account: str, job_id: str) -> Record:
        job = self._job(account, job_id)
        busy = BUSY_STATES.get(str(job.doc.get("state")))
        if busy:
            raise conflict(*busy)
        return job

    def _new_doc(self, job: Record, body: dict[str, Any]) -> dict[str, Any]:
        task_id = check_id(body.get("id", ""))
        slots = body.get("requiredSlots")
        if slots is not None and int(slots) < 1:
            raise invalid_property("requiredSlots", slots, "The value must be at least 1.")
        if body.get("dependsOn") and not job.doc.get("usesTaskDependencies"):
            raise BatchError(
                400,
                "TaskDependenciesNotSpecifiedOnJob",
                "The task has dependencies but the job does not have usesTaskDependencies set.",
            )
        if job.doc.get("onTaskFailure", "noaction") == "noaction" and _sets_job_action(body.get("exitConditions")):
            raise invalid_property(
                "exitConditions", "jobAction",
                "A jobAction needs the job's onTaskFailure to be performexitoptionsjobaction.",
            )
        now = self.ctx.now_text()
        doc: dict[str, Any] = copy.deepcopy(body)
        constraints = doc.setdefault("constraints", {})
        constraints.setdefault("maxWallClockTime", UNLIMITED)
        constraints.setdefault("retentionTime", "P7D")
        constraints.setdefault(
            "maxTaskRetryCount", int((job.doc.get("constraints") or {}).get("maxTaskRetryCount", 0) or 0)
        )
        doc.update(
            {
                "id": task_id,
                "creationTime": now,
                "state": "active",
                "stateTransitionTime": now,
                "requiredSlots": int(slots or 1),
                "executionInfo": {"retryCount": 0, "requeueCount": 0},
            }
        )
        return doc

    def create(self, account: str, job_id: str, body: dict[str, Any]) -> Record:
        job = self._open_job(account, job_id)
        doc = self._new_doc(job, body)
        if self.ctx.store.get(account, "task", job.key, doc["id"]) is not None:
            raise exists("task")
        rec = self.ctx.store.insert(Record(account, "task", job.key, doc["id"], doc))
        self.ctx.scheduler.tasks_added(account, job.key, [rec])
        return rec

    def create_collection(
        self, account: str, job_id: str, bodies: builtins.list[dict[str, Any]]
    ) -> builtins.list[dict[str, Any]]:
        if len(bodies) > MAX_TASKS_PER_COLLECTION:
            raise BatchError(
                413,
                "RequestBodyTooLarge",
                "The request body is too large and exceeds the maximum permissible limit.",
                [("MaxLimit", str(MAX_TASKS_PER_COLLECTION))],
            )
        job = self._open_job(account, job_id)
        results: builtins.list[dict[str, Any]] = []
        added: builtins.list[Record] = []
        seen: set[str] = set()
        for body in bodies:
            task_id = str(body.get("id", ""))
            try:
                doc = self._new_doc(job, body)
                if task_id.lower() in seen or self.ctx.store.get(account, "task", job.key, task_id) is not None:
                    raise exists("task")
            except BatchError as err:
                results.append({"status": "clienterror", "taskId": task_id, "error": error_body(err)})
                continue
            seen.add(task_id.lower())
            rec = self.ctx.store.insert(Record(account, "task", job.key, doc["id"], doc))
            added.append(rec)
            results.append(
                {
                    "status": "success",
                    "taskId": rec.id,
                    "eTag": rec.etag,
                    "lastModified": rec.doc["lastModified"],
                    "location": f"{self.ctx.account_url(account)}/jobs/{job.id}/tasks/{rec.id}",
                }
            )
        self.ctx.scheduler.tasks_added(account, job.key, added)
        return results

    def subtasks(self, account: str, job_id: str, task_id: str) -> builtins.list[dict[str, Any]]:
        """The subtasks of a multi-instance task (none for any other task)."""
        rec = self.get(account, job_id, task_id)
        records = self.ctx.store.list(account, "subtask", f"{rec.parent}/{rec.key}")
        return sorted((r.doc for r in records), key=lambda d: int(d.get("id", 0)))

    def create_job_manager(self, job: Record) -> None:
        """A job with a jobManagerTask gets it as its first task (scheduled ahead of the others)."""
        manager = job.doc.get("jobManagerTask")
        if not manager:
            return
        body = {k: v for k, v in manager.items() if k not in JOB_MANAGER_ONLY}
        doc = self._new_doc(job, body)
        extra = {
            "jobManager": True,
            "killJobOnCompletion": manager.get("killJobOnCompletion", True) is not False,
            "runExclusive": manager.get("runExclusive", True) is not False,
        }
        rec = self.ctx.store.insert(Record(job.account, "task", job.key, doc["id"], doc, extra=extra))
        self.ctx.scheduler.tasks_added(job.account, job.key, [rec])

    # -- changes ------------------------------------------------------------------------
    def replace(self, account: str, job_id: str, task_id: str, body: dict[str, Any]) -> Record:
        rec = self.get(account, job_id, task_id)
        constraints = body.get("constraints")
        if constraints is not None:
            current = rec.doc.setdefault("constraints", {})
            current["maxWallClockTime"] = constraints.get("maxWallClockTime") or UNLIMITED
            current["retentionTime"] = constraints.get("retentionTime") or "P7D"
            retries = constraints.get("maxTaskRetryCount")
            if retries is not None:
                if int(retries) < -1:
                    raise invalid_property("maxTaskRetryCount", retries)
                current["maxTaskRetryCount"] = int(retries)
        self.ctx.store.put(rec)
        return rec

    def terminate(self, account: str, job_id: str, task_id: str) -> Record:
        rec = self.get(account, job_id, task_id)
        if rec.doc.get("state") == "completed":
            raise conflict("TaskCompleted", "The specified task is already completed.")
        self.ctx.scheduler.terminate_task(account, rec.parent, rec)
        return self.get(account, job_id, task_id)

    def reactivate(self, account: str, job_id: str, task_id: str) -> Record:
        job = self._open_job(account, job_id)
        rec = require(self.ctx.store.get(account, "task", job.key, task_id), not_found("task"))
        info = rec.doc.get("executionInfo") or {}
        if rec.doc.get("state") != "completed":
            raise conflict("TaskNotCompleted", "The specified task is not in the completed state.")
        if info.get("result") != "failure":
            raise conflict(
                "TaskCompletedSuccessfully", "The specified task completed successfully; it cannot be reactivated."
            )
        rec.doc["executionInfo"] = {"retryCount": 0, "requeueCount": int(info.get("requeueCount", 0))}
        rec.doc.pop("nodeInfo", None)
        states.transition(states.TASK, rec.doc, "active", self.ctx.clock.now())
        self.ctx.store.put(rec)
        self.ctx.scheduler.reactivate_task(account, job.key, rec)
        return rec

    def delete(self, account: str, job_id: str, task_id: str) -> None:
        rec = self.get(account, job_id, task_id)
        self.ctx.scheduler.delete_task(account, rec.parent, rec.id)
        self.ctx.store.delete_children(account, "subtask", f"{rec.parent}/{rec.key}")
        self.ctx.store.delete(account, "task", rec.parent, rec.id)


def _sets_job_action(conditions: dict[str, Any] | None) -> bool:
    if not conditions:
        return False
    listed = (conditions.get("exitCodes") or []) + (conditions.get("exitCodeRanges") or [])
    options = [c.get("exitOptions") for c in listed]
    options += [conditions.get(k) for k in ("preProcessingError", "fileUploadError", "default")]
    return any(isinstance(o, dict) and o.get("jobAction") is not None for o in options)


def error_body(err: BatchError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": err.code, "message": {"lang": "en-US", "value": err.message}}
    if err.values:
        body["values"] = [{"key": k, "value": v} for k, v in err.values]
    return body
