"""Dispatch: ready tasks onto free slots, highest job priority first, then by job age.

One pass per loop tick at most (`Kick`); each job's ready queue is drained in order while nodes of
its pool accept its tasks. Placement follows the pool's nodeFillType: `spread` picks the node with
the most free slots, `pack` the one with the fewest that still fit.
"""

from __future__ import annotations

from batchite.scheduler.live import LiveJob, LiveNode, LivePool, LiveTask, PrepState, Projection, Run
from batchite.scheduler.multi_instance import MultiInstance
from batchite.scheduler.preemption import Preemption
from batchite.scheduler.queue import ReadyQueue
from batchite.scheduler.task_runs import TaskRunner


def pick_node(pool: LivePool, slots: int, job: LiveJob) -> LiveNode | None:
    best: LiveNode | None = None
    pack = pool.fill_pack
    for node in pool.nodes.values():
        if not node.accepts(slots) or job.prep.get(node.id) == PrepState.FAILED:
            continue
        if best is None or (node.free < best.free if pack else node.free > best.free):
            best = node
    return best


def _spent(run: Run) -> bool:
    """A run no successor can follow any more: it has one, or it is being stopped."""
    return run.successor is not None or run.detached or run.kill_reason is not None


class Dispatcher:
    def __init__(
        self,
        projection: Projection,
        tasks: TaskRunner,
        multi: MultiInstance,
        preemption: Preemption,
    ) -> None:
        self.projection = projection
        self.tasks = tasks
        self.multi = multi
        self.preemption = preemption

    def dispatch(self) -> None:
        by_pool: dict[tuple[str, str], list[LiveJob]] = {}
        for job in self.projection.jobs.values():
            if job.ready and job.can_run_more():
                by_pool.setdefault((job.account, job.pool_key), []).append(job)
        for pool_ref, jobs in by_pool.items():
            pool = self.projection.pools.get(pool_ref)
            if pool is None or pool.deleting:
                continue
            jobs.sort(key=lambda j: (-j.priority, j.seq))
            for job in jobs:
                self._drain(pool, job)

    def _drain(self, pool: LivePool, job: LiveJob) -> None:
        parked: list[LiveTask] = []  # tasks no node of this pool can ever hold
        while job.ready and job.can_run_more():
            task = job.ready[0]
            if not ReadyQueue.is_queued(job, task):
                job.ready.popleft()
                continue
            slots = pool.slots_per_node if task.exclusive else task.required_slots
            if task.instances > 1:
                nodes = self.multi.pick_nodes(pool, slots, job, task.instances)
                if nodes is None:
                    if task.instances > len(pool.nodes) or slots > pool.slots_per_node:
                        parked.append(job.ready.popleft())
                        continue
                    break
                job.ready.popleft()
                self.multi.reserve(job, task, nodes[1:], slots)
                self.tasks.start(job, task, nodes[0], slots)
                continue
            node = pick_node(pool, slots, job)
            if node is None:
                if slots > pool.slots_per_node:
                    parked.append(job.ready.popleft())
                    continue
                before = None if task.exclusive else self._followable(job, slots)
                if before is not None:
                    job.ready.popleft()
                    self.tasks.follow(job, task, before)
                    continue
                self.preemption.make_room(pool, job)
                break
            job.ready.popleft()
            self.tasks.start(job, task, node, slots)
        job.ready.extendleft(reversed(parked))

    @staticmethod
    def _followable(job: LiveJob, slots: int) -> Run | None:
        """A run of the job's own that a task of `slots` may follow (see Run.successor): the job's
        parallelism and priority stay as they were, and its preparation task has run on that node."""
        for run in list(job.followable):
            if _spent(run):
                job.followable.discard(run)
            elif run.started and run.slots >= slots and run.node.accepts(0):  # the node takes new work
                return run
        return None
