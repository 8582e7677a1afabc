"""Fixtures of the web UI's browser tests: the fakes, Debian's Chromium, one page per test.

The site (web_src/ + config.json + the API fakes) and the fake Cognito run once per session
on free loopback ports (tools/web_fakes.py); every test starts from empty fakes and a new
browser context (no storage, cookies or tokens carried over). A test fails on any console
error or uncaught exception in the page, which includes every Content-Security-Policy
violation, and on any failed load of the site's own files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from browser_support import CHROMIUM, DESKTOP, STATEMENT_LAG, STATEMENT_POLL_MS, WebUI
from playwright.sync_api import Browser, BrowserContext, ViewportSize, sync_playwright

from tools.web_fakes import WebFakes


@pytest.fixture(scope="session")
def fakes() -> Iterator[WebFakes]:
    with WebFakes(statement_lag=STATEMENT_LAG, statement_poll_ms=STATEMENT_POLL_MS) as running:
        yield running


# Module scope, not session: while Playwright's sync API runs, its asyncio loop counts as
# running in the main thread (asyncio.run() would fail there), so it stops as soon as the
# browser tests (one module) are done instead of lasting through the rest of the session.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium package")
    with sync_playwright() as playwright:
        # Chromium's sandbox needs user namespaces that containers (and root) often lack;
        # the browser only ever loads this suite's own pages from loopback.
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def new_ui(browser: Browser, fakes: WebFakes) -> Iterator[Callable[..., WebUI]]:
    """Open a page in a new context, in the desktop viewport or the one given."""
    fakes.reset()
    opened: list[tuple[WebUI, BrowserContext]] = []

    def open_ui(viewport: ViewportSize | None = None) -> WebUI:
        context = browser.new_context(
            viewport=viewport or DESKTOP, locale="en-US", timezone_id="UTC"
        )
        context.set_default_timeout(10_000)
        ui = WebUI(context.new_page(), fakes)
        ui.watch()
        opened.append((ui, context))
        return ui

    yield open_ui
    problems = [problem for ui, _ in opened for problem in ui.problems]
    for _, context in opened:
        context.close()
    assert not problems, "the page reported problems:\n" + "\n".join(problems)


@pytest.fixture
def ui(new_ui: Callable[..., WebUI]) -> WebUI:
    return new_ui()
