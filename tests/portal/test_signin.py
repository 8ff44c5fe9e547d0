"""Signing in: one click as the development account on loopback, or an account name and key; the key
stays on the server; a forged change is a 403."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from batchite.cli.server import start_child_server
from batchite.service.accounts import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME


def test_one_click_development_sign_in(page: Any, portal: str) -> None:
    page.goto(f"{portal}/")
    page.get_by_role("button", name=f"Sign in as {DEV_ACCOUNT_NAME}").click()
    page.wait_for_url(f"{portal}/a/{DEV_ACCOUNT_NAME}/")
    expect(page.get_by_role("navigation", name="Signed-in accounts")).to_contain_text(DEV_ACCOUNT_NAME)


def test_sign_in_with_name_and_key_keeps_the_key_off_the_browser(page: Any, portal: str) -> None:
    page.goto(f"{portal}/")
    page.get_by_label("Account name").fill(DEV_ACCOUNT_NAME)
    page.get_by_label("Account key").fill(DEV_ACCOUNT_KEY)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{portal}/a/{DEV_ACCOUNT_NAME}/")
    assert DEV_ACCOUNT_KEY not in page.url
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["batchite-portal"]
    assert cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Strict"
    assert DEV_ACCOUNT_KEY not in cookies[0]["value"]
    stored = page.evaluate("() => JSON.stringify(Object.assign({}, localStorage, sessionStorage))")
    assert DEV_ACCOUNT_KEY not in stored


def test_a_wrong_key_is_refused_with_the_batch_error(page: Any, portal: str) -> None:
    page.goto(f"{portal}/")
    page.get_by_label("Account name").fill(DEV_ACCOUNT_NAME)
    page.get_by_label("Account key").fill("bm90LXRoZS1rZXk=")
    page.get_by_role("button", name="Sign in", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("AuthenticationFailed")
    expect(alert).to_contain_text(DEV_ACCOUNT_NAME)


def test_pages_need_a_session_and_changes_need_its_token(portal: str) -> None:
    with httpx.Client(base_url=portal, follow_redirects=False) as http:
        page = http.get(f"/a/{DEV_ACCOUNT_NAME}/")
        assert page.status_code == 303 and page.headers["location"].startswith("/portal/?")
        http.get("/")  # a session, with its cookie
        forged = http.post("/sign-in/dev", data={"csrf": "forged"})
        assert forged.status_code == 403
        assert "Forbidden" in forged.text
        other_origin = http.post(
            "/sign-in", data={"account": DEV_ACCOUNT_NAME}, headers={"Origin": "http://evil.example"}
        )
        assert other_origin.status_code == 403


def test_signing_out_of_an_account(page: Any, portal: str) -> None:
    """Out of one account: its pages ask for a sign-in again."""
    page.goto(f"{portal}/")
    page.get_by_role("button", name=f"Sign in as {DEV_ACCOUNT_NAME}").click()
    page.wait_for_url(f"{portal}/a/{DEV_ACCOUNT_NAME}/")
    page.goto(f"{portal}/")
    expect(page.get_by_role("region", name="Signed in")).to_contain_text(DEV_ACCOUNT_NAME)
    page.get_by_role("button", name=f"Sign out of {DEV_ACCOUNT_NAME}").click()
    page.wait_for_url(f"{portal}/")
    expect(page.get_by_role("button", name=f"Sign out of {DEV_ACCOUNT_NAME}")).to_have_count(0)
    page.goto(f"{portal}/a/{DEV_ACCOUNT_NAME}/")
    expect(page).to_have_url(f"{portal}/?next=%2Fportal%2Fa%2F{DEV_ACCOUNT_NAME}%2F")


def test_sign_in_returns_only_to_a_portal_page(portal: str) -> None:
    """`next` never leads off the portal (no open redirect)."""
    with httpx.Client(base_url=portal, follow_redirects=False) as http:
        home = http.get("/")
        csrf = home.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        for target, expected in [
            ("https://evil.example/", f"/portal/a/{DEV_ACCOUNT_NAME}/"),
            ("//evil.example/portal/a/x", f"/portal/a/{DEV_ACCOUNT_NAME}/"),
            (f"/portal/a/{DEV_ACCOUNT_NAME}/pools", f"/portal/a/{DEV_ACCOUNT_NAME}/pools"),
        ]:
            answer = http.post(
                "/sign-in", data={"csrf": csrf, "account": DEV_ACCOUNT_NAME, "key": DEV_ACCOUNT_KEY, "next": target}
            )
            assert answer.status_code == 303
            assert answer.headers["location"] == expected


TWO_ACCOUNTS = "alphabatch:YWxwaGEta2V5LTAxMjM0NTY3ODk=;betabatch:YmV0YS1rZXktMDEyMzQ1Njc4OQ=="


@pytest.fixture(scope="module")
def two_account_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    child = start_child_server(tmp_path_factory.mktemp("two-accounts"), env={"BATCHITE_ACCOUNTS": TWO_ACCOUNTS})
    yield f"{child.endpoint}/portal"
    child.stop()


def test_several_accounts_side_by_side(page: Any, two_account_portal: str) -> None:
    """Two accounts in one session, each with its own pages; no one-click sign-in without the
    development account."""
    portal = two_account_portal
    page.goto(f"{portal}/")
    expect(page.get_by_role("button", name=f"Sign in as {DEV_ACCOUNT_NAME}")).to_have_count(0)
    for spec in TWO_ACCOUNTS.split(";"):
        name, key = spec.split(":", 1)
        page.goto(f"{portal}/")
        page.get_by_label("Account name").fill(name)
        page.get_by_label("Account key").fill(key)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url(f"{portal}/a/{name}/")
    accounts = page.get_by_role("navigation", name="Signed-in accounts")
    expect(accounts.get_by_role("link", name="alphabatch")).to_be_visible()
    expect(accounts.get_by_role("link", name="betabatch")).to_have_attribute("aria-current", "page")
    accounts.get_by_role("link", name="alphabatch").click()
    page.wait_for_url(f"{portal}/a/alphabatch/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("alphabatch")


def test_an_unknown_portal_page_says_so_as_batch_does(page: Any, portal: str) -> None:
    answer = page.goto(f"{portal}/no/such/page")
    assert answer is not None and answer.status == 404
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("InvalidUri")
    expect(alert).to_contain_text("/portal/no/such/page")
