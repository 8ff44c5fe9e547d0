"""Jobs: create, read, update, replace, disable, enable, terminate, delete; task counts."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from batchite.domain import states
from batchite.domain.errors import BatchError, conflict, exists, invalid_property, missing_property, not_found
from batchite.domain.filters import Filter
from batchite.domain.ids import check_id
from batchite.service.context import Page, ServiceContext, require
from batchite.service.pools import PoolService
from batchite.store.base import Record

UNLIMITED = "P10675199DT2H48M5.4775807S"
BUSY_STATES = {
    "completed": ("JobCompleted", "The specified job is already in a completed state."),
    "terminating": ("JobBeingTerminated", "The specified job is being terminated."),
    "deleting": ("JobBeingDeleted", "The specified job has been marked for deletion and is being reclaimed."),
}


def check_job_settings(body: dict[str, Any]) -> None:
    priority = body.get("priority")
    if priority is not None and not -1000 <= int(priority) <= 1000:
        raise invalid_property("priority", priority, "The priority must be between -1000 and 1000.")
    mpt = body.get("maxParallelTasks")
    if mpt is not None and int(mpt) != -1 and int(mpt) < 1:
        raise invalid_property("maxParallelTasks", mpt, "The value must be -1 or greater than 0.")
    retries = (body.get("constraints") or {}).get("maxTaskRetryCount")
    if retries is not None and int(retries) < -1:
        raise invalid_property("maxTaskRetryCount", retries, "The value must be -1 or greater.")


def check_pool_info(pool_info: dict[str, Any], prop: str = "poolInfo") -> None:
    """Exactly one of poolId and autoPoolSpecification (with its pool specification)."""
    auto = pool_info.get("autoPoolSpecification")
    if not pool_info.get("poolId") and not auto:
        raise missing_property(f"{prop}.poolId")
    if pool_info.get("poolId") and auto:
        raise BatchError(
            400, "InvalidPropertyValue", "Specify either poolId or autoPoolSpecification, not both.",
            [("PropertyName", f"{prop}.autoPoolSpecification")],
        )
    if auto and not auto.get("pool"):
        raise missing_property(f"{prop}.autoPoolSpecification.pool")
    prefix = (auto or {}).get("autoPoolIdPrefix") or ""
    if len(prefix) > 20:
        raise invalid_property(f"{prop}.autoPoolSpecification.autoPoolIdPrefix", prefix, "At most 20 characters.")


def _int_or(value: Any, default: int) -> int:
    return default if value is None else int(value)


class JobService:
    def __init__(self, ctx: ServiceContext, pools: PoolService) -> None:
        self.ctx = ctx
        self.pools = pools  # auto pools are created through it
        self.created_hooks: list[Callable[[Record], None]] = []

    def get(self, account: str, job_id: str) -> Record:
        return require(self.ctx.store.get(account, "job", "", job_id), not_found("job"))

    def list(
        self,
        account: str,
        after: int,
        limit: int,
        flt: Filter | None = None,
        where: str = "",
        params: tuple[Any, ...] = (),
    ) -> Page:
        return self.ctx.page(account, "job", "", after, limit, flt, where, params)

    def _modifiable(self, account: str, job_id: str) -> Record:
        rec = self.get(account, job_id)
        busy = BUSY_STATES.get(str(rec.doc.get("state")))
        if busy:
            raise conflict(*busy)
        return rec

    def create(self, account: str, body: dict[str, Any], *, schedule: str | None = None) -> Record:
        """Create a job; `schedule` (a job schedule's key) marks a job that schedule makes, whose
        id (`{scheduleId}:job-{n}`) is the schedule's own and is not checked as a user's id."""
        job_id = str(body["id"]) if schedule else check_id(body["id"])
        pool_info = body.get("poolInfo") or {}
        check_pool_info(pool_info)
        check_job_settings(body)
        if self.ctx.store.get(account, "job", "", job_id) is not None:
            raise exists("job")
        if schedule is None and self.ctx.store.get(account, "jobschedule", "", job_id) is not None:
            raise conflict(
                "JobScheduleWithSameIdExists",
                "A job schedule with the specified job id exists. Job and job schedule cannot have the same id.",
            )
        if schedule is None:
            self.check_active_quota(account)
        now = self.ctx.now_text()
        doc: dict[str, Any] = copy.deepcopy(body)
        constraints = doc.setdefault("constraints", {})
        constraints.setdefault("maxWallClockTime", UNLIMITED)
        constraints.setdefault("maxTaskRetryCount", 0)
        doc.update(
            {
                "id": job_id,
                "state": "active",
                "stateTransitionTime": now,
                "creationTime": now,
                "priority": int(body.get("priority") or 0),
                "maxParallelTasks": _int_or(body.get("maxParallelTasks"), -1),
                "allowTaskPreemption": bool(body.get("allowTaskPreemption", False)),
                "usesTaskDependencies": bool(body.get("usesTaskDependencies", False)),
                "onAllTasksComplete": body.get("onAllTasksComplete") or "noaction",
                "onTaskFailure": body.get("onTaskFailure") or "noaction",
                "executionInfo": {"startTime": now, "poolId": pool_info.get("poolId")},
            }
        )
        extra: dict[str, Any] = {"schedule": schedule} if schedule else {}
        auto = pool_info.get("autoPoolSpecification")
        if auto:
            pool_id = self._auto_pool(account, auto, schedule)
            doc["executionInfo"]["poolId"] = pool_id
            extra["autoPool"] = pool_id
        manager = doc.get("jobManagerTask")
        if manager:
            check_id(str(manager.get("id", "")), "jobManagerTask.id")
        rec = self.ctx.store.insert(Record(account, "job", "", job_id, doc, extra=extra))
        self.ctx.scheduler.job_added(rec)
        for hook in self.created_hooks:  # the job manager task is added here (TaskService)
            hook(rec)
        return self.get(account, job_id)

    def check_active_quota(self, account: str) -> None:
        """Active jobs and job schedules (anything not completed) are bounded per account."""
        active = 0
        for kind in ("job", "jobschedule"):
            counts = self.ctx.store.count_by_state(account, kind, "")
            active += sum(n for state, n in counts.items() if state != "completed")
        if active >= self.ctx.scheduler.quotas.active_jobs:
            raise conflict(
                "ActiveJobAndScheduleQuotaReached",
                "The account has reached its quota of active jobs and job schedules.",
                [("ActiveJobAndScheduleQuota", str(self.ctx.scheduler.quotas.active_jobs))],
            )

    def _auto_pool(self, account: str, auto: dict[str, Any], schedule: str | None) -> str:
        """Create the auto pool of a job (or reuse its schedule's, for poolLifetimeOption jobschedule)."""
        lifetime = str(auto.get("poolLifetimeOption") or "job").lower()
        schedule_rec = self.ctx.store.get(account, "jobschedule", "", schedule) if schedule else None
        if lifetime == "jobschedule" and schedule_rec is not None:
            existing = schedule_rec.extra.get("autoPool")
            if existing and self.ctx.store.get(account, "pool", "", existing) is not None:
                return str(existing)
        prefix = auto.get("autoPoolIdPrefix") or ""
        pool_id = f"{prefix}_{uuid.uuid4()}" if prefix else str(uuid.uuid4())
        self.pools.create(account, {**copy.deepcopy(auto["pool"]), "id": pool_id}, auto_pool=True)
        return pool_id  # the schedule records it (JobScheduleService) for its next jobs

    def on_event(self, event: str, rec: Record) -> None:
        """An auto pool with poolLifetimeOption job goes away with its job, unless keepAlive."""
        if event not in ("job.completed", "job.deleted") or not rec.extra.get("autoPool") or rec.kind != "job":
            return
        auto = (rec.doc.get("poolInfo") or {}).get("autoPoolSpecification") or {}
        if str(auto.get("poolLifetimeOption") or "job").lower() != "job" or auto.get("keepAlive"):
            return
        if self.ctx.store.get(rec.account, "pool", "", rec.extra["autoPool"]) is not None:
            self.pools.delete(rec.account, str(rec.extra["autoPool"]))

    def _apply(self, rec: Record, body: dict[str, Any], replace: bool) -> Record:
        check_job_settings(body)
        doc = rec.doc
        if doc.get("onAllTasksComplete") == "terminatejob" and body.get("onAllTasksComplete") == "noaction":
            raise invalid_property(
                "onAllTasksComplete", "noaction", "onAllTasksComplete cannot be changed from terminatejob to noaction."
            )
        if replace:
            if not body.get("poolInfo"):
                raise missing_property("poolInfo")
            doc["priority"] = int(body.get("priority") or 0)
            doc["maxParallelTasks"] = _int_or(body.get("maxParallelTasks"), -1)
            doc["allowTaskPreemption"] = bool(body.get("allowTaskPreemption", False))
            constraints = copy.deepcopy(body.get("constraints") or {})
            constraints.setdefault("maxWallClockTime", UNLIMITED)
            constraints.setdefault("maxTaskRetryCount", 0)
            doc["constraints"] = constraints
            doc["onAllTasksComplete"] = body.get("onAllTasksComplete") or doc.get("onAllTasksComplete", "noaction")
            if body.get("metadata") is None:
                doc.pop("metadata", None)
        for name, value in body.items():
            if value is None:
                continue
            if name == "constraints" and not replace:
                doc.setdefault("constraints", {}).update(copy.deepcopy(value))
            elif name == "poolInfo":
                if (
                    doc.get("state") not in ("disabled",)
                    and str(value.get("poolId", "")).lower()
                    != str((doc.get("poolInfo") or {}).get("poolId", "")).lower()
                ):
                    raise conflict("JobNotDisabled", "The pool of a job can be changed only while the job is disabled.")
                doc["poolInfo"] = copy.deepcopy(value)
                doc.setdefault("executionInfo", {})["poolId"] = value.get("poolId")
            elif name != "constraints":
                doc[name] = copy.deepcopy(value)
        self.ctx.store.put(rec)
        self.ctx.scheduler.job_changed(rec)
        return rec

    def update(self, account: str, job_id: str, body: dict[str, Any]) -> Record:
        return self._apply(self._modifiable(account, job_id), body, replace=False)

    def replace(self, account: str, job_id: str, body: dict[str, Any]) -> Record:
        return self._apply(self._modifiable(account, job_id), body, replace=True)

    def disable(self, account: str, job_id: str, option: str) -> Record:
        rec = self.get(account, job_id)
        state = str(rec.doc.get("state"))
        if state in ("disabling", "disabled"):
            return rec
        if state != "active":
            busy = BUSY_STATES.get(state, ("InvalidJobState", f"The job is {state} and cannot be disabled."))
            raise conflict(*busy)
        states.transition(states.JOB, rec.doc, "disabling", self.ctx.clock.now())
        self.ctx.store.put(rec)
        self.ctx.scheduler.disable_job(rec, option)
        return self.get(account, job_id)

    def enable(self, account: str, job_id: str) -> Record:
        rec = self.get(account, job_id)
        state = str(rec.doc.get("state"))
        if state in ("active", "enabling"):
            return rec
        if state not in ("disabled", "disabling"):
            raise conflict(*BUSY_STATES.get(state, ("InvalidJobState", f"The job is {state}.")))
        self.ctx.scheduler.enable_job(rec)
        return self.get(account, job_id)

    def terminate(self, account: str, job_id: str, reason: str | None) -> Record:
        rec = self._modifiable(account, job_id)
        states.transition(states.JOB, rec.doc, "terminating", self.ctx.clock.now())
        self.ctx.store.put(rec)
        self.ctx.scheduler.terminate_job(rec, reason or "UserTerminate")
        return self.get(account, job_id)

    def delete(self, account: str, job_id: str) -> None:
        rec = self.get(account, job_id)
        if rec.doc.get("state") != "deleting":
            states.transition(states.JOB, rec.doc, "deleting", self.ctx.clock.now())
            self.ctx.store.put(rec)
        self.ctx.scheduler.delete_job(account, rec.id)

    def preparation_status(self, account: str, job_id: str, after: int, limit: int, flt: Filter | None = None) -> Page:
        rec = self.get(account, job_id)
        if not rec.doc.get("jobPreparationTask"):
            raise conflict("JobPreparationTaskNotSpecified", "The specified job does not have a job preparation task.")
        return self.ctx.page(account, "prepstatus", rec.key, after, limit, flt)

    def task_counts(self, account: str, job_id: str) -> dict[str, Any]:
        rec = self.get(account, job_id)
        counts = {"active": 0, "running": 0, "completed": 0, "succeeded": 0, "failed": 0}
        slots = dict(counts)
        rows = self.ctx.store.count_by_state_and_result(account, "task", rec.key)
        for state, result, n, slot_sum in rows:
            bucket = "active" if state in ("active", "preparing") else str(state)
            if bucket in counts:
                counts[bucket] += int(n)
                slots[bucket] += int(slot_sum or 0)
            if state == "completed" and result in ("success", "failure"):
                key = "succeeded" if result == "success" else "failed"
                counts[key] += int(n)
                slots[key] += int(slot_sum or 0)
        return {"taskCounts": counts, "taskSlotCounts": slots}
