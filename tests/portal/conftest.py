"""The portal in real headless Chromium (Debian's `chromium`, installed by scripts/system-packages),
driven by Playwright for Python through its `executable_path`; the session's Batchite server serves
the portal at /portal, and the official SDK (the `client` fixture) sets up or checks what a test needs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from batchite.cli.server import ChildServer

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPECT_TIMEOUT = 30_000  # ms: what a page waits for (a task to end, a node to start), then the test fails


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Chromium for the portal tests; gone when they end (Playwright's sync API keeps an event loop
    running on this thread while it is open, where later tests call asyncio.run)."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("Debian's chromium is not installed (scripts/system-packages installs it as root)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def portal(server: ChildServer) -> str:
    """The portal's address on the session's server."""
    return f"{server.endpoint}/portal"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(EXPECT_TIMEOUT)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def signed_in(page: Any, portal: str) -> Any:
    """A page signed in as the development account with the one-click button."""
    page.goto(f"{portal}/")
    page.get_by_role("button", name="Sign in as devbatchaccount1").click()
    page.wait_for_url(f"{portal}/a/devbatchaccount1/")
    return page
