"""The portal's task pages: add a task, a task's page (state, execution and failure info, node,
dependencies, stdout.txt and stderr.txt tailed live) and its actions (terminate, reactivate, delete).

The file browsers (task files and node files) are in `files.py`; their routes are mounted with these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from batchite.domain.errors import BatchError
from batchite.portal.context import Signed, account_page
from batchite.portal.views import files, tail
from batchite.portal.views.task_form import TaskForm
from batchite.wire.enums import BatchTaskExecutionResult, BatchTaskState
from batchite.wire.models import BatchSubtask, BatchTask, BatchTaskIdRange

MAX_DEPENDENCIES_SHOWN = 50  # ids looked up (with their states) on one task's page


@dataclass
class Dependency:
    task_id: str
    state: str  # "" when there is no such task (yet)
    exit_code: int | None = None
    failed: bool = False  # completed with a failure


@dataclass
class DependencyRange:
    start: int
    end: int
    members: list[Dependency] = field(default_factory=list)  # the first ones, with their states
    more: int = 0  # members not shown


@dataclass
class Dependencies:
    ids: list[Dependency] = field(default_factory=list)
    ranges: list[DependencyRange] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.ids or self.ranges)

    @property
    def failed(self) -> list[str]:
        """The ids shown that completed with a failure."""
        found = [d.task_id for d in self.ids if d.failed]
        return found + [d.task_id for r in self.ranges for d in r.members if d.failed]


def _dependency(signed: Signed, job_id: str, task_id: str) -> Dependency:
    try:
        wire = signed.batch.tasks.get(signed.account, job_id, task_id).wire
    except BatchError:
        return Dependency(task_id, "")
    info = wire.execution_info
    failed = info is not None and info.result == BatchTaskExecutionResult.FAILURE
    return Dependency(task_id, wire.state.value, info.exit_code if info else None, failed)


def dependencies(signed: Signed, job_id: str, task: BatchTask) -> Dependencies:
    """The task's dependsOn, each id with its state (the first MAX_DEPENDENCIES_SHOWN looked up)."""
    found = Dependencies()
    given = task.depends_on
    if given is None:
        return found
    budget = MAX_DEPENDENCIES_SHOWN
    for task_id in given.task_ids or []:
        if budget > 0:
            found.ids.append(_dependency(signed, job_id, task_id))
            budget -= 1
        else:
            found.ids.append(Dependency(task_id, "?"))
    ranges: list[BatchTaskIdRange] = given.task_id_ranges or []
    for r in ranges:
        shown = max(0, min(budget, r.end - r.start + 1))
        members = [_dependency(signed, job_id, str(i)) for i in range(r.start, r.start + shown)]
        budget -= shown
        found.ranges.append(DependencyRange(r.start, r.end, members, max(0, r.end - r.start + 1 - shown)))
    return found


def can_reactivate(task: BatchTask) -> bool:
    info = task.execution_info
    return (
        task.state == BatchTaskState.COMPLETED and info is not None and info.result == BatchTaskExecutionResult.FAILURE
    )


def _task_url(signed: Signed, job_id: str, task_id: str) -> str:
    return f"{signed.base}/jobs/{job_id}/tasks/{task_id}"


def log_note(log: tail.Log, state: str, url: str) -> str:
    """What is said above a log (HTML): not there yet, nothing written, or the end shown only."""
    whole = f'<a href="{url}/download?path={log.name}">Download the whole {log.name}</a>'
    if not log.exists:
        if state == BatchTaskState.COMPLETED.value:
            return f"The task wrote no {log.name}."
        return f"{log.name} does not exist yet (the task is {state}); waiting for it."
    if log.skipped:
        return f"Showing the end, {log.skipped:,} bytes earlier not shown. {whole}"
    return ""


def summary_values(signed: Signed, job_id: str, task: BatchTask) -> dict[str, Any]:
    return {
        "task": task,
        "job_id": job_id,
        "url": _task_url(signed, job_id, task.id),
        "deps": dependencies(signed, job_id, task),
        "can_reactivate": can_reactivate(task),
        "base": signed.base,
        "csrf": signed.session.csrf,
    }


def render_summary(signed: Signed, job_id: str, task: BatchTask) -> str:
    template = signed.portal.templates.get_template("tasks/_summary.html")
    html = template.render(summary_values(signed, job_id, task))
    return "\n".join(line for line in html.splitlines() if line.strip())  # no blank data lines


