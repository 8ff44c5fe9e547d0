"""The lifecycles of pools, nodes, jobs, job schedules, tasks and subtasks.

Each table lists, for a state, the states it may move to. `transition` is the only writer of an
entity's state: it checks the move against the table and keeps the bookkeeping the service shows
(stateTransitionTime, previousState, previousStateTransitionTime). An illegal move raises
`InvalidTransition`, which is a bug in Batchite, never a user error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from batchite.wire.enums import (
    AllocationState,
    BatchJobScheduleState,
    BatchJobState,
    BatchNodeState,
    BatchPoolState,
    BatchSubtaskState,
    BatchTaskState,
)
from batchite.wire.types import WireEnum

log = logging.getLogger("batchite.states")

S = TypeVar("S", bound=WireEnum)
Table = Mapping[S, frozenset[S]]

TaskState = BatchTaskState
JobState = BatchJobState
ScheduleState = BatchJobScheduleState
PoolState = BatchPoolState
NodeState = BatchNodeState
SubtaskState = BatchSubtaskState

_T = TaskState
TASK: Table[TaskState] = {
    _T.ACTIVE: frozenset({_T.PREPARING, _T.RUNNING, _T.COMPLETED}),
    _T.PREPARING: frozenset({_T.RUNNING, _T.ACTIVE, _T.COMPLETED}),
    _T.RUNNING: frozenset({_T.COMPLETED, _T.ACTIVE}),
    _T.COMPLETED: frozenset({_T.ACTIVE}),  # reactivate
}

_J = JobState
JOB: Table[JobState] = {
    _J.ACTIVE: frozenset({_J.DISABLING, _J.TERMINATING, _J.DELETING, _J.COMPLETED}),
    _J.DISABLING: frozenset({_J.DISABLED, _J.TERMINATING, _J.DELETING}),
    _J.DISABLED: frozenset({_J.ENABLING, _J.TERMINATING, _J.DELETING}),
    _J.ENABLING: frozenset({_J.ACTIVE, _J.TERMINATING, _J.DELETING}),
    _J.TERMINATING: frozenset({_J.COMPLETED, _J.DELETING}),
    _J.COMPLETED: frozenset({_J.DELETING}),
    _J.DELETING: frozenset(),
}

_S = ScheduleState
JOB_SCHEDULE: Table[ScheduleState] = {
    _S.ACTIVE: frozenset({_S.DISABLED, _S.TERMINATING, _S.DELETING, _S.COMPLETED}),
    _S.DISABLED: frozenset({_S.ACTIVE, _S.TERMINATING, _S.DELETING}),
    _S.TERMINATING: frozenset({_S.COMPLETED, _S.DELETING}),
    _S.COMPLETED: frozenset({_S.DELETING}),
    _S.DELETING: frozenset(),
}

POOL: Table[PoolState] = {
    PoolState.ACTIVE: frozenset({PoolState.DELETING}),
    PoolState.DELETING: frozenset(),
}

_A = AllocationState
ALLOCATION: Table[AllocationState] = {
    _A.STEADY: frozenset({_A.RESIZING}),
    _A.RESIZING: frozenset({_A.STEADY, _A.STOPPING}),
    _A.STOPPING: frozenset({_A.STEADY, _A.RESIZING}),  # a pool deleted while its resize stops
}

_N = NodeState
NODE: Table[NodeState] = {
    _N.CREATING: frozenset({_N.STARTING, _N.LEAVING_POOL, _N.UNUSABLE}),
    _N.STARTING: frozenset({_N.IDLE, _N.WAITING_FOR_START_TASK, _N.LEAVING_POOL, _N.UNUSABLE, _N.PREEMPTED}),
    _N.WAITING_FOR_START_TASK: frozenset(
        {_N.IDLE, _N.START_TASK_FAILED, _N.LEAVING_POOL, _N.REBOOTING, _N.REIMAGING, _N.PREEMPTED, _N.UNUSABLE}
    ),
    _N.START_TASK_FAILED: frozenset({_N.LEAVING_POOL, _N.REBOOTING, _N.REIMAGING, _N.IDLE, _N.PREEMPTED, _N.UNUSABLE}),
    _N.IDLE: frozenset(
        {_N.RUNNING, _N.LEAVING_POOL, _N.REBOOTING, _N.REIMAGING, _N.OFFLINE, _N.PREEMPTED, _N.DEALLOCATING}
        | {_N.UNUSABLE}
    ),
    _N.RUNNING: frozenset(
        {_N.IDLE, _N.LEAVING_POOL, _N.REBOOTING, _N.REIMAGING, _N.OFFLINE, _N.PREEMPTED, _N.DEALLOCATING}
        | {_N.UNUSABLE}
    ),
    _N.OFFLINE: frozenset(
        {_N.IDLE, _N.RUNNING, _N.LEAVING_POOL, _N.REBOOTING, _N.REIMAGING, _N.PREEMPTED, _N.UNUSABLE}
    ),
    _N.REBOOTING: frozenset({_N.STARTING, _N.IDLE, _N.LEAVING_POOL, _N.UNUSABLE}),
    _N.REIMAGING: frozenset({_N.STARTING, _N.IDLE, _N.LEAVING_POOL, _N.UNUSABLE}),
    _N.DEALLOCATING: frozenset({_N.DEALLOCATED, _N.LEAVING_POOL, _N.UNUSABLE}),
    _N.DEALLOCATED: frozenset({_N.STARTING, _N.LEAVING_POOL, _N.UNUSABLE}),
    _N.PREEMPTED: frozenset({_N.STARTING, _N.LEAVING_POOL, _N.UNUSABLE}),
    _N.LEAVING_POOL: frozenset(),
    _N.UNUSABLE: frozenset({_N.LEAVING_POOL, _N.REBOOTING, _N.REIMAGING, _N.STARTING}),
    _N.UNKNOWN: frozenset({_N.LEAVING_POOL, _N.UNUSABLE}),
    _N.UPGRADING_OS: frozenset({_N.IDLE, _N.LEAVING_POOL}),
}

_U = SubtaskState
SUBTASK: Table[SubtaskState] = {
    _U.PREPARING: frozenset({_U.RUNNING, _U.COMPLETED}),
    _U.RUNNING: frozenset({_U.COMPLETED}),
    _U.COMPLETED: frozenset(),
}

TABLES: dict[type[WireEnum], Mapping[Any, frozenset[Any]]] = {
    TaskState: TASK,
    JobState: JOB,
    ScheduleState: JOB_SCHEDULE,
    PoolState: POOL,
    AllocationState: ALLOCATION,
    NodeState: NODE,
    SubtaskState: SUBTASK,
}


class InvalidTransition(RuntimeError):
    pass


def can_move(table: Table[S], current: S | None, new: S) -> bool:
    return current is None or current == new or new in table.get(current, frozenset())


def transition(
    wire: Any, new: S, now: datetime, *, field: str = "state", keep_previous: bool = True, check: bool = True
) -> bool:
    """Move `wire.<field>` to `new` (False when it is there already).

    `wire` is a pool, node, job, job schedule, task or subtask wire model; `field` is `state`, or
    `allocation_state` for a pool's allocation. With keep_previous, `previous_<field>` and its
    transition time keep where it came from (the wire models that have them). `check=False` is
    for recovery only: after a restart a node starts again from whatever state it was left in.
    """
    current = getattr(wire, field)
    if current == new:
        return False
    table = TABLES[type(new)]
    if check and current is not None and not can_move(table, current, new):
        raise InvalidTransition(f"{type(wire).__name__}.{field} {current} -> {new}")
    stamp_field = f"{field}_transition_time"
    if keep_previous and current is not None and hasattr(wire, f"previous_{field}"):
        setattr(wire, f"previous_{field}", current)
        setattr(wire, f"previous_{stamp_field}", getattr(wire, stamp_field, None) or now)
    setattr(wire, field, new)
    setattr(wire, stamp_field, now)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s: %s -> %s", type(wire).__name__, getattr(wire, "id", ""), current, new)
    return True
