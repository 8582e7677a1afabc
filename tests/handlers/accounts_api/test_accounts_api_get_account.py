"""``GET /accounts/{id}`` (``get_account.handler``) against moto: the round trip from
``POST /accounts``, and that a caller only ever sees their own accounts.
"""

import logging

import pytest
from botocore.exceptions import ClientError

UNKNOWN_ID = "3d6f1c2e-5b4a-4c3d-9e8f-7a6b5c4d3e2f"


def test_reads_back_an_opened_account(open_account, get_account, valid_body):
    opened = open_account(valid_body)
    assert opened.status == 201

    response = get_account(opened.headers["Location"].removeprefix("/accounts/"))

    assert response.status == 200
    assert response.body == opened.body
    assert "owner_sub" not in response.body
    assert response.headers["Content-Type"] == "application/json"


def test_accepts_an_uppercase_id(open_account, get_account):
    account = open_account().body

    response = get_account(account["account_id"].upper())

    assert response.status == 200
    assert response.body == account


def test_unknown_account_is_not_found(open_account, get_account):
    assert open_account().status == 201

    response = get_account(UNKNOWN_ID)

    assert response.status == 404
    assert response.body == {"message": f"account {UNKNOWN_ID} not found"}


def test_another_customers_account_is_not_found(open_account, get_account, other_sub):
    account_id = open_account().body["account_id"]

    response = get_account(account_id, sub=other_sub)

    assert response.status == 404
    assert response.body == {"message": f"account {account_id} not found"}


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
def test_rejects_an_id_that_is_not_a_uuid(get_account, account_id):
    response = get_account(account_id)

    assert response.status == 400
    assert response.body == {"message": f"path parameter 'id' must be a UUID, got {account_id!r}"}


def test_rejects_a_missing_id(get_account):
    response = get_account(None)

    assert response.status == 400
    assert response.body == {"message": "path parameter 'id' is required"}


@pytest.mark.parametrize(
    ("sub", "authorizer"),
    [(None, True), ("", True), (None, False)],
    ids=["claims-without-sub", "empty-sub", "no-authorizer"],
)
def test_requires_the_callers_identity(open_account, get_account, sub, authorizer):
    account_id = open_account().body["account_id"]

    response = get_account(account_id, sub=sub, authorizer=authorizer)

    assert response.status == 401
    assert "'sub' claim" in response.body["message"]


def test_dynamodb_errors_propagate_and_are_logged(handlers, get_account, monkeypatch, caplog):
    error = ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "GetItem")

    def fail(**_kwargs):
        raise error

    monkeypatch.setattr(handlers.accounts.repository_from_env().client, "get_item", fail)

    with pytest.raises(ClientError) as raised:
        get_account(UNKNOWN_ID)

    assert raised.value is error
    assert [
        r.getMessage()
        for r in caplog.records
        if r.name == "accounts" and r.levelno >= logging.ERROR
    ] == ["could not read the account"]


def test_reads_are_strongly_consistent(handlers, open_account, get_account, monkeypatch):
    # moto is always consistent; DynamoDB is not unless asked, and a client that reads an
    # account right after opening it must not get a 404.
    client = handlers.accounts.repository_from_env().client
    real_get_item = client.get_item
    calls = []

    def spy(**kwargs):
        calls.append(kwargs)
        return real_get_item(**kwargs)

    monkeypatch.setattr(client, "get_item", spy)
    account_id = open_account().body["account_id"]

    assert get_account(account_id).status == 200
    assert [call.get("ConsistentRead") for call in calls] == [True]
