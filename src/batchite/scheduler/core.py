"""The Scheduler: the task, node and job parts together, and recovery from the store at start."""

from __future__ import annotations

from typing import Any

from batchite.clock import format_time
from batchite.domain import states
from batchite.scheduler.autoscaling import AutoScaler
from batchite.scheduler.dependencies import Dependencies
from batchite.scheduler.jobs import JobLifecycle
from batchite.scheduler.multi_instance import MultiInstance
from batchite.scheduler.node_tasks import NodeTasks
from batchite.scheduler.preemption import Preemption
from batchite.scheduler.runtime import runtime_of_task
from batchite.scheduler.tasks import TaskLifecycle


class Scheduler(TaskLifecycle, AutoScaler, JobLifecycle, Dependencies, NodeTasks, MultiInstance, Preemption):
    """One per service; every method runs on the event loop thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.init_autoscale()
        self.init_preemption()

    def recover(self) -> None:
        """Rebuild the projection from the store. Running tasks are requeued; none is lost."""
        now = self.now()
        for rec in list(self.store.all("pool")):
            if rec.doc.get("state") == "deleting":
                self.delete_pool(rec.account, rec.id)
                continue
            pool = self.pool_runtime(rec)
            nodes = self.store.list(rec.account, "node", pool.key)
            for node_rec in nodes:
                self.restore_node(pool, node_rec)
            doc = rec.doc
            target_d = int(doc.get("targetDedicatedNodes") or 0)
            target_l = int(doc.get("targetLowPriorityNodes") or 0)
            have_d = sum(1 for n in pool.nodes.values() if n.spec.is_dedicated)
            have_l = len(pool.nodes) - have_d
            if (have_d, have_l) != (target_d, target_l) and doc.get("allocationState") != "steady":
                self.resize(pool, target_d, target_l)
        for rec in list(self.store.all("job")):
            state = rec.doc.get("state")
            if state == "deleting":
                self.delete_job(rec.account, rec.id)
                continue
            if state == "completed":
                continue
            if state == "terminating":
                self.terminate_job(
                    rec, str((rec.doc.get("executionInfo") or {}).get("terminateReason") or "UserTerminate")
                )
                continue
            if state == "disabling":
                states.transition(states.JOB, rec.doc, "disabled", now)
                self.store.put(rec)
            elif state == "enabling":
                states.transition(states.JOB, rec.doc, "active", now)
                self.store.put(rec)
            job = self.job_runtime(rec)
            if rec.doc.get("usesTaskDependencies"):
                for done in self.store.list(rec.account, "task", job.key, where="state = 'completed'"):
                    self.dependency_done(job, done.key, done)
            for task_rec in self.store.list(rec.account, "task", job.key, where="state != 'completed'"):
                if task_rec.doc.get("state") in ("running", "preparing"):
                    info = task_rec.doc.setdefault("executionInfo", {"retryCount": 0, "requeueCount": 0})
                    info["requeueCount"] = int(info.get("requeueCount", 0)) + 1
                    info["lastRequeueTime"] = format_time(now)
                    states.transition(states.TASK, task_rec.doc, "active", now)
                    self.store.put(task_rec)
                task = runtime_of_task(rec.account, job.key, task_rec)
                job.incomplete += 1
                self.admit(job, task, task_rec.doc)
            self.check_job_complete(job)
        for rec in self.store.all("task"):
            if rec.doc.get("state") == "completed":
                self.schedule_retention(rec)
        for rec in self.store.all("pool"):
            if rec.doc.get("enableAutoScale") and rec.doc.get("state") == "active":
                self.arm_autoscale(rec)
        self.start_sampling()
        self.start_preemption()
        self.kick()

    def shutdown(self) -> None:
        self.schedule_timers.cancel_all()
        self.stop_autoscale()
        self.stop_preemption()
        self.backend.shutdown()
