"""The jobs pages in Chromium: create a job through the form, its live task counts and charts while
tasks made with the SDK run, the server-side task table of a 10,000-task job (filter, sort, a bad
filter's Batch error), and terminating and deleting a job."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.conftest import wait_for
from tests.sdk import job_options, pool_options, task_options

ACCOUNT = "devbatchaccount1"


def rows(first: int, last: int, total: int) -> str:
    """The table's count line, e.g. rows 1 to 100 of 10000 (joined by an en dash)."""
    return f"rows {first}\u2013{last} of {total}"


def _pool(client: Any, cleanup: Any, pool_id: str, dedicated: int) -> str:
    client.create_pool(pool_options(pool_id, dedicated=dedicated))
    cleanup("pool", pool_id)
    if dedicated:
        wait_for(lambda: len([n for n in client.list_nodes(pool_id) if n.state == "idle"]) == dedicated)
    return pool_id


def _job(client: Any, cleanup: Any, job_id: str, pool_id: str) -> str:
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    return job_id


def test_create_a_job_through_the_form(signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any) -> None:
    page = signed_in
    pool_id = _pool(client, cleanup, uid("jpool"), 0)
    job_id = uid("formjob")
    cleanup("job", job_id)
    page.goto(f"{portal}/a/{ACCOUNT}/jobs")
    page.get_by_role("link", name="Create job").click()
    page.get_by_label("Job ID").fill(job_id)
    page.get_by_label("Display name").fill("Made in the portal")
    page.get_by_label("Pool").select_option(pool_id)
    page.get_by_label("Priority").fill("250")
    page.get_by_label("Max wall clock time").fill("90")
    page.get_by_label("Max task retry count").fill("2")
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(f"{portal}/a/{ACCOUNT}/jobs/{job_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(job_id)

    made = client.get_job(job_id)
    assert made.pool_info.pool_id == pool_id and made.priority == 250 and made.display_name == "Made in the portal"
    assert made.constraints.max_wall_clock_time.total_seconds() == 90 * 60
    assert made.constraints.max_task_retry_count == 2
    assert made.all_tasks_complete_mode == "noaction"

    page.goto(f"{portal}/a/{ACCOUNT}/jobs")
    active = page.locator("section", has=page.get_by_role("heading", name="Active jobs"))
    expect(active.get_by_role("link", name=job_id)).to_be_visible()
    completed = page.locator("section", has=page.get_by_role("heading", name="Completed jobs"))
    expect(completed.get_by_role("link", name=job_id)).to_have_count(0)


def test_the_form_shows_the_batch_error(signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any) -> None:
    page = signed_in
    pool_id = _pool(client, cleanup, uid("jpool"), 0)
    job_id = _job(client, cleanup, uid("taken"), pool_id)
    page.goto(f"{portal}/a/{ACCOUNT}/jobs/new")
    page.get_by_label("Job ID").fill(job_id)
    page.get_by_label("Pool").select_option(pool_id)
    page.get_by_role("button", name="Create job").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("JobExists")
    expect(alert).to_contain_text("409")
    expect(page.get_by_label("Job ID")).to_have_value(job_id)  # the form again, as typed

    page.get_by_label("Job ID").fill(uid("other"))
    page.get_by_label("Priority").fill("5000")
    assert page.get_by_label("Priority").evaluate("e => !e.checkValidity()")  # the browser says so first
    page.locator("form.job-form").evaluate("f => f.noValidate = true")  # and the service too
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_role("alert")).to_contain_text("InvalidPropertyValue")
    expect(page.get_by_role("alert")).to_contain_text("priority")

    page.get_by_label("Priority").fill("0")
    page.get_by_label("Max wall clock time").fill("an hour")
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_role("alert")).to_contain_text("constraints.maxWallClockTime")

    done_id = uid("ending")
    cleanup("job", done_id)
    page.get_by_label("Job ID").fill(done_id)
    page.get_by_label("Max wall clock time").fill("PT2H")
    page.get_by_label("Terminate when all tasks complete").check()
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(f"{portal}/a/{ACCOUNT}/jobs/{done_id}")
    made = client.get_job(done_id)
    assert made.all_tasks_complete_mode == "terminatejob"
    assert made.constraints.max_wall_clock_time.total_seconds() == 7200


