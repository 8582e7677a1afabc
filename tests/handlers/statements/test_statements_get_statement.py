"""``GET /statements/{id}`` (``get_statement.handler``) against moto: the shape of a
statement, that a caller only ever sees their own, and pagination with ``limit``/``cursor``.
"""

import base64
import json
import logging

import pytest
from botocore.exceptions import ClientError

UNKNOWN_ID = "3d6f1c2e-5b4a-4c3d-9e8f-7a6b5c4d3e2f"
LIMIT_MESSAGE = "query parameter 'limit' must be an integer from 1 to 100, got {!r}"
INVALID_CURSOR = {"message": "invalid cursor"}


@pytest.fixture
def opened(apply, envelopes, ids):
    """Accounts A (the caller's) and B (another customer's), opened."""
    a = envelopes.opened(ids.account_a, occurred_at="2025-11-22T09:00:00.5Z")
    b = envelopes.opened(ids.account_b, owner_sub=ids.other_sub, occurred_at="2025-11-22T09:30:00Z")
    assert apply(a, b) == {"batchItemFailures": []}
    return a


def _transfers(apply, envelopes, ids, count):
    """``count`` transfers between A and B, one a minute, amounts 1..count; their event ids."""
    events = [
        envelopes.transfer(
            *((ids.account_a, ids.account_b) if n % 2 else (ids.account_b, ids.account_a)),
            n,
            occurred_at=f"2025-11-22T10:{n:02d}:00Z",
        )
        for n in range(1, count + 1)
    ]
    assert apply(*events) == {"batchItemFailures": []}
    return [event["event_id"] for event in events]


def test_the_sample_request_reads_the_sample_statement(
    apply, sample_event, handlers, lambda_context, ids
):
    apply(*sample_event("sqs_batch")["Records"])

    event = sample_event("get_statement")
    raw = handlers.get_statement.handler(event, lambda_context)

    assert raw["statusCode"] == 200
    assert raw["headers"] == {
        "Content-Type": "application/json",
        "X-Correlation-Id": event["requestContext"]["requestId"],
    }
    assert '"balance_minor": -2500' in raw["body"]


def test_a_statement_has_its_header_and_entries_newest_first(
    apply, envelopes, opened, get_statement, ids
):
    transfer = envelopes.transfer(
        ids.account_a, ids.account_b, 2500, occurred_at="2025-11-22T10:15:00Z"
    )
    refund = envelopes.transfer(
        ids.account_b, ids.account_a, 400, occurred_at="2025-11-22T11:00:00Z"
    )
    apply(refund, transfer)

    response = get_statement(ids.account_a)

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.body == {
        "account_id": ids.account_a,
        "currency": "EUR",
        "opened_at": "2025-11-22T09:00:00.5Z",
        "balance_minor": -2100,
        "entries": [
            {
                "event_id": refund["event_id"],
                "occurred_at": "2025-11-22T11:00:00Z",
                "kind": "credit",
                "amount_minor": 400,
                "currency": "EUR",
                "transfer_id": refund["data"]["transfer_id"],
                "counterparty_account_id": ids.account_b,
                "deposit_id": None,
            },
            {
                "event_id": transfer["event_id"],
                "occurred_at": "2025-11-22T10:15:00Z",
                "kind": "debit",
                "amount_minor": 2500,
                "currency": "EUR",
                "transfer_id": transfer["data"]["transfer_id"],
                "counterparty_account_id": ids.account_b,
                "deposit_id": None,
            },
            {
                "event_id": opened["event_id"],
                "occurred_at": "2025-11-22T09:00:00.5Z",
                "kind": "opened",
                "amount_minor": 0,
                "currency": "EUR",
                "transfer_id": None,
                "counterparty_account_id": None,
                "deposit_id": None,
            },
        ],
        "next_cursor": None,
    }
    assert type(response.body["balance_minor"]) is int
    assert all(type(entry["amount_minor"]) is int for entry in response.body["entries"])
    assert "owner_sub" not in response.body


