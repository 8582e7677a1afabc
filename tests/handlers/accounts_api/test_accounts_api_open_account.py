"""``POST /accounts`` (``open_account.handler``) against moto: the account it writes, the
requests it refuses, one account per email, and that its two writes land together or not at all.
"""

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

FIXED_ID = uuid.UUID("0b5c1e52-9a3f-4d47-8f2e-6f4c1d2b3a90")


def test_opens_an_account_and_claims_its_email(open_account, table_items, owner_sub):
    before = datetime.now(UTC)
    response = open_account(
        {"owner_name": "  Alice Example ", "email": " Alice@Example.COM ", "currency": "USD"}
    )
    after = datetime.now(UTC)

    assert response.status == 201
    account_id = response.body["account_id"]
    assert str(uuid.UUID(account_id)) == account_id
    assert uuid.UUID(account_id).version == 4
    opened_at = datetime.fromisoformat(response.body["opened_at"])
    assert opened_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= opened_at <= after
    assert response.body == {
        "account_id": account_id,
        "owner_name": "Alice Example",
        "email": "alice@example.com",
        "currency": "USD",
        "status": "OPEN",
        "opened_at": response.body["opened_at"],
    }
    assert response.headers["Location"] == f"/accounts/{account_id}"
    assert response.headers["Content-Type"] == "application/json"
    assert table_items() == [
        {
            "pk": {"S": f"ACCOUNT#{account_id}"},
            "sk": {"S": "PROFILE"},
            "type": {"S": "Account"},
            "account_id": {"S": account_id},
            "owner_sub": {"S": owner_sub},
            "owner_name": {"S": "Alice Example"},
            "email": {"S": "alice@example.com"},
            "currency": {"S": "USD"},
            "status": {"S": "OPEN"},
            "opened_at": {"S": response.body["opened_at"]},
            # The request's correlation id, for the AccountOpened the stream publishes.
            "correlation_id": {"S": response.headers["X-Correlation-Id"]},
        },
        {
            "pk": {"S": "EMAIL#alice@example.com"},
            "sk": {"S": "EMAIL"},
            "account_id": {"S": account_id},
        },
    ]


def test_each_account_gets_a_new_id(open_account, valid_body):
    first = open_account(valid_body)
    second = open_account({**valid_body, "email": "bob@example.com"})

    assert (first.status, second.status) == (201, 201)
    assert first.body["account_id"] != second.body["account_id"]


def test_accepts_a_base64_encoded_body(open_account, valid_body):
    response = open_account(valid_body, encode_base64=True)

    assert response.status == 201
    assert response.body["email"] == "alice@example.com"


VALID = {"owner_name": "Alice", "email": "alice@example.com", "currency": "EUR"}
INVALID_BODIES = {
    "empty-body": ("", "request body is required: a JSON object"),
    "array": ("[]", "request body must be a JSON object, not an array"),
    "array-of-the-object": (
        json.dumps([VALID]),
        "request body must be a JSON object, not an array",
    ),
    "string": ('"Alice"', "request body must be a JSON object, not a string"),
    "null": ("null", "request body must be a JSON object, not null"),
    "missing-field": (
        json.dumps({"owner_name": "Alice", "email": "alice@example.com"}),
        "invalid request body: missing required field(s): currency",
    ),
    "missing-fields": (
        json.dumps({"email": "alice@example.com"}),
        "invalid request body: missing required field(s): owner_name, currency",
    ),
    "unknown-fields": (
        json.dumps({**VALID, "status": "CLOSED", "balance": 100}),
        "invalid request body: unknown field(s): balance, status",
    ),
    "bad-currency": (
        json.dumps({**VALID, "currency": "JPY"}),
        "invalid request body: currency must be one of ['EUR', 'USD', 'GBP']",
    ),
    "lowercase-currency": (
        json.dumps({**VALID, "currency": "eur"}),
        "invalid request body: currency must be one of ['EUR', 'USD', 'GBP']",
    ),
    "empty-owner-name": (
        json.dumps({**VALID, "owner_name": ""}),
        "invalid request body: owner_name must be longer than or equal to 1 characters",
    ),
    "blank-owner-name": (
        json.dumps({**VALID, "owner_name": " \t "}),
        "invalid request body: owner_name must not be blank",
    ),
    "long-owner-name": (
        json.dumps({**VALID, "owner_name": "x" * 101}),
        "invalid request body: owner_name must be shorter than or equal to 100 characters",
    ),
    "owner-name-not-a-string": (
        json.dumps({**VALID, "owner_name": 42}),
        "invalid request body: owner_name must be string",
    ),
    "not-an-email": (
        json.dumps({**VALID, "email": "alice.example.com"}),
        "invalid request body: email must be an email address such as name@example.com",
    ),
    "email-with-a-space": (
        json.dumps({**VALID, "email": "alice smith@example.com"}),
        "invalid request body: email must be an email address such as name@example.com",
    ),
    "long-email": (
        json.dumps({**VALID, "email": "a@" + "b" * 250 + ".com"}),
        "invalid request body: email must be shorter than or equal to 254 characters",
    ),
    "null-email": (
        json.dumps({**VALID, "email": None}),
        "invalid request body: email must be string",
    ),
}