def test_live_counts_and_charts_while_tasks_run(
    signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any
) -> None:
    page = signed_in
    pool_id = _pool(client, cleanup, uid("lpool"), 1)
    job_id = _job(client, cleanup, uid("live"), pool_id)
    page.goto(f"{portal}/a/{ACCOUNT}/jobs/{job_id}")
    counts = page.locator("#job-counts")
    expect(counts.locator("[data-count=completed]")).to_have_text("0")

    client.create_tasks(job_id, [task_options("ok-1", "/bin/true"), task_options("bad-1", "/bin/false")])
    expect(counts.locator("[data-count=succeeded]")).to_have_text("1")
    expect(counts.locator("[data-count=failed]")).to_have_text("1")
    expect(counts.locator("[data-count=completed]")).to_have_text("2")
    expect(counts.locator("[data-count=active]")).to_have_text("0")

    timeline = page.locator("svg.timeline")
    expect(timeline.locator("rect.run")).to_have_count(2)
    expect(timeline.locator("title", has_text="ok-1: success")).to_have_count(1)
    expect(timeline.locator("title", has_text="bad-1: failure")).to_have_count(1)
    node_id = next(iter(client.list_nodes(pool_id))).id
    expect(timeline.locator("g.node-row > title")).to_have_text([node_id])  # the label shortens a long id
    expect(page.locator(".timeline-count")).to_have_text("All 2 runs are shown.")
    states = page.get_by_role("img", name=re.compile("Task states over time"))
    expect(states).to_have_attribute("aria-label", re.compile("1 succeeded, 1 failed"))


def test_filter_and_sort_the_task_table_of_10000_tasks(
    signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any
) -> None:
    page = signed_in
    pool_id = _pool(client, cleanup, uid("epool"), 0)  # no nodes: the tasks stay active
    job_id = _job(client, cleanup, uid("big"), pool_id)
    tasks = [task_options(f"t-{i:05}", "/bin/true") for i in range(10_000)]
    result = client.create_tasks(job_id, tasks)
    assert all(r.status == "success" for r in result.result_values)

    page.goto(f"{portal}/a/{ACCOUNT}/jobs/{job_id}")
    table = page.locator("#task-table")
    expect(table.locator(".table-rows")).to_have_text(rows(1, 100, 10000))
    expect(table.locator("tbody tr")).to_have_count(100)

    page.get_by_label("Filter (OData $filter)").fill("startswith(id,'t-0999')")
    page.get_by_label("Filter (OData $filter)").press("Enter")
    expect(table.locator(".table-rows")).to_have_text(rows(1, 10, 10))
    expect(table.locator("tbody tr td:first-child")).to_have_text([f"t-0999{i}" for i in range(10)])
    assert "filter=" in page.url  # the URL holds the table's state

    page.get_by_label("Filter (OData $filter)").fill("id eq 't-09999'")
    page.get_by_role("button", name="Apply").click()
    expect(table.locator(".table-rows")).to_have_text(rows(1, 1, 1))
    expect(table.get_by_role("link", name="t-09999")).to_have_attribute(
        "href", f"/portal/a/{ACCOUNT}/jobs/{job_id}/tasks/t-09999"
    )

    page.get_by_label("Filter (OData $filter)").fill("")
    page.get_by_role("button", name="Apply").click()
    expect(table.locator(".table-rows")).to_have_text(rows(1, 100, 10000))
    header = table.get_by_role("columnheader", name="Task ID")
    expect(header).to_have_attribute("aria-sort", "ascending")
    header.get_by_role("link").click()  # again: descending
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text("t-09999")
    page.get_by_label("Page size").select_option("50")
    page.get_by_role("button", name="Apply").click()
    expect(table.locator(".table-rows")).to_have_text(rows(1, 50, 10000))
    table.get_by_role("link", name="Next").click()
    expect(table.locator(".table-rows")).to_have_text(rows(51, 100, 10000))
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text("t-09949")

    page.reload()  # the state is in the URL: the same page without JavaScript's help
    expect(table.locator(".table-rows")).to_have_text(rows(51, 100, 10000))
    expect(table.get_by_role("columnheader", name="Task ID")).to_have_attribute("aria-sort", "descending")

    page.get_by_label("Filter (OData $filter)").fill("id eq")
    page.get_by_role("button", name="Apply").click()
    alert = table.get_by_role("alert")
    expect(alert).to_contain_text("InvalidQueryParameterValue")
    expect(alert).to_contain_text("$filter")
    expect(table.locator("table.tasks")).to_have_count(0)


