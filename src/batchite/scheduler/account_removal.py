"""A Batch account deleted through management: everything of it stops at once.

Unlike a pool or job delete (which wait for processes to end and nodes to be released), the
account's endpoint is gone the moment it is deleted: its job schedules' timers are cancelled,
its jobs leave the projection with their running tasks killed, and its pools' nodes are released
(their node agent processes end once their last node has left). The store's rows are removed by
the caller afterwards (store.accounts.delete), so nothing of the account remains.
"""

from __future__ import annotations

from batchite.scheduler.events import EventBus, PoolRemoved
from batchite.scheduler.live import KillReason, Projection
from batchite.scheduler.nodes import NodeManager
from batchite.scheduler.task_runs import TaskRunner
from batchite.scheduler.timers import ScheduleTimers
from batchite.store.base import Store


class AccountRemoval:
    def __init__(
        self,
        store: Store,
        projection: Projection,
        tasks: TaskRunner,
        nodes: NodeManager,
        timers: ScheduleTimers,
        events: EventBus,
    ) -> None:
        self.store = store
        self.projection = projection
        self.tasks = tasks
        self.nodes = nodes
        self.timers = timers
        self.events = events

    def remove(self, account: str) -> None:
        for schedule in self.store.schedules.list(account, ""):
            self.timers.cancel(account, schedule.id)
        for key, job in list(self.projection.jobs.items()):
            if key[0] != account:
                continue
            del self.projection.jobs[key]
            if job.wall_timer is not None:
                job.wall_timer.cancel()
            for task in list(job.tasks.values()):
                self.tasks.stop(job, task, KillReason.DELETE)
            job.ready.clear()
        for key, pool in list(self.projection.pools.items()):
            if key[0] != account:
                continue
            if not pool.deleting:
                pool.deleting = True
                self.events.publish(PoolRemoved(account, pool.key))  # no more autoscale
            for node in list(pool.nodes.values()):
                node.leaving = True
                node.pending_action = None
                self.nodes.drop(pool, node, update_pool=False)
            del self.projection.pools[key]
