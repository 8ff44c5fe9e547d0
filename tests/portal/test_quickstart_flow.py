"""The portal's headline scenario, done entirely through its forms in Chromium: sign in with one
click, create a pool (Pool ID, image, Node size, Target dedicated nodes = 1), a job on it, a task on
the job, and see the task complete with its stdout and stderr. The SDK only checks what was made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from batchite.service.accounts import DEV_ACCOUNT_NAME

COMPLETES = 90_000  # ms: the node boots, then the task runs


def test_quickstart_through_the_forms(
    page: Any, portal: str, uid: Callable[[str], str], cleanup: Callable[[str, str], None], client: Any
) -> None:
    base = f"{portal}/a/{DEV_ACCOUNT_NAME}"
    pool_id, job_id = uid("qspool"), uid("qsjob")
    cleanup("pool", pool_id)
    cleanup("job", job_id)

    page.goto(f"{portal}/")
    page.get_by_role("button", name=f"Sign in as {DEV_ACCOUNT_NAME}").click()
    page.wait_for_url(f"{base}/")
    side = page.get_by_role("navigation", name=DEV_ACCOUNT_NAME)

    side.get_by_role("link", name="Pools").click()
    page.get_by_role("link", name="Create pool").click()
    page.get_by_label("Pool ID").fill(pool_id)
    page.get_by_label("Publisher").select_option("canonical")
    page.get_by_label("Offer").select_option("0001-com-ubuntu-server-jammy")
    expect(page.get_by_label("SKU")).to_have_value("22_04-lts")
    page.get_by_label("Node size").select_option("Standard_D2s_v3")
    page.get_by_label("Target dedicated nodes").fill("1")
    page.get_by_role("button", name="Create pool").click()
    page.wait_for_url(f"{base}/pools")
    expect(page.get_by_role("link", name=pool_id, exact=True)).to_be_visible()
    pool = client.get_pool(pool_id)
    assert pool.vm_size.lower() == "standard_d2s_v3" and pool.target_dedicated_nodes == 1
    image = pool.virtual_machine_configuration.image_reference
    assert (image.publisher, image.offer, image.sku) == ("canonical", "0001-com-ubuntu-server-jammy", "22_04-lts")

    side.get_by_role("link", name="Jobs").click()
    page.get_by_role("link", name="Create job").click()
    page.get_by_label("Job ID").fill(job_id)
    page.get_by_label("Pool", exact=True).select_option(pool_id)
    page.get_by_label("Priority").fill("100")
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(f"{base}/jobs/{job_id}")
    job = client.get_job(job_id)
    assert job.pool_info.pool_id == pool_id and job.priority == 100

    page.get_by_role("link", name="Add task").click()
    page.wait_for_url(f"{base}/jobs/{job_id}/tasks/new")
    page.get_by_label("Task ID").fill("hello")
    page.get_by_label("Command line").fill("/bin/sh -c 'echo hello-portal; echo oops >&2'")
    page.get_by_role("button", name="Add task").click()

    page.wait_for_url(f"{base}/jobs/{job_id}/tasks/hello")
    expect(page.locator("#task-state .state")).to_have_text("completed", timeout=COMPLETES)
    expect(page.get_by_role("log", name="stdout.txt", exact=True)).to_have_text("hello-portal\n")
    expect(page.get_by_role("log", name="stderr.txt", exact=True)).to_have_text("oops\n")
    expect(page.locator("#exit-code")).to_have_text("0")
    task = client.get_task(job_id, "hello")
    assert task.state == "completed" and task.execution_info.exit_code == 0
    assert task.node_info.pool_id == pool_id
