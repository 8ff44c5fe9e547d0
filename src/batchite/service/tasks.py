"""Tasks: add one or a collection, read, replace constraints, terminate, reactivate, delete.

The service checks what a request may do and builds the task; the scheduler's JobLifecycle, the
one writer of tasks, stores and runs it.
"""

from __future__ import annotations

import builtins
from datetime import datetime

from batchite.domain.entities import Job, Task
from batchite.domain.entities.records import TaskInternal
from batchite.domain.errors import BatchError, conflict, exists, invalid_property, not_found
from batchite.domain.filters import Filter
from batchite.domain.ids import check_id
from batchite.domain.states import JobState, TaskState
from batchite.scheduler.live import LiveJob
from batchite.scheduler.multi_instance import subtask_parent
from batchite.service.conflicts import job_busy
from batchite.service.context import ServiceContext, require
from batchite.store.base import Page
from batchite.wire.enums import BatchTaskAddStatus, BatchTaskExecutionResult, BatchTaskFailureMode
from batchite.wire.models import (
    BatchError as WireBatchError,
)
from batchite.wire.models import (
    BatchErrorDetail,
    BatchErrorMessage,
    BatchJobManagerTask,
    BatchSubtask,
    BatchTask,
    BatchTaskConstraints,
    BatchTaskCreateOptions,
    BatchTaskCreateResult,
    BatchTaskExecutionInfo,
    ExitConditions,
    ExitOptions,
)
from batchite.wire.types import UNLIMITED, Duration, build

MAX_TASKS_PER_COLLECTION = 100
DEFAULT_RETENTION = Duration(days=7)


def check_collection_size(count: int) -> None:
    """A task collection holds at most 100 tasks (told before the tasks are validated)."""
    if count > MAX_TASKS_PER_COLLECTION:
        raise BatchError(
            413,
            "RequestBodyTooLarge",
            "The request body is too large and exceeds the maximum permissible limit.",
            [("MaxLimit", str(MAX_TASKS_PER_COLLECTION))],
        )


def _sets_job_action(conditions: ExitConditions | None) -> bool:
    if conditions is None:
        return False
    options: list[ExitOptions | None] = [c.exit_options for c in conditions.exit_codes or []]
    options += [r.exit_options for r in conditions.exit_code_ranges or []]
    options += [conditions.pre_processing_error, conditions.file_upload_error, conditions.default]
    return any(o is not None and o.job_action is not None for o in options)


def new_task(
    job: Job, body: BatchTaskCreateOptions | BatchJobManagerTask, now: datetime, internal: TaskInternal | None = None
) -> Task:
    """A new task of `job` from what the request gives, with the service's defaults."""
    task_id = check_id(body.id)
    if body.required_slots is not None and body.required_slots < 1:
        raise invalid_property("requiredSlots", body.required_slots, "The value must be at least 1.")
    depends_on = getattr(body, "depends_on", None)
    if depends_on is not None and not job.wire.uses_task_dependencies:
        raise BatchError(
            400,
            "TaskDependenciesNotSpecifiedOnJob",
            "The task has dependencies but the job does not have usesTaskDependencies set.",
        )
    conditions = getattr(body, "exit_conditions", None)
    no_action = job.wire.task_failure_mode in (None, BatchTaskFailureMode.NO_ACTION)
    if no_action and _sets_job_action(conditions):
        raise invalid_property(
            "exitConditions",
            "jobAction",
            "A jobAction needs the job's onTaskFailure to be performexitoptionsjobaction.",
        )
    given = body.constraints or BatchTaskConstraints()
    job_constraints = job.wire.constraints
    constraints = BatchTaskConstraints(
        max_wall_clock_time=given.max_wall_clock_time or UNLIMITED,
        retention_time=given.retention_time or DEFAULT_RETENTION,
        max_task_retry_count=given.max_task_retry_count
        if given.max_task_retry_count is not None
        else (job_constraints.max_task_retry_count or 0)
        if job_constraints
        else 0,
    )
    wire = build(
        BatchTask,
        body,
        id=task_id,
        creation_time=now,
        state=TaskState.ACTIVE,
        state_transition_time=now,
        required_slots=body.required_slots or 1,
        constraints=constraints,
        execution_info=BatchTaskExecutionInfo(retry_count=0, requeue_count=0),
    )
    return Task(job.account, job.key, wire, internal)


def error_body(err: BatchError) -> WireBatchError:
    return WireBatchError(
        code=err.code,
        message=BatchErrorMessage(lang="en-US", value=err.message),
        error_values=[BatchErrorDetail(key=k, value=v) for k, v in err.values] or None,
    )


