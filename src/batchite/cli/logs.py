"""`batchite logs JOB TASK [-f] [--stderr]`: a task's stdout (or stderr); with -f, followed by
ranged reads (the file's size from its properties, then `ocp-range` past what was shown) until the
task is complete."""

from __future__ import annotations

import sys
import time
from typing import Any

import typer

from batchite.cli.batch_connection import (
    ACCOUNT_KEY,
    ACCOUNT_NAME,
    ENDPOINT,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_TASK_FAILED,
    errors,
    make_client,
    refusals,
    text,
)


def _write(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _size(client: Any, job_id: str, task_id: str, name: str) -> int | None:
    """The file's size, or None while it does not exist (the task has not started)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return int(client.get_task_file_properties(job_id, task_id, name).content_length)
    except ResourceNotFoundError:
        return None


def _read(client: Any, job_id: str, task_id: str, name: str, start: int, end: int) -> bytes:
    """Bytes start..end (inclusive) of the file."""
    return b"".join(client.download_task_file(job_id, task_id, name, ocp_range=f"bytes={start}-{end}"))


def follow(client: Any, job_id: str, task_id: str, name: str, interval: float) -> Any:
    """Write the file as it grows until the task is complete; the completed task."""
    offset = 0
    while True:
        task = client.get_task(job_id, task_id, select=["id", "state", "executionInfo"])
        complete = text(task.state) == "completed"
        size = _size(client, job_id, task_id, name)
        if size is not None and size < offset:  # a retry started the file again
            errors.print(f"[yellow]{name} started again (the task was retried)[/yellow]")
            offset = 0
        if size is not None and size > offset:
            data = _read(client, job_id, task_id, name, offset, size - 1)
            _write(data)
            offset += len(data)
        if complete:  # the state was read before the size: nothing is written after it
            return task
        time.sleep(interval)


def _print_all(client: Any, job_id: str, task_id: str, name: str) -> None:
    """The file as it is now. The task is read first: a streamed download's 404 has no error code
    in the SDK (it does not read the body), a task's get has (JobNotFound, TaskNotFound)."""
    task = client.get_task(job_id, task_id, select=["id", "state"])
    if _size(client, job_id, task_id, name) is None:
        errors.print(f"Task {task_id} has no {name} (it is {text(task.state)})", highlight=False, markup=False)
        raise typer.Exit(EXIT_REFUSED)
    for chunk in client.download_task_file(job_id, task_id, name):
        _write(chunk)


def logs(
    job_id: str = typer.Argument(..., help="The job."),
    task_id: str = typer.Argument(..., help="The task."),
    follow_: bool = typer.Option(False, "-f", "--follow", help="Follow the file while the task runs."),
    stderr: bool = typer.Option(False, "--stderr", help="stderr.txt instead of stdout.txt."),
    interval: float = typer.Option(0.5, "--interval", min=0.05, help="Seconds between reads with -f."),
    endpoint: str = ENDPOINT,
    account_name: str = ACCOUNT_NAME,
    account_key: str = ACCOUNT_KEY,
) -> None:
    """Print a task's stdout (or stderr), with -f followed while it runs.

    With -f the exit code is 1 when the task failed; 3 when the service refused (no such job,
    task or file).
    """
    name = "stderr.txt" if stderr else "stdout.txt"
    with refusals(), make_client(endpoint, account_name, account_key) as client:
        if not follow_:
            _print_all(client, job_id, task_id, name)
            raise typer.Exit(EXIT_OK)
        try:
            task = follow(client, job_id, task_id, name, interval)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
    info = task.execution_info
    failed = info is not None and text(info.result) == "failure"
    raise typer.Exit(EXIT_TASK_FAILED if failed else EXIT_OK)
