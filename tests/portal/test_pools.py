"""The pool and node pages in headless Chromium: creating a pool through the form (and the Batch
errors it can give), the live node heatmap, a node's page with its recent tasks, resizing, the
autoscale formula editor (evaluate before saving), deleting. Data is set up and checked with the SDK."""

from __future__ import annotations

import re
from typing import Any

from azure.batch import models as m
from playwright.sync_api import expect

from tests.conftest import wait_for
from tests.sdk import job_options, pool_options, task_options

ACCOUNT = "devbatchaccount1"


def _pool_page(page: Any, portal: str, pool_id: str) -> None:
    page.goto(f"{portal}/a/{ACCOUNT}/pools/{pool_id}")
    expect(page.get_by_role("heading", name=f"Pool {pool_id}")).to_be_visible()


def test_create_a_pool_through_the_form_and_see_it_in_the_list(
    signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any
) -> None:
    page = signed_in
    pool_id = uid("portal-pool")
    cleanup("pool", pool_id)
    page.goto(f"{portal}/a/{ACCOUNT}/pools")
    page.get_by_role("link", name="Create pool").click()
    page.get_by_label("Pool ID").fill(pool_id)
    page.get_by_label("Display name").fill("Made in the portal")
    offers = page.get_by_label("Offer").locator("option")
    page.get_by_label("Publisher").select_option("debian")
    expect(offers).to_have_text(["debian-12", "debian-11"])  # narrowed to the publisher's offers
    page.get_by_label("Publisher").select_option("canonical")
    expect(offers).to_have_count(3)
    page.get_by_label("Offer").select_option("0001-com-ubuntu-server-jammy")
    expect(page.get_by_label("SKU")).to_have_value("22_04-lts")
    page.get_by_label("SKU").select_option("22_04-lts")
    page.get_by_label("Node size").select_option("Standard_D2s_v3")
    page.get_by_label("Target dedicated nodes").fill("0")
    page.get_by_label("Target low-priority nodes").fill("0")
    page.get_by_label("Start task command line").fill("/bin/sh -c 'echo ready'")
    page.get_by_label("Wait for success").check()
    page.get_by_role("button", name="Create pool").click()

    page.wait_for_url(f"{portal}/a/{ACCOUNT}/pools")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=pool_id))
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("steady")
    expect(row).to_contain_text("Standard_D2s_v3")
    pool = client.get_pool(pool_id)
    assert pool.display_name == "Made in the portal"
    image = pool.virtual_machine_configuration.image_reference
    assert (image.publisher, image.offer, image.sku) == ("canonical", "0001-com-ubuntu-server-jammy", "22_04-lts")
    assert pool.virtual_machine_configuration.node_agent_sku_id == "batch.node.ubuntu 22.04"
    assert pool.start_task.command_line == "/bin/sh -c 'echo ready'" and pool.start_task.wait_for_success

    # The same id again: the service's PoolExists, with its status, and the form as typed.
    page.get_by_role("link", name="Create pool").click()
    page.get_by_label("Pool ID").fill(pool_id)
    page.get_by_role("button", name="Create pool").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("PoolExists")
    expect(alert).to_contain_text("409")
    expect(page.get_by_label("Pool ID")).to_have_value(pool_id)


def test_a_bad_pool_id_shows_invalid_property_value(signed_in: Any, portal: str) -> None:
    page = signed_in
    page.goto(f"{portal}/a/{ACCOUNT}/pools/new")
    page.get_by_label("Pool ID").fill("bad id!")
    page.get_by_role("button", name="Create pool").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("InvalidPropertyValue")
    expect(alert).to_contain_text("(400)")
    expect(alert).to_contain_text("bad id!")
    expect(page.get_by_label("Pool ID")).to_have_value("bad id!")


