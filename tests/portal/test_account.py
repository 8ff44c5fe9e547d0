"""The account pages in the browser: the live dashboard, quota bars, keys (show, copy, regenerate),
and creating a Batch account through the form (on a server with the management plane)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.batch import models as m
from azure.core.exceptions import HttpResponseError
from playwright.sync_api import expect

from batchite.cli.server import ChildServer, start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME
from tests.conftest import make_client, wait_for
from tests.sdk import pool_options

DEV = DEV_ACCOUNT_NAME
CORES = 2  # standard_d2s_v3, the size of tests.sdk's pools


def _steady(client: Any, pool_id: str) -> Any:
    return wait_for(lambda: (p := client.get_pool(pool_id)).allocation_state == "steady" and p)


def test_dashboard_shows_a_pool_made_with_the_sdk_and_its_nodes_live(
    signed_in: Any, client: Any, cleanup: Any, uid: Any
) -> None:
    page = signed_in
    pools = page.get_by_role("region", name="Pools")
    expect(page.get_by_role("region", name="Nodes by state")).to_be_visible()
    pool_id = uid("dash")
    client.create_pool(pool_options(pool_id, dedicated=1))
    cleanup("pool", pool_id)
    # No reload: the pool arrives through the page's event stream.
    link = pools.get_by_role("link", name=pool_id)
    expect(link).to_be_visible()
    row = pools.get_by_role("row").filter(has_text=pool_id)
    dedicated = row.get_by_role("cell").nth(1)
    expect(dedicated).to_have_text("1")
    _steady(client, pool_id)
    client.begin_resize_pool(pool_id, m.BatchPoolResizeOptions(target_dedicated_nodes=2), polling_interval=0.05)
    expect(dedicated).to_have_text("2")
    expect(page.get_by_role("list", name="Nodes by state")).to_contain_text("idle")
    link.click()
    page.wait_for_url(f"**/a/{DEV}/pools/{pool_id}")


def test_quota_bars_name_their_numbers(signed_in: Any, portal: str, client: Any, cleanup: Any, uid: Any) -> None:
    pool_id = uid("quota")
    client.create_pool(pool_options(pool_id, dedicated=1))
    cleanup("pool", pool_id)
    wait_for(lambda: client.get_pool(pool_id).current_dedicated_nodes == 1)
    every = list(client.list_pools())
    cores = CORES * sum(p.current_dedicated_nodes or 0 for p in every)
    active_jobs = sum(1 for j in client.list_jobs() if j.state != "completed")
    page = signed_in
    page.goto(f"{portal}/a/{DEV}/quotas")
    use = page.get_by_role("region", name="Use")
    expect(use.get_by_role("img", name=f"Dedicated cores: {cores} of 900")).to_be_visible()
    expect(use.get_by_role("img", name="Low-priority (spot) cores: 0 of 100")).to_be_visible()
    expect(use.get_by_role("img", name=f"Pools: {len(every)} of 100")).to_be_visible()
    expect(use.get_by_role("img", name=f"Active jobs and job schedules: {active_jobs} of 300")).to_be_visible()
    numbers = page.get_by_role("row", name="Dedicated cores")
    expect(numbers.get_by_role("cell")).to_have_text([str(cores), "900", str(900 - cores)])
    expect(page.get_by_role("region", name="Raising a quota")).to_contain_text("--dedicated-core-quota")
    page.goto(f"{portal}/a/{DEV}/")
    dashboard = page.get_by_role("region", name="Quota use")
    expect(dashboard.get_by_role("img", name=f"Pools: {len(every)} of 100")).to_be_visible()


def test_keys_show_copy_and_the_development_account_is_locked(signed_in: Any, portal: str, endpoint: str) -> None:
    page = signed_in
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=endpoint)
    page.goto(f"{portal}/a/{DEV}/keys")
    expect(page.get_by_label("Batch account", exact=True)).to_have_value(DEV)
    expect(page.get_by_label("URL", exact=True)).to_have_value(endpoint)
    key = page.get_by_label("Primary access key", exact=True)
    expect(key).to_have_attribute("type", "password")
    page.get_by_role("button", name="Show primary access key").click()
    expect(key).to_have_attribute("type", "text")
    expect(key).to_have_value(DEV_ACCOUNT_KEY)
    expect(page.get_by_role("button", name="Hide primary access key")).to_have_attribute("aria-pressed", "true")
    copy = page.get_by_role("button", name="Copy primary access key")
    copy.click()
    expect(copy).to_have_attribute("data-copied", "true")
    expect(page.locator("#key-primary-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == DEV_ACCOUNT_KEY
    page.get_by_role("button", name="Regenerate primary key").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("ScopeLocked")
    expect(alert).to_contain_text("(409)")
    expect(alert).to_contain_text("cannot be changed, re-keyed or deleted")
    page.goto(f"{portal}/a/{DEV}/")  # still signed in
    expect(page).to_have_url(f"{portal}/a/{DEV}/")


def test_without_the_management_plane_the_form_says_so(page: Any, portal: str) -> None:
    page.goto(f"{portal}/accounts/new")
    expect(page.get_by_role("heading", name="Create a Batch account")).to_be_visible()
    expect(page.get_by_text("when the management plane is on")).to_be_visible()
    expect(page.get_by_label("Account name")).to_have_count(0)


# -- creating an account: a server with the management plane ----------------------------------
@pytest.fixture(scope="module")
def mgmt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    child = start_child_server(tmp_path_factory.mktemp("batchite-portal-mgmt"), mgmt_port=0)
    yield child
    child.stop()


def test_create_an_account_then_regenerate_its_key(page: Any, mgmt_server: ChildServer) -> None:
    portal = f"{mgmt_server.endpoint}/portal"
    name = "portal" + uuid.uuid4().hex[:10]
    page.goto(f"{portal}/")
    page.get_by_role("link", name="Create a Batch account").click()
    page.wait_for_url(f"{portal}/accounts/new")
    expect(page.get_by_label("Subscription")).to_have_value("ba7c1e00-0000-4000-8000-000000000003")
    page.get_by_label("Resource group").fill("portal-rg")
    account = page.get_by_label("Account name")
    check = page.locator("#name-check")
    expect(check).to_have_attribute("aria-live", "polite")
    account.press_sequentially("Bad_Name")
    expect(check).to_contain_text("Only lowercase letters and digits (not met)")
    account.fill(DEV)
    expect(check).to_contain_text("is already in use")
    account.fill(name)
    expect(check).to_contain_text(f"The name {name} is available")
    page.get_by_label("Location").select_option("westeurope")
    expect(page.get_by_label("Storage account")).to_have_value("")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(f"{portal}/a/{name}/")
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Signed-in accounts")).to_contain_text(name)

    page.get_by_role("link", name="Keys").click()
    page.wait_for_url(f"{portal}/a/{name}/keys")
    key = page.get_by_label("Primary access key", exact=True)
    old = key.input_value()
    # Another browser signed in with the primary key, its dashboard open.
    other = page.context.browser.new_context()
    elsewhere = other.new_page()
    elsewhere.goto(f"{portal}/")
    elsewhere.get_by_label("Account name").fill(name)
    elsewhere.get_by_label("Account key").fill(old)
    elsewhere.get_by_role("button", name="Sign in", exact=True).click()
    elsewhere.wait_for_url(f"{portal}/a/{name}/")
    expect(elsewhere.get_by_role("region", name="Pools")).to_contain_text("No pools yet")

    page.get_by_role("button", name="Regenerate primary key").click()
    page.wait_for_url(f"{portal}/a/{name}/keys?regenerated=primary&show=primary")
    expect(page.get_by_role("status").filter(has_text="regenerated")).to_be_visible()
    expect(key).to_have_attribute("type", "text")
    new = key.input_value()
    assert new and new != old
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(f"{portal}/a/{name}/")  # still signed in, with the new key
    expect(page.get_by_role("region", name="Pools")).to_contain_text("No pools yet")

    # The other session is signed out: live, then on its next page.
    expect(elsewhere.get_by_role("region", name="Pools")).to_contain_text("Signed out: this account's key has changed")
    elsewhere.reload()
    expect(elsewhere.get_by_role("status")).to_contain_text("That account's key has changed")
    other.close()

    with make_client(mgmt_server.endpoint, name, new) as fresh:
        assert list(fresh.list_pools()) == []
    with make_client(mgmt_server.endpoint, name, old) as stale, pytest.raises(HttpResponseError) as refused:
        list(stale.list_pools())
    assert refused.value.status_code == 403


def test_create_form_errors_are_shown_in_the_form(page: Any, mgmt_server: ChildServer) -> None:
    portal = f"{mgmt_server.endpoint}/portal"
    page.goto(f"{portal}/accounts/new")
    page.get_by_label("Resource group").fill("portal-rg")
    page.get_by_label("Account name").fill(DEV)
    page.get_by_role("button", name="Create").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("AccountAlreadyExists")
    expect(alert).to_contain_text("(409)")
    expect(page.get_by_label("Account name")).to_have_value(DEV)  # the form again, as it was
    page.get_by_label("Resource group").fill("bad/group")
    page.get_by_label("Account name").fill("portal" + uuid.uuid4().hex[:10])
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert")).to_contain_text("InvalidResourceGroup")


def test_a_forged_create_is_refused(mgmt_server: ChildServer) -> None:
    with httpx.Client(base_url=f"{mgmt_server.endpoint}/portal", follow_redirects=False) as http:
        http.get("/accounts/new")  # a session, with its cookie
        forged = http.post("/accounts/new", data={"csrf": "forged", "name": "forgedaccount", "resourceGroup": "x"})
        assert forged.status_code == 403
        assert http.get("/accounts/check-name", params={"name": "forgedaccount"}).text.count("is available") == 1
