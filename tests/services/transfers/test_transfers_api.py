"""The HTTP API against a real PostgreSQL: transfers, deposits, balances, errors."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from transfers_support import Ledger, ServiceServer, wait_for

from transfers_service.events import EVENT_ID_NAMESPACE, ContractRegistry


def test_transfer_moves_money_and_queues_its_event(
    api: ServiceServer, ledger: Ledger, registry: ContractRegistry
) -> None:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()

    response = api.transfer(alice, bob, 300)

    assert response.status_code == 201, response.text
    transfer = response.json()
    assert transfer["kind"] == "transfer"
    assert (transfer["from_account_id"], transfer["to_account_id"]) == (str(alice), str(bob))
    assert (transfer["amount_minor"], transfer["currency"]) == (300, "EUR")
    assert transfer["completed_at"].endswith("Z")
    assert response.headers["Location"] == f"/transfers/{transfer['transfer_id']}"
    assert (api.balance(alice), api.balance(bob)) == (700, 300)
    fetched = api.get(f"/transfers/{transfer['transfer_id']}")
    assert (fetched.status_code, fetched.json()) == (200, transfer)
    entries = ledger.conn.execute(
        "SELECT account_id, amount_minor, currency FROM ledger_entries"
        " WHERE transfer_id = %s ORDER BY amount_minor",
        (transfer["transfer_id"],),
    ).fetchall()
    assert entries == [(alice, -300, "EUR"), (bob, 300, "EUR")]
    ledger.assert_consistent()
    [row] = ledger.outbox("TransferCompleted")
    event = json.loads(row["message"])
    registry.validate(event)  # a valid TransferCompleted v1
    assert (row["event_type"], row["sent_at"], str(row["event_id"])) == (
        "TransferCompleted",
        None,
        event["event_id"],
    )
    assert event["data"] == {
        "transfer_id": transfer["transfer_id"],
        "from_account_id": str(alice),
        "to_account_id": str(bob),
        "amount_minor": 300,
        "currency": "EUR",
        "completed_at": transfer["completed_at"],
    }
    assert event["occurred_at"] == transfer["completed_at"]
    assert uuid.UUID(event["event_id"]).version == 5


def test_deposit_credits_the_account_against_the_funding_account(
    api: ServiceServer, ledger: Ledger, registry: ContractRegistry
) -> None:
    account = ledger.open_account("GBP")

    response = api.deposit(account, 2_500, currency="GBP")

    assert response.status_code == 201, response.text
    deposit = response.json()
    assert (deposit["kind"], deposit["from_account_id"], deposit["to_account_id"]) == (
        "deposit",
        None,
        str(account),
    )
    assert api.get(f"/transfers/accounts/{account}/balance").json() == {
        "account_id": str(account),
        "currency": "GBP",
        "balance_minor": 2_500,
    }
    funding = ledger.conn.execute(
        "SELECT balance_minor FROM accounts WHERE kind = 'funding' AND currency = 'GBP'"
    ).fetchone()
    assert funding == (-2_500,)
    ledger.assert_consistent()
    # Announced in the deposit's transaction: one DepositCompleted, nothing else.
    [row] = ledger.outbox()
    event = json.loads(row["message"])
    registry.validate(event)  # a valid DepositCompleted v1
    assert (row["event_type"], row["sent_at"], str(row["event_id"])) == (
        "DepositCompleted",
        None,
        event["event_id"],
    )
    assert (event["event_type"], event["event_version"]) == ("DepositCompleted", 1)
    assert event["data"] == {
        "deposit_id": deposit["transfer_id"],
        "account_id": str(account),
        "amount_minor": 2_500,
        "currency": "GBP",
        "completed_at": deposit["completed_at"],
    }
    assert event["occurred_at"] == deposit["completed_at"]
    assert event["occurred_at"].endswith("Z")
    # Derived from the deposit's id, like TransferCompleted's from the transfer's.
    assert event["event_id"] == str(
        uuid.uuid5(EVENT_ID_NAMESPACE, f"DepositCompleted:{deposit['transfer_id']}")
    )
    assert api.get(f"/transfers/{deposit['transfer_id']}").json() == deposit


@pytest.mark.parametrize(
    ("account", "body", "status", "code"),
    [
        ("known", {"amount_minor": 10, "currency": "EUR"}, 201, None),  # the control
        ("unknown", {"amount_minor": 10, "currency": "EUR"}, 404, "account_not_found"),
        ("not-a-uuid", {"amount_minor": 10, "currency": "EUR"}, 404, "account_not_found"),
        ("known", {"amount_minor": 10, "currency": "USD"}, 422, "currency_mismatch"),
        ("known", {"amount_minor": 0, "currency": "EUR"}, 422, "invalid_request"),
        ("known", {"amount_minor": -10, "currency": "EUR"}, 422, "invalid_request"),
        ("known", {"amount_minor": "10", "currency": "EUR"}, 422, "invalid_request"),
        ("known", {"amount_minor": 10, "currency": "JPY"}, 422, "invalid_request"),
        ("known", {"currency": "EUR"}, 422, "invalid_request"),
        ("known", {"amount_minor": 10, "currency": "EUR", "unexpected": 1}, 422, "invalid_request"),
    ],
)
def test_only_a_committed_deposit_queues_an_event(
    api: ServiceServer,
    ledger: Ledger,
    account: str,
    body: dict[str, object],
    status: int,
    code: str | None,
) -> None:
    known = ledger.open_account("EUR", balance=100)  # its funding deposit: one event
    path_id = {"known": str(known), "unknown": str(uuid.uuid4())}.get(account, account)
    before = ledger.outbox()
    assert [row["event_type"] for row in before] == ["DepositCompleted"]

    response = api.post(f"/transfers/accounts/{path_id}/deposits", body, key=str(uuid.uuid4()))

    assert response.status_code == status, response.text
    if code is None:
        assert len(ledger.outbox("DepositCompleted")) == 2
    else:
        assert response.json()["code"] == code
        assert ledger.outbox() == before
    ledger.assert_consistent()


def test_insufficient_funds_is_409_with_a_reason_and_writes_nothing(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice, bob = ledger.open_account(balance=100), ledger.open_account()
    before = ledger.counts()

    response = api.transfer(alice, bob, 101)

    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_funds"
    assert "has 100" in response.json()["message"]
    assert "needs 101" in response.json()["message"]
    assert ledger.counts() == before
    assert (api.balance(alice), api.balance(bob)) == (100, 0)


@pytest.mark.parametrize(
    ("change", "location"),
    [
        (lambda b: b.pop("amount_minor"), "body.amount_minor"),
        (lambda b: b.update(amount_minor=0), "body.amount_minor"),
        (lambda b: b.update(amount_minor=-5), "body.amount_minor"),
        (lambda b: b.update(amount_minor="5"), "body.amount_minor"),
        (lambda b: b.update(amount_minor=1.5), "body.amount_minor"),
        (lambda b: b.update(amount_minor=True), "body.amount_minor"),
        (lambda b: b.update(amount_minor=2**63), "body.amount_minor"),
        (lambda b: b.update(currency="JPY"), "body.currency"),
        (lambda b: b.update(from_account_id="not-a-uuid"), "body.from_account_id"),
        (lambda b: b.update(unexpected=1), "body.unexpected"),
        (lambda b: b.update(to_account_id=b["from_account_id"]), "body"),
    ],
)
def test_malformed_transfer_bodies_are_422(api: ServiceServer, ledger: Ledger, change, location):
    alice, bob = ledger.open_account(balance=100), ledger.open_account()
    body = {
        "from_account_id": str(alice),
        "to_account_id": str(bob),
        "amount_minor": 10,
        "currency": "EUR",
    }
    change(body)
    before = ledger.counts()

    response = api.post("/transfers", body, key=str(uuid.uuid4()))

    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == "invalid_request"
    assert location in [problem["location"] for problem in error["errors"]]
    assert error["message"].startswith("invalid request: ")
    assert ledger.counts() == before


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b"", b'"text"'])
def test_bodies_that_are_not_a_json_object_are_422(api: ServiceServer, raw: bytes) -> None:
    with api.client() as client:
        response = client.post(
            "/transfers",
            content=raw,
            headers={"Content-Type": "application/json", "Idempotency-Key": "k-1"},
        )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "idempotency_key_missing"),
        ("", "idempotency_key_missing"),
        ("has space", "idempotency_key_invalid"),
        ("x" * 256, "idempotency_key_invalid"),
        ("caf\u00e9".encode("latin-1"), "idempotency_key_invalid"),
    ],
)
def test_writes_without_a_valid_idempotency_key_are_400(
    api: ServiceServer, ledger: Ledger, key: str | bytes | None, code: str
) -> None:
    alice, bob = ledger.open_account(balance=100), ledger.open_account()
    headers = {} if key is None else {"Idempotency-Key": key}
    before = ledger.counts()
    transfer = {
        "from_account_id": str(alice),
        "to_account_id": str(bob),
        "amount_minor": 10,
        "currency": "EUR",
    }
    deposit = {"amount_minor": 10, "currency": "EUR"}

    with api.client() as client:
        responses = [
            client.post("/transfers", json=transfer, headers=headers),
            client.post(f"/transfers/accounts/{alice}/deposits", json=deposit, headers=headers),
        ]

    for response in responses:
        assert response.status_code == 400, response.text
        assert response.json()["code"] == code
        assert "Idempotency-Key" in response.json()["message"]
    assert ledger.counts() == before


def test_unknown_accounts_and_transfers_are_404(api: ServiceServer, ledger: Ledger) -> None:
    known = ledger.open_account(balance=100)
    unknown = uuid.uuid4()
    before = ledger.counts()

    for response in (
        api.transfer(known, unknown, 10),
        api.transfer(unknown, known, 10),
        api.deposit(unknown, 10),
        api.post(
            "/transfers/accounts/not-a-uuid/deposits",
            {"amount_minor": 1, "currency": "EUR"},
            key="k",
        ),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "account_not_found"
    for path, code in (
        (f"/transfers/accounts/{unknown}/balance", "account_not_found"),
        ("/transfers/accounts/not-a-uuid/balance", "account_not_found"),
        (f"/transfers/{uuid.uuid4()}", "transfer_not_found"),
        ("/transfers/not-a-uuid", "transfer_not_found"),
        ("/no/such/route", "not_found"),
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == code
        assert response.json()["message"]
    assert ledger.counts() == before


def test_the_old_paths_outside_the_prefix_are_gone(api: ServiceServer, ledger: Ledger) -> None:
    """Everything but health is under /transfers, so the edge can route /api/transfers* here
    (the accounts service owns /api/accounts*): no alias is left at the old paths."""
    account = ledger.open_account(balance=100)
    before = ledger.counts()

    for response in (
        api.get(f"/accounts/{account}/balance"),
        api.post(f"/accounts/{account}/deposits", {"amount_minor": 1, "currency": "EUR"}, key="k"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    assert ledger.counts() == before
    assert api.balance(account) == 100


def test_currency_mismatch_is_422(api: ServiceServer, ledger: Ledger) -> None:
    euros, dollars = ledger.open_account("EUR", balance=100), ledger.open_account("USD")
    before = ledger.counts()

    responses = [
        api.transfer(euros, dollars, 10, currency="EUR"),
        api.transfer(euros, dollars, 10, currency="USD"),
        api.deposit(euros, 10, currency="USD"),
    ]

    for response in responses:
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "currency_mismatch"
    assert ledger.counts() == before


def test_health_answers_when_the_database_does(api: ServiceServer) -> None:
    response = api.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_openapi_documents_the_routes(api: ServiceServer) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        "/transfers",
        "/transfers/{transfer_id}",
        "/transfers/accounts/{account_id}/balance",
        "/transfers/accounts/{account_id}/deposits",
        "/health",
        "/health/live",
    }
    assert {"201", "400", "404", "409", "422", "503"} <= set(
        paths["/transfers"]["post"]["responses"]
    )


def test_readiness_checks_the_database_without_keeping_a_connection(
    api: ServiceServer, database_url: str
) -> None:
    for _ in range(3):
        assert api.get("/health").json() == {"status": "ok"}

    # Not from the pool (whose connections stay open up to its max idle time), and closed.
    assert api.runtime.pool.get_stats().get("pool_size", 0) == 0
    with psycopg.connect(database_url, autocommit=True) as observer:
        wait_for(
            lambda: (
                observer.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                ).fetchone()
                == (0,)
            ),
            timeout=5,
            what="no connection but the observer's",
        )