class TaskService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _job(self, account: str, job_id: str) -> Job:
        return require(self.ctx.store.jobs.get(account, "", job_id), not_found("job"))

    def get(self, account: str, job_id: str, task_id: str) -> Task:
        if not self.ctx.store.jobs.exists(account, "", job_id):  # the job's document is not needed
            raise not_found("job")
        return require(self.ctx.store.tasks.get(account, job_id.lower(), task_id), not_found("task"))

    def _changeable(self, account: str, job_id: str, task_id: str) -> Task:
        """A task whose job is not being deleted (409 JobBeingDeleted: its tasks can only be read)."""
        job = self._job(account, job_id)
        if job.wire.state == JobState.DELETING:
            raise job_busy(JobState.DELETING) or not_found("job")
        return require(self.ctx.store.tasks.get(account, job.key, task_id), not_found("task"))

    def list(self, account: str, job_id: str, after: int, limit: int, flt: Filter | None = None) -> Page[Task]:
        job = self._job(account, job_id)
        return self.ctx.store.tasks.page(account, job.key, after, limit, flt)

    # -- add ----------------------------------------------------------------------------
    def _open_job(self, account: str, job_id: str) -> LiveJob:
        job = self._job(account, job_id)
        busy = job_busy(job.wire.state)
        live = self.ctx.scheduler.projection.job(account, job_id)
        if busy is not None or live is None:
            raise busy or not_found("job")
        return live

    def create(self, account: str, job_id: str, body: BatchTaskCreateOptions) -> Task:
        live = self._open_job(account, job_id)
        task = new_task(live.entity, body, self.ctx.clock.now())
        if self.ctx.store.tasks.get(account, live.key, task.id) is not None:
            raise exists("task")
        self.ctx.scheduler.jobs.add_tasks(live, [task])
        return task

    def create_collection(
        self, account: str, job_id: str, bodies: builtins.list[BatchTaskCreateOptions]
    ) -> builtins.list[BatchTaskCreateResult]:
        check_collection_size(len(bodies))
        if not bodies:
            raise invalid_property("value", "[]", "A task collection holds 1 to 100 tasks.")
        live = self._open_job(account, job_id)
        now = self.ctx.clock.now()
        results: builtins.list[BatchTaskCreateResult | Task] = []
        added: builtins.list[Task] = []
        seen: set[str] = set()
        for body in bodies:
            try:
                task = new_task(live.entity, body, now)
                if task.key in seen or self.ctx.store.tasks.get(account, live.key, task.id) is not None:
                    raise exists("task")
            except BatchError as err:
                results.append(
                    BatchTaskCreateResult(
                        status=BatchTaskAddStatus.CLIENT_ERROR, task_id=body.id, error=error_body(err)
                    )
                )
                continue
            seen.add(task.key)
            added.append(task)
            results.append(task)
        self.ctx.scheduler.jobs.add_tasks(live, added)
        return [
            BatchTaskCreateResult(
                status=BatchTaskAddStatus.SUCCESS,
                task_id=r.id,
                etag=r.etag,
                last_modified=r.last_modified,
                location=self.ctx.urls.task(account, live.id, r.id),
            )
            if isinstance(r, Task)
            else r
            for r in results
        ]

    def subtasks(self, account: str, job_id: str, task_id: str) -> builtins.list[BatchSubtask]:
        """The subtasks of a multi-instance task (none for any other task)."""
        task = self.get(account, job_id, task_id)
        found = self.ctx.store.subtasks.list(account, subtask_parent(task.parent, task.key))
        return sorted((s.wire for s in found), key=lambda w: w.id or 0)

    # -- changes ------------------------------------------------------------------------
    def replace(self, account: str, job_id: str, task_id: str, constraints: BatchTaskConstraints | None) -> Task:
        task = self._changeable(account, job_id, task_id)
        if constraints is None:
            return task
        retries = constraints.max_task_retry_count
        if retries is not None and retries < -1:
            raise invalid_property("maxTaskRetryCount", retries)
        with self.ctx.scheduler.jobs.edit_task(task) as edited:
            current = edited.wire.constraints or BatchTaskConstraints()
            current.max_wall_clock_time = constraints.max_wall_clock_time or UNLIMITED
            current.retention_time = constraints.retention_time or DEFAULT_RETENTION
            if retries is not None:
                current.max_task_retry_count = retries
            edited.wire.constraints = current
        return task

    def terminate(self, account: str, job_id: str, task_id: str) -> Task:
        task = self._changeable(account, job_id, task_id)
        if task.wire.state == TaskState.COMPLETED:
            raise conflict("TaskCompleted", "The specified task is already completed.")
        live = self.ctx.scheduler.projection.job(account, job_id)
        if live is not None:
            self.ctx.scheduler.jobs.terminate_task(live, task)
        return self.get(account, job_id, task_id)

    def reactivate(self, account: str, job_id: str, task_id: str) -> Task:
        live = self._open_job(account, job_id)
        task = require(self.ctx.store.tasks.get(account, live.key, task_id), not_found("task"))
        info = task.wire.execution_info
        if task.wire.state != TaskState.COMPLETED:
            raise conflict("TaskNotCompleted", "The specified task is not in the completed state.")
        if info is None or info.result != BatchTaskExecutionResult.FAILURE:
            raise conflict(
                "TaskCompletedSuccessfully", "The specified task completed successfully; it cannot be reactivated."
            )
        self.ctx.scheduler.jobs.reactivate_task(live, task)
        return task

    def delete(self, account: str, job_id: str, task_id: str) -> None:
        task = self._changeable(account, job_id, task_id)
        self.ctx.scheduler.jobs.delete_task(account, task.parent, task)


def job_manager_task(job: Job, now: datetime) -> Task | None:
    """A job with a jobManagerTask gets it as its first task (scheduled ahead of the others)."""
    manager = job.wire.job_manager_task
    if manager is None:
        return None
    internal = TaskInternal(
        job_manager=True,
        kill_job_on_completion=manager.kill_job_on_completion is not False,
        run_exclusive=manager.run_exclusive is not False,
    )
    return new_task(job, manager, now, internal)