def test_the_payee_sees_the_credit(apply, envelopes, opened, get_statement, ids):
    transfer = envelopes.transfer(ids.account_a, ids.account_b, 2500)
    apply(transfer)

    response = get_statement(ids.account_b, sub=ids.other_sub)

    assert response.status == 200
    assert response.body["balance_minor"] == 2500
    assert [
        (e["kind"], e["amount_minor"], e["counterparty_account_id"])
        for e in response.body["entries"]
    ] == [("credit", 2500, ids.account_a), ("opened", 0, None)]


def test_a_deposit_shows_as_a_deposit_entry_with_its_deposit_id(
    apply, envelopes, opened, get_statement, ids
):
    deposit = envelopes.deposit(ids.account_a, 5000, occurred_at="2025-11-22T10:00:00Z")
    transfer = envelopes.transfer(
        ids.account_a, ids.account_b, 1200, occurred_at="2025-11-22T10:30:00Z"
    )
    apply(deposit, transfer)

    response = get_statement(ids.account_a)

    assert response.status == 200
    assert response.body["balance_minor"] == 3800
    assert [e["kind"] for e in response.body["entries"]] == ["debit", "deposit", "opened"]
    assert response.body["entries"][1] == {
        "event_id": deposit["event_id"],
        "occurred_at": "2025-11-22T10:00:00Z",
        "kind": "deposit",
        "amount_minor": 5000,
        "currency": "EUR",
        "transfer_id": None,
        "counterparty_account_id": None,
        "deposit_id": deposit["data"]["deposit_id"],
    }
    assert response.body["entries"][0]["deposit_id"] is None
    # Only the account deposited into sees it.
    payee = get_statement(ids.account_b, sub=ids.other_sub).body
    assert [e["kind"] for e in payee["entries"]] == ["credit", "opened"]


def test_accepts_an_uppercase_id(opened, get_statement, ids):
    response = get_statement(ids.account_a.upper())

    assert response.status == 200
    assert response.body["account_id"] == ids.account_a


# --- who may read what ---------------------------------------------------------------------


def test_an_unknown_statement_is_not_found(opened, get_statement):
    response = get_statement(UNKNOWN_ID)

    assert response.status == 404
    assert response.body == {"message": f"statement for account {UNKNOWN_ID} not found"}


def test_another_customers_statement_is_not_found(opened, get_statement, ids):
    response = get_statement(ids.account_b)

    assert response.status == 404
    assert response.body == {"message": f"statement for account {ids.account_b} not found"}


def test_a_statement_without_an_owner_yet_is_not_found(
    apply, envelopes, get_statement, table_items, ids
):
    apply(envelopes.transfer(ids.account_c, ids.account_a, 10))  # before either is opened
    assert any(item["pk"]["S"] == f"ACCOUNT#{ids.account_a}" for item in table_items())

    for sub in (ids.owner_sub, ids.other_sub):
        response = get_statement(ids.account_a, sub=sub)
        assert response.status == 404
        assert response.body == {"message": f"statement for account {ids.account_a} not found"}

    apply(envelopes.opened(ids.account_a))
    assert get_statement(ids.account_a).body["balance_minor"] == 10


@pytest.mark.parametrize(
    ("sub", "authorizer"),
    [(None, True), ("", True), (None, False)],
    ids=["claims-without-sub", "empty-sub", "no-authorizer"],
)
def test_requires_the_callers_identity(opened, get_statement, ids, sub, authorizer):
    response = get_statement(ids.account_a, sub=sub, authorizer=authorizer)

    assert response.status == 401
    assert "'sub' claim" in response.body["message"]


@pytest.mark.parametrize(
    "account_id",
    [
        "not-a-uuid",
        "42",
        "0b5c1e529a3f4d478f2e6f4c1d2b3a90",
        "{0b5c1e52-9a3f-4d47-8f2e-6f4c1d2b3a90}",
        "urn:uuid:0b5c1e52-9a3f-4d47-8f2e-6f4c1d2b3a90",
        "0b5c1e52-9a3f-4d47-8f2e-6f4c1d2b3a9",
    ],
)
def test_rejects_an_id_that_is_not_a_uuid(opened, get_statement, account_id):
    response = get_statement(account_id)

    assert response.status == 400
    assert response.body == {"message": f"path parameter 'id' must be a UUID, got {account_id!r}"}


def test_rejects_a_missing_id(get_statement):
    response = get_statement(None)

    assert response.status == 400
    assert response.body == {"message": "path parameter 'id' is required"}


