"""What the service and the scheduler ask of persistence, named by intention.

A `Store` has one repository per kind of entity. Repositories take and return typed entities
(batchite.domain.entities); how they are kept (SQLite today) is the store's business, and so is
every query: callers say what they want (`tasks.counts(...)`, `jobs.of_schedule(...)`), never how.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from batchite.domain.entities import (
    Application,
    ApplicationPackage,
    Entity,
    Job,
    JobSchedule,
    Node,
    NodeUsage,
    NodeUser,
    Pool,
    PreparationStatus,
    Subtask,
    Task,
)
from batchite.domain.entities.accounts import BatchAccountRecord
from batchite.domain.filters import Filter

E = TypeVar("E", bound=Entity[Any, Any])
E_co = TypeVar("E_co", bound=Entity[Any, Any], covariant=True)


@dataclass
class Page(Generic[E]):
    """One page of a list, and the position to continue after when there is more."""

    items: list[E]
    next_after: int | None


@dataclass(frozen=True)
class StateCount:
    """How many of a job's tasks are in one state with one result, and their required slots."""

    state: str
    result: str | None
    tasks: int
    slots: int


class TaskSort(enum.StrEnum):
    """What a job's task table may be sorted by."""

    ID = "id"
    STATE = "state"
    EXIT_CODE = "exitCode"
    NODE = "node"
    CREATED = "created"
    STARTED = "started"
    ENDED = "ended"


class TaskTimes(NamedTuple):
    """When one task was created, started and ended (seconds since 1970, to the millisecond),
    where it ran and how: what the job's charts are drawn from."""

    id: str
    state: str
    result: str | None
    node: str | None
    created: float
    started: float | None
    ended: float | None


class Repository(Protocol[E]):
    def get(self, account: str, parent: str, id: str) -> E | None: ...

    def exists(self, account: str, parent: str, id: str) -> bool:
        """Whether it is there (nothing decoded)."""
        ...

    def insert(self, entity: E) -> E:
        """Store a new entity: it gets the next position (`seq`), an ETag and Last-Modified."""
        ...

    def update(self, entity: E, *, modified: bool = True) -> E:
        """Store a changed entity; `modified=False` keeps its ETag (bookkeeping nobody sees change)."""
        ...

    def delete(self, account: str, parent: str, id: str) -> None: ...

    def delete_all(self, account: str, parent: str) -> None:
        """Every entity of this kind under one parent."""
        ...

    def list(
        self,
        account: str,
        parent: str,
        *,
        states: Iterable[Any] | None = None,
        exclude_states: Iterable[Any] | None = None,
    ) -> builtins.list[E]: ...

    def page(self, account: str, parent: str, after: int, limit: int, flt: Filter | None = None) -> Page[E]:
        """Entities after position `after`, in creation order, matching the OData filter."""
        ...

    def every(self) -> Iterator[E]:
        """Every entity of this kind, of every account (recovery at start)."""
        ...

    def count(self, account: str, parent: str, *, exclude_states: Iterable[Any] | None = None) -> int: ...


class TaskRepository(Repository[Task], Protocol):
    def counts(self, account: str, job_key: str) -> builtins.list[StateCount]:
        """A job's tasks by state and result (from the counts the store keeps: no task is read)."""
        ...

    def totals_by_state(self) -> dict[str, int]:
        """Tasks of every account by state (from the same counts: no task is read)."""
        ...

    def update_internal(self, task: Task) -> None:
        """Write the internal part alone (bookkeeping nobody sees: ETag and Last-Modified kept)."""
        ...

    def multi_instance(self, account: str, job_key: str) -> builtins.list[Task]:
        """A job's tasks that have multiInstanceSettings."""
        ...

    def expired(self, now: datetime, limit: int) -> builtins.list[Task]:
        """Completed tasks (of every account) whose directory's retention ended by `now`, earliest
        first, at most `limit` (from an index on the expiry)."""
        ...

    def next_expiry(self) -> datetime | None:
        """When the earliest retention of a completed task's directory ends, if any does."""
        ...

    def retained(self, task: Task) -> None:
        """The task's directory was removed: it no longer expires (until it is written again)."""
        ...

    def sorted_page(
        self,
        account: str,
        job_key: str,
        *,
        sort: TaskSort,
        descending: bool,
        offset: int,
        limit: int,
        flt: Filter | None = None,
    ) -> builtins.list[Task]:
        """A page of a job's tasks matching the filter, in the order asked (ties in creation
        order; tasks without the sorted value last). Safe to call from any thread."""
        ...

    def count_matching(self, account: str, job_key: str, flt: Filter | None = None) -> int:
        """How many of a job's tasks match the filter. Safe to call from any thread."""
        ...

    def times(self, account: str, job_key: str) -> builtins.list[TaskTimes]:
        """Every task of a job with its times, node and result (no document decoded). Safe to
        call from any thread."""
        ...


class JobRepository(Repository[Job], Protocol):
    def of_schedule(self, account: str, schedule_key: str) -> builtins.list[Job]: ...

    def page_of_schedule(
        self, account: str, schedule_key: str, after: int, limit: int, flt: Filter | None = None
    ) -> Page[Job]: ...


class AccountRepository(Protocol):
    """The Batch accounts created through management, by name (configured ones are not stored)."""

    def get(self, name: str) -> BatchAccountRecord | None: ...

    def list(self, resource_group: str | None = None) -> builtins.list[BatchAccountRecord]: ...

    def put(self, account: BatchAccountRecord) -> None:
        """Store a new or changed account."""
        ...

    def delete(self, name: str) -> None:
        """Remove the account and every entity of it, of every kind."""
        ...

    def entity_count(self, name: str) -> int: ...


class Store(Protocol):
    """Repositories by kind (read-only attributes), and the commit."""

    @property
    def pools(self) -> Repository[Pool]: ...
    @property
    def nodes(self) -> Repository[Node]: ...
    @property
    def node_users(self) -> Repository[NodeUser]: ...
    @property
    def node_usage(self) -> Repository[NodeUsage]: ...
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def schedules(self) -> Repository[JobSchedule]: ...
    @property
    def tasks(self) -> TaskRepository: ...
    @property
    def subtasks(self) -> Repository[Subtask]: ...
    @property
    def prep_statuses(self) -> Repository[PreparationStatus]: ...
    @property
    def applications(self) -> Repository[Application]: ...
    @property
    def packages(self) -> Repository[ApplicationPackage]: ...
    @property
    def accounts(self) -> AccountRepository: ...

    def next_number(self, name: str) -> int:
        """The next number of a counter that only grows (0 first), stored with everything else."""
        ...

    def write_before_commit(self, key: Hashable, write: Callable[[], None]) -> None:
        """A write that can wait for the next commit and is made just before it, in its
        transaction: given again for the same key before then, only the last one is made (a job's
        totals change with each of its tasks and are written once per commit)."""
        ...

    def flush(self) -> None:
        """Commit what has been written (the CLI and tests; the service commits per loop tick)."""
        ...

    async def committed(self) -> None:
        """Wait until every write made so far is on disk."""
        ...

    def health(self) -> str:
        """ "ok" when the store is open and writable, else what is wrong."""
        ...

    def close(self) -> None: ...
