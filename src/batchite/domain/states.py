"""State machines of pools, nodes, jobs and tasks, as pure functions over wire documents.

Each table lists, for a state, the states it may move to. `transition` applies a move to a
document (state, stateTransitionTime, previousState, previousStateTransitionTime) or raises
`InvalidTransition`, which is a bug in Batchite, never a user error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from batchite.clock import format_time

TASK: dict[str, frozenset[str]] = {
    "active": frozenset({"preparing", "running", "completed"}),
    "preparing": frozenset({"running", "active", "completed"}),
    "running": frozenset({"completed", "active"}),
    "completed": frozenset({"active"}),  # reactivate
}

JOB: dict[str, frozenset[str]] = {
    "active": frozenset({"disabling", "terminating", "deleting", "completed"}),
    "disabling": frozenset({"disabled", "terminating", "deleting"}),
    "disabled": frozenset({"enabling", "terminating", "deleting"}),
    "enabling": frozenset({"active", "terminating", "deleting"}),
    "terminating": frozenset({"completed", "deleting"}),
    "completed": frozenset({"deleting"}),
    "deleting": frozenset(),
}

JOB_SCHEDULE: dict[str, frozenset[str]] = {
    "active": frozenset({"disabled", "terminating", "deleting", "completed"}),
    "disabled": frozenset({"active", "terminating", "deleting"}),
    "terminating": frozenset({"completed", "deleting"}),
    "completed": frozenset({"deleting"}),
    "deleting": frozenset(),
}

POOL: dict[str, frozenset[str]] = {
    "active": frozenset({"deleting"}),
    "deleting": frozenset(),
}

ALLOCATION: dict[str, frozenset[str]] = {
    "steady": frozenset({"resizing"}),
    "resizing": frozenset({"steady", "stopping"}),
    "stopping": frozenset({"steady"}),
}

NODE: dict[str, frozenset[str]] = {
    "creating": frozenset({"starting", "leavingpool", "unusable"}),
    "starting": frozenset({"idle", "waitingforstarttask", "leavingpool", "unusable"}),
    "waitingforstarttask": frozenset({"idle", "starttaskfailed", "leavingpool", "rebooting", "reimaging"}),
    "starttaskfailed": frozenset({"leavingpool", "rebooting", "reimaging", "idle"}),
    "idle": frozenset(
        {"running", "leavingpool", "rebooting", "reimaging", "offline", "preempted", "deallocating", "unusable"}
    ),
    "running": frozenset(
        {"idle", "leavingpool", "rebooting", "reimaging", "offline", "preempted", "deallocating", "unusable"}
    ),
    "offline": frozenset({"idle", "running", "leavingpool", "rebooting", "reimaging", "preempted"}),
    "rebooting": frozenset({"starting", "idle", "leavingpool"}),
    "reimaging": frozenset({"starting", "idle", "leavingpool"}),
    "deallocating": frozenset({"deallocated"}),
    "deallocated": frozenset({"starting", "leavingpool"}),
    "preempted": frozenset({"starting", "leavingpool"}),
    "leavingpool": frozenset(),
    "unusable": frozenset({"leavingpool", "rebooting", "reimaging"}),
    "unknown": frozenset({"leavingpool"}),
    "upgradingos": frozenset({"idle", "leavingpool"}),
}


class InvalidTransition(RuntimeError):
    pass


def can_move(table: dict[str, frozenset[str]], current: str, new: str) -> bool:
    return current == new or new in table.get(current, frozenset())


def transition(
    table: dict[str, frozenset[str]],
    doc: dict[str, Any],
    new: str,
    now: datetime,
    *,
    field: str = "state",
    keep_previous: bool = True,
) -> None:
    current = str(doc.get(field, ""))
    if current == new:
        return
    if current and not can_move(table, current, new):
        raise InvalidTransition(f"{field} {current} -> {new}")
    stamp = format_time(now)
    if keep_previous and current:
        prefix = "previousState" if field == "state" else f"previous{field[0].upper()}{field[1:]}"
        doc[prefix] = current
        doc[f"{prefix}TransitionTime"] = doc.get(f"{field}TransitionTime", stamp)
    doc[field] = new
    doc[f"{field}TransitionTime"] = stamp
