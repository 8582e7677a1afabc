"""The customer web UI (web_src/) in Debian's Chromium, against the fakes of tools/web_fakes.py.

Each test drives the page as a user would (roles, labels, keyboard) and checks both sides:
the request the fakes received (method, path, headers, body) and what the page shows.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from browser_support import STATEMENT_LAG, WebUI
from playwright.sync_api import Route, ViewportSize, expect

from tools.web_fakes import (
    CLIENT_ID,
    DEFAULT_USER,
    User,
    account_cursor,
    content_security_policy,
    pkce_challenge,
)

OTHER_CUSTOMER = User(sub="9f1e2d3c-4b5a-4697-8877-665544332211", email="sam.lee@example.com")
MINUS = "\u2212"  # how the UI signs money going out
EXPIRED = "Your session has expired. Sign in again."
UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _record_sync_texts(ui: WebUI, account_id: str) -> None:
    """Keep every text the card's sync status shows in window.syncTexts (DevTools-injected
    code is not subject to the page's CSP)."""
    ui.page.evaluate(
        """(id) => {
            const card = document.querySelector(`article[data-account-id="${id}"]`);
            const sync = card.querySelector("[data-role=sync]");
            window.syncTexts = [sync.textContent];
            new MutationObserver(() => window.syncTexts.push(sync.textContent))
                .observe(sync, { childList: true, characterData: true, subtree: true });
        }""",
        account_id,
    )


# ------------------------------------------------------------------------- sign-in and site


def test_sign_in_is_an_authorization_code_grant_with_pkce(ui: WebUI) -> None:
    ui.sign_in()

    [authorize] = ui.fakes.cognito.requests.matching("GET", "/oauth2/authorize")
    assert authorize.param("response_type") == "code"
    assert authorize.param("client_id") == CLIENT_ID
    assert authorize.param("redirect_uri") == f"{ui.origin}/auth/callback"
    assert authorize.param("scope") == "openid email"
    assert authorize.param("code_challenge_method") == "S256"
    [token] = ui.fakes.cognito.requests.matching("POST", "/oauth2/token")
    form = token.form()
    assert form.keys() == {"grant_type", "client_id", "code", "redirect_uri", "code_verifier"}
    assert form["grant_type"] == "authorization_code"
    assert form["client_id"] == CLIENT_ID
    assert form["redirect_uri"] == f"{ui.origin}/auth/callback"
    assert pkce_challenge(form["code_verifier"]) == authorize.param("code_challenge")
    assert token.header("authorization") is None  # a public client: no secret
    assert token.header("origin") == ui.origin  # a cross-origin call, answered with CORS
    assert ui.fakes.cognito.verified_exchanges == 1

    expect(ui.page).to_have_url(f"{ui.origin}/")  # the code left the address bar
    expect(ui.page.get_by_text("Signed in as alex.morgan@example.com")).to_be_visible()
    expect(ui.page.get_by_text("You have no accounts yet.")).to_be_visible()
    session = json.loads(ui.page.evaluate("sessionStorage.getItem('payments.session')"))
    assert session["idToken"] == ui.id_token()
    assert session["sub"] == "0c8f6b7e-6a1d-4d0e-9d7a-4b3c2a1f0e9d"


def test_a_callback_with_the_wrong_state_does_not_sign_in(ui: WebUI) -> None:
    ui.goto("/auth/callback?code=stolen&state=forged")

    expect(
        ui.page.get_by_text("This sign-in link is not valid or was already used.")
    ).to_be_visible()
    expect(ui.page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(ui.page).to_have_url(f"{ui.origin}/")
    assert ui.fakes.cognito.requests.matching("POST", "/oauth2/token") == []


def test_the_site_is_served_as_cloudfront_does_under_its_csp(ui: WebUI) -> None:
    response = ui.page.goto(f"{ui.origin}/some/deep/link")

    assert response is not None
    assert response.headers["content-security-policy"] == content_security_policy(
        ui.fakes.auth_domain
    )
    assert "<title>Payments</title>" in response.text()
    expect(ui.page.get_by_role("button", name="Sign in")).to_be_visible()
    # The problem collector sees a CSP violation: an inline script is refused.
    ui.page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.inlineRan = true'; document.head.append(s); }"
    )
    expect(ui.page.locator("body")).to_be_visible()
    ui.page.wait_for_timeout(100)
    assert ui.page.evaluate("window.inlineRan === undefined")
    assert any("Content Security Policy" in problem for problem in ui.problems), ui.problems
    ui.problems.clear()


