"""Task lifecycle: dispatch to free slots, start, exit, retries, requeues, wall-clock limits, retention."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from batchite.agent.layout import TaskIdentity, task_relative_dir
from batchite.agent.process import ProcessOutcome
from batchite.clock import format_time, parse_duration, parse_time
from batchite.domain import states
from batchite.scheduler.base import SchedulerBase
from batchite.scheduler.runtime import JobRt, NodeRt, PoolRt, Run, TaskRt
from batchite.store.base import Record

TASK_ENDED = ("TaskEnded", "Task Was Ended by User Request")
FAILURE_EXIT = ("FailureExitCode", "The task exited with an exit code representing a failure")
UNLIMITED = timedelta(days=3650)


def failure_info(code: str, message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {"category": "usererror", "code": code, "message": message}
    if details:
        info["details"] = details
    return info


def outcome_failure(outcome: ProcessOutcome, kill_reason: str | None) -> dict[str, Any] | None:
    """The failureInfo of a finished process, or None when it succeeded."""
    if kill_reason == "wallclock":
        return failure_info(
            "TaskEnded",
            "The task exceeded its maximum wall clock time and was terminated",
            [{"name": "Reason", "value": "MaxWallClockTimeExceeded"}],
        )
    if outcome.failure is not None:  # resource files / packages before the process, output files after it
        f = outcome.failure
        info = failure_info(f.code, f.message, [{"name": n, "value": v} for n, v in f.details])
        info["category"] = f.category
        return info
    if outcome.exit_code is None:
        return failure_info(outcome.error_code or "TaskProcessStartError", outcome.error_message or "Not started")
    if outcome.exit_code != 0:
        return failure_info(
            *FAILURE_EXIT, [{"name": "Message", "value": f"The task exited with exit code {outcome.exit_code}"}]
        )
    return None


class TaskLifecycle(SchedulerBase):
    # -- queueing -----------------------------------------------------------------------
    def enqueue(self, job: JobRt, task: TaskRt, front: bool = False) -> None:
        task.state = "active"
        job.tasks[task.key] = task
        if front:
            job.ready.appendleft(task)
        else:
            job.ready.append(task)
        self.kick()

    @staticmethod
    def _pick_node(pool: PoolRt, slots: int, job: JobRt) -> NodeRt | None:
        best: NodeRt | None = None
        for node in pool.nodes.values():
            if not node.accepts(slots) or job.prep.get(node.id) == "failed":
                continue
            if best is None:
                best = node
            elif pool.fill_type == "pack":
                if node.free < best.free:
                    best = node
            elif node.free > best.free:
                best = node
        return best

    def dispatch(self) -> None:
        by_pool: dict[tuple[str, str], list[JobRt]] = {}
        for job in self.jobs.values():
            if job.ready and job.can_run_more():
                by_pool.setdefault((job.account, job.pool_key), []).append(job)
        for pool_ref, jobs in by_pool.items():
            pool = self.pools.get(pool_ref)
            if pool is None or pool.deleting:
                continue
            jobs.sort(key=lambda j: (-j.priority, j.seq))
            for job in jobs:
                parked: list[TaskRt] = []  # tasks no node of this pool can ever hold
                while job.ready and job.can_run_more():
                    task = job.ready[0]
                    if task.state != "active" or job.tasks.get(task.key) is not task:
                        job.ready.popleft()
                        continue
                    slots = pool.slots_per_node if task.exclusive else task.required_slots
                    if task.instances > 1:
                        nodes = self.pick_nodes(pool, slots, job, task.instances)
                        if nodes is None:
                            if task.instances > len(pool.nodes) or slots > pool.slots_per_node:
                                parked.append(job.ready.popleft())
                                continue
                            break
                        job.ready.popleft()
                        self.reserve_subtasks(job, task, nodes[1:], slots)
                        self._start(job, task, nodes[0], slots)
                        continue
                    node = self._pick_node(pool, slots, job)
                    if node is None:
                        if slots > pool.slots_per_node:
                            parked.append(job.ready.popleft())
                            continue
                        self.preempt_for(pool, job)
                        break
                    job.ready.popleft()
                    self._start(job, task, node, slots)
                job.ready.extendleft(reversed(parked))

    # -- start --------------------------------------------------------------------------
    def _start(self, job: JobRt, task: TaskRt, node: NodeRt, slots: int) -> None:
        rec = self.store.get(task.account, "task", job.key, task.id)
        if rec is None:
            job.tasks.pop(task.key, None)
            return
        now = self.now()
        doc = rec.doc
        info = doc.setdefault("executionInfo", {"retryCount": 0, "requeueCount": 0})
        for stale in ("endTime", "exitCode", "result", "failureInfo"):
            info.pop(stale, None)
        info["startTime"] = format_time(now)
        rel_dir = task_relative_dir(job.id, task.id)
        node_url = self.node_url(node.spec.account, node.spec.pool_id, node.id)
        doc["nodeInfo"] = {
            "affinityId": f"TVM:{node.id}",
            "nodeUrl": node_url,
            "poolId": node.spec.pool_id,
            "nodeId": node.id,
            "taskRootDirectory": rel_dir,
            "taskRootDirectoryUrl": f"{node_url}/files/{rel_dir}",
        }
        run = Run(task=task, node=node, job_key=job.key, slots=slots)
        task.state = "running"
        task.run = run
        job.running += 1
        node.used += slots
        node.runs.add(run)
        self.node_task_started(node, job, task)
        if not self.ensure_prepared(job, node, partial(self._prepared, job, run)):
            states.transition(states.TASK, doc, "preparing", now)  # waits for the job preparation task
            self.store.put(rec)
            return
        states.transition(states.TASK, doc, "running", now)
        self.store.put(rec)
        self._launch(job, run, rec)

    def _prepared(self, job: JobRt, run: Run, ok: bool) -> None:
        """The job preparation task on the run's node finished: run the task, or requeue it elsewhere."""
        if run.detached or run.task.run is not run:
            return
        rec = self.store.get(run.task.account, "task", job.key, run.task.id)
        if rec is None:
            return
        if not ok:
            self._release(job, run)
            rec.doc.pop("nodeInfo", None)
            states.transition(states.TASK, rec.doc, "active", self.now())
            self.store.put(rec)
            self.node_task_finished(run.node, job, run.task, None)
            self.enqueue(job, run.task, front=True)
            return
        states.transition(states.TASK, rec.doc, "running", self.now())
        self.store.put(rec)
        self._launch(job, run, rec)

    def _launch(self, job: JobRt, run: Run, rec: Record) -> None:
        task, node, doc = run.task, run.node, rec.doc
        env = dict(job.common_env)
        env.update({e["name"]: e.get("value", "") for e in doc.get("environmentSettings") or []})
        if task.instances > 1:
            self.launch_multi(job, run, rec, env)
            self.emit("task.running", rec)
            return
        identity = TaskIdentity(
            job_id=job.id, task_id=task.id, relative_dir=task_relative_dir(job.id, task.id), user_environment=env,
            job_prep_relative_dir=job.prep_dir, staging=self.task_staging(task.account, node.spec.pool_id, doc),
        )
        run.handle = self.backend.start_task(
            node.spec, identity, str(doc.get("commandLine", "")), partial(self._on_exit, job, run)
        )
        limit = parse_duration((doc.get("constraints") or {}).get("maxWallClockTime"))
        if limit is not None and limit < UNLIMITED:
            run.wall_timer = self.clock.call_later(limit, partial(self._wall_clock_expired, run))
        self.emit("task.running", rec)

    def _wall_clock_expired(self, run: Run) -> None:
        run.wall_timer = None
        if not run.detached and run.handle is not None and run in run.node.runs:
            run.kill_reason = "wallclock"
            self.backend.kill_task(run.handle)

    # -- exit ---------------------------------------------------------------------------
    def _release(self, job: JobRt, run: Run) -> None:
        if run.wall_timer is not None:
            run.wall_timer.cancel()
            run.wall_timer = None
        if run in run.node.runs:
            run.node.runs.discard(run)
            run.node.used -= run.slots
            job.running -= 1
        if run.task.run is run:
            run.task.run = None
        if run.task.sub_runs:
            self.release_subtasks(job, run.task)

    def _on_exit(self, job: JobRt, run: Run, outcome: ProcessOutcome) -> None:
        self._release(job, run)
        task, node = run.task, run.node
        rec = None if run.detached else self.store.get(task.account, "task", job.key, task.id)
        if rec is None:
            if not run.detached:
                job.tasks.pop(task.key, None)
            self.node_task_finished(node, job, task, None)
            self.kick()
            return
        doc = rec.doc
        info = doc.setdefault("executionInfo", {"retryCount": 0, "requeueCount": 0})
        info["endTime"] = format_time(self.now())  # times come from the service clock, as every other
        if outcome.exit_code is not None:
            info["exitCode"] = outcome.exit_code
        failure = outcome_failure(outcome, run.kill_reason)
        info["result"] = "failure" if failure else "success"
        if failure:
            info["failureInfo"] = failure
        stage = outcome.failed_stage  # exitConditions.preProcessingError / fileUploadError
        if stage in ("preprocessing", "fileupload") and run.kill_reason is None:
            rec.extra["failureStage"] = stage
        else:
            rec.extra.pop("failureStage", None)
        max_retries = int((doc.get("constraints") or {}).get("maxTaskRetryCount", 0) or 0)
        retries = int(info.get("retryCount", 0))
        if failure and run.kill_reason != "wallclock" and (max_retries < 0 or retries < max_retries):
            info["retryCount"] = retries + 1
            info["lastRetryTime"] = format_time(self.now())
            states.transition(states.TASK, doc, "active", self.now())
            self.store.put(rec)
            self.node_task_finished(node, job, task, False)
            self.enqueue(job, task, front=True)
            return
        self._complete(job, task, rec)
        self.count_completion(job.account, job.pool_key, failure is None)
        self.node_task_finished(node, job, task, failure is None)
        self.kick()

    def _complete(self, job: JobRt, task: TaskRt, rec: Record) -> None:
        states.transition(states.TASK, rec.doc, "completed", self.now())
        self.store.put(rec)
        task.state = "completed"
        if job.tasks.pop(task.key, None) is not None:
            job.incomplete -= 1
        self.schedule_retention(rec)
        self.emit("task.completed", rec)
        self.dependency_done(job, task.key, rec)
        self.task_completed_for_job(job, rec)
        self.check_job_complete(job)

    def schedule_retention(self, rec: Record) -> None:
        node_info = rec.doc.get("nodeInfo")
        if not node_info:
            return
        retention = parse_duration((rec.doc.get("constraints") or {}).get("retentionTime")) or timedelta(days=7)
        if retention >= UNLIMITED:
            return
        end = (rec.doc.get("executionInfo") or {}).get("endTime")
        delay = max(timedelta(0), parse_time(end) + retention - self.now()) if end else retention
        self.clock.call_later(delay, partial(self._retention_expired, rec.account, node_info))

    def _retention_expired(self, account: str, node_info: dict[str, Any]) -> None:
        pool = self.pools.get((account, str(node_info.get("poolId", "")).lower()))
        node = pool.nodes.get(str(node_info.get("nodeId"))) if pool else None
        if node is not None:
            self.backend.remove_task_directory(node.spec, str(node_info.get("taskRootDirectory", "")))

    # -- stops the API asks for -----------------------------------------------------------
    def stop_task(self, job: JobRt, task: TaskRt, reason: str, rec: Record | None = None) -> None:
        """Move a task out of `running` now; its process is killed and its exit only frees the slot.

        reason: 'requeue' (back to active, requeueCount+1), 'terminate' (completed, TaskEnded),
        'delete' (the record is going away).
        """
        was_running = task.state == "running"
        run = task.run
        if run is not None:
            run.detached = True
            run.kill_reason = reason
            task.run = None
            self.backend.kill_task(run.handle)
        if reason == "delete":
            task.state = "deleted"
            if job.tasks.pop(task.key, None) is not None:
                job.incomplete -= 1
            return
        rec = rec or self.store.get(task.account, "task", job.key, task.id)
        if rec is None:
            return
        now = self.now()
        info = rec.doc.setdefault("executionInfo", {"retryCount": 0, "requeueCount": 0})
        if reason == "requeue":
            if was_running:
                info["requeueCount"] = int(info.get("requeueCount", 0)) + 1
                info["lastRequeueTime"] = format_time(now)
                states.transition(states.TASK, rec.doc, "active", now)
                self.store.put(rec)
                self.enqueue(job, task, front=True)
            return
        info["endTime"] = format_time(now)
        info.setdefault("startTime", format_time(now))
        info["result"] = "failure"
        info["failureInfo"] = failure_info(*TASK_ENDED)
        self._complete(job, task, rec)