def test_heatmap_cells_change_state_live_and_open_the_node(
    signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any
) -> None:
    page = signed_in
    pool_id, job_id = uid("heat"), uid("heat-job")
    cleanup("pool", pool_id)
    start = m.BatchStartTask(command_line="/bin/sh -c 'sleep 2'", wait_for_success=True)
    client.create_pool(pool_options(pool_id, dedicated=2, start_task=start))
    _pool_page(page, portal, pool_id)
    page.evaluate("window.batchiteNoReload = true")
    heatmap = page.get_by_role("navigation", name=f"Nodes of {pool_id}")
    cells = heatmap.get_by_role("link")
    expect(cells).to_have_count(2)
    booting = re.compile(r"^tvmps_\w+: (creating|starting|waitingforstarttask)$")
    expect(heatmap.get_by_role("link", name=booting).first).to_be_visible()
    idle = heatmap.get_by_role("link", name=re.compile(r": idle$"))
    expect(idle).to_have_count(2)
    expect(page.get_by_role("list", name="Nodes by state")).to_contain_text("idle 2")

    first, second = cells.nth(0), cells.nth(1)
    first.focus()
    page.keyboard.press("ArrowRight")  # one tab stop; the arrow keys move between the cells
    expect(second).to_be_focused()
    expect(first).to_have_attribute("tabindex", "-1")

    cleanup("job", job_id)
    client.create_job(job_options(job_id, pool_id))
    client.create_task(job_id, task_options("sleeper", "/bin/sh -c 'sleep 3'"))
    running = heatmap.get_by_role("link", name=re.compile(r": running$"))
    expect(running).to_have_count(1)
    expect(running).to_have_text("▶")  # the state's glyph: colour is not the only signal
    assert page.evaluate("window.batchiteNoReload") is True  # the cells changed without a reload
    expect(second).to_be_focused()  # and the focused cell kept the focus through the redraws

    label = running.get_attribute("aria-label")
    node_id = label.split(":")[0]
    running.click()
    page.wait_for_url(f"{portal}/a/{ACCOUNT}/pools/{pool_id}/nodes/{node_id}")
    expect(page.get_by_role("heading", name=f"Node {node_id}")).to_be_visible()
    recent = page.locator("table.recent-tasks")
    task_link = recent.get_by_role("link", name="sleeper")
    expect(task_link).to_have_attribute("href", f"/portal/a/{ACCOUNT}/jobs/{job_id}/tasks/sleeper")
    row = recent.get_by_role("row").filter(has=page.get_by_role("link", name="sleeper"))
    expect(row).to_contain_text("completed")  # live, as it ends
    expect(row.get_by_role("cell").nth(3)).to_have_text("0")  # its exit code
    expect(row).to_contain_text("success")
    expect(page.locator(".total-run")).to_have_text("1")
    files = page.get_by_role("link", name="Files")
    expect(files).to_have_attribute("href", f"/portal/a/{ACCOUNT}/pools/{pool_id}/nodes/{node_id}/files")


