"""``GET /accounts`` (``list_accounts.handler``) against moto: a caller lists their own
accounts and nobody else's, newest first, through the table's index by owner, with
``limit``/``cursor`` pagination.
"""

import base64
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

LIMIT_MESSAGE = "query parameter 'limit' must be an integer from 1 to 100, got {!r}"
INVALID_CURSOR = {"message": "invalid cursor"}
EMPTY = {"accounts": [], "next_cursor": None}
START = datetime(2025, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture
def store_account(handlers):
    """Write an account of ``sub`` opened ``minutes`` after START, as ``POST /accounts``
    does; returns it as ``GET /accounts/{id}`` shows it."""
    repository = handlers.accounts.repository_from_env()
    count = 0

    def store(sub, minutes, *, name="Alice Example", currency="EUR", now=None):
        nonlocal count
        count += 1
        account = handlers.accounts.Account.open(
            owner_sub=sub,
            owner_name=name,
            email=f"customer{count}@example.com",
            currency=currency,
            now=now or START + timedelta(minutes=minutes),
        )
        repository.add(account)
        return account.to_json()

    return store


@pytest.fixture
def store_accounts(store_account, owner_sub):
    """``count`` accounts of the caller, one a minute; newest first, as listed."""

    def store(count, *, first_minute=0):
        stored = [store_account(owner_sub, first_minute + n) for n in range(count)]
        return list(reversed(stored))

    return store


def _ids(accounts):
    return [account["account_id"] for account in accounts]


def _listed(pages):
    return [account for page in pages for account in page.body["accounts"]]


def test_the_sample_request_lists_the_callers_account(
    open_account, get_account, handlers, lambda_context, sample_event
):
    opened = open_account().body

    event = sample_event("list_accounts")
    raw = handlers.list_accounts.handler(event, lambda_context)

    assert raw["statusCode"] == 200
    assert raw["headers"] == {
        "Content-Type": "application/json",
        # No X-Correlation-Id was sent: API Gateway's request id stands for the request.
        "X-Correlation-Id": event["requestContext"]["requestId"],
    }
    assert json.loads(raw["body"]) == {"accounts": [opened], "next_cursor": None}
    assert opened == get_account(opened["account_id"]).body


def test_lists_only_the_callers_accounts_newest_first(
    store_account, list_accounts, get_account, owner_sub, other_sub
):
    first = store_account(owner_sub, 0, name="Alice Everyday")
    theirs = store_account(other_sub, 5, name="Bob Other")
    third = store_account(owner_sub, 30, name="Alice Travel", currency="USD")
    second = store_account(owner_sub, 10, name="Alice Savings")

    mine = list_accounts()
    others = list_accounts(sub=other_sub)

    assert mine.status == 200
    assert mine.headers["Content-Type"] == "application/json"
    assert mine.body == {"accounts": [third, second, first], "next_cursor": None}
    for account in mine.body["accounts"]:  # each as GET /accounts/{id} shows it
        assert account == get_account(account["account_id"]).body
        assert "owner_sub" not in account
    assert others.body == {"accounts": [theirs], "next_cursor": None}


def test_a_customer_without_accounts_gets_an_empty_list(store_account, list_accounts, other_sub):
    store_account(other_sub, 0)

    response = list_accounts()

    assert response.status == 200
    assert response.body == EMPTY


def test_an_empty_table_lists_nothing(list_accounts):
    assert list_accounts().body == EMPTY
    assert list_accounts(query={"limit": "1"}).body == EMPTY


def test_email_claims_stay_out_of_the_index(
    handlers, open_account, dynamodb, table_items, owner_index
):
    open_account()
    assert {item["sk"]["S"] for item in table_items()} == {"PROFILE", "EMAIL"}
    repository = handlers.accounts.repository_from_env()

    indexed = dynamodb.scan(TableName=repository.table_name, IndexName=owner_index["IndexName"])

    assert [item["type"]["S"] for item in indexed["Items"]] == ["Account"]


def test_lists_through_the_owner_index_without_a_consistent_read(
    handlers, open_account, list_accounts, owner_sub, owner_index, monkeypatch
):
    # A global secondary index cannot be read consistently: DynamoDB refuses the request.
    client = handlers.accounts.repository_from_env().client
    real_query = client.query
    calls = []

    def spy(**kwargs):
        calls.append(kwargs)
        return real_query(**kwargs)

    monkeypatch.setattr(client, "query", spy)
    open_account()

    assert len(list_accounts().body["accounts"]) == 1
    [call] = calls
    assert call["IndexName"] == owner_index["IndexName"]
    assert call["ExpressionAttributeValues"] == {":owner_sub": {"S": owner_sub}}
    assert call["ScanIndexForward"] is False
    assert "ConsistentRead" not in call


def test_a_short_response_is_continued_until_the_page_is_full(
    handlers, store_accounts, list_accounts, monkeypatch
):
    # DynamoDB stops a response at 1 MB, possibly before the limit: the page still fills.
    expected = store_accounts(5)
    client = handlers.accounts.repository_from_env().client
    real_query = client.query
    calls = []

    def one_at_a_time(**kwargs):
        calls.append(kwargs)
        return real_query(**{**kwargs, "Limit": 1})

    monkeypatch.setattr(client, "query", one_at_a_time)

    page = list_accounts(query={"limit": "3"}).body

    assert _ids(page["accounts"]) == _ids(expected[:3])
    assert page["next_cursor"] is not None
    assert [call["Limit"] for call in calls] == [4, 3, 2, 1]


# --- who may list ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub", "authorizer"),
    [(None, True), ("", True), (None, False)],
    ids=["claims-without-sub", "empty-sub", "no-authorizer"],
)
def test_requires_the_callers_identity(handlers, list_accounts, sub, authorizer, monkeypatch):
    client = handlers.accounts.repository_from_env().client
    monkeypatch.setattr(client, "query", lambda **_: pytest.fail("queried without a caller"))

    response = list_accounts(sub=sub, authorizer=authorizer)

    assert response.status == 401
    assert "'sub' claim" in response.body["message"]


