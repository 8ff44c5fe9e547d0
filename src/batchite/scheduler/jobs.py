"""Job lifecycle in the scheduler: tasks arrive, jobs disable, enable, terminate, complete, go away."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from batchite.clock import format_time, parse_duration, parse_time
from batchite.domain import states
from batchite.domain.exits import task_exit_options
from batchite.scheduler.base import SchedulerBase
from batchite.scheduler.runtime import JobRt, TaskRt, runtime_of_task
from batchite.store.base import Record


class JobLifecycle(SchedulerBase):
    def job_runtime(self, rec: Record) -> JobRt:
        doc = rec.doc
        pool_id = str((doc.get("poolInfo") or {}).get("poolId") or (doc.get("executionInfo") or {}).get("poolId") or "")
        job = JobRt(
            account=rec.account,
            id=rec.id,
            seq=rec.seq,
            pool_key=pool_id.lower(),
            state=str(doc.get("state", "active")),
            priority=int(doc.get("priority") or 0),
            max_parallel=int(doc.get("maxParallelTasks", -1) if doc.get("maxParallelTasks") is not None else -1),
            on_all_complete=str(doc.get("onAllTasksComplete") or "noaction"),
            common_env={e["name"]: e.get("value", "") for e in doc.get("commonEnvironmentSettings") or []},
            on_task_failure=str(doc.get("onTaskFailure") or "noaction"),
            allow_preemption=bool(doc.get("allowTaskPreemption")),
            prep_dir=f"workitems/{rec.id}/job-1/jobpreparation" if doc.get("jobPreparationTask") else None,
        )
        if job.prep_dir:
            for status in self.store.list(rec.account, "prepstatus", job.key):
                info = status.doc.get("jobPreparationTaskExecutionInfo") or {}
                if info.get("state") == "completed":
                    job.prep[status.id] = "succeeded" if info.get("result") == "success" else "failed"
        self.jobs[(rec.account, job.key)] = job
        self._arm_job_wall_clock(job, rec)
        return job

    def _arm_job_wall_clock(self, job: JobRt, rec: Record) -> None:
        if job.wall_timer is not None:
            job.wall_timer.cancel()
            job.wall_timer = None
        limit = parse_duration((rec.doc.get("constraints") or {}).get("maxWallClockTime"))
        created = rec.doc.get("creationTime")
        if limit is None or limit >= timedelta(days=3650) or not created:
            return
        delay = max(timedelta(0), parse_time(str(created)) + limit - self.now())
        job.wall_timer = self.clock.call_later(delay, partial(self._job_wall_clock_expired, job))

    def _job_wall_clock_expired(self, job: JobRt) -> None:
        job.wall_timer = None
        if self.jobs.get((job.account, job.key)) is not job:
            return
        rec = self.store.get(job.account, "job", "", job.id)
        if rec is not None and rec.doc.get("state") not in ("completed", "terminating", "deleting"):
            states.transition(states.JOB, rec.doc, "terminating", self.now())
            self.terminate_job(rec, "MaxWallClockTimeExpiry")

    def job_added(self, rec: Record) -> None:
        job = self.job_runtime(rec)
        if not rec.doc.get("jobManagerTask"):  # with one, the job has a task from the start
            self.check_job_complete(job)

    def job_changed(self, rec: Record) -> None:
        job = self.jobs.get((rec.account, rec.key))
        if job is None:
            return
        doc = rec.doc
        job.priority = int(doc.get("priority") or 0)
        job.allow_preemption = bool(doc.get("allowTaskPreemption"))
        mpt = doc.get("maxParallelTasks")
        job.max_parallel = -1 if mpt is None else int(mpt)
        job.on_all_complete = str(doc.get("onAllTasksComplete") or "noaction")
        job.on_task_failure = str(doc.get("onTaskFailure") or "noaction")
        self._arm_job_wall_clock(job, rec)
        job.pool_key = str(
            (doc.get("poolInfo") or {}).get("poolId") or (doc.get("executionInfo") or {}).get("poolId") or ""
        ).lower()
        self.check_job_complete(job)
        self.kick()

    def tasks_added(self, account: str, job_key: str, recs: list[Record]) -> None:
        job = self.jobs.get((account, job_key))
        if job is None:
            return
        for rec in recs:
            task = runtime_of_task(account, job_key, rec)
            job.incomplete += 1
            self.admit(job, task, rec.doc)

    def task_runtime(self, account: str, job_key: str, task_id: str) -> tuple[JobRt | None, TaskRt | None]:
        job = self.jobs.get((account, job_key))
        return job, (job.tasks.get(task_id.lower()) if job else None)

    # -- user actions -------------------------------------------------------------------
    def terminate_task(self, account: str, job_key: str, rec: Record) -> None:
        job, task = self.task_runtime(account, job_key, rec.id)
        if job is not None and task is not None:
            self.stop_task(job, task, "terminate", rec)

    def delete_task(self, account: str, job_key: str, task_id: str) -> None:
        job, task = self.task_runtime(account, job_key, task_id)
        if job is not None:
            self.dependency_forget(job, task_id.lower())
        if job is not None and task is not None:
            self.stop_task(job, task, "delete")
            self.check_job_complete(job)

    def reactivate_task(self, account: str, job_key: str, rec: Record) -> None:
        job = self.jobs.get((account, job_key))
        if job is None:
            return
        task = runtime_of_task(account, job_key, rec)
        job.incomplete += 1
        self.dependency_forget(job, task.key)
        self.admit(job, task, rec.doc)

    def disable_job(self, rec: Record, option: str) -> None:
        job = self.jobs.get((rec.account, rec.key))
        if job is None:
            return
        option = option.lower()
        job.state = "disabling"
        running = [t for t in job.tasks.values() if t.state == "running"]
        if option in ("requeue", "terminate"):
            for task in running:
                self.stop_task(job, task, option)
            running = []
        rec = self.store.get(rec.account, "job", "", rec.id) or rec
        if not running:
            job.state = "disabled"
            states.transition(states.JOB, rec.doc, "disabled", self.now())
            self.store.put(rec)
        self.check_job_complete(job)

    def enable_job(self, rec: Record) -> None:
        job = self.jobs.get((rec.account, rec.key))
        if job is None:
            return
        job.state = "active"
        now = self.now()
        if rec.doc.get("state") in ("disabled", "disabling"):
            states.transition(states.JOB, rec.doc, "enabling", now)
        states.transition(states.JOB, rec.doc, "active", now)
        self.store.put(rec)
        self.kick()

    def terminate_job(self, rec: Record, reason: str) -> None:
        """Stop the job's running tasks, run its release tasks, then it is completed."""
        job = self.jobs.get((rec.account, rec.key))
        if job is None:
            self._finish_terminate(rec, reason)
            return
        if job.wall_timer is not None:
            job.wall_timer.cancel()
        job.state = "terminating"
        for task in [t for t in job.tasks.values() if t.state in ("running", "preparing")]:
            self.stop_task(job, task, "terminate")
        job.ready.clear()
        self.jobs.pop((rec.account, rec.key), None)
        self.release_job(job, partial(self._finish_terminate, rec, reason))

    def _finish_terminate(self, rec: Record, reason: str) -> None:
        rec = self.store.get(rec.account, "job", "", rec.id) or rec
        if rec.doc.get("state") not in ("terminating", "active", "disabled", "disabling", "enabling"):
            return
        now = self.now()
        states.transition(states.JOB, rec.doc, "completed", now)
        info: dict[str, Any] = rec.doc.setdefault("executionInfo", {})
        info["endTime"] = format_time(now)
        info["terminateReason"] = reason
        self.store.put(rec)
        self.emit("job.completed", rec)

    def delete_job(self, account: str, job_id: str) -> None:
        """Stop the job's tasks, run its release tasks if it was still running, then remove it."""
        job = self.jobs.pop((account, job_id.lower()), None)
        if job is None:
            self._finish_delete(account, job_id)
            return
        if job.wall_timer is not None:
            job.wall_timer.cancel()
        job.state = "deleting"
        for task in list(job.tasks.values()):
            self.stop_task(job, task, "delete")
        job.ready.clear()
        self.release_job(job, partial(self._finish_delete, account, job_id))

    def _finish_delete(self, account: str, job_id: str) -> None:
        gone = self.store.get(account, "job", "", job_id)
        for pool in self.pools.values():
            if pool.account == account:
                for node in pool.nodes.values():
                    self.backend.remove_task_directory(node.spec, f"workitems/{job_id}")
        multis = self.store.list(
            account, "task", job_id.lower(), where="json_extract(doc, '$.multiInstanceSettings') IS NOT NULL"
        )
        for multi in multis:
            self.store.delete_children(account, "subtask", f"{job_id.lower()}/{multi.key}")
        self.store.delete_children(account, "task", job_id.lower())
        self.store.delete_children(account, "prepstatus", job_id.lower())
        self.store.delete(account, "job", "", job_id)
        if gone is not None:
            self.emit("job.deleted", gone)

    # -- completion ---------------------------------------------------------------------
    def task_completed_for_job(self, job: JobRt, rec: Record) -> None:
        """A job manager with killJobOnCompletion ends its job; otherwise, with onTaskFailure
        performexitoptionsjobaction, apply the matching exit condition's jobAction."""
        if rec.extra.get("jobManager") and rec.extra.get("killJobOnCompletion", True) and job.state == "active":
            job_rec = self.store.get(job.account, "job", "", job.id)
            if job_rec is not None:
                states.transition(states.JOB, job_rec.doc, "terminating", self.now())
                self.terminate_job(job_rec, "JMComplete")
            return
        if job.on_task_failure != "performexitoptionsjobaction" or job.state != "active":
            return
        options = task_exit_options(rec.doc, rec.extra.get("failureStage"))
        failed = (rec.doc.get("executionInfo") or {}).get("result") == "failure"
        if not (failed or options.explicit):
            return
        job_rec = self.store.get(job.account, "job", "", job.id)
        if job_rec is None:
            return
        if options.job_action == "terminate":
            states.transition(states.JOB, job_rec.doc, "terminating", self.now())
            self.terminate_job(job_rec, "TaskFailed")
        elif options.job_action == "disable":
            states.transition(states.JOB, job_rec.doc, "disabling", self.now())
            self.store.put(job_rec)
            self.disable_job(job_rec, "requeue")

    def check_job_complete(self, job: JobRt) -> None:
        if job.state == "disabling" and not any(t.state == "running" for t in job.tasks.values()):
            rec = self.store.get(job.account, "job", "", job.id)
            if rec is not None and rec.doc.get("state") == "disabling":
                job.state = "disabled"
                states.transition(states.JOB, rec.doc, "disabled", self.now())
                self.store.put(rec)
        if job.incomplete <= 0 and job.on_all_complete == "terminatejob" and job.state == "active":
            rec = self.store.get(job.account, "job", "", job.id)
            if rec is not None:
                self.terminate_job(rec, "AllTasksComplete")
