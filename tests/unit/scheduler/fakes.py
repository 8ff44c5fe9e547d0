"""A fake node backend and a harness: the scheduler's parts in-process, on a manual clock.

The backend records what it is asked; a test says how each run ends (`finish`), and nodes come
up when the clock settles. Nothing spawns, nothing sleeps: time moves only by `clock.advance`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from batchite.agent.layout import TaskLaunch
from batchite.agent.process import ProcessOutcome
from batchite.clock import ManualClock
from batchite.compute.protocol import FileInfo, FileRefused, NodeEvents, NodeSpec
from batchite.domain.entities import Job, Pool, Task
from batchite.domain.entities.records import JobInternal, TaskInternal
from batchite.domain.states import JobState, PoolState, TaskState
from batchite.domain.urls import Urls
from batchite.scheduler import Scheduler, SchedulerSettings
from batchite.scheduler.live import LiveJob, LivePool
from batchite.store.sqlite import SqliteStore
from batchite.wire.enums import AllocationState, BatchNodeFillType
from batchite.wire.models import (
    BatchJob,
    BatchJobExecutionInfo,
    BatchPool,
    BatchPoolInfo,
    BatchTask,
    BatchTaskConstraints,
    BatchTaskExecutionInfo,
    BatchTaskSchedulingPolicy,
)
from batchite.wire.types import UNLIMITED, Duration

T0 = datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)


@dataclass
class FakeRun:
    node: NodeSpec
    launch: TaskLaunch
    killed: bool = False
    done: bool = False
    after: str = ""  # a successor waiting for this run's end (an agent's Start.after)


@dataclass
class FakeBackend:
    clock: ManualClock
    auto_ready: bool = True  # nodes come up as soon as the clock settles
    name: str = "fake"
    events: NodeEvents | None = None
    allocated: list[tuple[str, bool]] = field(default_factory=list)  # (node id, fresh)
    released: list[str] = field(default_factory=list)
    removed_dirs: list[tuple[str, str]] = field(default_factory=list)
    runs: dict[str, FakeRun] = field(default_factory=dict)  # by run id, in start order
    still_running: set[str] = field(default_factory=set)  # what attach reports as still running
    successors: bool = False  # queues successors as an agent does (takes_successors)

    def connect(self, events: NodeEvents, durable: Any) -> None:
        self.events = events

    def attach(self, node: NodeSpec) -> None:
        """After a restart: by default the node is found, with nothing still running on it."""
        self.clock.call_soon(lambda: self.events.node_attached(node, self.still_running) if self.events else None)

    def allocate(self, node: NodeSpec, *, fresh: bool = False) -> None:
        self.allocated.append((node.node_id, fresh))
        if self.auto_ready:
            self.clock.call_soon(lambda: self.ready(node))

    def ready(self, node: NodeSpec) -> None:
        assert self.events is not None
        self.events.node_ready(node)

    def release(self, node: NodeSpec) -> None:
        self.released.append(node.node_id)

    def start(self, node: NodeSpec, launch: TaskLaunch, after: str = "") -> None:
        waiting = after if after in self.runs and not self.runs[after].done else ""
        self.runs[launch.run_id] = FakeRun(node, launch, after=waiting)

    def takes_successors(self, node: NodeSpec) -> bool:
        return self.successors

    def kill(self, node: NodeSpec, run_id: str) -> None:
        run = self.runs.get(run_id)
        if run is not None and not run.done:
            run.killed = True
            code = None if run.after else 137  # a waiting successor never started
            self.clock.call_soon(lambda: self.finish(run_id, code, killed=True))

    def remove_directory(self, node: NodeSpec, relative_dir: str) -> None:
        self.removed_dirs.append((node.node_id, relative_dir))

    async def list_files(self, node: NodeSpec, base: str, recursive: bool) -> list[FileInfo]:
        return []

    async def stat_file(self, node: NodeSpec, base: str, path: str) -> FileInfo:
        raise FileRefused("not-found", "the fake backend has no files")

    async def read_file(
        self, node: NodeSpec, base: str, path: str, start: int | None, end: int | None
    ) -> AsyncIterator[bytes]:
        raise FileRefused("not-found", "the fake backend has no files")

    async def delete_file(self, node: NodeSpec, base: str, path: str, recursive: bool) -> None:
        raise FileRefused("not-found", "the fake backend has no files")

    async def shutdown(self, stop_agents: bool = False) -> None:
        pass

    # -- what a test does ---------------------------------------------------------------
    def running(self, task_id: str | None = None) -> list[str]:
        """Run ids not finished (of one task id: its processes, coordination ones included)."""
        return [
            r
            for r, run in self.runs.items()
            if not run.done and not run.after and task_id in (None, run.launch.task_id)
        ]

    def waiting(self) -> list[str]:
        """Successors not started yet (each waits for its `after` run's end)."""
        return [r for r, run in self.runs.items() if not run.done and run.after]

    def finish(self, run_id: str, exit_code: int | None = 0, *, killed: bool = False, **outcome: Any) -> None:
        run = self.runs[run_id]
        if run.done:
            return
        run.done = True
        run.after = ""
        now = self.clock.now()
        assert self.events is not None
        self.events.run_finished(run_id, ProcessOutcome(now, now, exit_code, killed=killed, **outcome))
        for successor in self.runs.values():
            if successor.after == run_id:
                successor.after = ""  # it starts now, on the slots this run left
        self.clock.settle()

    def finish_task(self, task_id: str, exit_code: int | None = 0) -> None:
        """End every process of a task that is running now."""
        for run_id in self.running(task_id):
            self.finish(run_id, exit_code)


class Harness:
    """A scheduler on an in-memory store, a fake backend and a manual clock."""

    def __init__(self, settings: SchedulerSettings | None = None, auto_ready: bool = True) -> None:
        self.clock = ManualClock(T0)
        self.store = SqliteStore(":memory:", self.clock)
        self.backend = FakeBackend(self.clock, auto_ready=auto_ready)
        self.urls = Urls(lambda _account: "http://batchite.test")
        self.scheduler = Scheduler(self.store, self.backend, self.clock, self.urls, None, settings)
        self.account = "acc"

    def settle(self) -> None:
        self.clock.settle()

    def advance(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    # -- entities -----------------------------------------------------------------------
    def pool(self, pool_id: str = "p", dedicated: int = 1, slots: int = 1, low: int = 0, **wire: Any) -> LivePool:
        now = self.clock.now()
        fill = wire.pop("fill", BatchNodeFillType.SPREAD)
        entity = Pool(
            self.account,
            "",
            BatchPool(
                id=pool_id,
                creation_time=now,
                state=PoolState.ACTIVE,
                state_transition_time=now,
                allocation_state=AllocationState.STEADY,
                allocation_state_transition_time=now,
                vm_size=wire.pop("vm_size", "standard_d2s_v3"),
                current_dedicated_nodes=0,
                current_low_priority_nodes=0,
                target_dedicated_nodes=dedicated,
                target_low_priority_nodes=low,
                task_slots_per_node=slots,
                task_scheduling_policy=BatchTaskSchedulingPolicy(node_fill_type=fill),
                **wire,
            ),
        )
        live = self.scheduler.nodes.add(entity)
        self.settle()
        return live

    def job(self, job_id: str = "j", pool_id: str = "p", internal: JobInternal | None = None, **wire: Any) -> LiveJob:
        now = self.clock.now()
        entity = Job(
            self.account,
            "",
            BatchJob(
                id=job_id,
                creation_time=now,
                state=JobState.ACTIVE,
                state_transition_time=now,
                pool_info=BatchPoolInfo(pool_id=pool_id),
                execution_info=BatchJobExecutionInfo(start_time=now, pool_id=pool_id),
                **wire,
            ),
            internal,
        )
        live = self.scheduler.jobs.add(entity)
        self.settle()
        return live

    def task(
        self, job: LiveJob, task_id: str, retries: int = 0, internal: TaskInternal | None = None, **wire: Any
    ) -> Task:
        now = self.clock.now()
        constraints = wire.pop(
            "constraints",
            BatchTaskConstraints(
                max_wall_clock_time=wire.pop("wall_clock", UNLIMITED),
                retention_time=wire.pop("retention", Duration(days=7)),
                max_task_retry_count=retries,
            ),
        )
        return Task(
            self.account,
            job.key,
            BatchTask(
                id=task_id,
                creation_time=now,
                state=TaskState.ACTIVE,
                state_transition_time=now,
                command_line=wire.pop("command_line", "/bin/true"),
                constraints=constraints,
                required_slots=wire.pop("required_slots", 1),
                execution_info=BatchTaskExecutionInfo(retry_count=0, requeue_count=0),
                **wire,
            ),
            internal,
        )

    def add(self, job: LiveJob, *tasks: Task) -> None:
        self.scheduler.jobs.add_tasks(job, list(tasks))
        self.settle()

    def stored_task(self, job_id: str, task_id: str) -> BatchTask:
        found = self.store.tasks.get(self.account, job_id.lower(), task_id)
        assert found is not None
        return found.wire

    def stored_job(self, job_id: str) -> BatchJob:
        found = self.store.jobs.get(self.account, "", job_id)
        assert found is not None
        return found.wire

    def node_of(self, job_id: str, task_id: str) -> str:
        info = self.stored_task(job_id, task_id).node_info
        assert info is not None and info.node_id
        return info.node_id