def test_resize_through_the_form(signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any) -> None:
    page = signed_in
    pool_id = uid("resize")
    cleanup("pool", pool_id)
    client.create_pool(pool_options(pool_id, dedicated=0))
    _pool_page(page, portal, pool_id)
    page.get_by_label("Target dedicated nodes").fill("-1")
    page.get_by_role("button", name="Resize", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("InvalidPropertyValue")
    expect(alert).to_contain_text("targetDedicatedNodes")

    page.get_by_label("Target dedicated nodes").fill("1")
    page.get_by_role("button", name="Resize", exact=True).click()
    page.wait_for_url(f"{portal}/a/{ACCOUNT}/pools/{pool_id}")
    expect(page.locator("#summary .target-dedicated")).to_have_text("1")
    assert client.get_pool(pool_id).target_dedicated_nodes == 1
    expect(page.locator("#summary .current-dedicated")).to_have_text("1")  # live: the node joined
    expect(page.get_by_role("navigation", name=f"Nodes of {pool_id}").get_by_role("link")).to_have_count(1)


def test_evaluate_a_bad_formula_then_a_good_one_and_save(
    signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any
) -> None:
    page = signed_in
    pool_id = uid("autoscale")
    cleanup("pool", pool_id)
    client.create_pool(pool_options(pool_id, dedicated=0))
    _pool_page(page, portal, pool_id)
    formula = page.get_by_label("Autoscale formula")
    formula.fill("$TargetDedicatedNodes = (1 + ;")
    page.get_by_role("button", name="Evaluate").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("AutoScalingFormulaSyntaxError")
    expect(alert.locator(".message")).to_have_text("Line 1, Col 30: expected a value, found ';'")
    expect(alert.locator(".values")).to_contain_text("Message")
    assert client.get_pool(pool_id).enable_auto_scale is False  # evaluating changed nothing

    formula.fill("$TargetDedicatedNodes = max(0, $PendingTasks.GetSample(1) - 1);\n$NodeDeallocationOption = requeue;")
    page.get_by_role("button", name="Evaluate").click()
    result = page.get_by_role("status").filter(has_text="Evaluation result")
    expect(result).to_contain_text("$TargetDedicatedNodes=0")
    expect(result).to_contain_text("$NodeDeallocationOption=requeue")
    expect(page.get_by_role("alert")).to_have_count(0)

    page.get_by_label("Evaluation interval").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#summary")).to_contain_text("enabled, every 5 m 00 s")
    pool = client.get_pool(pool_id)
    assert pool.enable_auto_scale is True
    assert pool.auto_scale_formula.startswith("$TargetDedicatedNodes = max(0")
    expect(page.locator("#summary .last-results")).to_contain_text("$TargetDedicatedNodes=0")

    page.get_by_role("button", name="Disable autoscale").click()
    expect(page.locator("#summary")).to_contain_text("disabled")
    assert client.get_pool(pool_id).enable_auto_scale is False


def test_delete_a_pool_with_a_keyboard_confirmation(
    signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any
) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    page = signed_in
    pool_id = uid("delete")
    cleanup("pool", pool_id)
    client.create_pool(pool_options(pool_id, dedicated=0))
    _pool_page(page, portal, pool_id)
    page.get_by_role("link", name="Delete pool…").click()
    confirm = page.get_by_role("button", name="Delete pool")
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{portal}/a/{ACCOUNT}/pools")

    def gone() -> bool:
        try:
            client.get_pool(pool_id)
        except ResourceNotFoundError:
            return True
        return False

    wait_for(gone)
    page.reload()
    expect(page.get_by_role("link", name=pool_id)).to_have_count(0)


def test_reboot_a_node_then_remove_it_from_its_pool(
    signed_in: Any, portal: str, client: Any, uid: Any, cleanup: Any
) -> None:
    page = signed_in
    pool_id = uid("node-actions")
    cleanup("pool", pool_id)
    client.create_pool(pool_options(pool_id, dedicated=1))
    node = wait_for(lambda: next((n for n in client.list_nodes(pool_id) if n.state == "idle"), None))
    page.goto(f"{portal}/a/{ACCOUNT}/pools/{pool_id}/nodes/{node.id}")
    expect(page.locator("#node-details")).to_contain_text("idle")
    page.get_by_role("button", name="Reboot").click()
    page.wait_for_url(f"{portal}/a/{ACCOUNT}/pools/{pool_id}/nodes/{node.id}")
    wait_for(lambda: client.get_node(pool_id, node.id).last_boot_time > node.last_boot_time)
    expect(page.locator("#node-details")).to_contain_text("idle")

    page.get_by_role("button", name="Remove from pool").click()
    page.wait_for_url(f"{portal}/a/{ACCOUNT}/pools/{pool_id}")
    expect(page.locator("#heatmap")).to_contain_text("This pool has no nodes.")  # live, once it has left
    assert client.get_pool(pool_id).target_dedicated_nodes == 0