def test_dynamodb_errors_propagate_and_are_logged(handlers, list_accounts, monkeypatch, caplog):
    error = ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "Query")

    def fail(**_kwargs):
        raise error

    monkeypatch.setattr(handlers.accounts.repository_from_env().client, "query", fail)

    with pytest.raises(ClientError) as raised:
        list_accounts()

    assert raised.value is error
    assert [
        r.getMessage()
        for r in caplog.records
        if r.name == "accounts" and r.levelno >= logging.ERROR
    ] == ["could not list the accounts"]


# --- pagination ----------------------------------------------------------------------------


def test_pages_through_seven_accounts_three_at_a_time(store_accounts, list_all, list_accounts):
    expected = store_accounts(7)

    pages = list_all(limit=3)

    assert [page.status for page in pages] == [200, 200, 200]
    assert [len(page.body["accounts"]) for page in pages] == [3, 3, 1]
    assert [page.body["next_cursor"] is None for page in pages] == [False, False, True]
    assert _listed(pages) == expected
    assert list_accounts(query={"limit": "100"}).body == {"accounts": expected, "next_cursor": None}


def test_a_last_full_page_has_no_next_cursor(store_accounts, list_all):
    store_accounts(6)

    pages = list_all(limit=3)

    assert [len(page.body["accounts"]) for page in pages] == [3, 3]
    assert pages[-1].body["next_cursor"] is None


def test_accounts_opened_at_the_same_instant_are_each_listed_once(
    store_account, list_all, owner_sub
):
    same_time = START + timedelta(minutes=1)
    stored = [store_account(owner_sub, 0, now=same_time) for _ in range(4)]
    stored.append(store_account(owner_sub, 0))  # the oldest

    pages = list_all(limit=1)

    listed = _listed(pages)
    assert len(pages) == 5
    assert sorted(_ids(listed[:4])) == sorted(_ids(stored[:4]))
    assert listed[4] == stored[4]


def test_accounts_opened_between_pages_do_not_shift_the_next_page(
    store_accounts, store_account, list_accounts, owner_sub
):
    # A newer account goes before the first page; the cursor keeps its place in the older ones.
    expected = store_accounts(4)
    first = list_accounts(query={"limit": "2"}).body
    store_account(owner_sub, 60)

    rest = list_accounts(query={"limit": "10", "cursor": first["next_cursor"]}).body

    assert first["accounts"] == expected[:2]
    assert rest == {"accounts": expected[2:], "next_cursor": None}


def test_the_default_page_holds_25_accounts(store_accounts, list_accounts):
    expected = store_accounts(26)

    first = list_accounts().body
    second = list_accounts(query={"cursor": first["next_cursor"]}).body

    assert first["accounts"] == expected[:25]
    assert second == {"accounts": expected[25:], "next_cursor": None}


@pytest.mark.parametrize("limit", ["1", "100", "007"])
def test_accepts_a_limit_from_1_to_100(store_accounts, list_accounts, limit):
    store_accounts(3)

    response = list_accounts(query={"limit": limit})

    assert response.status == 200
    assert len(response.body["accounts"]) == min(int(limit), 3)


