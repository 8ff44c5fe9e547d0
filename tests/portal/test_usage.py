"""Usage and cost: a pool with one dedicated node made with the SDK and a task run on it are
listed with their node-hours; a price entered in the page prices them, is kept (a reload shows
it), and a bad price is the Batch error in the form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from batchite.service.accounts import DEV_ACCOUNT_NAME
from tests.conftest import wait_for
from tests.sdk import job_options, pool_options, task_options

VM_SIZE = "Standard_E2s_v3"  # no other portal test uses it: its price row is this test's


@pytest.fixture
def used(client: Any, cleanup: Callable[[str, str], None], uid: Callable[[str], str]) -> tuple[str, str]:
    """A pool of one dedicated node and a job whose task ran on it (the pool and job ids)."""
    pool_id, job_id = uid("usage-pool"), uid("usage-job")
    options = pool_options(pool_id, dedicated=1)
    options.vm_size = VM_SIZE
    client.create_pool(options)
    cleanup("pool", pool_id)
    client.create_job(job_options(job_id, pool_id))
    cleanup("job", job_id)
    client.create_task(job_id, task_options("t1", "/bin/sh -c 'sleep 1; echo used'"))
    wait_for(lambda: client.get_task(job_id, "t1").state == "completed", timeout=60)
    node = wait_for(lambda: list(client.list_nodes(pool_id)))[0]
    assert node.is_dedicated
    return pool_id, job_id


def node_hours(row: Any) -> float:
    text = row.locator("td.hours").inner_text()
    return float(text.split()[0].replace("<", "").replace(",", ""))


def test_usage_lists_pool_and_job_and_prices_them(signed_in: Any, portal: str, used: tuple[str, str]) -> None:
    pool_id, job_id = used
    page = signed_in
    page.goto(f"{portal}/a/{DEV_ACCOUNT_NAME}/usage?period=24h")
    expect(page.get_by_role("heading", name="Usage and cost")).to_be_visible()
    pools = page.get_by_role("table", name="Pools", exact=True)
    pool_row = pools.get_by_role("row").filter(has=page.get_by_role("rowheader", name=pool_id, exact=True))
    expect(pool_row).to_have_count(1)
    expect(pool_row).to_contain_text(VM_SIZE)
    assert node_hours(pool_row) > 0
    expect(pool_row).to_contain_text("set a price")
    jobs = page.get_by_role("table", name="Jobs", exact=True)
    job_row = jobs.get_by_role("row").filter(has=page.get_by_role("rowheader", name=job_id, exact=True))
    expect(job_row).to_contain_text(VM_SIZE)
    assert node_hours(job_row) > 0  # the task's run (a second or more), on its dedicated node
    assert node_hours(job_row) <= node_hours(pool_row)

    # The VM size in use has a row to price; a price for dedicated node-hours makes the cost appear.
    page.get_by_label("Currency").fill("EUR")
    page.get_by_label(f"Dedicated price per hour for {VM_SIZE}").fill("3600")  # 1 EUR a node-second
    page.get_by_role("button", name="Save prices").click()
    expect(page.get_by_role("status")).to_have_text("Prices saved.")
    pool_row = page.get_by_role("table", name="Pools", exact=True).get_by_role("row").filter(has_text=pool_id)
    expect(
        page.get_by_role("table", name="Pools", exact=True).get_by_role("columnheader", name="Cost (EUR)")
    ).to_be_visible()
    cost = pool_row.locator("td").last
    expect(cost).not_to_contain_text("set a price")
    assert float(cost.inner_text().split()[0].replace(",", "")) > 0
    job_row = page.get_by_role("table", name="Jobs", exact=True).get_by_role("row").filter(has_text=job_id)
    assert float(job_row.locator("td").last.inner_text().split()[0].replace(",", "")) > 0

    # The portal keeps it: a fresh load (no form state) shows the price again.
    page.goto(f"{portal}/a/{DEV_ACCOUNT_NAME}/usage?period=all")
    expect(page.get_by_label(f"Dedicated price per hour for {VM_SIZE}")).to_have_value("3600")
    expect(page.get_by_label("Currency")).to_have_value("EUR")
    expect(
        page.get_by_role("table", name="Pools", exact=True).get_by_role("row").filter(has_text=pool_id)
    ).not_to_contain_text("set a price")


def test_a_bad_price_is_the_batch_error_in_the_form(signed_in: Any, portal: str) -> None:
    page = signed_in
    page.goto(f"{portal}/a/{DEV_ACCOUNT_NAME}/usage")
    page.get_by_label("VM size new row 1", exact=True).fill("Standard_E4s_v3")
    page.get_by_label("Low-priority price per hour new row 1", exact=True).fill("-0.5")
    page.get_by_role("button", name="Save prices").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("InvalidPropertyValue")
    expect(alert).to_contain_text("lowPriority")
    expect(alert).to_contain_text("cannot be negative")
    # The form is shown again with what was typed, and nothing was kept.
    expect(page.get_by_label("Low-priority price per hour for Standard_E4s_v3")).to_have_value("-0.5")
    page.get_by_label("Low-priority price per hour for Standard_E4s_v3").fill("cheap")
    page.get_by_role("button", name="Save prices").click()
    expect(page.get_by_role("alert")).to_contain_text("must be a number")
    page.goto(f"{portal}/a/{DEV_ACCOUNT_NAME}/usage")
    expect(page.get_by_label("Low-priority price per hour for Standard_E4s_v3")).to_have_count(0)
