"""Tasks that belong to a node rather than to a job's task list: the pool's start task, and a job's
preparation and release tasks. Each runs as a real process on the node, retried up to its retry
count, and reports what it does as a `SideRunInfo`, which its owner turns into the wire shape
(startTaskInfo, jobPreparationTaskExecutionInfo, jobReleaseTaskExecutionInfo).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import msgspec

from batchite.agent.container_tasks import container_name
from batchite.agent.layout import TaskLaunch
from batchite.agent.process import ProcessOutcome
from batchite.clock import Clock
from batchite.compute.protocol import NodeBackend
from batchite.scheduler.failures import outcome_failure
from batchite.scheduler.live import LiveNode
from batchite.scheduler.runs import RunTable
from batchite.wire.enums import BatchTaskExecutionResult
from batchite.wire.models import BatchTaskContainerExecutionInfo, BatchTaskFailureInfo


@dataclass
class SideRunInfo:
    running: bool = True
    start_time: datetime | None = None
    end_time: datetime | None = None
    exit_code: int | None = None
    result: BatchTaskExecutionResult | None = None
    failure_info: BatchTaskFailureInfo | None = None
    retry_count: int = 0
    last_retry_time: datetime | None = None
    container_info: BatchTaskContainerExecutionInfo | None = None  # a run in a container: which


@dataclass(eq=False)
class SideRun:
    node: LiveNode
    launch: TaskLaunch  # its run_id is replaced for every attempt
    max_retries: int
    wall_clock: timedelta | None
    on_update: Callable[[SideRunInfo], None]
    on_done: Callable[[bool], None]
    info: SideRunInfo = field(default_factory=SideRunInfo)


class SideTasks:
    def __init__(self, backend: NodeBackend, clock: Clock, runs: RunTable, alive: Callable[[LiveNode], bool]) -> None:
        self.backend = backend
        self.clock = clock
        self.runs = runs
        self.alive = alive  # is the node still in its pool

    def run(self, side: SideRun) -> None:
        info = side.info
        info.running, info.start_time = True, self.clock.now()
        info.end_time = info.exit_code = info.result = info.failure_info = None
        run_id = self.runs.new(partial(self._exited, side))
        side.launch.run_id = run_id
        info.container_info = None
        if side.launch.container is not None:
            info.container_info = BatchTaskContainerExecutionInfo(container_id=container_name(run_id), state="running")
        side.on_update(info)
        self.backend.start(side.node.spec, side.launch)
        if side.wall_clock is not None and not getattr(side.wall_clock, "unlimited", False):
            self.clock.call_later(side.wall_clock, partial(self.backend.kill, side.node.spec, run_id))

    def _exited(self, side: SideRun, outcome: ProcessOutcome) -> None:
        info = side.info
        info.end_time = self.clock.now()  # times come from the service clock, as every other
        if info.container_info is not None:
            info.container_info = msgspec.structs.replace(info.container_info, state="exited")
        if outcome.exit_code is not None:
            info.exit_code = outcome.exit_code
        failure = outcome_failure(outcome)
        info.result = BatchTaskExecutionResult.FAILURE if failure else BatchTaskExecutionResult.SUCCESS
        info.failure_info = failure
        retries_left = side.max_retries < 0 or info.retry_count < side.max_retries
        if failure and retries_left and self.alive(side.node):
            info.retry_count += 1
            info.last_retry_time = self.clock.now()
            self.run(side)
            return
        info.running = False
        side.on_update(info)
        side.on_done(failure is None)