def test_the_table_sorts_by_keyboard_without_javascript(
    browser: Any, portal: str, client: Any, uid: Any, cleanup: Any
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{portal}/")
        page.get_by_role("button", name=f"Sign in as {ACCOUNT}").click()
        page.wait_for_url(f"{portal}/a/{ACCOUNT}/")
        pool_id = _pool(client, cleanup, uid("npool"), 0)
        job_id = _job(client, cleanup, uid("nojs"), pool_id)
        client.create_tasks(job_id, [task_options(f"k-{i}", "/bin/true") for i in range(3)])
        page.goto(f"{portal}/a/{ACCOUNT}/jobs/{job_id}")
        page.locator("#sort-id").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("columnheader", name="Task ID")).to_have_attribute("aria-sort", "descending")
        expect(page.locator("#task-table tbody tr td:first-child")).to_have_text(["k-2", "k-1", "k-0"])
    finally:
        context.close()


def test_disable_and_enable_a_job(signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any) -> None:
    page = signed_in
    pool_id = _pool(client, cleanup, uid("dpool"), 0)
    job_id = _job(client, cleanup, uid("pause"), pool_id)
    page.goto(f"{portal}/a/{ACCOUNT}/jobs/{job_id}")
    page.get_by_label("Running tasks").select_option("terminate")
    page.get_by_role("button", name="Disable").click()
    expect(page.locator(".job-state")).to_contain_text("disabled")
    assert client.get_job(job_id).state == "disabled"
    page.get_by_role("button", name="Enable").click()
    expect(page.locator(".job-state")).to_contain_text("active")
    assert wait_for(lambda: client.get_job(job_id).state == "active")


def test_terminate_and_delete_a_job(signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any) -> None:
    page = signed_in
    pool_id = _pool(client, cleanup, uid("tpool"), 0)
    job_id = _job(client, cleanup, uid("ending"), pool_id)
    page.goto(f"{portal}/a/{ACCOUNT}/jobs/{job_id}")
    page.get_by_role("button", name="Terminate").click()
    expect(page.locator(".job-state")).to_contain_text("completed")
    assert wait_for(lambda: client.get_job(job_id).state == "completed")

    page.goto(f"{portal}/a/{ACCOUNT}/jobs")
    completed = page.locator("section", has=page.get_by_role("heading", name="Completed jobs"))
    expect(completed.get_by_role("link", name=job_id)).to_be_visible()

    page.goto(f"{portal}/a/{ACCOUNT}/jobs/{job_id}")
    page.get_by_text("Delete…").focus()
    page.keyboard.press("Enter")  # the confirmation opens by keyboard
    page.get_by_role("button", name=f"Delete job {job_id}").click()
    page.wait_for_url(f"{portal}/a/{ACCOUNT}/jobs")

    from azure.core.exceptions import ResourceNotFoundError

    def gone() -> bool:
        try:
            client.get_job(job_id)
        except ResourceNotFoundError:
            return True
        return False

    assert wait_for(gone)
    page.goto(f"{portal}/a/{ACCOUNT}/jobs/{job_id}")
    expect(page.get_by_role("alert")).to_contain_text("JobNotFound")
