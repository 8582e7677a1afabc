"""The browser tests' view of the web UI: a page on the fake site and the user's steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import (
    ConsoleMessage,
    Error,
    Locator,
    Page,
    Response,
    ViewportSize,
    expect,
)

from tools.web_fakes import DEFAULT_USER, JsonObject, User, WebFakes

CHROMIUM = Path("/usr/bin/chromium")
# The fake statements service shows a new event only on the 4th read after it; the UI reads
# every 100 ms (config.json's statementPollMs) instead of every second.
STATEMENT_LAG = 3
STATEMENT_POLL_MS = 100
DESKTOP = ViewportSize(width=1280, height=800)


@dataclass
class WebUI:
    """One browser page on the fake site, what went wrong in it, and the user's steps."""

    page: Page
    fakes: WebFakes
    problems: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.fakes.origin

    def watch(self) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type != "error":
                return
            url = message.location.get("url", "")
            # Chromium logs every non-2xx fetch answer; the tests assert the API errors
            # they cause, so only those of the APIs are expected.
            if message.text.startswith("Failed to load resource") and url.startswith(
                f"{self.origin}/api/"
            ):
                return
            self.problems.append(f"console error: {message.text} ({url})")

        def on_response(response: Response) -> None:
            own_file = response.url.startswith(self.origin) and "/api/" not in response.url
            if own_file and response.status >= 400:
                self.problems.append(f"{response.status} for {response.url}")

        def on_page_error(error: Error) -> None:
            self.problems.append(f"uncaught: {error}")

        self.page.on("console", on_console)
        self.page.on("response", on_response)
        self.page.on("pageerror", on_page_error)

    def goto(self, path: str = "/") -> None:
        self.page.goto(f"{self.origin}{path}")

    def sign_in(self) -> None:
        """From the signed-out page, through the managed login, back signed in."""
        self.goto("/")
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()
        expect(self.page).to_have_url(f"{self.origin}/")

    def id_token(self) -> str:
        """The ID token the fake Cognito issued last."""
        return self.fakes.tokens.issued()[-1]

    def seed_account(
        self,
        owner_name: str = "Alex Morgan",
        currency: str = "EUR",
        deposit_minor: int = 0,
        owner: User = DEFAULT_USER,
    ) -> JsonObject:
        """An account of the signed-in user (or ``owner``) that the statements service has
        seen, with an optional first deposit, made behind the UI's back."""
        email = f"customer{len(self.fakes.payments.accounts)}@example.com"
        account = self.fakes.payments.open_account(owner, owner_name, email, currency, lag=0)
        if deposit_minor:
            self.fakes.payments.deposit(account["account_id"], deposit_minor, lag=0)
        return account

    def listed_card(self, account_id: str) -> Locator:
        """The card of an account the page listed, once its statement is up to date."""
        card = self.card(account_id)
        expect(card.locator("[data-role=sync]")).to_have_text("Up to date")
        return card

    def listed_ids(self) -> list[str]:
        """The ids of the account cards, in the order shown."""
        ids: list[str] = self.page.locator("article[data-account-id]").evaluate_all(
            "(cards) => cards.map((card) => card.dataset.accountId)"
        )
        return ids

    def card(self, account_id: str) -> Locator:
        return self.page.locator(f'article[data-account-id="{account_id}"]')