@pytest.mark.parametrize(
    "limit", ["0", "101", "abc", "-1", "1.5", "", " 5", "+5", "1_0", "1e2", "25 ", "٣", "0x10"]
)
def test_rejects_a_limit_outside_1_to_100(list_accounts, limit):
    response = list_accounts(query={"limit": limit})

    assert response.status == 400
    assert response.body == {"message": LIMIT_MESSAGE.format(limit)}


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "!!!!",
        "eyJvcGVuZWRfYXQiOi",  # a truncated cursor
        "A" * 600,
        "//79",  # base64 of bytes that are not UTF-8
    ],
)
def test_rejects_a_malformed_cursor(list_accounts, cursor):
    response = list_accounts(query={"cursor": cursor})

    assert response.status == 400
    assert response.body == INVALID_CURSOR


def _cursor_for(value):
    """A cursor in the service's encoding around any JSON value (for forged cursors)."""
    text = json.dumps(value, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


ACCOUNT_ID = "0b5c1e52-9a3f-4d47-8f2e-6f4c1d2b3a90"
OPENED_AT = "2025-11-22T09:00:00.000Z"


@pytest.mark.parametrize(
    "value",
    [
        [OPENED_AT, ACCOUNT_ID],
        OPENED_AT,
        {"opened_at": OPENED_AT},
        {"account_id": ACCOUNT_ID},
        {"account_id": ACCOUNT_ID, "opened_at": OPENED_AT},  # keys in another order
        {"opened_at": OPENED_AT, "account_id": ACCOUNT_ID, "owner_sub": "someone"},
        {"opened_at": "2025-11-22T09:00:00Z", "account_id": ACCOUNT_ID},
        {"opened_at": "2025-11-22T09:00:00.000000Z", "account_id": ACCOUNT_ID},
        {"opened_at": "yesterday", "account_id": ACCOUNT_ID},
        {"opened_at": OPENED_AT, "account_id": ACCOUNT_ID.upper()},
        {"opened_at": OPENED_AT, "account_id": "not-a-uuid"},
        {"opened_at": OPENED_AT, "account_id": f"ACCOUNT#{ACCOUNT_ID}"},
        {"opened_at": 42, "account_id": ACCOUNT_ID},
        {"opened_at": OPENED_AT, "account_id": None},
        {"sk": "PROFILE"},
    ],
)
def test_rejects_a_tampered_cursor(list_accounts, value):
    response = list_accounts(query={"cursor": _cursor_for(value)})

    assert response.status == 400
    assert response.body == INVALID_CURSOR


def test_accepts_a_cursor_it_could_have_issued(store_accounts, list_accounts):
    expected = store_accounts(3)  # opened 09:00, 09:01, 09:02
    position = {"opened_at": "2025-11-22T09:01:30.000Z", "account_id": ACCOUNT_ID}

    response = list_accounts(query={"cursor": _cursor_for(position)})

    assert response.status == 200
    assert response.body == {"accounts": expected[1:], "next_cursor": None}


def test_rejects_a_cursor_in_another_encoding(store_accounts, list_accounts):
    store_accounts(3)
    cursor = list_accounts(query={"limit": "1"}).body["next_cursor"]
    assert list_accounts(query={"cursor": cursor}).status == 200

    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    spaced = base64.urlsafe_b64encode(json.dumps(json.loads(text)).encode()).decode()
    variants = (
        cursor + "=" * (-len(cursor) % 4 or 4),
        cursor + "\n",
        f" {cursor}",
        spaced.rstrip("="),  # the same position, not in compact JSON
        base64.b64encode(text).decode(),  # the standard alphabet, padded
    )
    for variant in variants:
        if variant == cursor:
            continue
        response = list_accounts(query={"cursor": variant})
        assert response.status == 400, variant
        assert response.body == INVALID_CURSOR


def test_a_cursor_never_reaches_another_customers_accounts(
    store_account, list_accounts, owner_sub, other_sub
):
    mine = [store_account(owner_sub, minute) for minute in (0, 2, 4)]
    store_account(other_sub, 1)
    store_account(other_sub, 3)
    cursor = list_accounts(sub=other_sub, query={"limit": "1"}).body["next_cursor"]

    # Their cursor (after 09:03) used by the caller: the caller's accounts older than that.
    page = list_accounts(query={"cursor": cursor}).body

    assert page == {"accounts": [mine[1], mine[0]], "next_cursor": None}