def test_sign_out_ends_the_managed_login_session(ui: WebUI) -> None:
    ui.sign_in()

    ui.page.get_by_role("button", name="Sign out").click()

    expect(ui.page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(ui.page).to_have_url(f"{ui.origin}/")
    [logout] = ui.fakes.cognito.requests.matching("GET", "/logout")
    assert logout.param("client_id") == CLIENT_ID
    assert logout.param("logout_uri") == f"{ui.origin}/"
    assert ui.page.evaluate("sessionStorage.getItem('payments.session')") is None


# ------------------------------------------------------------------------- accounts


def test_open_account_sends_the_form_and_lists_the_account(ui: WebUI) -> None:
    ui.sign_in()
    ui.page.get_by_label("Account holder's name").fill("Alex Morgan")
    ui.page.get_by_label("Email").fill("alex@example.com")
    ui.page.get_by_label("Currency").select_option("GBP")
    ui.page.get_by_role("button", name="Open account").click()

    message = ui.page.locator("#open-message")
    expect(message).to_contain_text("Account opened for Alex Morgan in GBP.")
    [opened] = ui.fakes.requests.matching("POST", "/api/accounts")
    assert opened.json() == {
        "owner_name": "Alex Morgan",
        "email": "alex@example.com",
        "currency": "GBP",
    }
    assert opened.header("content-type") == "application/json"
    assert opened.header("authorization") == ui.id_token()  # the raw ID token, no "Bearer "
    [account_id] = ui.fakes.payments.accounts
    card = ui.card(account_id)
    expect(card.get_by_role("heading", name="Alex Morgan · GBP")).to_be_visible()
    expect(card.locator("[data-role=balance]")).to_have_text("£0.00")
    # The statements service sees the account a moment later: the card waits for it.
    expect(card.locator("[data-role=sync]")).to_have_text("Up to date")
    expect(card.get_by_role("row", name=re.compile("Account opened"))).to_be_visible()

    # The list is read again once the account is opened (it shows any opened elsewhere), and
    # after a reload it comes from the accounts API alone.
    sent = ui.fakes.requests.all()
    after_opening = sent[sent.index(opened) + 1 :]
    assert [r for r in after_opening if r.method == "GET" and r.path == "/api/accounts"]
    ui.page.reload()
    expect(ui.card(account_id).get_by_role("heading", name="Alex Morgan · GBP")).to_be_visible()
    assert ui.page.evaluate("localStorage.length") == 0


def test_an_email_that_already_has_an_account_is_refused_in_words(ui: WebUI) -> None:
    ui.seed_account()
    taken = next(iter(ui.fakes.payments.accounts.values()))["email"]
    ui.sign_in()
    ui.page.get_by_label("Account holder's name").fill("Alex Morgan")
    ui.page.get_by_label("Email").fill(taken)
    ui.page.get_by_role("button", name="Open account").click()

    message = ui.page.locator("#open-message")
    expect(message).to_have_text(
        f"The account was not opened: email {taken} already has an account."
    )
    expect(message).to_have_attribute("aria-live", "polite")


def test_sign_in_lists_the_callers_accounts_newest_first(ui: WebUI) -> None:
    older = ui.seed_account("Alex Morgan", deposit_minor=1500)
    theirs = ui.seed_account("Sam Lee", owner=OTHER_CUSTOMER)
    newer = ui.seed_account("Alex Morgan (savings)", currency="USD")

    ui.sign_in()

    first = ui.listed_card(newer["account_id"])
    second = ui.listed_card(older["account_id"])
    assert ui.listed_ids() == [newer["account_id"], older["account_id"]]
    expect(ui.card(theirs["account_id"])).to_have_count(0)
    expect(first.get_by_role("heading", name="Alex Morgan (savings) · USD")).to_be_visible()
    expect(second.locator("[data-role=balance]")).to_have_text("€15.00")
    expect(ui.page.get_by_text("You have no accounts yet.")).to_be_hidden()
    [listed] = ui.fakes.requests.matching("GET", "/api/accounts")
    assert listed.query == {"limit": ["100"]}
    assert listed.header("authorization") == ui.id_token()  # the raw ID token, no "Bearer "
    # The accounts came with the list: none is read again on its own.
    assert ui.fakes.requests.matching("GET", re.compile(r"/api/accounts/.+")) == []
    options = ui.page.get_by_label("From account").locator("option")
    expect(options).to_have_text(
        [
            f"Alex Morgan (savings) · USD ({newer['account_id'][:8]}…)",
            f"Alex Morgan · EUR ({older['account_id'][:8]}…)",
        ]
    )


def test_the_list_follows_next_cursor_to_the_last_page(ui: WebUI) -> None:
    ui.fakes.config["accountPageSize"] = 2
    mine = [ui.seed_account(f"Alex Morgan {n}") for n in range(5)]
    ui.seed_account("Sam Lee", owner=OTHER_CUSTOMER)
    newest_first = [account["account_id"] for account in reversed(mine)]

    ui.sign_in()

    for account_id in newest_first:
        ui.listed_card(account_id)
    assert ui.listed_ids() == newest_first
    pages = ui.fakes.requests.matching("GET", "/api/accounts")
    assert [page.query for page in pages] == [
        {"limit": ["2"]},
        {"limit": ["2"], "cursor": [account_cursor(mine[3])]},
        {"limit": ["2"], "cursor": [account_cursor(mine[1])]},
    ]
    expect(ui.page.locator("#accounts-message")).to_be_empty()


def test_the_list_stops_after_five_pages(ui: WebUI) -> None:
    ui.fakes.config["accountPageSize"] = 2
    mine = [ui.seed_account(f"Alex Morgan {n}") for n in range(11)]

    ui.sign_in()

    expect(ui.page.locator("#accounts-message")).to_have_text(
        "Only your 10 newest accounts are shown."
    )
    expect(ui.page.locator("article[data-account-id]")).to_have_count(10)
    assert ui.listed_ids() == [account["account_id"] for account in reversed(mine[1:])]
    assert len(ui.fakes.requests.matching("GET", "/api/accounts")) == 5


def test_a_list_that_fails_is_explained_and_can_be_read_again(ui: WebUI) -> None:
    account = ui.seed_account()
    ui.fakes.payments.fail_next("GET", "/api/accounts", 503, "the accounts service is busy")

    ui.sign_in()

    message = ui.page.locator("#accounts-message")
    expect(message).to_have_text("Your accounts could not be loaded: the accounts service is busy.")
    expect(message).to_have_class(re.compile(r"\berror\b"))
    expect(ui.page.get_by_text("You have no accounts yet.")).to_be_hidden()
    expect(ui.page.locator("#deposit-section")).to_be_hidden()

    ui.page.get_by_role("button", name="Try again").click()

    ui.listed_card(account["account_id"])
    expect(message).to_be_empty()
    expect(ui.page.get_by_role("button", name="Try again")).to_be_hidden()
    expect(ui.page.locator("#deposit-section")).to_be_visible()


def test_an_account_just_opened_stays_while_the_list_catches_up(ui: WebUI) -> None:
    # The real list is read from an index that can lag behind POST /accounts by a moment.
    ui.sign_in()
    lagging = []

    def behind(route: Route) -> None:
        if route.request.method == "GET":
            lagging.append(route.request.url)
            route.fulfill(status=200, json={"accounts": [], "next_cursor": None})
        else:
            route.continue_()

    ui.page.route(lambda url: urlsplit(url).path == "/api/accounts", behind)
    ui.page.get_by_label("Account holder's name").fill("Alex Morgan")
    ui.page.get_by_label("Email").fill("alex@example.com")
    with ui.page.expect_response(
        lambda response: (
            urlsplit(response.url).path == "/api/accounts" and response.request.method == "GET"
        )
    ):
        ui.page.get_by_role("button", name="Open account").click()
    ui.page.wait_for_timeout(200)  # the page has read the (empty) list

    assert len(lagging) == 1
    expect(ui.page.locator("#open-message")).to_contain_text("Account opened for Alex Morgan")
    [account_id] = ui.fakes.payments.accounts
    ui.listed_card(account_id)
    assert ui.listed_ids() == [account_id]
    expect(ui.page.get_by_text("You have no accounts yet.")).to_be_hidden()
    expect(ui.page.locator("#deposit-section")).to_be_visible()


def test_the_accounts_follow_the_customer_to_another_device(new_ui: Callable[..., WebUI]) -> None:
    laptop = new_ui()
    laptop.sign_in()
    laptop.page.get_by_label("Account holder's name").fill("Alex Morgan")
    laptop.page.get_by_label("Email").fill("alex@example.com")
    laptop.page.get_by_role("button", name="Open account").click()
    expect(laptop.page.locator("#open-message")).to_contain_text("Account opened")
    [account_id] = laptop.fakes.payments.accounts
    laptop.listed_card(account_id)

    # Another browser context: no local storage, no session, nothing carried over.
    phone = new_ui(viewport=ViewportSize(width=375, height=667))
    phone.goto("/")
    assert phone.page.evaluate("localStorage.length + sessionStorage.length") == 0
    phone.sign_in()

    card = phone.listed_card(account_id)
    expect(card.get_by_role("heading", name="Alex Morgan · EUR")).to_be_visible()
    assert phone.listed_ids() == [account_id]
    assert (
        phone.fakes.requests.matching("GET", "/api/accounts")[-1].header("authorization")
        == phone.id_token()
    )

    # A different customer, on a third device, sees none of them.
    phone.fakes.cognito.user = OTHER_CUSTOMER
    stranger = new_ui()
    stranger.sign_in()

    expect(stranger.page.get_by_text(f"Signed in as {OTHER_CUSTOMER.email}")).to_be_visible()
    expect(stranger.page.get_by_text("You have no accounts yet.")).to_be_visible()
    assert stranger.listed_ids() == []
    last_list = stranger.fakes.requests.matching("GET", "/api/accounts")[-1]
    assert stranger.fakes.tokens.caller(last_list.header("authorization")) == OTHER_CUSTOMER


def test_account_ids_an_older_version_kept_in_the_browser_are_dropped(ui: WebUI) -> None:
    account = ui.seed_account()
    key = f"payments.accounts.{DEFAULT_USER.sub}"
    ui.goto("/")
    ui.page.evaluate(
        "([key, ids]) => localStorage.setItem(key, JSON.stringify(ids))",
        [key, [account["account_id"], str(uuid.uuid4())]],
    )

    ui.sign_in()

    ui.listed_card(account["account_id"])
    assert ui.page.evaluate("(key) => localStorage.getItem(key)", key) is None
    assert ui.listed_ids() == [account["account_id"]]


def test_balance_and_statement_are_shown(ui: WebUI) -> None:
    account = ui.seed_account(deposit_minor=250_000)
    other = ui.seed_account("Sam Lee", owner=OTHER_CUSTOMER, deposit_minor=10_000)
    ui.fakes.payments.transfer(other["account_id"], account["account_id"], 12_050, lag=0)
    ui.fakes.payments.transfer(account["account_id"], other["account_id"], 6_499, lag=0)
    ui.sign_in()

    card = ui.listed_card(account["account_id"])

    expect(card.locator("[data-role=balance]")).to_have_text("€2,555.51")
    rows = card.locator("tbody tr")
    expect(rows).to_have_count(4)  # newest first
    short = other["account_id"][:8]
    expect(rows.nth(0)).to_contain_text(f"Transfer to account {short}…")
    expect(rows.nth(0)).to_contain_text(f"{MINUS}€64.99")
    expect(rows.nth(1)).to_contain_text(f"Transfer from account {short}…")
    expect(rows.nth(1)).to_contain_text("+€120.50")
    expect(rows.nth(2)).to_contain_text("Deposit")
    expect(rows.nth(2)).to_contain_text("+€2,500.00")
    expect(rows.nth(3)).to_contain_text("Account opened")
    balance_calls = ui.fakes.requests.matching(
        "GET", f"/api/transfers/accounts/{account['account_id']}/balance"
    )
    assert balance_calls
    statement_call = ui.fakes.requests.matching("GET", f"/api/statements/{account['account_id']}")[
        0
    ]
    assert statement_call.query == {"limit": ["25"]}


def test_older_statement_entries_load_with_the_cursor(ui: WebUI) -> None:
    account = ui.seed_account()
    for cents in range(1, 28):
        ui.fakes.payments.deposit(account["account_id"], cents, lag=0)
    ui.sign_in()
    card = ui.listed_card(account["account_id"])
    expect(card.locator("tbody tr")).to_have_count(25)

    card.get_by_role("button", name="Show older entries").click()

    expect(card.locator("tbody tr")).to_have_count(28)
    expect(card.get_by_role("button", name="Show older entries")).to_be_hidden()
    older = ui.fakes.requests.matching("GET", f"/api/statements/{account['account_id']}")[-1]
    assert older.query == {"limit": ["25"], "cursor": ["25"]}


# ------------------------------------------------------------------------- money


def test_deposit_sends_exact_minor_units_with_an_idempotency_key(ui: WebUI) -> None:
    account = ui.seed_account()
    ui.sign_in()
    card = ui.listed_card(account["account_id"])
    amount = ui.page.get_by_label("Amount").first
    deposit = ui.page.get_by_role("button", name="Deposit")

    keys = []
    for typed, minor, shown in (
        ("12.34", 1234, "€12.34"),
        ("0.29", 29, "€0.29"),  # 0.29 * 100 is 28.999999999999996 in floating point
        ("5", 500, "€5.00"),
        (".5", 50, "€0.50"),
        ("1234567.8", 123456780, "€1,234,567.80"),
    ):
        amount.fill(typed)
        deposit.click()
        expect(ui.page.locator("#deposit-message")).to_contain_text(
            f"Deposited {shown} into Alex Morgan · EUR."
        )
        request = ui.fakes.requests.matching(
            "POST", f"/api/transfers/accounts/{account['account_id']}/deposits"
        )[-1]
        assert request.json() == {"amount_minor": minor, "currency": "EUR"}
        assert request.header("authorization") == ui.id_token()
        keys.append(request.header("idempotency-key") or "")
        assert UUID_V4.match(keys[-1]), keys[-1]
    assert len(set(keys)) == len(keys)  # a new key for each new deposit
    expect(card.locator("[data-role=balance]")).to_have_text("€1,234,585.93")
    expect(card.locator("[data-role=sync]")).to_have_text("Up to date")


def test_invalid_amounts_are_explained_next_to_the_field(ui: WebUI) -> None:
    account = ui.seed_account()
    ui.sign_in()
    ui.listed_card(account["account_id"])
    amount = ui.page.get_by_label("Amount").first
    error = ui.page.locator("#deposit-amount-error")

    for typed, message in (
        ("", "Enter an amount, for example 12.34."),
        ("12.345", "Use at most 2 decimal places, for example 12.34."),
        ("0", "Enter an amount above zero."),
        ("0.00", "Enter an amount above zero."),
        ("-5", "Enter an amount above zero."),
        ("abc", "Enter the amount as a number with digits and a point only, for example 12.34."),
        ("1,000", "Enter the amount as a number with digits and a point only, for example 12.34."),
        ("1e3", "Enter the amount as a number with digits and a point only, for example 12.34."),
    ):
        amount.fill(typed)
        ui.page.get_by_role("button", name="Deposit").click()
        expect(error).to_have_text(message)
        expect(amount).to_have_attribute("aria-invalid", "true")
        expect(amount).to_be_focused()
    assert ui.fakes.requests.matching("POST", re.compile(r"/api/transfers.*")) == []


def test_the_statement_shows_updating_until_the_new_entry_arrives(ui: WebUI) -> None:
    account = ui.seed_account(deposit_minor=1000)
    ui.sign_in()
    card = ui.listed_card(account["account_id"])
    statement_path = f"/api/statements/{account['account_id']}"
    reads_before = len(ui.fakes.requests.matching("GET", statement_path))
    _record_sync_texts(ui, account["account_id"])

    ui.page.get_by_label("Amount").first.fill("7.50")
    ui.page.get_by_role("button", name="Deposit").click()

    expect(ui.page.locator("#deposit-message")).to_contain_text("Deposited €7.50")
    sync = card.locator("[data-role=sync]")
    expect(sync).to_have_text("Up to date")
    expect(sync).to_have_attribute("role", "status")
    texts = ui.page.evaluate("window.syncTexts")
    assert texts[-2:] == ["Updating…", "Up to date"], texts
    reads = ui.fakes.requests.matching("GET", statement_path)[reads_before:]
    assert len(reads) == STATEMENT_LAG + 1  # polled until the deposit showed, then stopped
    [deposit_id] = [
        transfer_id
        for transfer_id, transfer in ui.fakes.payments.transfers.items()
        if transfer["amount_minor"] == 750
    ]
    expect(card.locator("tbody tr").first).to_contain_text("+€7.50")
    assert deposit_id in ui.page.locator("#deposit-message").inner_text()


def test_transfer_between_own_accounts(ui: WebUI) -> None:
    source = ui.seed_account("Alex Morgan", deposit_minor=10_000)
    target = ui.seed_account("Alex Morgan (savings)")
    ui.sign_in()
    source_card = ui.listed_card(source["account_id"])
    target_card = ui.listed_card(target["account_id"])

    ui.page.get_by_label("From account").select_option(source["account_id"])
    ui.page.get_by_label("One of my accounts").check()
    ui.page.get_by_label("To account", exact=True).select_option(target["account_id"])
    ui.page.locator("#transfer-amount").fill("25.10")
    ui.page.get_by_role("button", name="Transfer", exact=True).click()

    expect(ui.page.locator("#transfer-message")).to_contain_text(
        "Transferred €25.10 from Alex Morgan · EUR to Alex Morgan (savings) · EUR"
    )
    [request] = ui.fakes.requests.matching("POST", "/api/transfers")
    assert request.json() == {
        "from_account_id": source["account_id"],
        "to_account_id": target["account_id"],
        "amount_minor": 2510,
        "currency": "EUR",
    }
    assert UUID_V4.match(request.header("idempotency-key") or "")
    expect(source_card.locator("[data-role=balance]")).to_have_text("€74.90")
    expect(target_card.locator("[data-role=balance]")).to_have_text("€25.10")
    for card, text in ((source_card, f"{MINUS}€25.10"), (target_card, "+€25.10")):
        expect(card.locator("[data-role=sync]")).to_have_text("Up to date")
        expect(card.locator("tbody tr").first).to_contain_text(text)


def test_transfer_to_another_customers_account(ui: WebUI) -> None:
    source = ui.seed_account(deposit_minor=10_000)
    theirs = ui.seed_account("Sam Lee", owner=OTHER_CUSTOMER)
    ui.sign_in()
    card = ui.listed_card(source["account_id"])

    ui.page.get_by_label("Another customer's account").check()
    their_id = ui.page.get_by_label("Their account id")
    their_id.fill("3f2b9c1e-8d4a")
    ui.page.locator("#transfer-amount").fill("40")
    ui.page.get_by_role("button", name="Transfer", exact=True).click()
    expect(ui.page.locator("#transfer-to-id-error")).to_contain_text("Enter their account id")
    assert ui.fakes.requests.matching("POST", "/api/transfers") == []

    their_id.fill(theirs["account_id"])
    ui.page.get_by_role("button", name="Transfer", exact=True).click()

    expect(ui.page.locator("#transfer-message")).to_contain_text(
        f"Transferred €40.00 from Alex Morgan · EUR to account {theirs['account_id'][:8]}…"
    )
    [request] = ui.fakes.requests.matching("POST", "/api/transfers")
    assert request.json() == {
        "from_account_id": source["account_id"],
        "to_account_id": theirs["account_id"],
        "amount_minor": 4000,
        "currency": "EUR",
    }
    expect(card.locator("[data-role=balance]")).to_have_text("€60.00")
    expect(card.locator("[data-role=sync]")).to_have_text("Up to date")
    assert ui.fakes.payments.balances[theirs["account_id"]] == 4000


def test_insufficient_funds_is_shown_in_words(ui: WebUI) -> None:
    source = ui.seed_account(deposit_minor=1000)
    target = ui.seed_account("Alex Morgan (savings)")
    ui.sign_in()
    ui.listed_card(source["account_id"])
    ui.listed_card(target["account_id"])

    ui.page.get_by_label("From account").select_option(source["account_id"])
    ui.page.locator("#transfer-amount").fill("50")
    ui.page.get_by_role("button", name="Transfer", exact=True).click()

    message = ui.page.locator("#transfer-message")
    expect(message).to_have_text(
        f"The transfer was not made: account {source['account_id']} has 1000 EUR (minor units)"
        " available, the transfer needs 5000."
    )
    expect(message).to_have_attribute("aria-live", "polite")
    expect(message).to_have_class(re.compile(r"\berror\b"))


def test_a_retry_after_503_reuses_the_idempotency_key(ui: WebUI) -> None:
    account = ui.seed_account()
    ui.sign_in()
    ui.listed_card(account["account_id"])
    path = f"/api/transfers/accounts/{account['account_id']}/deposits"
    ui.fakes.payments.fail_next(
        "POST", path, 503, "the database is unavailable; nothing was written, retry later"
    )
    amount = ui.page.get_by_label("Amount").first
    deposit = ui.page.get_by_role("button", name="Deposit")

    amount.fill("9.99")
    deposit.click()
    message = ui.page.locator("#deposit-message")
    expect(message).to_have_text(
        "The deposit was not made: the database is unavailable; nothing was written, retry"
        " later. You can submit again: it will not be done twice."
    )
    deposit.click()
    expect(message).to_contain_text("Deposited €9.99")
    amount.fill("9.99")
    deposit.click()
    expect(message).to_contain_text("Deposited €9.99")

    first, retry, next_one = ui.fakes.requests.matching("POST", path)
    assert retry.header("idempotency-key") == first.header("idempotency-key")
    assert next_one.header("idempotency-key") != first.header("idempotency-key")
    assert ui.fakes.payments.balances[account["account_id"]] == 1998


def test_a_network_failure_is_shown_in_words(ui: WebUI) -> None:
    account = ui.seed_account()
    ui.sign_in()
    ui.listed_card(account["account_id"])
    ui.page.route("**/deposits", lambda route: route.abort("internetdisconnected"))

    ui.page.get_by_label("Amount").first.fill("1")
    ui.page.get_by_role("button", name="Deposit").click()

    expect(ui.page.locator("#deposit-message")).to_have_text(
        "The deposit was not made: We could not reach the service. Check your connection and"
        " try again. You can submit again: it will not be done twice."
    )


# ------------------------------------------------------------------------- session


def test_a_401_ends_the_session_and_offers_to_sign_in_again(ui: WebUI) -> None:
    account = ui.seed_account(deposit_minor=100)
    ui.sign_in()
    card = ui.listed_card(account["account_id"])
    ui.fakes.tokens.expire_all()

    card.get_by_role("button", name="Refresh").click()

    expect(ui.page.get_by_role("alert")).to_have_text(EXPIRED)
    sign_in = ui.page.get_by_role("button", name="Sign in")
    expect(sign_in).to_be_visible()
    expect(ui.page.get_by_role("button", name="Sign out")).to_be_hidden()
    assert ui.page.evaluate("sessionStorage.getItem('payments.session')") is None
    refused = ui.fakes.api_requests()[-1]  # the session ended at the first 401
    assert refused.path == f"/api/accounts/{account['account_id']}"
    assert refused.header("authorization") == ui.id_token()

    sign_in.click()
    expect(ui.page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(ui.card(account["account_id"]).locator("[data-role=balance]")).to_have_text("€1.00")


def _settled_request_count(ui: WebUI, quiet_seconds: float = 0.5) -> int:
    """The number of API requests the fakes recorded, once none arrived for ``quiet_seconds``
    (real time: the page's clock is Playwright's, the network is not)."""
    count = len(ui.fakes.api_requests())
    quiet_since = time.monotonic()
    deadline = quiet_since + 10
    while time.monotonic() - quiet_since < quiet_seconds:
        assert time.monotonic() < deadline, "the page kept sending requests"
        time.sleep(0.05)
        now = len(ui.fakes.api_requests())
        if now != count:
            count, quiet_since = now, time.monotonic()
    return count


def test_an_expired_token_is_not_sent(ui: WebUI) -> None:
    account = ui.seed_account()
    ui.page.clock.install()
    ui.sign_in()
    card = ui.listed_card(account["account_id"])
    # The card can show "Up to date" while a request the page sent with the valid token is
    # still reaching the fake (a busy machine): count once nothing more arrives.
    sent = _settled_request_count(ui)

    ui.page.clock.fast_forward("02:00:00")  # the fake's tokens live one hour
    card.get_by_role("button", name="Refresh").click()

    expect(ui.page.get_by_role("alert")).to_have_text(EXPIRED)
    expect(ui.page.get_by_role("button", name="Sign in")).to_be_visible()
    assert len(ui.fakes.api_requests()) == sent


# ------------------------------------------------------------------------- access


def test_open_account_with_the_keyboard_alone(ui: WebUI) -> None:
    ui.sign_in()
    page = ui.page
    page.locator("body").focus()

    for _ in range(40):  # Tab from the top of the page to the form
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "open-name":
            break
    else:
        raise AssertionError("Tab never reached the account holder's name")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # focus is visible
    page.keyboard.type("Kim Keys")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "open-email"
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("kim@example.com")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "open-currency"
    page.keyboard.press("ArrowDown")  # EUR -> USD
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Open account"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")

    expect(page.locator("#open-message")).to_contain_text("Account opened for Kim Keys in USD.")
    [opened] = ui.fakes.requests.matching("POST", "/api/accounts")
    assert opened.json() == {
        "owner_name": "Kim Keys",
        "email": "kim@example.com",
        "currency": "USD",
    }


def test_nothing_scrolls_sideways_on_a_small_screen(new_ui: Callable[..., WebUI]) -> None:
    ui = new_ui(viewport=ViewportSize(width=375, height=667))
    first = ui.seed_account("Alexandra Montgomery-Smythe", deposit_minor=123_456_789)
    second = ui.seed_account("Alexandra Montgomery-Smythe (savings)")
    ui.fakes.payments.transfer(first["account_id"], second["account_id"], 99_999, lag=0)
    ui.goto("/")
    expect(ui.page.get_by_role("button", name="Sign in")).to_be_visible()
    widths = "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    scroll_width, client_width = ui.page.evaluate(widths)
    assert scroll_width <= client_width == 375

    ui.sign_in()
    ui.listed_card(first["account_id"])
    ui.listed_card(second["account_id"])
    ui.page.get_by_label("Another customer's account").check()
    ui.page.locator("#transfer-amount").fill("abc")
    ui.page.get_by_role("button", name="Transfer", exact=True).click()
    expect(ui.page.locator("#transfer-amount-error")).not_to_be_empty()

    scroll_width, client_width = ui.page.evaluate(widths)
    assert scroll_width <= client_width == 375
    statement_overflow = ui.page.evaluate(
        "[...document.querySelectorAll('.table-wrap')].filter("
        "(wrap) => wrap.scrollWidth > wrap.clientWidth).length"
    )
    assert statement_overflow == 0
    assert str(uuid.UUID(first["account_id"])) == first["account_id"]
