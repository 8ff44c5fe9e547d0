"""The 409s of pools, jobs and job schedules that are ending: what may no longer be done to them."""

from __future__ import annotations

from batchite.domain.errors import BatchError, conflict
from batchite.domain.states import JobState, ScheduleState

_JOB = {
    JobState.COMPLETED: ("JobCompleted", "The specified job is already in a completed state."),
    JobState.TERMINATING: ("JobBeingTerminated", "The specified job is being terminated."),
    JobState.DELETING: ("JobBeingDeleted", "The specified job has been marked for deletion and is being reclaimed."),
}
_SCHEDULE = {
    ScheduleState.COMPLETED: ("JobScheduleCompleted", "The specified job schedule is already in completed state."),
    ScheduleState.TERMINATING: ("JobScheduleBeingTerminated", "The specified job schedule is being terminated."),
    ScheduleState.DELETING: (
        "JobScheduleBeingDeleted",
        "The specified job schedule has been marked for deletion and is being reclaimed.",
    ),
}


def job_busy(state: JobState) -> BatchError | None:
    """The error for changing a job that is completed, terminating or being deleted."""
    found = _JOB.get(state)
    return conflict(*found) if found else None


def schedule_busy(state: ScheduleState) -> BatchError | None:
    found = _SCHEDULE.get(state)
    return conflict(*found) if found else None


def pool_being_deleted() -> BatchError:
    """Anything that would change a pool being deleted (deleting it again included), and a new pool of its id."""
    return conflict("PoolBeingDeleted", "The specified pool has been marked for deletion and is being reclaimed.")
