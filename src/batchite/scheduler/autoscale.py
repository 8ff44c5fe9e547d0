"""The autoscale loop: samples every pool's metrics, evaluates formulas every evaluation interval.

Samples are taken every SAMPLE_PERIOD of service time (the clock's time scale applies), kept for
SAMPLE_HISTORY, and read by formulas through `$PendingTasks.GetSample(...)` and friends.
"""

from __future__ import annotations

import os
from collections import deque
from datetime import datetime, timedelta
from functools import partial

from batchite import autoscale
from batchite.autoscale.catalog import SAMPLED_VARIABLES
from batchite.clock import Clock, Timer
from batchite.domain import vmsizes
from batchite.domain.states import JobState, NodeState
from batchite.scheduler.events import EventBus, PoolRemoved, TaskCompleted
from batchite.scheduler.live import LivePool, Projection
from batchite.scheduler.nodes import NodeManager
from batchite.store.base import Store
from batchite.wire.enums import AllocationState, BatchNodeDeallocationOption, BatchPoolState, BatchTaskExecutionResult
from batchite.wire.models import AutoScaleRun, AutoScaleRunError, NameValuePair

SAMPLE_PERIOD = timedelta(seconds=30)
SAMPLE_HISTORY = timedelta(hours=1)
DEFAULT_INTERVAL = timedelta(minutes=15)
METRICS = tuple(sorted(name.lstrip("$") for name in SAMPLED_VARIABLES))  # the sampled service variables
USABLE = (NodeState.IDLE, NodeState.RUNNING)


class PoolSamples(autoscale.SampleSource):
    def __init__(self) -> None:
        self.history: dict[str, deque[tuple[datetime, float]]] = {name: deque() for name in METRICS}

    def samples(self, name: str) -> list[tuple[datetime, float]]:
        return list(self.history.get(name.lstrip("$"), ()))

    def add(self, when: datetime, values: dict[str, float]) -> None:
        for name, value in values.items():
            series = self.history[name]
            series.append((when, float(value)))
            while series and when - series[0][0] > SAMPLE_HISTORY:
                series.popleft()


def run_error(
    code: str, message: str, values: tuple[tuple[str, str], ...] | list[tuple[str, str]]
) -> AutoScaleRunError:
    return AutoScaleRunError(
        code=code, message=message, error_values=[NameValuePair(name=n, value=v) for n, v in values]
    )


