"""State machines: tables agree with the wire enums, and `transition` keeps previousState bookkeeping."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchite.domain import states
from batchite.domain.states import InvalidTransition, can_move, transition
from batchite.wire.enums import (
    AllocationState,
    BatchJobScheduleState,
    BatchJobState,
    BatchNodeState,
    BatchPoolState,
    BatchSubtaskState,
    BatchTaskState,
)
from batchite.wire.models import (
    BatchJob,
    BatchJobSchedule,
    BatchJobScheduleExecutionInfo,
    BatchJobSpecification,
    BatchNode,
    BatchPool,
    BatchPoolInfo,
    BatchSubtask,
    BatchTask,
    VirtualMachineInfo,
)
from batchite.wire.types import WireEnum, decode, encode, to_builtins

T0 = datetime(2026, 11, 25, 15, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(seconds=5)
T2 = T0 + timedelta(seconds=9)

Table = Mapping[Any, frozenset[Any]]


# -- wire models in a given state (the old tests used bare dict documents) ---------------------------


def task_wire(state: Any, at: Any = T0) -> BatchTask:
    return BatchTask(id="t", creation_time=T0, state=state, state_transition_time=at, command_line="x")


def job_wire(state: Any, at: Any = T0) -> BatchJob:
    return BatchJob(
        id="j", creation_time=T0, state=state, state_transition_time=at, pool_info=BatchPoolInfo(pool_id="p")
    )


def schedule_wire(state: Any, at: Any = T0) -> BatchJobSchedule:
    return BatchJobSchedule(
        id="s",
        creation_time=T0,
        state=state,
        state_transition_time=at,
        job_specification=BatchJobSpecification(pool_info=BatchPoolInfo(pool_id="p")),
        execution_info=BatchJobScheduleExecutionInfo(),
    )


def pool_wire(state: Any, at: Any = T0) -> BatchPool:
    return BatchPool(
        id="p",
        creation_time=T0,
        state=state,
        state_transition_time=at,
        vm_size="standard_d2s_v3",
        current_dedicated_nodes=0,
        current_low_priority_nodes=0,
    )


def allocation_wire(state: Any, at: Any = T0) -> BatchPool:
    pool = pool_wire(BatchPoolState.ACTIVE)
    pool.allocation_state, pool.allocation_state_transition_time = state, at
    return pool


def node_wire(state: Any, at: Any = T0) -> BatchNode:
    return BatchNode(
        id="n",
        state=state,
        state_transition_time=at,
        last_boot_time=T0,
        allocation_time=T0,
        ip_address="10.0.0.4",
        affinity_id="a",
        vm_size="standard_d2s_v3",
        total_tasks_run=0,
        virtual_machine_info=VirtualMachineInfo(),
    )


def subtask_wire(state: Any, at: Any = T0) -> BatchSubtask:
    return BatchSubtask(id=1, state=state, state_transition_time=at)


@dataclass(frozen=True)
class Lifecycle:
    table: Table
    enum: type[WireEnum]
    make: Callable[..., msgspec.Struct]
    field: str = "state"

    def member(self, value: str) -> Any:
        return self.enum(value)

    @property
    def keeps_previous(self) -> bool:
        return f"previous_{self.field}" in self.make(next(iter(self.table))).__struct_fields__


LIFECYCLES = {
    "TASK": Lifecycle(states.TASK, BatchTaskState, task_wire),
    "JOB": Lifecycle(states.JOB, BatchJobState, job_wire),
    "JOB_SCHEDULE": Lifecycle(states.JOB_SCHEDULE, BatchJobScheduleState, schedule_wire),
    "POOL": Lifecycle(states.POOL, BatchPoolState, pool_wire),
    "ALLOCATION": Lifecycle(states.ALLOCATION, AllocationState, allocation_wire, "allocation_state"),
    "NODE": Lifecycle(states.NODE, BatchNodeState, node_wire),
    "SUBTASK": Lifecycle(states.SUBTASK, BatchSubtaskState, subtask_wire),
}


def by_table(table: Table) -> Lifecycle:
    return next(lc for lc in LIFECYCLES.values() if lc.table is table)


@pytest.mark.parametrize("name", list(LIFECYCLES))
def test_table_covers_exactly_the_wire_enum(name: str) -> None:
    lifecycle = LIFECYCLES[name]
    table, values = lifecycle.table, set(lifecycle.enum)
    assert set(table) == values, f"{name}: states missing or extra"
    assert states.TABLES[lifecycle.enum] is table  # transition finds the table by the enum of the new state
    for source, targets in table.items():
        assert isinstance(source, lifecycle.enum)
        assert targets <= values, f"{name}: {source} -> {targets - values} not a wire value"
        assert source not in targets, f"{name}: self-loop listed for {source}"


def test_pool_states_are_the_reference_ones() -> None:
    # batch-api.md section 3: BatchPoolState = active, deleting.
    assert set(states.POOL) == {"active", "deleting"}
    assert set(states.POOL) == {BatchPoolState.ACTIVE, BatchPoolState.DELETING}


# -- expected moves (the Batch lifecycle as documented) ------------------------------------------


@pytest.mark.parametrize(
    ("table", "moves"),
    [
        (
            states.TASK,
            [
                ("active", "preparing"),
                ("preparing", "running"),
                ("running", "completed"),
                ("active", "running"),
                ("completed", "active"),
                ("running", "active"),
                ("active", "completed"),
            ],
        ),
        (
            states.JOB,
            [
                ("active", "disabling"),
                ("disabling", "disabled"),
                ("disabled", "enabling"),
                ("enabling", "active"),
                ("active", "terminating"),
                ("terminating", "completed"),
                ("completed", "deleting"),
                ("active", "deleting"),
                ("disabled", "terminating"),
            ],
        ),
        (
            states.JOB_SCHEDULE,
            [
                ("active", "disabled"),
                ("disabled", "active"),
                ("active", "terminating"),
                ("terminating", "completed"),
                ("completed", "deleting"),
            ],
        ),
        (states.POOL, [("active", "deleting")]),
        (
            states.ALLOCATION,
            [
                ("steady", "resizing"),
                ("resizing", "steady"),
                ("resizing", "stopping"),
                ("stopping", "steady"),
                ("stopping", "resizing"),  # a pool deleted while its resize stops shrinks to nothing
            ],
        ),
        (
            states.NODE,
            [
                ("creating", "starting"),
                ("starting", "waitingforstarttask"),
                ("waitingforstarttask", "idle"),
                ("idle", "running"),
                ("running", "idle"),
                ("waitingforstarttask", "starttaskfailed"),
                ("idle", "rebooting"),
                ("rebooting", "idle"),
                ("idle", "reimaging"),
                ("idle", "leavingpool"),
                ("running", "leavingpool"),
                ("deallocating", "leavingpool"),  # its pool is deleted
                ("starting", "idle"),
            ],
        ),
        (states.SUBTASK, [("preparing", "running"), ("running", "completed"), ("preparing", "completed")]),
    ],
)
def test_documented_moves_allowed(table: Table, moves: list[tuple[str, str]]) -> None:
    lifecycle = by_table(table)
    for current, new in moves:
        assert can_move(table, lifecycle.member(current), lifecycle.member(new)), f"{current} -> {new}"
        wire = lifecycle.make(lifecycle.member(current))
        assert transition(wire, lifecycle.member(new), T1, field=lifecycle.field) is True
        assert getattr(wire, lifecycle.field) == new


@pytest.mark.parametrize(
    ("table", "current", "new"),
    [
        (states.TASK, "completed", "running"),
        (states.TASK, "running", "preparing"),
        (states.TASK, "completed", "preparing"),
        (states.JOB, "completed", "active"),
        (states.JOB, "deleting", "active"),
        (states.JOB, "terminating", "active"),
        (states.JOB, "active", "disabled"),  # must pass through disabling
        (states.JOB, "disabled", "active"),  # must pass through enabling
        (states.JOB_SCHEDULE, "completed", "active"),
        (states.JOB_SCHEDULE, "deleting", "active"),
        (states.POOL, "deleting", "active"),
        (states.ALLOCATION, "steady", "stopping"),
        (states.NODE, "leavingpool", "idle"),
        (states.NODE, "creating", "running"),
        (states.NODE, "deallocating", "idle"),
        (states.SUBTASK, "completed", "running"),
    ],
)
def test_invalid_moves_refused(table: Table, current: str, new: str) -> None:
    lifecycle = by_table(table)
    assert not can_move(table, lifecycle.member(current), lifecycle.member(new))
    wire = lifecycle.make(lifecycle.member(current), T0)
    before = encode(wire)
    with pytest.raises(InvalidTransition):
        transition(wire, lifecycle.member(new), T1, field=lifecycle.field)
    assert encode(wire) == before, "a refused move must not touch the wire model"


@pytest.mark.parametrize(
    ("table", "terminal"),
    [
        (states.JOB, "deleting"),
        (states.JOB_SCHEDULE, "deleting"),
        (states.POOL, "deleting"),
        (states.NODE, "leavingpool"),
        (states.SUBTASK, "completed"),
    ],
)
def test_terminal_states_have_no_way_out(table: Table, terminal: str) -> None:
    assert table[by_table(table).member(terminal)] == frozenset()


def test_unknown_current_state_refused() -> None:
    # A task built in code with a state of no task lifecycle cannot move (read from JSON it could
    # not even exist: see the next test).
    wire = task_wire("bogus")
    with pytest.raises(InvalidTransition):
        transition(wire, BatchTaskState.RUNNING, T1)
    assert wire.state == "bogus"


def test_unknown_current_state_cannot_be_decoded() -> None:
    stored = encode(task_wire(BatchTaskState.ACTIVE)).replace(b'"active"', b'"bogus"')
    with pytest.raises(ValueError, match="state"):
        decode(BatchTask, stored)


def test_check_false_allows_any_move_for_recovery() -> None:
    wire = node_wire(BatchNodeState.LEAVING_POOL)
    assert transition(wire, BatchNodeState.IDLE, T1, check=False) is True
    assert (wire.state, wire.state_transition_time) == (BatchNodeState.IDLE, T1)


def test_can_move_same_state_is_true() -> None:
    for lifecycle in LIFECYCLES.values():
        for s in lifecycle.table:
            assert can_move(lifecycle.table, s, s)


def test_can_move_from_no_state_is_true() -> None:
    for lifecycle in LIFECYCLES.values():
        for s in lifecycle.table:
            assert can_move(lifecycle.table, None, s)


# -- transition bookkeeping ---------------------------------------------------------------------


def test_first_transition_from_no_state_sets_state_only() -> None:
    # A subtask is the wire model whose state may be absent (the old test used an empty dict).
    wire = subtask_wire(None, None)
    assert transition(wire, BatchSubtaskState.PREPARING, T0) is True
    assert to_builtins(wire) == {"id": 1, "state": "preparing", "stateTransitionTime": "2026-11-25T15:00:00Z"}
    assert (wire.previous_state, wire.previous_state_transition_time) == (None, None)


def test_transition_records_previous_state_and_time() -> None:
    wire = task_wire(BatchTaskState.ACTIVE, T0)
    transition(wire, BatchTaskState.RUNNING, T1)
    doc = to_builtins(wire)
    assert {k: doc[k] for k in ("state", "stateTransitionTime", "previousState", "previousStateTransitionTime")} == {
        "state": "running",
        "stateTransitionTime": "2026-11-25T15:00:05Z",
        "previousState": "active",
        "previousStateTransitionTime": "2026-11-25T15:00:00Z",
    }
    transition(wire, BatchTaskState.COMPLETED, T2)
    assert wire.state is BatchTaskState.COMPLETED
    assert wire.state_transition_time == T2
    assert wire.previous_state is BatchTaskState.RUNNING
    assert wire.previous_state_transition_time == T1


def test_transition_time_format_is_rfc3339_z() -> None:
    wire = task_wire(BatchTaskState.ACTIVE)
    transition(wire, BatchTaskState.RUNNING, T1)
    stamp = to_builtins(wire)["stateTransitionTime"]
    assert stamp.endswith("Z")
    assert stamp.startswith("2026-11-25T15:00:05")
    assert b'"stateTransitionTime":"2026-11-25T15:00:05Z"' in encode(wire)


def test_same_state_is_a_no_op() -> None:
    wire = task_wire(BatchTaskState.ACTIVE, T0)
    before = encode(wire)
    assert transition(wire, BatchTaskState.ACTIVE, T1) is False
    assert encode(wire) == before
    assert (wire.state, wire.state_transition_time, wire.previous_state) == (BatchTaskState.ACTIVE, T0, None)


def test_missing_transition_time_falls_back_to_now_for_previous() -> None:
    wire = subtask_wire(BatchSubtaskState.RUNNING, None)
    transition(wire, BatchSubtaskState.COMPLETED, T1)
    assert wire.previous_state is BatchSubtaskState.RUNNING
    assert wire.previous_state_transition_time == T1


def test_keep_previous_false() -> None:
    node = node_wire(BatchNodeState.IDLE, T0)
    transition(node, BatchNodeState.RUNNING, T1, keep_previous=False)
    assert (node.state, node.state_transition_time) == (BatchNodeState.RUNNING, T1)
    # On a model that has previousState, keep_previous=False leaves it alone.
    task = task_wire(BatchTaskState.ACTIVE, T0)
    transition(task, BatchTaskState.RUNNING, T1, keep_previous=False)
    assert (task.state, task.state_transition_time) == (BatchTaskState.RUNNING, T1)
    assert (task.previous_state, task.previous_state_transition_time) == (None, None)


def test_other_field_moves_that_field_and_its_time() -> None:
    # Pools have no previousAllocationState on the wire, so the pool code passes keep_previous=False.
    pool = allocation_wire(AllocationState.STEADY, T0)
    transition(pool, AllocationState.RESIZING, T1, field="allocation_state", keep_previous=False)
    assert (pool.allocation_state, pool.allocation_state_transition_time) == (AllocationState.RESIZING, T1)
    assert (pool.state, pool.state_transition_time) == (BatchPoolState.ACTIVE, T0), "the pool's state is untouched"
    # Without keep_previous=False nothing more is written: the model has nowhere to keep it.
    transition(pool, AllocationState.STEADY, T2, field="allocation_state")
    assert (pool.allocation_state, pool.allocation_state_transition_time) == (AllocationState.STEADY, T2)
    assert "previousAllocationState" not in to_builtins(pool)


def test_other_field_invalid_move_raises() -> None:
    pool = allocation_wire(AllocationState.STEADY)
    with pytest.raises(InvalidTransition, match="allocation_state steady -> stopping"):
        transition(pool, AllocationState.STOPPING, T1, field="allocation_state")


def test_invalid_transition_is_not_a_batch_error() -> None:
    # It signals a bug in Batchite; it must not be rendered as a user-facing 4xx.
    from batchite.domain.errors import BatchError

    assert not issubclass(InvalidTransition, BatchError)


# -- property: random walks over every table keep the bookkeeping consistent ---------------------


@given(
    name=st.sampled_from(list(LIFECYCLES)),
    choices=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=25),
)
def test_property_random_walk(name: str, choices: list[int]) -> None:
    lifecycle = LIFECYCLES[name]
    table, field = lifecycle.table, lifecycle.field
    start = sorted(table)[choices[0] % len(table)]
    wire = lifecycle.make(start, T0)
    now = T0
    for i, c in enumerate(choices[1:], start=1):
        current = getattr(wire, field)
        targets = sorted(table[current])
        if not targets:
            with pytest.raises(InvalidTransition):
                transition(wire, next(s for s in table if s != current), now, field=field)
            break
        new = targets[c % len(targets)]
        previous_time = getattr(wire, f"{field}_transition_time")
        now = T0 + timedelta(seconds=i)
        assert transition(wire, new, now, field=field) is True
        assert getattr(wire, field) == new
        assert getattr(wire, f"{field}_transition_time") == now
        if lifecycle.keeps_previous:
            assert getattr(wire, f"previous_{field}") == current
            assert getattr(wire, f"previous_{field}_transition_time") == previous_time
        else:  # pools and nodes have no previousState on the wire: nothing to keep
            assert not hasattr(wire, f"previous_{field}")
