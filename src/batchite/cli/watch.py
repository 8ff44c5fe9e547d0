"""`batchite watch JOB`, and what `submit` shows too: a job's task counts, its slowest and failing
tasks (Rich Live), the progress bar, and the summary table at the end."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import msgspec
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from batchite.cli.batch_connection import (
    ACCOUNT_KEY,
    ACCOUNT_NAME,
    ENDPOINT,
    EXIT_OK,
    EXIT_TASK_FAILED,
    make_client,
    refusals,
    text,
)

console = Console()


class Counts(msgspec.Struct, frozen=True):
    active: int
    running: int
    completed: int
    succeeded: int
    failed: int

    @property
    def total(self) -> int:
        return self.active + self.running + self.completed

    @property
    def done(self) -> bool:
        return self.active == 0 and self.running == 0


class TaskRow(msgspec.Struct, frozen=True):
    id: str
    state: str
    exit_code: int | None
    node: str | None
    seconds: float | None
    failed: bool
    failure: str | None


def counts(client: Any, job_id: str) -> Counts:
    c = client.get_job_task_counts(job_id).task_counts
    return Counts(c.active, c.running, c.completed, c.succeeded, c.failed)


def _row(task: Any, now: datetime) -> TaskRow:
    info = task.execution_info
    start = info.start_time if info else None
    end = info.end_time if info else None
    seconds = None if start is None else ((end or now) - start).total_seconds()
    result = text(info.result) if info and info.result else None
    why = info.failure_info if info else None
    # a non-zero exit code is its own explanation; other failures (a resource file) say theirs
    failure = f"{why.code}: {why.message}" if why and why.code != "FailureExitCode" else None
    return TaskRow(
        id=task.id,
        state=text(task.state),
        exit_code=info.exit_code if info else None,
        node=task.node_info.node_id if task.node_info else None,
        seconds=seconds,
        failed=result == "failure",
        failure=failure,
    )


def task_rows(client: Any, job_id: str, state: str | None = None) -> list[TaskRow]:
    """The job's tasks (optionally those in one state), as the summary shows them."""
    select = ["id", "state", "executionInfo", "nodeInfo"]
    pages = client.list_tasks(job_id, filter=f"state eq '{state}'" if state else None, select=select)
    now = datetime.now(UTC)
    return [_row(task, now) for task in pages]


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f}s" if seconds < 120 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def summary_table(rows: list[TaskRow], title: str) -> Table:
    table = Table(title=title)
    for column in ("task", "state", "exit code", "node", "duration"):
        table.add_column(column, justify="right" if column in ("exit code", "duration") else "left")
    for row in sorted(rows, key=lambda r: r.id):
        state = f"[red]{row.state} (failed)[/red]" if row.failed else row.state
        code = "-" if row.exit_code is None else str(row.exit_code)
        table.add_row(escape(row.id), state, code, escape(row.node or "-"), _fmt_seconds(row.seconds))
    return table


def exit_code_of(rows: list[TaskRow]) -> int:
    return EXIT_TASK_FAILED if any(row.failed for row in rows) else EXIT_OK


def failures(rows: list[TaskRow]) -> list[str]:
    """One line per failed task: its exit code or why it could not run."""
    return [
        f"{row.id}: {row.failure or f'exit code {row.exit_code}'}"
        for row in sorted(rows, key=lambda r: r.id)
        if row.failed
    ]


def wait_with_progress(client: Any, job_id: str, out: Console, interval: float, timeout: float) -> bool:
    """A progress bar over the job's tasks (completed / total, failures) until all are complete;
    False when `timeout` (> 0) passed first."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
    )
    deadline = time.monotonic() + timeout if timeout > 0 else None
    with Progress(*columns, console=out) as progress:
        now = counts(client, job_id)
        bar = progress.add_task(job_id, total=now.total, completed=now.completed, failed=now.failed)
        while True:
            progress.update(bar, total=now.total, completed=now.completed, failed=now.failed)
            if now.done:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(interval)
            now = counts(client, job_id)


def _counts_table(job_id: str, c: Counts) -> Table:
    table = Table(title=f"job {job_id}")
    for column in ("active", "running", "completed", "succeeded", "failed"):
        table.add_column(column, justify="right")
    failed = f"[red]{c.failed}[/red]" if c.failed else "0"
    table.add_row(str(c.active), str(c.running), str(c.completed), str(c.succeeded), failed)
    return table


def _view(client: Any, job_id: str, top: int) -> tuple[Group, Counts]:
    c = counts(client, job_id)
    parts: list[Any] = [_counts_table(job_id, c)]
    if c.running:
        slowest = sorted(task_rows(client, job_id, "running"), key=lambda r: -(r.seconds or 0))[:top]
        parts.append(summary_table(slowest, "slowest running tasks"))
    if c.failed:
        failed = [r for r in task_rows(client, job_id, "completed") if r.failed][:top]
        parts.append(summary_table(failed, "failed tasks"))
    return Group(*parts), c


def watch(
    job_id: str = typer.Argument(..., help="The job to watch."),
    interval: float = typer.Option(1.0, "--interval", min=0.05, help="Seconds between polls."),
    top: int = typer.Option(5, "--top", min=1, help="How many slowest running and failed tasks to show."),
    endpoint: str = ENDPOINT,
    account_name: str = ACCOUNT_NAME,
    account_key: str = ACCOUNT_KEY,
) -> None:
    """Live task counts of a job and its slowest or failing tasks.

    Until all its tasks are complete (or Ctrl-C). Exit code 0 when all succeeded, 1 when one
    failed, 3 when the service refused (no such job).
    """
    with refusals(), make_client(endpoint, account_name, account_key) as client:
        view, c = _view(client, job_id, top)
        try:
            with Live(view, console=console, refresh_per_second=4) as live:
                while not c.done:
                    time.sleep(interval)
                    view, c = _view(client, job_id, top)
                    live.update(view)
        except KeyboardInterrupt:
            console.print("[yellow]Stopped watching; the job goes on.[/yellow]")
            raise typer.Exit(130) from None
        rows = task_rows(client, job_id)
    for line in failures(rows):
        console.print(f"[red]failed[/red] {escape(line)}", highlight=False)
    raise typer.Exit(exit_code_of(rows))