class AutoScaler:
    def __init__(
        self, store: Store, clock: Clock, projection: Projection, nodes: NodeManager, events: EventBus
    ) -> None:
        self.store = store
        self.clock = clock
        self.projection = projection
        self.nodes = nodes
        self.samples: dict[tuple[str, str], PoolSamples] = {}
        self.timers: dict[tuple[str, str], Timer] = {}
        self.completed: dict[tuple[str, str], list[int]] = {}  # since the last sample: [succeeded, failed]
        self._sampler: Timer | None = None
        events.subscribe(TaskCompleted, self._task_completed)
        events.subscribe(PoolRemoved, lambda e: self.disarm(e.account, e.pool_key))

    # -- sampling -----------------------------------------------------------------------
    def start(self) -> None:
        self._sample_all()

    def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()

    def _task_completed(self, event: TaskCompleted) -> None:
        info = event.task.wire.execution_info
        succeeded = info is not None and info.result == BatchTaskExecutionResult.SUCCESS
        counts = self.completed.setdefault((event.task.account, event.pool_key), [0, 0])
        counts[0 if succeeded else 1] += 1

    def _sample_all(self) -> None:
        now = self.clock.now()
        load = os.getloadavg()[0] / (os.cpu_count() or 1) * 100 if hasattr(os, "getloadavg") else 0.0
        for ref, pool in list(self.projection.pools.items()):
            self.samples.setdefault(ref, PoolSamples()).add(now, self._metrics(pool, min(load, 100.0)))
        self._sampler = self.clock.call_later(SAMPLE_PERIOD, self._sample_all)

    def _metrics(self, pool: LivePool, load: float) -> dict[str, float]:
        active = running = 0
        for job in self.projection.jobs.values():
            if job.account == pool.account and job.pool_key == pool.key and job.state == JobState.ACTIVE:
                running += job.running
                active += sum(1 for t in job.tasks.values() if t.run is None or t.run.waiting)
        succeeded, failed = self.completed.pop((pool.account, pool.key), [0, 0])
        nodes = [n for n in pool.nodes.values() if n.state in USABLE]
        size = vmsizes.find(pool.vm_size)
        memory = size.memory_mb * 1024 * 1024 if size is not None else 0
        busy = sum(n.used for n in nodes) / max(1, sum(n.slots for n in nodes))
        return {
            "CPUPercent": max(load, busy * 100) if nodes else 0.0,
            "WallClockSeconds": SAMPLE_PERIOD.total_seconds() * len(nodes),
            "MemoryBytes": memory * busy * len(nodes),
            "DiskBytes": 0.0,
            "DiskReadBytes": 0.0,
            "DiskWriteBytes": 0.0,
            "DiskReadOps": 0.0,
            "DiskWriteOps": 0.0,
            "NetworkInBytes": 0.0,
            "NetworkOutBytes": 0.0,
            "SampleNodeCount": float(len(nodes)),
            "ActiveTasks": float(active),
            "RunningTasks": float(running),
            "PendingTasks": float(active + running),
            "SucceededTasks": float(succeeded),
            "FailedTasks": float(failed),
        }

    # -- evaluation ---------------------------------------------------------------------
    def evaluate(self, pool: LivePool, formula: str) -> tuple[autoscale.EvaluationResult | None, AutoScaleRun]:
        """Evaluate a formula against the pool's samples: the result (None when it does not parse)
        and the autoScaleRun to show."""
        now = self.clock.now()
        try:
            program = autoscale.parse(formula)
        except autoscale.FormulaSyntaxError as err:
            return None, AutoScaleRun(timestamp=now, error=run_error(err.code, err.message, err.values))
        wire = pool.entity.wire
        dedicated, low = pool.counts()
        inputs = autoscale.EvaluationInputs(
            now=now,
            samples=self.samples.get((pool.account, pool.key)) or PoolSamples(),
            current_dedicated=dedicated,
            current_low_priority=low,
            target_dedicated=wire.target_dedicated_nodes or 0,
            target_low_priority=wire.target_low_priority_nodes or 0,
            task_slots_per_node=pool.slots_per_node,
            usable_node_count=sum(1 for n in pool.nodes.values() if n.state in USABLE),
            preempted_node_count=sum(1 for n in pool.nodes.values() if n.state == NodeState.PREEMPTED),
            sample_period=SAMPLE_PERIOD,
        )
        result = autoscale.evaluate(program, inputs)
        run = AutoScaleRun(timestamp=now, results=result.results)
        if result.error is not None:
            run.error = run_error(result.error.code, result.error.message, result.error.values)
        return result, run

    def arm(self, pool: LivePool, delay: timedelta = timedelta(0)) -> None:
        self.disarm(pool.account, pool.key)
        self.timers[(pool.account, pool.key)] = self.clock.call_later(delay, partial(self._due, pool.account, pool.key))

    def disarm(self, account: str, pool_key: str) -> None:
        timer = self.timers.pop((account, pool_key.lower()), None)
        if timer is not None:
            timer.cancel()

    def _due(self, account: str, pool_key: str) -> None:
        self.timers.pop((account, pool_key), None)
        pool = self.projection.pools.get((account, pool_key))
        wire = pool.entity.wire if pool is not None else None
        if pool is None or wire is None or not wire.enable_auto_scale or wire.state != BatchPoolState.ACTIVE:
            return
        self.apply(pool)
        self.arm(pool, wire.auto_scale_evaluation_interval or DEFAULT_INTERVAL)

    def apply(self, pool: LivePool) -> AutoScaleRun:
        """Evaluate the pool's formula now, record autoScaleRun, resize to the targets if it succeeded."""
        wire = pool.entity.wire
        result, run = self.evaluate(pool, wire.auto_scale_formula or "")
        wire.auto_scale_run = run
        resize = (
            result is not None
            and result.error is None
            and wire.allocation_state == AllocationState.STEADY
            and (result.target_dedicated, result.target_low_priority)
            != (wire.target_dedicated_nodes, wire.target_low_priority_nodes)
        )
        if resize and result is not None:
            wire.target_dedicated_nodes = result.target_dedicated
            wire.target_low_priority_nodes = result.target_low_priority
        self.nodes.save(pool)
        if resize and result is not None:
            try:
                option: BatchNodeDeallocationOption | None = BatchNodeDeallocationOption(
                    result.node_deallocation_option
                )
            except ValueError:
                option = None
            self.nodes.resize(pool, result.target_dedicated, result.target_low_priority, option)
        return run
