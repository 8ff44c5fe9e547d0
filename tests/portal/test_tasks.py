"""Task pages in Chromium: add a task through the form, see it complete with its stdout and stderr,
follow a running task's output live, failure and exit info, dependencies. The pool (one node) and
the job are made with the SDK."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions  # not exported by azure-batch 15.1.0
from playwright.sync_api import expect

from batchite.service.accounts import DEV_ACCOUNT_NAME
from tests.conftest import wait_for
from tests.sdk import job_options, pool_options, task_options

POLL = 0.1


@dataclass
class Setup:
    pool_id: str
    job_id: str

    def url(self, portal: str, rest: str = "") -> str:
        return f"{portal}/a/{DEV_ACCOUNT_NAME}/jobs/{self.job_id}{rest}"


@pytest.fixture(scope="module")
def setup(client: Any) -> Iterator[Setup]:
    """A 1-node pool and a job on it that uses task dependencies (made with the SDK)."""
    import uuid

    suffix = uuid.uuid4().hex[:8]
    pool_id, job_id = f"ptpool-{suffix}", f"ptjob-{suffix}"
    client.create_pool(pool_options(pool_id, dedicated=1, slots=4))
    client.create_job(job_options(job_id, pool_id, uses_task_dependencies=True))
    wait_for(lambda: any(n.state == "idle" for n in client.list_nodes(pool_id)), timeout=60)
    try:
        yield Setup(pool_id, job_id)
    finally:
        client.begin_delete_job(job_id, polling_interval=POLL).result()
        client.begin_delete_pool(pool_id, polling_interval=POLL).result()


def _state(page: Any) -> Any:
    return page.locator("#task-state .state")


def test_add_a_task_through_the_form_and_see_it_complete_with_its_output(
    signed_in: Any, portal: str, setup: Setup, client: Any
) -> None:
    page = signed_in
    page.goto(setup.url(portal, "/tasks/new"))
    page.get_by_label("Task ID").fill("hello")
    page.get_by_label("Display name").fill("Hello from the portal")
    page.get_by_label("Command line").fill("/bin/sh -c 'echo hello-portal $GREETING; echo oops >&2'")
    env = page.get_by_role("group", name="Environment variable 1")
    env.get_by_label("Name").fill("GREETING")
    env.get_by_label("Value").fill("from-env")
    page.get_by_label("Max wall clock time").fill("PT10M")
    page.get_by_label("Max task retry count").fill("1")
    page.get_by_role("button", name="Add task").click()

    page.wait_for_url(setup.url(portal, "/tasks/hello"))
    expect(page.get_by_role("log", name="stdout.txt", exact=True)).to_contain_text("hello-portal from-env")
    expect(page.get_by_role("log", name="stderr.txt", exact=True)).to_contain_text("oops")
    expect(_state(page)).to_have_text("completed")
    expect(page.locator("#exit-code")).to_have_text("0")
    expect(page.locator("#command-line")).to_have_text("/bin/sh -c 'echo hello-portal $GREETING; echo oops >&2'")

    task = client.get_task(setup.job_id, "hello")
    assert task.display_name == "Hello from the portal"
    assert [(e.name, e.value) for e in task.environment_settings] == [("GREETING", "from-env")]
    assert task.constraints.max_task_retry_count == 1
    assert task.constraints.max_wall_clock_time.total_seconds() == 600
    node_link = page.get_by_role("link", name=task.node_info.node_id, exact=True)
    assert node_link.get_attribute("href") == (
        f"/portal/a/{DEV_ACCOUNT_NAME}/pools/{setup.pool_id}/nodes/{task.node_info.node_id}"
    )


def test_the_form_adds_rows_without_javascript_and_shows_service_errors(
    browser: Any, portal: str, setup: Setup, client: Any
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{portal}/")
        page.get_by_role("button", name=f"Sign in as {DEV_ACCOUNT_NAME}").click()
        page.wait_for_url(f"{portal}/a/{DEV_ACCOUNT_NAME}/")
        page.goto(setup.url(portal, "/tasks/new"))
        page.get_by_label("Task ID").fill("hello-nojs")
        first = page.get_by_role("group", name="Resource file 1")
        first.get_by_label("HTTP URL").fill("https://example.invalid/a.txt")
        first.get_by_label("File path").fill("in/a.txt")
        page.get_by_role("button", name="Add resource file").click()
        second = page.get_by_role("group", name="Resource file 2")
        expect(second.get_by_label("Storage container URL")).to_be_visible()
        expect(second.get_by_label("HTTP URL")).to_be_focused()  # the new row, for the keyboard
        expect(page.get_by_label("Task ID")).to_have_value("hello-nojs")
        expect(first.get_by_label("HTTP URL")).to_have_value("https://example.invalid/a.txt")
        page.get_by_role("button", name="Add environment variable").click()
        expect(page.get_by_role("group", name="Environment variable 2")).to_be_visible()

        page.get_by_label("Command line").fill("true")
        page.get_by_label("Max wall clock time").fill("ten minutes")
        page.get_by_role("button", name="Add task").click()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("InvalidPropertyValue")
        expect(alert).to_contain_text("(400)")
        expect(alert).to_contain_text("constraints.maxWallClockTime")

        client.create_task(setup.job_id, task_options("taken", "true"))
        page.get_by_label("Task ID").fill("taken")
        page.get_by_label("Max wall clock time").fill("")
        with page.expect_response(lambda r: r.url.endswith("/tasks/new")) as answer:
            page.get_by_role("button", name="Add task").click()
        assert answer.value.status == 409
        expect(page.get_by_role("alert")).to_contain_text("TaskExists")
        expect(page.get_by_role("group", name="Resource file 2")).to_be_visible()  # the form kept its rows
    finally:
        context.close()


def test_a_running_task_is_tailed_live(signed_in: Any, portal: str, setup: Setup, client: Any) -> None:
    page = signed_in
    command = "/bin/sh -c 'for i in 1 2 3 4 5 6 7 8; do echo line-$i; sleep 0.3; done'"
    client.create_task(setup.job_id, task_options("ticker", command))
    page.goto(setup.url(portal, "/tasks/ticker"))
    stdout = page.get_by_role("log", name="stdout.txt", exact=True)
    expect(stdout).to_contain_text("line-1")
    seen_first = stdout.inner_text()
    state_then = _state(page).inner_text()
    assert "line-8" not in seen_first, "line-1 only showed once the task had finished"
    assert state_then in ("running", "preparing"), state_then
    expect(stdout).to_contain_text("line-8")
    expect(_state(page)).to_have_text("completed")
    lines = stdout.inner_text().split()
    assert lines == [f"line-{i}" for i in range(1, 9)], lines  # each push appended once, in order
    expect(page.locator(".live-mark")).to_have_text("")  # the stream ended
    expect(page.locator("#exit-code")).to_have_text("0")


def test_a_failing_task_shows_its_failure_and_exit_info(signed_in: Any, portal: str, setup: Setup, client: Any) -> None:
    page = signed_in
    client.create_task(setup.job_id, task_options("fails", "/bin/sh -c 'echo bad-news >&2; exit 3'"))
    page.goto(setup.url(portal, "/tasks/fails"))
    expect(_state(page)).to_have_text("completed")
    expect(page.locator("#exit-code")).to_have_text("3")
    failure = page.get_by_role("group", name="Failure")
    expect(failure).to_contain_text("usererror")
    expect(page.locator("#failure-code")).to_have_text("FailureExitCode")
    expect(page.get_by_role("log", name="stderr.txt", exact=True)).to_contain_text("bad-news")

    page.get_by_role("button", name="Reactivate").click()
    page.wait_for_url(setup.url(portal, "/tasks/fails"))
    expect(_state(page)).to_have_text("completed")  # it runs again and fails again
    expect(page.locator("#exit-code")).to_have_text("3")
    wait_for(lambda: client.get_task(setup.job_id, "fails").state == "completed")

    bad_url = m.ResourceFile(http_url="http://127.0.0.1:9/missing.txt", file_path="missing.txt")
    client.create_task(setup.job_id, task_options("no-input", "true", resource_files=[bad_url]))
    page.goto(setup.url(portal, "/tasks/no-input"))
    expect(_state(page)).to_have_text("completed")
    failure = page.get_by_role("group", name="Failure")
    expect(failure).to_contain_text("usererror")
    expect(failure).to_contain_text("missing.txt")


def test_dependencies_are_listed_with_links_and_states(signed_in: Any, portal: str, setup: Setup, client: Any) -> None:
    page = signed_in
    for task_id in ("dep-a", "1", "2"):
        client.create_task(setup.job_id, task_options(task_id, "true"))
    depends = m.BatchTaskDependencies(task_ids=["dep-a"], task_id_ranges=[m.BatchTaskIdRange(start=1, end=2)])
    client.create_task(setup.job_id, task_options("after", "/bin/sh -c 'echo after'", depends_on=depends))
    page.goto(setup.url(portal, "/tasks/after"))
    deps = page.get_by_role("region", name="Dependencies")
    expect(deps).to_contain_text("Range 1 to 2")
    for task_id in ("dep-a", "1", "2"):
        expect(deps.get_by_role("link", name=task_id, exact=True)).to_have_attribute(
            "href", f"/portal/a/{DEV_ACCOUNT_NAME}/jobs/{setup.job_id}/tasks/{task_id}"
        )
    expect(deps.get_by_role("row", name=re.compile("dep-a")).locator(".state")).to_have_text("completed")
    expect(page.get_by_role("log", name="stdout.txt", exact=True)).to_contain_text("after")
    deps.get_by_role("link", name="dep-a", exact=True).click()
    page.wait_for_url(setup.url(portal, "/tasks/dep-a"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("dep-a")

    client.create_task(setup.job_id, task_options("broken", "/bin/sh -c 'exit 1'"))
    on_broken = m.BatchTaskDependencies(task_ids=["broken"])
    client.create_task(setup.job_id, task_options("blocked", "true", depends_on=on_broken))
    page.goto(setup.url(portal, "/tasks/blocked"))
    expect(page.locator("#blocked")).to_contain_text("Blocked: broken failed.")  # live: once broken has run
    expect(_state(page)).to_have_text("active")

    satisfy = m.ExitConditions(
        exit_codes=[m.ExitCodeMapping(code=1, exit_options=m.ExitOptions(dependency_action="satisfy"))]
    )
    client.create_task(setup.job_id, task_options("forgiven", "/bin/sh -c 'exit 1'", exit_conditions=satisfy))
    on_forgiven = m.BatchTaskDependencies(task_ids=["forgiven"])
    client.create_task(setup.job_id, task_options("runs-anyway", "/bin/sh -c 'echo ran'", depends_on=on_forgiven))
    page.goto(setup.url(portal, "/tasks/forgiven"))
    conditions = page.get_by_role("table", name="Exit conditions")
    expect(conditions.get_by_role("row", name="exit code 1")).to_contain_text("satisfy")
    page.goto(setup.url(portal, "/tasks/runs-anyway"))
    expect(page.get_by_role("log", name="stdout.txt", exact=True)).to_have_text("ran\n")
    expect(page.locator("#blocked")).to_have_count(0)


def test_a_multi_instance_task_shows_its_settings(signed_in: Any, portal: str, setup: Setup, client: Any) -> None:
    page = signed_in
    settings = m.MultiInstanceSettings(number_of_instances=1, coordination_command_line="/bin/sh -c 'echo coord'")
    client.create_task(setup.job_id, task_options("mpi", "/bin/sh -c 'echo primary'", multi_instance_settings=settings))
    page.goto(setup.url(portal, "/tasks/mpi"))
    expect(_state(page)).to_have_text("completed")
    page.reload()  # the subtasks are part of the definition, read with the page
    subtasks = list(client.list_subtasks(setup.job_id, "mpi"))
    definition = page.get_by_role("region", name="Definition")
    expect(definition).to_contain_text("echo coord")
    if subtasks:  # one instance on a one-node pool: the primary only, or one subtask for it
        expect(page.get_by_role("table", name="Subtasks").get_by_role("row")).to_have_count(len(subtasks) + 1)
    else:
        expect(page.locator("#no-subtasks")).to_be_visible()
    expect(page.get_by_role("log", name="stdout.txt", exact=True)).to_have_text("primary\n")


def test_terminate_and_delete(signed_in: Any, portal: str, setup: Setup, client: Any) -> None:
    page = signed_in
    client.create_task(setup.job_id, task_options("sleeper", "/bin/sh -c 'echo started; sleep 60'"))
    page.goto(setup.url(portal, "/tasks/sleeper"))
    expect(page.get_by_role("log", name="stdout.txt", exact=True)).to_contain_text("started")
    page.get_by_role("button", name="Terminate").click()
    expect(_state(page)).to_have_text("completed")
    assert client.get_task(setup.job_id, "sleeper").state == "completed"
    page.get_by_text("Delete…").click()
    page.get_by_role("button", name="Delete task sleeper").click()
    page.wait_for_url(re.compile(f"/jobs/{setup.job_id}$"))
    page.goto(setup.url(portal, "/tasks/sleeper"))
    expect(page.get_by_role("alert")).to_contain_text("TaskNotFound")


def test_a_task_waiting_for_its_dependency_says_so_then_tails_its_output(
    signed_in: Any, portal: str, setup: Setup, client: Any
) -> None:
    page = signed_in
    client.create_task(setup.job_id, task_options("gate", "/bin/sh -c 'sleep 2'"))
    depends = m.BatchTaskDependencies(task_ids=["gate"])
    client.create_task(setup.job_id, task_options("gated", "/bin/sh -c 'echo gated-output'", depends_on=depends))
    page.goto(setup.url(portal, "/tasks/gated"))
    expect(page.locator("#stdout-note")).to_have_text(
        "stdout.txt does not exist yet (the task is active); waiting for it."
    )
    expect(_state(page)).to_have_text("active")
    expect(page.get_by_role("log", name="stdout.txt", exact=True)).to_have_text("gated-output\n")
    expect(_state(page)).to_have_text("completed")
    expect(page.locator("#stdout-note")).to_have_text("")


def test_a_big_log_starts_with_its_end(signed_in: Any, portal: str, setup: Setup, client: Any) -> None:
    page = signed_in
    client.create_task(setup.job_id, task_options("big", "/bin/sh -c 'seq 1 50000'"))
    wait_for(lambda: client.get_task(setup.job_id, "big").state == "completed")
    size = sum(len(f"{i}\n") for i in range(1, 50001))
    page.goto(setup.url(portal, "/tasks/big"))
    log = page.get_by_role("log", name="stdout.txt", exact=True)
    expect(log).to_contain_text("49999\n50000")
    shown = len(log.inner_text().encode())
    assert shown <= 64 * 1024
    note = page.locator("#stdout-note")
    expect(note).to_contain_text(f"Showing the end, {size - 64 * 1024:,} bytes earlier not shown.")
    whole = note.get_by_role("link", name="Download the whole stdout.txt")
    answer = page.request.get(f"{portal.removesuffix('/portal')}{whole.get_attribute('href')}")
    assert len(answer.body()) == size


def test_run_as_admin(signed_in: Any, portal: str, setup: Setup, client: Any) -> None:
    page = signed_in
    page.goto(setup.url(portal, "/tasks/new"))
    page.get_by_label("Task ID").fill("as-admin")
    page.get_by_label("Command line").fill("/bin/sh -c 'id -u'")
    page.get_by_label("Run as admin").check()
    page.get_by_label("Task ID").press("Enter")  # Enter in a field adds the task (not a row)
    page.wait_for_url(setup.url(portal, "/tasks/as-admin"))
    expect(page.get_by_role("log", name="stdout.txt", exact=True)).to_have_text("0\n")
    expect(page.get_by_role("region", name="Definition")).to_contain_text("auto-user (task scope, admin)")
    assert client.get_task(setup.job_id, "as-admin").user_identity.auto_user.elevation_level == "admin"


def test_the_live_stream_goes_on_from_the_offsets_the_browser_had(
    signed_in: Any, portal: str, setup: Setup, client: Any
) -> None:
    page = signed_in
    client.create_task(setup.job_id, task_options("resume", "/bin/sh -c 'printf \"abcdef<ghi>\\n\"'"))
    wait_for(lambda: client.get_task(setup.job_id, "resume").state == "completed")
    live = setup.url(portal, "/tasks/resume/live?o=0,0")
    answer = page.request.get(live, headers={"Last-Event-ID": "3,0"})  # a reconnection after 3 bytes
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/event-stream")
    body = answer.text()
    assert "event: stdout\ndata: def&lt;ghi&gt;\ndata: \nid: 12,0\n\n" in body, body
    assert body.rstrip().endswith("event: end\ndata:")
    fresh = page.request.get(live).text()  # no Last-Event-ID: from the page's offsets
    assert "data: abcdef&lt;ghi&gt;\n" in fresh


def test_a_character_cut_between_pushes_is_shown_whole(signed_in: Any, portal: str, setup: Setup, client: Any) -> None:
    page = signed_in
    # the euro sign's first two bytes, a pause of several pushes, then its last byte
    command = '/bin/sh -c \'printf "start \\342\\202"; sleep 1.5; printf "\\254 euro\\n"\''
    client.create_task(setup.job_id, task_options("cut", command))
    page.goto(setup.url(portal, "/tasks/cut"))
    log = page.get_by_role("log", name="stdout.txt", exact=True)
    expect(log).to_have_text("start ")
    expect(_state(page)).to_have_text("running")
    expect(log).to_have_text("start € euro\n")
    assert "\ufffd" not in log.inner_text()


def test_adding_to_a_completed_or_missing_job_shows_the_batch_error(
    signed_in: Any, portal: str, setup: Setup, client: Any
) -> None:
    page = signed_in
    done_id = f"{setup.job_id}-done"
    client.create_job(job_options(done_id, setup.pool_id))
    try:
        page.goto(f"{portal}/a/{DEV_ACCOUNT_NAME}/jobs/{done_id}/tasks/new")
        terminate = BatchJobTerminateOptions(termination_reason="done")  # the SDK needs a body
        client.begin_terminate_job(done_id, terminate, polling_interval=POLL).result()
        wait_for(lambda: client.get_job(done_id).state == "completed")
        page.get_by_label("Task ID").fill("late")
        page.get_by_label("Command line").fill("true")
        with page.expect_response(lambda r: r.url.endswith("/tasks/new")) as answer:
            page.get_by_role("button", name="Add task").click()
        assert answer.value.status == 409
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("JobCompleted")
        expect(alert).to_contain_text("The specified job is already in a completed state.")
        expect(page.get_by_label("Task ID")).to_have_value("late")
    finally:
        client.begin_delete_job(done_id, polling_interval=POLL).result()
    missing = page.goto(f"{portal}/a/{DEV_ACCOUNT_NAME}/jobs/no-such-job/tasks/new")
    assert missing is not None and missing.status == 404
    expect(page.get_by_role("alert")).to_contain_text("JobNotFound")
    gone = page.goto(setup.url(portal, "/tasks/no-such-task"))
    assert gone is not None and gone.status == 404
    expect(page.get_by_role("alert")).to_contain_text("TaskNotFound")
