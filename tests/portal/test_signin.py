"""Signing in: one click as the development account on loopback, or an account name and key; the key
stays on the server; a forged change is a 403."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

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
