"""File browsers in Chromium: a task's files (a directory of 10,000 files paged and filtered on the
server, a file shown and downloaded as written), paths that climb out refused with the Batch error,
and the files of the node the task ran on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from batchite.service.accounts import DEV_ACCOUNT_NAME
from tests.conftest import wait_for
from tests.sdk import job_options, pool_options, task_options

POLL = 0.1
MANY = 10_000
# In the task's working directory (wd): d/1 ... d/10000, and hello.txt beside d.
WRITER = (
    f"/bin/sh -c 'mkdir -p d && cd d && seq 1 {MANY} | xargs touch && cd .. && printf \"abc-content\\n\" > hello.txt'"
)


@dataclass
class Ran:
    pool_id: str
    job_id: str
    task_id: str
    node_id: str
    task_dir: str

    def task_url(self, portal: str, rest: str = "") -> str:
        return f"{portal}/a/{DEV_ACCOUNT_NAME}/jobs/{self.job_id}/tasks/{self.task_id}{rest}"


@pytest.fixture(scope="module")
def ran(client: Any) -> Iterator[Ran]:
    suffix = uuid.uuid4().hex[:8]
    pool_id, job_id = f"pfpool-{suffix}", f"pfjob-{suffix}"
    client.create_pool(pool_options(pool_id, dedicated=1))
    client.create_job(job_options(job_id, pool_id))
    try:
        client.create_task(job_id, task_options("many", WRITER))
        task = wait_for(lambda: (t := client.get_task(job_id, "many")).state == "completed" and t, timeout=90)
        assert task.execution_info.exit_code == 0, task.execution_info
        yield Ran(pool_id, job_id, "many", task.node_info.node_id, task.node_info.task_root_directory)
    finally:
        client.begin_delete_job(job_id, polling_interval=POLL).result()
        client.begin_delete_pool(pool_id, polling_interval=POLL).result()


def _rows(page: Any) -> Any:
    return page.locator("table.files tbody tr")


def test_a_directory_of_10000_files_pages_and_filters(signed_in: Any, portal: str, ran: Ran) -> None:
    page = signed_in
    page.goto(ran.task_url(portal, "/files"))
    expect(page.get_by_role("link", name="stdout.txt", exact=True)).to_be_visible()
    page.get_by_role("link", name="wd/", exact=True).click()
    expect(page.get_by_role("link", name="hello.txt", exact=True)).to_be_visible()

    started = time.monotonic()
    page.get_by_role("link", name="d/", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"{MANY} entries · page 1 of 50")
    elapsed = time.monotonic() - started
    print(f"\nlisting page of {MANY} files: {elapsed * 1000:.0f} ms in the browser")
    assert elapsed < 5.0
    expect(_rows(page)).to_have_count(201)  # the parent row and 200 files
    timings = []
    for query in ("path=wd/d", "path=wd/d&page=50", "path=wd/d&filter=9999"):
        begun = time.monotonic()
        assert page.request.get(ran.task_url(portal, f"/files?{query}")).status == 200
        timings.append(time.monotonic() - begun)
    print(f"listing requests (page 1, page 50, filtered): {', '.join(f'{t * 1000:.0f} ms' for t in timings)}")
    assert max(timings) < 2.0
    expect(_rows(page).nth(1)).to_contain_text("1")
    expect(_rows(page).nth(200)).to_contain_text("200")
    nav = page.get_by_role("navigation", name="Breadcrumb")
    expect(nav.get_by_role("link", name="d", exact=True)).to_have_attribute("aria-current", "page")

    page.get_by_role("navigation", name="Pages").first.get_by_role("link", name="Next").click()
    expect(page.get_by_role("status")).to_contain_text("page 2 of 50")
    expect(page.get_by_role("link", name="201", exact=True)).to_be_visible()
    page.get_by_role("navigation", name="Pages").first.get_by_role("link", name="Last").click()
    expect(page.get_by_role("link", name="10000", exact=True)).to_be_visible()

    page.get_by_label("Filter names").fill("9999")  # htmx: the listing follows the typing
    expect(page.get_by_role("status")).to_contain_text(f"1 of {MANY} entries match")
    expect(_rows(page)).to_have_count(2)
    expect(page.get_by_role("link", name="9999", exact=True)).to_be_visible()
    assert "filter=9999" in page.url

    page.get_by_label("Filter names").fill("999")
    page.get_by_label("Filter names").press("Enter")  # the plain form too (999, 1999 ... 9999, 9990 ... 9998)
    expect(page.get_by_role("status")).to_contain_text(f"19 of {MANY} entries match")


def test_a_file_is_shown_and_downloaded_as_written(signed_in: Any, portal: str, ran: Ran) -> None:
    page = signed_in
    page.goto(ran.task_url(portal, "/files?path=wd"))
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download hello.txt").click()
    download = downloading.value
    assert download.suggested_filename == "hello.txt"
    with open(download.path(), "rb") as f:
        assert f.read() == b"abc-content\n"

    answer = page.request.get(ran.task_url(portal, "/download?path=wd/hello.txt"))
    assert answer.status == 200
    assert answer.headers["content-length"] == "12"
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.headers["content-disposition"].startswith('attachment; filename="hello.txt"')
    assert answer.body() == b"abc-content\n"

    page.get_by_role("link", name="hello.txt", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("hello.txt")
    expect(page.locator("pre.file-text")).to_have_text("abc-content\n")
    expect(page.get_by_role("link", name="Download", exact=True)).to_be_visible()


@pytest.mark.parametrize(
    "rest",
    [
        "/files?path=../../..",
        "/files?path=wd/../../../..",
        "/file?path=../../../../etc/passwd",
        "/download?path=../stdout.txt",
    ],
)
def test_paths_that_climb_out_get_the_batch_error(signed_in: Any, portal: str, ran: Ran, rest: str) -> None:
    page = signed_in
    answer = page.goto(ran.task_url(portal, rest))
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("alert")).to_contain_text("FileNotFound")
    assert "root:" not in page.content()


def test_the_node_files_of_the_node_the_task_ran_on(signed_in: Any, portal: str, ran: Ran) -> None:
    page = signed_in
    page.goto(ran.task_url(portal))
    page.get_by_role("link", name="node files").click()
    page.wait_for_url(f"{portal}/a/{DEV_ACCOUNT_NAME}/pools/{ran.pool_id}/nodes/{ran.node_id}/files")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Files of node {ran.node_id}")
    expect(page.get_by_role("link", name="shared/", exact=True)).to_be_visible()
    page.get_by_role("link", name="workitems/", exact=True).click()
    expect(page.get_by_role("link", name=f"{ran.job_id}/", exact=True)).to_be_visible()

    stdout = f"{ran.task_dir.strip('/')}/wd/hello.txt"
    answer = page.request.get(
        f"{portal}/a/{DEV_ACCOUNT_NAME}/pools/{ran.pool_id}/nodes/{ran.node_id}/download?path={stdout}"
    )
    assert answer.status == 200 and answer.body() == b"abc-content\n"
    missing = page.goto(
        f"{portal}/a/{DEV_ACCOUNT_NAME}/pools/{ran.pool_id}/nodes/{ran.node_id}/files?path=nothing-here"
    )
    assert missing is not None and missing.status == 404
    expect(page.get_by_role("alert")).to_contain_text("FileNotFound")
