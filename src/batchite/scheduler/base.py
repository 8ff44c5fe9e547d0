"""State and helpers shared by the scheduler's parts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batchite.agent.files import TaskStaging
from batchite.clock import Clock
from batchite.compute.base import NodeBackend
from batchite.scheduler.launch import build_staging
from batchite.scheduler.runtime import JobRt, NodeRt, PoolRt, TaskRt
from batchite.scheduler.schedules import ScheduleTimers
from batchite.storage.linked import LinkedStorage
from batchite.store.base import Record, Store


@dataclass
class Quotas:
    """Account limits, as Azure's defaults (batch-quota-limit): cores, pools, active jobs."""

    dedicated_cores: int = 900
    low_priority_cores: int = 100
    pools: int = 100
    active_jobs: int = 300


class SchedulerBase:
    linked_storage: LinkedStorage | None = None  # the accounts' auto-storage; set by the service

    def __init__(
        self,
        store: Store,
        backend: NodeBackend,
        clock: Clock,
        account_url: Callable[[str], str],
    ) -> None:
        self.store = store
        self.backend = backend
        self.clock = clock
        self.account_url = account_url
        self.pools: dict[tuple[str, str], PoolRt] = {}
        self.jobs: dict[tuple[str, str], JobRt] = {}
        self._kick_pending = False
        self._background: set[asyncio.Task[Any]] = set()
        self.listeners: list[Callable[[str, Record], None]] = []
        self._dirty_nodes: set[NodeRt] = set()
        self.quotas = Quotas()
        self.schedule_timers = ScheduleTimers(clock)  # job schedules; the service registers on_due

    def now(self) -> datetime:
        return self.clock.now()

    def task_staging(self, account: str, pool_id: str, doc: dict[str, Any], part: str = "task") -> TaskStaging | None:
        """Resource files, output files and application packages of a task document (scheduler/launch.py)."""
        pool = self.pools.get((account, pool_id.lower()))
        refs = pool.package_refs if pool is not None else None  # no store read on the hot path
        return build_staging(self.store, self.linked_storage, account, pool_id, doc, part=part, pool_refs=refs)

    def kick(self) -> None:
        """Ask for a dispatch pass at the end of this loop tick (many events, one pass)."""
        if self._kick_pending:
            return
        self._kick_pending = True
        try:
            asyncio.get_running_loop().call_soon(self._dispatch_now)
        except RuntimeError:
            self._kick_pending = False

    def _dispatch_now(self) -> None:
        self._kick_pending = False
        self.dispatch()

    # -- provided by the parts (tasks, nodes, jobs) of the Scheduler ---------------------------
    def dispatch(self) -> None:
        raise NotImplementedError

    def enqueue(self, job: JobRt, task: TaskRt, front: bool = False) -> None:
        raise NotImplementedError

    def stop_task(self, job: JobRt, task: TaskRt, reason: str, rec: Record | None = None) -> None:
        raise NotImplementedError

    def node_task_started(self, node: NodeRt, job: JobRt, task: TaskRt) -> None:
        raise NotImplementedError

    def node_task_finished(self, node: NodeRt, job: JobRt, task: TaskRt, succeeded: bool | None) -> None:
        raise NotImplementedError

    def check_job_complete(self, job: JobRt) -> None:
        raise NotImplementedError

    async def boot_node(self, pool: PoolRt, node: NodeRt, wipe: bool) -> None:
        raise NotImplementedError

    def node_booted(self, pool: PoolRt, node: NodeRt) -> None:
        raise NotImplementedError

    def set_node_state(self, pool: PoolRt, node: NodeRt, new: str) -> None:
        raise NotImplementedError

    def release_job(self, job: JobRt, then: Callable[[], None]) -> None:
        raise NotImplementedError

    def ensure_prepared(self, job: JobRt, node: NodeRt, proceed: Callable[[bool], None]) -> bool:
        raise NotImplementedError

    def _on_exit(self, job: JobRt, run: Any, outcome: Any) -> None:
        raise NotImplementedError

    def launch_multi(self, job: JobRt, run: Any, rec: Record, env: dict[str, str]) -> None:
        raise NotImplementedError

    def release_subtasks(self, job: JobRt, task: TaskRt) -> None:
        raise NotImplementedError

    def pick_nodes(self, pool: PoolRt, slots: int, job: JobRt, count: int) -> list[NodeRt] | None:
        raise NotImplementedError

    def reserve_subtasks(self, job: JobRt, task: TaskRt, nodes: list[NodeRt], slots: int) -> None:
        raise NotImplementedError

    def evict_tasks(self, node: NodeRt, reason: str) -> None:
        raise NotImplementedError

    def preempt_for(self, pool: PoolRt, job: JobRt) -> None:
        """Make room for a blocked job by requeueing tasks of lower-priority preemptible jobs."""

    def admit(self, job: JobRt, task: TaskRt, doc: dict[str, Any]) -> None:
        raise NotImplementedError

    def dependency_done(self, job: JobRt, task_key: str, rec: Record) -> None:
        raise NotImplementedError

    def dependency_forget(self, job: JobRt, task_key: str) -> None:
        raise NotImplementedError

    def task_completed_for_job(self, job: JobRt, rec: Record) -> None:
        raise NotImplementedError

    def count_completion(self, account: str, pool_key: str, succeeded: bool) -> None:
        """Feeds the autoscale samples ($SucceededTasks, $FailedTasks); a no-op without them."""

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def emit(self, event: str, record: Record) -> None:
        for listener in self.listeners:
            listener(event, record)

    def node_url(self, account: str, pool_id: str, node_id: str) -> str:
        return f"{self.account_url(account)}/pools/{pool_id}/nodes/{node_id}"
