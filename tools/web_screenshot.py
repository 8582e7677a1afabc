"""Screenshot of the web UI for the README: signed in, two accounts, balances, statements.

Runs web_src/ against the fakes of tools/web_fakes.py (the demo data of ``seed_demo``: fixed
ids and times, so the picture changes only when the UI does) in Debian's chromium, signs in
(the UI lists the demo user's accounts), and saves a 1280x800 PNG.

Usage: ``python tools/web_screenshot.py docs/web-ui.png`` (``make screenshot``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import ViewportSize, expect, sync_playwright
from web_fakes import WebFakes, seed_demo  # tools/ is the script's folder, so on the path

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = ViewportSize(width=1280, height=800)


def take_screenshot(output: Path) -> None:
    with (
        WebFakes(statement_lag=0, statement_poll_ms=100) as fakes,
        sync_playwright() as playwright,
    ):
        seed_demo(fakes.payments)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
            page = context.new_page()
            page.goto(f"{fakes.origin}/")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
            expect(page.locator("[data-role=sync]")).to_have_text(["Up to date"] * 2)
            page.locator("body").focus()
            output.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(output), animations="disabled", caret="hide")
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("output", type=Path, help="the PNG to write, e.g. docs/web-ui.png")
    take_screenshot(parser.parse_args().output)


if __name__ == "__main__":
    main()