def test_dynamodb_errors_propagate_and_are_logged(handlers, get_statement, monkeypatch, caplog):
    error = ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "GetItem")

    def fail(**_kwargs):
        raise error

    monkeypatch.setattr(handlers.statements.repository_from_env().client, "get_item", fail)

    with pytest.raises(ClientError) as raised:
        get_statement(UNKNOWN_ID)

    assert raised.value is error
    assert [
        r.getMessage()
        for r in caplog.records
        if r.name == "statements" and r.levelno >= logging.ERROR
    ] == ["could not read the statement"]


def test_reads_are_strongly_consistent(handlers, opened, get_statement, ids, monkeypatch):
    # moto is always consistent; DynamoDB is not unless asked.
    client = handlers.statements.repository_from_env().client
    calls = []
    for operation in ("get_item", "query"):
        real = getattr(client, operation)

        def spy(real=real, operation=operation, **kwargs):
            calls.append((operation, kwargs.get("ConsistentRead")))
            return real(**kwargs)

        monkeypatch.setattr(client, operation, spy)

    assert get_statement(ids.account_a).status == 200
    assert calls == [("get_item", True), ("query", True)]


def test_another_customers_entries_are_not_even_queried(
    handlers, opened, get_statement, ids, monkeypatch
):
    client = handlers.statements.repository_from_env().client
    monkeypatch.setattr(client, "query", lambda **_: pytest.fail("queried the entries"))

    assert get_statement(ids.account_b).status == 404


# --- pagination ----------------------------------------------------------------------------


def test_pages_through_seven_entries_three_at_a_time(
    apply, envelopes, opened, read_all, get_statement, ids
):
    transfer_ids = _transfers(apply, envelopes, ids, 6)
    everything = get_statement(ids.account_a, query={"limit": "100"}).body

    pages = read_all(ids.account_a, limit=3)

    assert [page.status for page in pages] == [200, 200, 200]
    assert [len(page.body["entries"]) for page in pages] == [3, 3, 1]
    assert [page.body["next_cursor"] is None for page in pages] == [False, False, True]
    listed = [entry for page in pages for entry in page.body["entries"]]
    assert listed == everything["entries"]
    assert [e["event_id"] for e in listed] == [*reversed(transfer_ids), opened["event_id"]]
    for page in pages:  # every page has the whole header
        assert {k: v for k, v in page.body.items() if k not in ("entries", "next_cursor")} == {
            k: v for k, v in everything.items() if k not in ("entries", "next_cursor")
        }


def test_a_last_full_page_has_no_next_cursor(apply, envelopes, opened, read_all, ids):
    _transfers(apply, envelopes, ids, 5)  # six entries in all

    pages = read_all(ids.account_a, limit=3)

    assert [len(page.body["entries"]) for page in pages] == [3, 3]
    assert pages[-1].body["next_cursor"] is None


def test_entries_added_between_pages_do_not_shift_the_next_page(
    apply, envelopes, opened, get_statement, ids
):
    # Newer entries go before the first page; the cursor keeps its place in the older ones.
    _transfers(apply, envelopes, ids, 4)
    first = get_statement(ids.account_a, query={"limit": "2"}).body
    newer = envelopes.transfer(ids.account_a, ids.account_b, 77, occurred_at="2025-11-23T08:00:00Z")
    apply(newer)

    rest = get_statement(ids.account_a, query={"limit": "10", "cursor": first["next_cursor"]}).body

    assert [e["amount_minor"] for e in first["entries"]] == [4, 3]
    assert [e["amount_minor"] for e in rest["entries"]] == [2, 1, 0]


def test_the_default_page_holds_25_entries(apply, envelopes, opened, get_statement, ids):
    _transfers(apply, envelopes, ids, 25)  # 26 entries

    first = get_statement(ids.account_a).body
    second = get_statement(ids.account_a, query={"cursor": first["next_cursor"]}).body

    assert len(first["entries"]) == 25
    assert [e["event_id"] for e in second["entries"]] == [opened["event_id"]]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("limit", ["1", "100", "007"])
def test_accepts_a_limit_from_1_to_100(apply, envelopes, opened, get_statement, ids, limit):
    _transfers(apply, envelopes, ids, 2)

    response = get_statement(ids.account_a, query={"limit": limit})

    assert response.status == 200
    assert len(response.body["entries"]) == min(int(limit), 3)


