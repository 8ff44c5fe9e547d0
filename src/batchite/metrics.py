"""Batchite's Prometheus metrics, in a registry of its own (never the process-wide one).

Every layer may call this module (it imports prometheus_client and nothing of ours): the request
wrapper counts requests, the store its commits, the scheduler how long a task waited to run, the
local backend how long an agent took to spawn a task. What is a state (tasks by state, nodes by
state per pool) is read at scrape time from callables bound by the service (`observe_state`),
from what the store and the scheduler already keep. No label holds an account name, a key or a
token: operations, statuses, states and pool ids only.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
WRITE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
PENDING_STARTS = 100_000  # runs whose Start was sent and whose end is not yet back, at most

REQUESTS = Counter(
    "batchite_requests", "Data-plane requests by operation and status.", ["operation", "status"], registry=REGISTRY
)
REQUEST_SECONDS = Histogram(
    "batchite_request_duration_seconds",
    "Time to answer a data-plane request (the commit included), by operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
TASKS_COMPLETED = Counter(
    "batchite_tasks_completed", "Tasks that completed, by result (success or failure).", ["result"], registry=REGISTRY
)
SCHEDULING_SECONDS = Histogram(
    "batchite_task_scheduling_latency_seconds",
    "From a task being ready to run (added, released by its dependencies, requeued) to its start on a node.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
COMMIT_SECONDS = Histogram(
    "batchite_store_commit_duration_seconds",
    "Time of one grouped SQLite commit (the writes made just before it included).",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
COMMIT_WRITES = Histogram(
    "batchite_store_commit_writes", "Writes grouped in one SQLite commit.", buckets=WRITE_BUCKETS, registry=REGISTRY
)
SPAWN_SECONDS = Histogram(
    "batchite_agent_spawn_latency_seconds",
    "From the service sending a Start to a node agent to the start time of the task's process.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)

TaskStates = Callable[[], Mapping[str, int]]  # state -> tasks
NodeStates = Callable[[], Mapping[tuple[str, str], int]]  # (pool id, state) -> nodes


class _LiveState(Collector):
    """Gauges computed at scrape time from what the service bound (nothing when unbound)."""

    def __init__(self) -> None:
        self.tasks: TaskStates | None = None
        self.nodes: NodeStates | None = None

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        tasks = GaugeMetricFamily("batchite_tasks", "Tasks by state, of every account.", labels=["state"])
        for state, count in sorted((self.tasks() if self.tasks else {}).items()):
            tasks.add_metric([state], count)
        yield tasks
        nodes = GaugeMetricFamily("batchite_nodes", "Compute nodes by pool id and state.", labels=["pool", "state"])
        for (pool, state), count in sorted((self.nodes() if self.nodes else {}).items()):
            nodes.add_metric([pool, state], count)
        yield nodes


_live = _LiveState()
REGISTRY.register(_live)
_starts: OrderedDict[str, float] = OrderedDict()  # run id -> when its Start was sent (time.time())


def observe_state(tasks: TaskStates, nodes: NodeStates) -> None:
    """Where the gauges read tasks and nodes by state at scrape time (the service binds them)."""
    _live.tasks, _live.nodes = tasks, nodes


def render() -> bytes:
    """Every metric in the Prometheus text format."""
    return generate_latest(REGISTRY)


def now() -> float:
    """A monotonic instant, for the latencies measured across calls (`task_started`)."""
    return time.monotonic()


def request(operation: str, status: int, seconds: float) -> None:
    REQUESTS.labels(operation, str(status)).inc()
    REQUEST_SECONDS.labels(operation).observe(seconds)


def task_started(ready_at: float) -> None:
    """A task starts on a node; `ready_at` is `now()` when it became ready (0: unknown, not counted)."""
    if ready_at > 0:
        SCHEDULING_SECONDS.observe(max(0.0, time.monotonic() - ready_at))


def task_completed(success: bool) -> None:
    TASKS_COMPLETED.labels("success" if success else "failure").inc()


def committed(seconds: float, writes: int) -> None:
    COMMIT_SECONDS.observe(seconds)
    COMMIT_WRITES.observe(writes)


def start_sent(run_id: str) -> None:
    """A Start went to a node agent (spawn latency is measured to the process's start time)."""
    _starts[run_id] = time.time()
    while len(_starts) > PENDING_STARTS:
        _starts.popitem(last=False)


def run_ended(run_id: str, start_time: datetime, started: bool) -> None:
    """A run's end came back from its agent: `start_time` is when its process started (`started`
    False when it never did: no spawn to measure)."""
    sent = _starts.pop(run_id, None)
    if sent is not None and started:
        SPAWN_SECONDS.observe(max(0.0, start_time.timestamp() - sent))
