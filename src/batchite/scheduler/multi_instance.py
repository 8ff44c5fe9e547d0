"""Multi-instance tasks: one primary and numberOfInstances-1 subtasks on distinct nodes.

The coordination command line runs on every node (primary included) with AZ_BATCH_HOST_LIST,
AZ_BATCH_MASTER_NODE and AZ_BATCH_IS_CURRENT_NODE_MASTER set; once every coordination command
has exited successfully, the application command line runs on the primary, and its exit is the
task's. Subtasks are recorded (kind "subtask") for `list subtasks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from batchite.agent.layout import TaskIdentity, task_relative_dir
from batchite.agent.process import ProcessOutcome
from batchite.clock import format_time
from batchite.domain.record import Record
from batchite.scheduler.base import SchedulerBase
from batchite.scheduler.runtime import JobRt, NodeRt, PoolRt, Run, TaskRt
from batchite.scheduler.tasks import outcome_failure

MASTER_PORT = 6000


@dataclass(eq=False)
class Coordination:
    pending: int
    failed: ProcessOutcome | None = None


def subtask_parent(job_key: str, task_key: str) -> str:
    return f"{job_key}/{task_key}"


class MultiInstance(SchedulerBase):
    def pick_nodes(self, pool: PoolRt, slots: int, job: JobRt, count: int) -> list[NodeRt] | None:
        nodes = [n for n in pool.nodes.values() if n.accepts(slots) and job.prep.get(n.id) != "failed"]
        if len(nodes) < count:
            return None
        return sorted(nodes, key=lambda n: -n.free)[:count]

    def reserve_subtasks(self, job: JobRt, task: TaskRt, nodes: list[NodeRt], slots: int) -> None:
        task.sub_runs = []
        for node in nodes:
            sub = Run(task=task, node=node, job_key=job.key, slots=slots)
            node.used += slots
            node.runs.add(sub)
            task.sub_runs.append(sub)
            self.node_task_started(node, job, task)

    def release_subtasks(self, job: JobRt, task: TaskRt) -> None:
        for sub in task.sub_runs:
            if sub.handle is not None:
                self.backend.kill_task(sub.handle)
            if sub in sub.node.runs:
                sub.node.runs.discard(sub)
                sub.node.used -= sub.slots
                self.node_task_finished(sub.node, job, task, None)
        task.sub_runs = []

    def launch_multi(self, job: JobRt, run: Run, rec: Record, env: dict[str, str]) -> None:
        task = run.task
        settings = rec.doc.get("multiInstanceSettings") or {}
        runs = [run, *task.sub_runs]
        hosts = ",".join(r.node.ip for r in runs)
        state = Coordination(pending=len(runs))
        self.store.delete_children(task.account, "subtask", subtask_parent(job.key, task.key))
        for index, each in enumerate(runs):
            identity = self._identity(job, task, each.node, index == 0, hosts, run.node.ip, env)
            identity.staging = self.task_staging(task.account, each.node.spec.pool_id, rec.doc, part="coordination")
            if index:
                self._subtask(job, task, index, each.node, {"state": "running", "startTime": format_time(self.now())})
            each.handle = self.backend.start_task(
                each.node.spec, identity, str(settings.get("coordinationCommandLine") or "true"),
                partial(self._coordinated, job, run, rec, env, index, state),
            )

    def _identity(
        self, job: JobRt, task: TaskRt, node: NodeRt, master: bool, hosts: str, master_ip: str, env: dict[str, str]
    ) -> TaskIdentity:
        extra = {
            "AZ_BATCH_HOST_LIST": hosts,
            "AZ_BATCH_MASTER_NODE": f"{master_ip}:{MASTER_PORT}",
            "AZ_BATCH_IS_CURRENT_NODE_MASTER": "true" if master else "false",
            "AZ_BATCH_NODE_IP": node.ip,
        }
        return TaskIdentity(
            job_id=job.id, task_id=task.id, relative_dir=task_relative_dir(job.id, task.id),
            user_environment=env, extra_environment=extra, job_prep_relative_dir=job.prep_dir,
        )

    def _coordinated(
        self, job: JobRt, run: Run, rec: Record, env: dict[str, str], index: int, state: Coordination,
        outcome: ProcessOutcome,
    ) -> None:
        failure = outcome_failure(outcome, None)
        if index:
            sub = run.task.sub_runs[index - 1] if index - 1 < len(run.task.sub_runs) else None
            if sub is not None:
                sub.handle = None
            info: dict[str, Any] = {"state": "completed", "endTime": format_time(self.now()),
                                    "result": "failure" if failure else "success"}
            if outcome.exit_code is not None:
                info["exitCode"] = outcome.exit_code
            if failure:
                info["failureInfo"] = failure
            if sub is not None:
                self._subtask(job, run.task, index, sub.node, info)
        if failure and state.failed is None:
            state.failed = outcome
        state.pending -= 1
        if state.pending:
            return
        if run.detached or run.task.run is not run:
            self._on_exit(job, run, outcome)  # only frees the slots of a task that moved on
            return
        if state.failed is not None:
            self._on_exit(job, run, state.failed)
            return
        hosts = ",".join(r.node.ip for r in [run, *run.task.sub_runs])
        identity = self._identity(job, run.task, run.node, True, hosts, run.node.ip, env)
        identity.staging = self.task_staging(run.task.account, run.node.spec.pool_id, rec.doc, part="application")
        run.handle = self.backend.start_task(
            run.node.spec, identity, str(rec.doc.get("commandLine", "")), partial(self._on_exit, job, run)
        )

    def _subtask(self, job: JobRt, task: TaskRt, index: int, node: NodeRt, info: dict[str, Any]) -> None:
        parent = subtask_parent(job.key, task.key)
        rec = self.store.get(task.account, "subtask", parent, str(index))
        now = format_time(self.now())
        if rec is None:
            node_url = self.node_url(node.spec.account, node.spec.pool_id, node.id)
            rel_dir = task_relative_dir(job.id, task.id)
            doc = {"id": index, "nodeInfo": {
                "affinityId": f"TVM:{node.id}", "nodeUrl": node_url, "poolId": node.spec.pool_id,
                "nodeId": node.id, "taskRootDirectory": rel_dir, "taskRootDirectoryUrl": f"{node_url}/files/{rel_dir}",
            }}
            rec = Record(task.account, "subtask", parent, str(index), doc)
            self.store.insert(rec)
        previous = rec.doc.get("state")
        if info.get("state") and previous and previous != info["state"]:
            rec.doc["previousState"] = previous
            rec.doc["previousStateTransitionTime"] = rec.doc.get("stateTransitionTime", now)
        if info.get("state") != previous:
            rec.doc["stateTransitionTime"] = now
        rec.doc.update(info)
        self.store.put(rec)
