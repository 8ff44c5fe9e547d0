"""The portal's jobs pages: the list (active and completed apart), creating a job, and the
job's actions (terminate, delete, disable, enable). The job page itself is in job_page.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from batchite.domain.entities import Job
from batchite.domain.errors import BatchError, invalid_property
from batchite.domain.odata import parse_list_filter
from batchite.portal.context import Signed, account_page
from batchite.portal.views import job_page
from batchite.portal.views.job_form import RETRY_HINT, WALL_CLOCK_HINT, JobForm, job_body
from batchite.wire.enums import DisableBatchJobOption
from batchite.wire.models import BatchTaskCounts

LISTED = 200  # jobs shown in each table


@dataclass(frozen=True)
class JobRow:
    job: Job
    counts: BatchTaskCounts


def _rows(signed: Signed, text: str) -> tuple[list[JobRow], bool]:
    page = signed.batch.jobs.list(signed.account, 0, LISTED, parse_list_filter("jobs", text))
    rows = [JobRow(job, signed.batch.jobs.task_counts(signed.account, job.id).task_counts) for job in page.items]
    return rows, page.next_after is not None


@account_page
async def job_list(signed: Signed) -> Response:
    active, more_active = _rows(signed, "state ne 'completed'")
    completed, more_completed = _rows(signed, "state eq 'completed'")
    return signed.render(
        "jobs/list.html",
        active=active,
        completed=completed,
        more_active=more_active,
        more_completed=more_completed,
        listed=LISTED,
    )


def _pool_ids(signed: Signed) -> list[str]:
    return [pool.id for pool in signed.batch.pools.list(signed.account, 0, 1000).items]


def _form_page(signed: Signed, form: JobForm, error: BatchError | None = None) -> Response:
    values: dict[str, Any] = {
        "form": form,
        "pools": _pool_ids(signed),
        "wall_clock_hint": WALL_CLOCK_HINT,
        "retry_hint": RETRY_HINT,
    }
    if error is not None:
        return signed.error(error, "jobs/new.html", **values)
    return signed.render("jobs/new.html", **values)


@account_page
async def new_job(signed: Signed) -> Response:
    return _form_page(signed, JobForm(pool=signed.query("pool")))


@account_page
async def create_job(signed: Signed) -> Response:
    form = JobForm(
        id=signed.field("id"),
        display_name=signed.field("display_name"),
        pool=signed.field("pool"),
        priority=signed.field("priority"),
        max_wall_clock=signed.field("max_wall_clock"),
        max_retries=signed.field("max_retries"),
        terminate_on_complete=signed.field("terminate_on_complete") == "on",
    )
    try:
        body = job_body(form)
        if form.pool:
            signed.batch.pools.get(signed.account, form.pool)  # PoolNotFound: the portal offers existing pools
        job = signed.batch.jobs.create(signed.account, body)
    except BatchError as err:
        return _form_page(signed, form, err)
    await signed.batch.committed()
    return signed.redirect(f"/jobs/{job.id}")


# -- actions ------------------------------------------------------------------------------------
def _job_id(signed: Signed) -> str:
    job_id: str = signed.request.path_params["job"]
    return job_id


@account_page
async def terminate_job(signed: Signed) -> Response:
    job_id = _job_id(signed)
    signed.batch.jobs.terminate(signed.account, job_id, signed.field("reason") or None)
    await signed.batch.committed()
    return signed.redirect(f"/jobs/{job_id}")


@account_page
async def delete_job(signed: Signed) -> Response:
    signed.batch.jobs.delete(signed.account, _job_id(signed))
    await signed.batch.committed()
    return signed.redirect("/jobs")


@account_page
async def disable_job(signed: Signed) -> Response:
    job_id = _job_id(signed)
    try:
        option = DisableBatchJobOption(signed.field("disable_tasks") or "requeue")
    except ValueError:
        raise invalid_property("disableTasks", signed.field("disable_tasks")) from None
    signed.batch.jobs.disable(signed.account, job_id, option)
    await signed.batch.committed()
    return signed.redirect(f"/jobs/{job_id}")


@account_page
async def enable_job(signed: Signed) -> Response:
    job_id = _job_id(signed)
    signed.batch.jobs.enable(signed.account, job_id)
    await signed.batch.committed()
    return signed.redirect(f"/jobs/{job_id}")


routes: list[BaseRoute] = [
    Route("/jobs", job_list, methods=["GET"]),
    Route("/jobs/new", new_job, methods=["GET"]),
    Route("/jobs/new", create_job, methods=["POST"]),
    Route("/jobs/{job}/terminate", terminate_job, methods=["POST"]),
    Route("/jobs/{job}/delete", delete_job, methods=["POST"]),
    Route("/jobs/{job}/disable", disable_job, methods=["POST"]),
    Route("/jobs/{job}/enable", enable_job, methods=["POST"]),
    *job_page.routes,
]
