"""Typed events between the scheduler's parts, and up to the service.

A part publishes what happened; the parts (and the service) that care subscribe by event type.
Handlers run at once, in the order they subscribed, on the event loop thread.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from batchite.domain.entities import Job, Task
from batchite.scheduler.live import LiveJob, LiveNode, LiveTask


@dataclass(frozen=True, slots=True)
class RunStarted:
    """A task took slots on a node (a subtask of a multi-instance task included)."""

    node: LiveNode
    job: LiveJob
    task: LiveTask


@dataclass(frozen=True, slots=True)
class RunEnded:
    """A task gave its slots back; `succeeded` is None when it did not complete there."""

    node: LiveNode
    job: LiveJob
    task: LiveTask
    succeeded: bool | None


@dataclass(frozen=True, slots=True)
class NodeRebooted:
    """A node boots again (reboot, reimage, start, returned spot capacity); `fresh`: an empty disk."""

    node: LiveNode
    fresh: bool


@dataclass(frozen=True, slots=True)
class PoolRemoved:
    account: str
    pool_key: str


@dataclass(frozen=True, slots=True)
class TaskCompleted:
    """A task reached `completed` (succeeded, failed, or ended)."""

    job: LiveJob
    task: Task
    pool_key: str


@dataclass(frozen=True, slots=True)
class JobEnded:
    """A job completed, or was deleted (`deleted`): what the service's job schedules and auto
    pools wait for."""

    job: Job
    deleted: bool


EventT = TypeVar("EventT")


class EventBus:
    def __init__(self) -> None:
        self._handlers: defaultdict[type[Any], list[Callable[[Any], None]]] = defaultdict(list)

    def subscribe(self, event: type[EventT], handler: Callable[[EventT], None]) -> None:
        self._handlers[event].append(handler)

    def publish(self, event: object) -> None:
        for handler in self._handlers.get(type(event), ()):
            handler(event)
