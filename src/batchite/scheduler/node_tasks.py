"""Tasks that belong to a node rather than to a job's task list: the pool's start task, and a job's
preparation and release tasks. Each runs as a real process on the node, retried up to its
maxTaskRetryCount, and reports into its own info document (startTaskInfo on the node,
jobPreparationTaskExecutionInfo / jobReleaseTaskExecutionInfo in the job's status list).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from batchite.agent.layout import TaskIdentity
from batchite.agent.process import ProcessOutcome
from batchite.clock import format_time, parse_duration
from batchite.domain.record import Record
from batchite.scheduler.base import SchedulerBase
from batchite.scheduler.runtime import JobRt, NodeRt, PoolRt
from batchite.scheduler.tasks import UNLIMITED, outcome_failure

START_DIR = "startup"


@dataclass(eq=False)
class SideRun:
    node: NodeRt
    doc: dict[str, Any]  # the startTask / jobPreparationTask / jobReleaseTask document
    identity: TaskIdentity
    on_update: Callable[[dict[str, Any]], None]
    on_done: Callable[[bool], None]
    info: dict[str, Any] = field(default_factory=lambda: {"retryCount": 0})
    handle: Any = None


class NodeTasks(SchedulerBase):
    # -- running one side task with retries ------------------------------------------------
    def run_side_task(self, run: SideRun) -> None:
        now = format_time(self.now())
        run.info.update({"state": "running", "startTime": now})
        for stale in ("endTime", "exitCode", "result", "failureInfo"):
            run.info.pop(stale, None)
        run.on_update(run.info)
        run.handle = self.backend.start_task(
            run.node.spec, run.identity, str(run.doc.get("commandLine", "")), partial(self._side_exit, run)
        )
        limit = parse_duration((run.doc.get("constraints") or {}).get("maxWallClockTime"))
        if limit is not None and limit < UNLIMITED:
            self.clock.call_later(limit, partial(self.backend.kill_task, run.handle))

    def _side_exit(self, run: SideRun, outcome: ProcessOutcome) -> None:
        info = run.info
        info["endTime"] = format_time(self.now())  # times come from the service clock, as every other
        if outcome.exit_code is not None:
            info["exitCode"] = outcome.exit_code
        failure = outcome_failure(outcome, None)
        info["result"] = "failure" if failure else "success"
        if failure:
            info["failureInfo"] = failure
        max_retries = int(((run.doc.get("constraints") or {}).get("maxTaskRetryCount")) or run.doc.get(
            "maxTaskRetryCount", 0) or 0)
        retries = int(info.get("retryCount", 0))
        if failure and (max_retries < 0 or retries < max_retries) and self._node_alive(run.node):
            info["retryCount"] = retries + 1
            info["lastRetryTime"] = format_time(self.now())
            self.run_side_task(run)
            return
        info["state"] = "completed"
        run.on_update(info)
        run.on_done(failure is None)

    def _node_alive(self, node: NodeRt) -> bool:
        pool = self.pools.get((node.spec.account, node.spec.pool_id.lower()))
        return pool is not None and pool.nodes.get(node.id) is node

    # -- the pool's start task ------------------------------------------------------------
    def node_booted(self, pool: PoolRt, node: NodeRt, rec: Record | None = None) -> None:
        """A node finished allocating or rebooting: run the start task, then it is idle."""
        pool_rec = self.store.get(pool.account, "pool", "", pool.id)
        start = (pool_rec.doc.get("startTask") if pool_rec else None) or None
        if not start:
            self.set_node_state(pool, node, "idle")
            self.kick()
            return
        wait = start.get("waitForSuccess", True) is not False
        self.set_node_state(pool, node, "waitingforstarttask" if wait else "idle")
        env = {e["name"]: e.get("value", "") for e in start.get("environmentSettings") or []}
        identity = TaskIdentity(job_id="", task_id="starttask", relative_dir=START_DIR, user_environment=env,
                                staging=self.task_staging(pool.account, pool.id, start))
        run = SideRun(node, start, identity, partial(self._start_task_info, pool, node),
                      partial(self._start_task_done, pool, node, wait))
        self.run_side_task(run)
        self.kick()

    def _start_task_info(self, pool: PoolRt, node: NodeRt, info: dict[str, Any]) -> None:
        rec = self.store.get(pool.account, "node", pool.key, node.id)
        if rec is not None:
            rec.doc["startTaskInfo"] = dict(info)
            self.store.put(rec)

    def _start_task_done(self, pool: PoolRt, node: NodeRt, wait: bool, ok: bool) -> None:
        if not self._node_alive(node) or not wait or node.state != "waitingforstarttask":
            return
        self.set_node_state(pool, node, "idle" if ok else "starttaskfailed")
        self.kick()

    # -- a job's preparation task -----------------------------------------------------------
    def _status(self, job: JobRt, node: NodeRt) -> Record:
        rec = self.store.get(job.account, "prepstatus", job.key, node.id)
        if rec is None:
            node_url = self.node_url(node.spec.account, node.spec.pool_id, node.id)
            rec = Record(job.account, "prepstatus", job.key, node.id,
                         {"poolId": node.spec.pool_id, "nodeId": node.id, "nodeUrl": node_url})
            self.store.insert(rec)
        return rec

    def _write_status(self, job: JobRt, node: NodeRt, field_name: str, rel_dir: str, info: dict[str, Any]) -> None:
        rec = self._status(job, node)
        node_url = self.node_url(node.spec.account, node.spec.pool_id, node.id)
        rec.doc[field_name] = {**info, "taskRootDirectory": rel_dir,
                               "taskRootDirectoryUrl": f"{node_url}/files/{rel_dir}"}
        self.store.put(rec)

    def ensure_prepared(self, job: JobRt, node: NodeRt, proceed: Callable[[bool], None]) -> bool:
        """True when the job's tasks may run on the node now; otherwise `proceed(ok)` is called later."""
        if job.prep_dir is None:
            return True
        state = job.prep.get(node.id)
        if state == "succeeded":
            return True
        if state == "failed":
            proceed(False)
            return False
        job.prep_waiters.setdefault(node.id, []).append(proceed)
        if state == "running":
            return False
        job_rec = self.store.get(job.account, "job", "", job.id)
        prep = (job_rec.doc.get("jobPreparationTask") if job_rec else None) or {}
        wait = prep.get("waitForSuccess", True) is not False
        job.prep[node.id] = "running"
        env = dict(job.common_env)
        env.update({e["name"]: e.get("value", "") for e in prep.get("environmentSettings") or []})
        identity = TaskIdentity(job_id=job.id, task_id=str(prep.get("id") or "jobpreparation"),
                                relative_dir=job.prep_dir, user_environment=env,
                                staging=self.task_staging(job.account, node.spec.pool_id, prep))
        run = SideRun(node, prep, identity,
                      partial(self._write_status, job, node, "jobPreparationTaskExecutionInfo", job.prep_dir),
                      partial(self._prep_done, job, node, wait))
        self.run_side_task(run)
        if not wait:
            job.prep_waiters.pop(node.id, None)
            return True
        return False

    def _prep_done(self, job: JobRt, node: NodeRt, wait: bool, ok: bool) -> None:
        job.prep[node.id] = "succeeded" if ok or not wait else "failed"
        for proceed in job.prep_waiters.pop(node.id, []):
            proceed(ok or not wait)
        self.kick()

    # -- a job's release task ---------------------------------------------------------------
    def release_job(self, job: JobRt, then: Callable[[], None]) -> None:
        """Run the job release task on every node that ran the preparation task, then `then()`."""
        job_rec = self.store.get(job.account, "job", "", job.id)
        release = (job_rec.doc.get("jobReleaseTask") if job_rec else None) or None
        nodes = [n for p in self.pools.values() if p.account == job.account for n in p.nodes.values()
                 if n.id in job.prep]
        if not release or not nodes or job.prep_dir is None:
            then()
            return
        rel_dir = job.prep_dir.rsplit("/", 1)[0] + "/jobrelease"
        pending = {n.id for n in nodes}

        def done(node_id: str, _ok: bool) -> None:
            pending.discard(node_id)
            if not pending:
                then()

        env = dict(job.common_env)
        env.update({e["name"]: e.get("value", "") for e in release.get("environmentSettings") or []})
        for node in nodes:
            identity = TaskIdentity(job_id=job.id, task_id=str(release.get("id") or "jobrelease"),
                                    relative_dir=rel_dir, user_environment=env, job_prep_relative_dir=job.prep_dir,
                                    staging=self.task_staging(job.account, node.spec.pool_id, release))
            self.run_side_task(SideRun(
                node, release, identity,
                partial(self._write_status, job, node, "jobReleaseTaskExecutionInfo", rel_dir),
                partial(done, node.id),
            ))


