"""A pool's start task: run on every node once it has booted; with `waitForSuccess` the node
takes no task until it succeeded (`waitingForStartTask`, then `idle` or `startTaskFailed`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from batchite.agent.layout import TaskLaunch
from batchite.clock import Clock
from batchite.domain.states import NodeState
from batchite.scheduler.containers import task_container
from batchite.scheduler.kick import Kick
from batchite.scheduler.live import LiveNode, LivePool, Projection, environment_of
from batchite.scheduler.run_as import run_as
from batchite.scheduler.side_tasks import SideRun, SideRunInfo, SideTasks
from batchite.scheduler.staging import Staging
from batchite.store.base import Store
from batchite.wire.enums import BatchStartTaskState
from batchite.wire.models import BatchStartTaskInfo

START_DIR = "startup"


class StartTasks:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        projection: Projection,
        side_tasks: SideTasks,
        staging: Staging,
        kick: Kick,
        set_state: Callable[[LiveNode, NodeState], None],
    ) -> None:
        self.store = store
        self.clock = clock
        self.projection = projection
        self.side_tasks = side_tasks
        self.staging = staging
        self.kick = kick
        self.set_state = set_state

    def booted(self, live: LivePool, node: LiveNode) -> None:
        """A node finished allocating or rebooting: run the start task, then it is idle."""
        start = live.entity.wire.start_task
        if start is None:
            self.set_state(node, NodeState.IDLE)
            self.kick()
            return
        wait = start.wait_for_success is not False
        self.set_state(node, NodeState.WAITING_FOR_START_TASK if wait else NodeState.IDLE)
        launch = TaskLaunch(
            run_id="",
            command_line=start.command_line,
            job_id="",
            task_id="starttask",
            relative_dir=START_DIR,
            user_environment=environment_of(start.environment_settings),
            staging=self.staging.build(live.account, pool_refs=live.package_refs, resource_files=start.resource_files),
            run_as=run_as(start.user_identity),
            container=task_container(start.container_settings),
        )
        self.side_tasks.run(
            SideRun(
                node,
                launch,
                max_retries=start.max_task_retry_count or 0,
                wall_clock=None,
                on_update=partial(self._info, node),
                on_done=partial(self._done, node, wait),
            )
        )
        self.kick()

    def _info(self, node: LiveNode, info: SideRunInfo) -> None:
        node.entity.wire.start_task_info = BatchStartTaskInfo(
            state=BatchStartTaskState.RUNNING if info.running else BatchStartTaskState.COMPLETED,
            start_time=info.start_time or self.clock.now(),
            end_time=info.end_time,
            exit_code=info.exit_code,
            failure_info=info.failure_info,
            retry_count=info.retry_count,
            last_retry_time=info.last_retry_time,
            result=info.result,
            container_info=info.container_info,
        )
        self.store.nodes.update(node.entity)

    def _done(self, node: LiveNode, wait: bool, ok: bool) -> None:
        if self.projection.pool_of(node) is None or not wait or node.state != NodeState.WAITING_FOR_START_TASK:
            return
        self.set_state(node, NodeState.IDLE if ok else NodeState.START_TASK_FAILED)
        self.kick()
