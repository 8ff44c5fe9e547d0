"""State machines: tables agree with the wire enums, and `transition` keeps previousState bookkeeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchite.clock import format_time
from batchite.domain import states
from batchite.domain.states import InvalidTransition, can_move, transition
from batchite.wire import enums

T0 = datetime(2026, 11, 25, 15, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(seconds=5)
T2 = T0 + timedelta(seconds=9)

TABLES = {
    "TASK": (states.TASK, enums.BATCH_TASK_STATE),
    "JOB": (states.JOB, enums.BATCH_JOB_STATE),
    "JOB_SCHEDULE": (states.JOB_SCHEDULE, enums.BATCH_JOB_SCHEDULE_STATE),
    "POOL": (states.POOL, ("active", "deleting")),
    "ALLOCATION": (states.ALLOCATION, enums.ALLOCATION_STATE),
    "NODE": (states.NODE, enums.BATCH_NODE_STATE),
}


@pytest.mark.parametrize("name", list(TABLES))
def test_table_covers_exactly_the_wire_enum(name: str) -> None:
    table, values = TABLES[name]
    assert set(table) == set(values), f"{name}: states missing or extra"
    for source, targets in table.items():
        assert targets <= set(values), f"{name}: {source} -> {targets - set(values)} not a wire value"
        assert source not in targets, f"{name}: self-loop listed for {source}"


def test_pool_states_are_the_reference_ones() -> None:
    # batch-api.md section 3: BatchPoolState = active, deleting.
    assert set(states.POOL) == {"active", "deleting"}


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
            [("steady", "resizing"), ("resizing", "steady"), ("resizing", "stopping"), ("stopping", "steady")],
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
                ("starting", "idle"),
            ],
        ),
    ],
)
def test_documented_moves_allowed(table: dict[str, frozenset[str]], moves: list[tuple[str, str]]) -> None:
    for current, new in moves:
        assert can_move(table, current, new), f"{current} -> {new}"


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
        (states.ALLOCATION, "stopping", "resizing"),
        (states.NODE, "leavingpool", "idle"),
        (states.NODE, "creating", "running"),
        (states.NODE, "deallocating", "idle"),
    ],
)
def test_invalid_moves_refused(table: dict[str, frozenset[str]], current: str, new: str) -> None:
    assert not can_move(table, current, new)
    doc: dict[str, Any] = {"state": current, "stateTransitionTime": format_time(T0)}
    before = dict(doc)
    with pytest.raises(InvalidTransition):
        transition(table, doc, new, T1)
    assert doc == before, "a refused move must not touch the document"


@pytest.mark.parametrize("table", [states.JOB, states.JOB_SCHEDULE, states.POOL, states.NODE])
def test_terminal_states_have_no_way_out(table: dict[str, frozenset[str]]) -> None:
    terminal = "leavingpool" if table is states.NODE else "deleting"
    assert table[terminal] == frozenset()


def test_unknown_current_state_refused() -> None:
    doc = {"state": "bogus"}
    with pytest.raises(InvalidTransition):
        transition(states.TASK, doc, "running", T1)


def test_can_move_same_state_is_true() -> None:
    for table, _ in TABLES.values():
        for s in table:
            assert can_move(table, s, s)


# -- transition bookkeeping ---------------------------------------------------------------------


def test_first_transition_from_no_state_sets_state_only() -> None:
    doc: dict[str, Any] = {}
    transition(states.TASK, doc, "active", T0)
    assert doc == {"state": "active", "stateTransitionTime": format_time(T0)}


def test_transition_records_previous_state_and_time() -> None:
    doc: dict[str, Any] = {}
    transition(states.TASK, doc, "active", T0)
    transition(states.TASK, doc, "running", T1)
    assert doc == {
        "state": "running",
        "stateTransitionTime": format_time(T1),
        "previousState": "active",
        "previousStateTransitionTime": format_time(T0),
    }
    transition(states.TASK, doc, "completed", T2)
    assert doc["state"] == "completed"
    assert doc["stateTransitionTime"] == format_time(T2)
    assert doc["previousState"] == "running"
    assert doc["previousStateTransitionTime"] == format_time(T1)


def test_transition_time_format_is_rfc3339_z() -> None:
    doc: dict[str, Any] = {"state": "active"}
    transition(states.TASK, doc, "running", T1)
    assert doc["stateTransitionTime"].endswith("Z")
    assert doc["stateTransitionTime"].startswith("2026-11-25T15:00:05")


def test_same_state_is_a_no_op() -> None:
    doc: dict[str, Any] = {"state": "active", "stateTransitionTime": format_time(T0)}
    transition(states.TASK, doc, "active", T1)
    assert doc == {"state": "active", "stateTransitionTime": format_time(T0)}


def test_missing_transition_time_falls_back_to_now_for_previous() -> None:
    doc: dict[str, Any] = {"state": "active"}
    transition(states.TASK, doc, "running", T1)
    assert doc["previousState"] == "active"
    assert doc["previousStateTransitionTime"] == format_time(T1)


def test_keep_previous_false() -> None:
    doc: dict[str, Any] = {"state": "idle", "stateTransitionTime": format_time(T0)}
    transition(states.NODE, doc, "running", T1, keep_previous=False)
    assert doc == {"state": "running", "stateTransitionTime": format_time(T1)}


def test_other_field_moves_that_field_and_its_time() -> None:
    # Pools have no previousAllocationState on the wire, so the pool code passes keep_previous=False.
    doc: dict[str, Any] = {"allocationState": "steady", "allocationStateTransitionTime": format_time(T0)}
    transition(states.ALLOCATION, doc, "resizing", T1, field="allocationState", keep_previous=False)
    assert doc == {"allocationState": "resizing", "allocationStateTransitionTime": format_time(T1)}


def test_other_field_invalid_move_raises() -> None:
    doc: dict[str, Any] = {"allocationState": "steady"}
    with pytest.raises(InvalidTransition, match="allocationState steady -> stopping"):
        transition(states.ALLOCATION, doc, "stopping", T1, field="allocationState")


def test_invalid_transition_is_not_a_batch_error() -> None:
    # It signals a bug in Batchite; it must not be rendered as a user-facing 4xx.
    from batchite.domain.errors import BatchError

    assert not issubclass(InvalidTransition, BatchError)


# -- property: random walks over every table keep the bookkeeping consistent ---------------------


@given(
    name=st.sampled_from(list(TABLES)),
    choices=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=25),
)
def test_property_random_walk(name: str, choices: list[int]) -> None:
    table, _ = TABLES[name]
    start = sorted(table)[choices[0] % len(table)]
    doc: dict[str, Any] = {}
    transition(table, doc, start, T0)
    now = T0
    for i, c in enumerate(choices[1:], start=1):
        current = doc["state"]
        targets = sorted(table[current])
        if not targets:
            with pytest.raises(InvalidTransition):
                transition(table, doc, next(s for s in table if s != current), now)
            break
        new = targets[c % len(targets)]
        previous_time = doc["stateTransitionTime"]
        now = T0 + timedelta(seconds=i)
        transition(table, doc, new, now)
        assert doc["state"] == new
        assert doc["stateTransitionTime"] == format_time(now)
        assert doc["previousState"] == current
        assert doc["previousStateTransitionTime"] == previous_time