async def _page(signed: Signed, job_id: str, task_id: str, error: BatchError | None = None) -> Response:
    task = signed.batch.tasks.get(signed.account, job_id, task_id).wire
    url = _task_url(signed, job_id, task.id)
    final = task.state == BatchTaskState.COMPLETED
    logs = [tail.Log(name) for name in tail.LOGS]
    texts = [await tail.read_new(signed.batch, signed.account, job_id, task.id, log, final) for log in logs]
    subtasks: list[BatchSubtask] = []
    if task.multi_instance_settings is not None:
        subtasks = signed.batch.tasks.subtasks(signed.account, job_id, task.id)
    summary = render_summary(signed, job_id, task)
    live = f"{url}/live?" + urlencode({"o": tail.offsets_id(logs), "h": tail.digest(summary)})
    values: dict[str, Any] = {
        **summary_values(signed, job_id, task),
        "summary": summary,
        "logs": [
            {"log": log, "text": text, "note": log_note(log, task.state.value, url)}
            for log, text in zip(logs, texts, strict=True)
        ],
        "live_url": None if final else live,
        "subtasks": subtasks,
    }
    if error is not None:
        return signed.error(error, "tasks/task.html", **values)
    return signed.render("tasks/task.html", **values)


@account_page
async def task_page(signed: Signed) -> Response:
    p = signed.request.path_params
    return await _page(signed, p["job"], p["task"])


@account_page
async def task_live(signed: Signed) -> Response:
    """The task page's live part (server-sent events): its summary, and its logs from the offsets
    the page (or the browser's Last-Event-ID) gives."""
    p = signed.request.path_params
    job_id, task_id = p["job"], p["task"]
    signed.batch.tasks.get(signed.account, job_id, task_id)  # TaskNotFound before a stream
    logs = [tail.Log(name) for name in tail.LOGS]
    offsets = tail.parse_offsets(signed.request.headers.get("last-event-id"), len(logs))
    offsets = offsets or tail.parse_offsets(signed.query("o"), len(logs)) or [0] * len(logs)
    for log, offset in zip(logs, offsets, strict=True):
        log.offset = offset
    url = _task_url(signed, job_id, task_id)

    async def summary() -> str:
        return render_summary(signed, job_id, signed.batch.tasks.get(signed.account, job_id, task_id).wire)

    def note(log: tail.Log, state: str) -> str:
        return log_note(log, state, url)

    return tail.stream(signed, job_id, task_id, logs, summary, note, signed.query("h"))


# -- adding a task --------------------------------------------------------------------------
def _form_page(signed: Signed, job_id: str, form: TaskForm, error: BatchError | None = None) -> Response:
    values: dict[str, Any] = {"job_id": job_id, "form": form}
    if error is not None:
        return signed.error(error, "tasks/new.html", **values)
    return signed.render("tasks/new.html", **values)


@account_page
async def new_task(signed: Signed) -> Response:
    job_id = signed.request.path_params["job"]
    if signed.form is None:
        signed.batch.jobs.get(signed.account, job_id)  # JobNotFound rather than a form for no job
        return _form_page(signed, job_id, TaskForm())
    form = TaskForm.read(signed.field, signed.fields)
    adding = signed.field("add")
    if adding:  # "Add resource file" / "Add environment variable": the form again, one row more
        form.add_row(adding)
        return _form_page(signed, job_id, form)
    try:
        task = signed.batch.tasks.create(signed.account, job_id, form.options())
    except BatchError as err:
        return _form_page(signed, job_id, form, err)
    return signed.redirect(f"/jobs/{job_id}/tasks/{task.id}")


# -- actions --------------------------------------------------------------------------------
@account_page
async def task_action(signed: Signed) -> Response:
    p = signed.request.path_params
    job_id, task_id, action = p["job"], p["task"], p["action"]
    try:
        if action == "terminate":
            signed.batch.tasks.terminate(signed.account, job_id, task_id)
        elif action == "reactivate":
            signed.batch.tasks.reactivate(signed.account, job_id, task_id)
        elif action == "delete":
            signed.batch.tasks.delete(signed.account, job_id, task_id)
            return signed.redirect(f"/jobs/{job_id}")
        else:
            raise BatchError(404, "ResourceNotFound", "The specified resource does not exist.")
    except BatchError as err:
        return await _page(signed, job_id, task_id, err)
    return signed.redirect(f"/jobs/{job_id}/tasks/{task_id}")


routes: list[BaseRoute] = [
    Route("/jobs/{job}/tasks/new", new_task, methods=["GET", "POST"]),
    Route("/jobs/{job}/tasks/{task}", task_page, methods=["GET"]),
    Route("/jobs/{job}/tasks/{task}/live", task_live, methods=["GET"]),
    Route("/jobs/{job}/tasks/{task}/{action:str}", task_action, methods=["POST"]),
    *files.routes,
]