@pytest.mark.parametrize(
    "limit", ["0", "101", "abc", "-1", "1.5", "", " 5", "+5", "1_0", "1e2", "25 ", "٣", "0x10"]
)
def test_rejects_a_limit_outside_1_to_100(opened, get_statement, ids, limit):
    response = get_statement(ids.account_a, query={"limit": limit})

    assert response.status == 400
    assert response.body == {"message": LIMIT_MESSAGE.format(limit)}


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "!!!!",
        "eyJzayI6",  # a truncated cursor
        "A" * 600,
        "//79",  # base64 of bytes that are not UTF-8
    ],
)
def test_rejects_a_malformed_cursor(opened, get_statement, ids, cursor):
    response = get_statement(ids.account_a, query={"cursor": cursor})

    assert response.status == 400
    assert response.body == INVALID_CURSOR


@pytest.mark.parametrize(
    "value",
    [
        ["ENTRY#2025-11-22T10:01:00.000000Z#c1d2e3f4-0003-4a5b-8c6d-7e8f9a0b1c2d"],
        "ENTRY#2025-11-22T10:01:00.000000Z#c1d2e3f4-0003-4a5b-8c6d-7e8f9a0b1c2d",
        {"sk": "STATEMENT"},
        {"sk": "PROFILE"},
        {"sk": "ENTRY#"},
        {"sk": "ENTRY#2025-11-22T10:01:00Z#c1d2e3f4-0003-4a5b-8c6d-7e8f9a0b1c2d"},
        {"sk": 42},
        {"sk": None},
        {"sk": "ENTRY#2025-11-22T10:01:00.000000Z#c1d2e3f4-0003-4a5b-8c6d-7e8f9a0b1c2d", "x": 1},
        {"pk": "ACCOUNT#7d2e4f61-3c5b-4a8e-9f1d-2b3c4d5e6f70", "sk": "STATEMENT"},
    ],
)
def test_rejects_a_tampered_cursor(opened, get_statement, ids, cursor_for, value):
    response = get_statement(ids.account_a, query={"cursor": cursor_for(value)})

    assert response.status == 400
    assert response.body == INVALID_CURSOR


def test_rejects_a_cursor_in_another_encoding(apply, envelopes, opened, get_statement, ids):
    _transfers(apply, envelopes, ids, 3)
    cursor = get_statement(ids.account_a, query={"limit": "1"}).body["next_cursor"]
    assert get_statement(ids.account_a, query={"cursor": cursor}).status == 200

    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    spaced = base64.urlsafe_b64encode(json.dumps(json.loads(text)).encode()).decode()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unpadded = spaced.rstrip("=")
    # The same bytes with a different unused low bit in the last character.
    last = alphabet[alphabet.index(unpadded[-1]) ^ 1]
    assert (
        base64.urlsafe_b64decode(unpadded[:-1] + last + "==")
        == json.dumps(json.loads(text)).encode()
    )
    variants = (
        cursor + "=" * (-len(cursor) % 4 or 4),
        cursor + "\n",
        f" {cursor}",
        unpadded,  # {"sk": "..."}: the same key, not in compact JSON
        unpadded[:-1] + last,
    )
    for variant in variants:
        response = get_statement(ids.account_a, query={"cursor": variant})
        assert response.status == 400, variant
        assert response.body == INVALID_CURSOR


def test_a_cursor_never_reaches_another_account(apply, envelopes, opened, get_statement, ids):
    _transfers(apply, envelopes, ids, 4)
    cursor = get_statement(ids.account_b, sub=ids.other_sub, query={"limit": "1"}).body[
        "next_cursor"
    ]

    # B's cursor used on A: only A's entries (older than that point), never B's.
    page = get_statement(ids.account_a, query={"cursor": cursor}).body
    others = get_statement(ids.account_a, sub=ids.other_sub, query={"cursor": cursor})

    assert {e["counterparty_account_id"] for e in page["entries"] if e["kind"] != "opened"} == {
        ids.account_b
    }
    assert [e["amount_minor"] for e in page["entries"]] == [3, 2, 1, 0]
    assert others.status == 404
