"""The autoscale loop: samples every pool's metrics, evaluates formulas every evaluation interval.

Samples are taken every SAMPLE_PERIOD of service time (the clock's time scale applies), kept for
SAMPLE_HISTORY, and read by formulas through `$PendingTasks.GetSample(...)` and friends.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from batchite import autoscale
from batchite.autoscale.catalog import SAMPLED_VARIABLES
from batchite.clock import format_time, parse_duration
from batchite.domain import vmsizes
from batchite.domain.record import Record
from batchite.scheduler.node_actions import NodeActions
from batchite.scheduler.runtime import PoolRt

SAMPLE_PERIOD = timedelta(seconds=30)
SAMPLE_HISTORY = timedelta(hours=1)
METRICS = tuple(sorted(name.lstrip("$") for name in SAMPLED_VARIABLES))  # the sampled service variables


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


class AutoScaler(NodeActions):
    def init_autoscale(self) -> None:
        self.pool_samples: dict[tuple[str, str], PoolSamples] = {}
        self.autoscale_timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self.completed_since_sample: dict[tuple[str, str], list[int]] = {}
        self._sampler: asyncio.TimerHandle | None = None

    # -- sampling -----------------------------------------------------------------------
    def start_sampling(self) -> None:
        self._sample_all()

    def stop_autoscale(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
        for timer in self.autoscale_timers.values():
            timer.cancel()
        self.autoscale_timers.clear()

    def count_completion(self, account: str, pool_key: str, succeeded: bool) -> None:
        counts = self.completed_since_sample.setdefault((account, pool_key), [0, 0])
        counts[0 if succeeded else 1] += 1

    def _sample_all(self) -> None:
        now = self.now()
        load = os.getloadavg()[0] / (os.cpu_count() or 1) * 100 if hasattr(os, "getloadavg") else 0.0
        for ref, pool in list(self.pools.items()):
            self.pool_samples.setdefault(ref, PoolSamples()).add(now, self._metrics(pool, min(load, 100.0)))
        self._sampler = self.clock.call_later(SAMPLE_PERIOD, self._sample_all)

    def _metrics(self, pool: PoolRt, load: float) -> dict[str, float]:
        active = running = 0
        for job in self.jobs.values():
            if job.account == pool.account and job.pool_key == pool.key and job.state == "active":
                running += job.running
                active += sum(1 for t in job.tasks.values() if t.state == "active")
        succeeded, failed = self.completed_since_sample.pop((pool.account, pool.key), [0, 0])
        nodes = [n for n in pool.nodes.values() if n.state in ("idle", "running")]
        try:
            memory = vmsizes.lookup(pool.vm_size).memory_mb * 1024 * 1024
        except Exception:
            memory = 0
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
    def evaluate_formula(self, rec: Record, formula: str) -> tuple[autoscale.EvaluationResult, dict[str, Any]]:
        """Evaluate a (parsed-OK) formula against the pool's samples; returns the result and autoScaleRun."""
        program = autoscale.parse(formula)
        pool = self.pools.get((rec.account, rec.key))
        nodes = list(pool.nodes.values()) if pool else []
        doc = rec.doc
        inputs = autoscale.EvaluationInputs(
            now=self.now(),
            samples=self.pool_samples.get((rec.account, rec.key)) or PoolSamples(),
            current_dedicated=sum(1 for n in nodes if n.spec.is_dedicated),
            current_low_priority=sum(1 for n in nodes if not n.spec.is_dedicated),
            target_dedicated=int(doc.get("targetDedicatedNodes") or 0),
            target_low_priority=int(doc.get("targetLowPriorityNodes") or 0),
            task_slots_per_node=int(doc.get("taskSlotsPerNode") or 1),
            usable_node_count=sum(1 for n in nodes if n.state in ("idle", "running")),
            preempted_node_count=sum(1 for n in nodes if n.state == "preempted"),
            sample_period=SAMPLE_PERIOD,
        )
        result = autoscale.evaluate(program, inputs)
        run: dict[str, Any] = {"timestamp": format_time(self.now()), "results": result.results}
        if result.error is not None:
            run["error"] = result.error.to_dict()
        return result, run

    def arm_autoscale(self, rec: Record, delay: timedelta = timedelta(0)) -> None:
        ref = (rec.account, rec.key)
        self.disarm_autoscale(rec.account, rec.id)
        self.autoscale_timers[ref] = self.clock.call_later(delay, partial(self._autoscale_due, rec.account, rec.id))

    def disarm_autoscale(self, account: str, pool_id: str) -> None:
        timer = self.autoscale_timers.pop((account, pool_id.lower()), None)
        if timer is not None:
            timer.cancel()

    def _autoscale_due(self, account: str, pool_id: str) -> None:
        self.autoscale_timers.pop((account, pool_id.lower()), None)
        rec = self.store.get(account, "pool", "", pool_id)
        if rec is None or not rec.doc.get("enableAutoScale") or rec.doc.get("state") != "active":
            return
        self.apply_autoscale(rec)
        interval = parse_duration(rec.doc.get("autoScaleEvaluationInterval")) or timedelta(minutes=15)
        self.arm_autoscale(rec, interval)

    def apply_autoscale(self, rec: Record) -> dict[str, Any]:
        """Evaluate the pool's formula now, record autoScaleRun, resize to the targets if it succeeded."""
        try:
            result, run = self.evaluate_formula(rec, str(rec.doc.get("autoScaleFormula", "")))
        except autoscale.FormulaSyntaxError as err:
            result, run = (
                None,
                {
                    "timestamp": format_time(self.now()),
                    "error": {
                        "code": err.code,
                        "message": err.message,
                        "values": [{"name": k, "value": v} for k, v in err.values],
                    },
                },
            )
        rec.doc["autoScaleRun"] = run
        pool = self.pools.get((rec.account, rec.key))
        resize = (
            result is not None
            and result.error is None
            and pool is not None
            and rec.doc.get("allocationState") == "steady"
            and (result.target_dedicated, result.target_low_priority)
            != (rec.doc.get("targetDedicatedNodes"), rec.doc.get("targetLowPriorityNodes"))
        )
        if resize and result is not None and pool is not None:
            rec.doc["targetDedicatedNodes"] = result.target_dedicated
            rec.doc["targetLowPriorityNodes"] = result.target_low_priority
        self.store.put(rec)
        if resize and result is not None and pool is not None:
            self.resize(pool, result.target_dedicated, result.target_low_priority, result.node_deallocation_option)
        return run