@pytest.mark.parametrize(
    ("raw", "message"), list(INVALID_BODIES.values()), ids=list(INVALID_BODIES)
)
def test_rejects_an_invalid_body_with_the_reason(open_account, table_items, raw, message):
    response = open_account(raw=raw)

    assert response.status == 400
    assert response.body == {"message": message}
    assert table_items() == []


def test_rejects_malformed_json_with_where_it_breaks(open_account, table_items):
    response = open_account(raw='{"owner_name": "Alice"')

    assert response.status == 400
    assert response.body["message"].startswith("request body is not valid JSON: ")
    assert "line 1 column 23" in response.body["message"]
    assert table_items() == []


def test_the_longest_valid_values_are_accepted(open_account):
    email = "a@" + "b" * 248 + ".com"
    assert len(email) == 254
    response = open_account({"owner_name": "x" * 100, "email": email, "currency": "GBP"})

    assert response.status == 201


@pytest.mark.parametrize("body", ["/w==", "not base64!"], ids=["not-UTF-8", "not-base64"])
def test_rejects_a_body_that_cannot_be_decoded(open_account, table_items, body):
    response = open_account(raw=body, is_base64_encoded=True)

    assert response.status == 400
    assert response.body == {"message": "request body could not be decoded as UTF-8 text"}
    assert table_items() == []


@pytest.mark.parametrize(
    ("sub", "authorizer"),
    [(None, True), ("", True), (None, False)],
    ids=["claims-without-sub", "empty-sub", "no-authorizer"],
)
def test_requires_the_callers_identity(open_account, table_items, sub, authorizer):
    response = open_account(sub=sub, authorizer=authorizer)

    assert response.status == 401
    assert "'sub' claim" in response.body["message"]
    assert table_items() == []


def test_identity_is_checked_before_the_body(open_account):
    assert open_account(raw="[]", authorizer=False).status == 401


@pytest.mark.parametrize("same_caller", [True, False], ids=["same-caller", "other-caller"])
def test_one_account_per_email_whatever_its_case(
    open_account, table_items, valid_body, owner_sub, other_sub, same_caller
):
    assert open_account(valid_body).status == 201
    items = table_items()
    assert len(items) == 2

    response = open_account(
        {"owner_name": "Another Alice", "email": "  aLiCe@EXAMPLE.com ", "currency": "GBP"},
        sub=owner_sub if same_caller else other_sub,
    )

    assert response.status == 409
    assert response.body == {"message": "an account already exists for this email"}
    assert table_items() == items


def test_a_cancelled_transaction_writes_neither_item(
    handlers, open_account, table_items, valid_body, other_sub, monkeypatch, caplog
):
    # Two accounts with one id: the second transaction's account Put fails its condition
    # while its (new) email claim would succeed alone; DynamoDB must write neither.
    monkeypatch.setattr(handlers.accounts, "uuid", SimpleNamespace(uuid4=lambda: FIXED_ID))
    assert open_account(valid_body).status == 201
    items = table_items()

    with pytest.raises(ClientError) as raised:
        open_account({**valid_body, "email": "bob@example.com"}, sub=other_sub)

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert table_items() == items
    assert not any(item["pk"]["S"] == "EMAIL#bob@example.com" for item in table_items())
    assert [
        r.getMessage()
        for r in caplog.records
        if r.name == "accounts" and r.levelno >= logging.ERROR
    ] == ["could not store the account"]


def _client_error(code, **extra):
    return ClientError({"Error": {"Code": code, "Message": "simulated"}, **extra}, "op")


@pytest.mark.parametrize(
    "error",
    [
        _client_error("InternalServerError"),
        _client_error("ProvisionedThroughputExceededException"),
        _client_error(
            "TransactionCanceledException",
            CancellationReasons=[{"Code": "None"}, {"Code": "TransactionConflict"}],
        ),
        _client_error(
            "TransactionCanceledException",
            CancellationReasons=[{"Code": "ConditionalCheckFailed"}, {"Code": "None"}],
        ),
    ],
    ids=["internal-error", "throttled", "transaction-conflict", "account-id-clash"],
)
def test_other_dynamodb_errors_propagate_and_are_logged(
    handlers, open_account, table_items, monkeypatch, caplog, error
):
    def fail(**_kwargs):
        raise error

    monkeypatch.setattr(
        handlers.accounts.repository_from_env().client, "transact_write_items", fail
    )

    with pytest.raises(ClientError) as raised:
        open_account()

    assert raised.value is error
    assert table_items() == []
    errors = [r for r in caplog.records if r.name == "accounts" and r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["could not store the account"]
    assert errors[0].exc_info is not None
