"""Fixtures for the accounts service's Lambda handlers (``lambda_src/accounts_api``), on moto.

The handler modules are top-level modules (``accounts``, ``open_account``...), as on Lambda.
``handlers`` imports them freshly for each test (``handler_support.import_handlers``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from handler_support import (
    REGION,
    Response,
    as_caller,
    create_service_table,
    decode,
    fake_aws_environment,
    import_handlers,
    load_json,
    sorted_items,
)
from moto import mock_aws

CODE_DIR = Path(__file__).resolve().parents[3] / "lambda_src" / "accounts_api"
EVENTS_DIR = Path(__file__).parent / "events"
MODULES = ("accounts", "open_account", "get_account", "list_accounts", "publish_events")
TABLE_NAME = "accounts-test"
OWNER_INDEX_NAME = "by-owner"
OWNER_INDEX = {
    "IndexName": OWNER_INDEX_NAME,
    "KeySchema": [
        {"AttributeName": "owner_sub", "KeyType": "HASH"},
        {"AttributeName": "opened_at", "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "ALL"},
}
"""The accounts table's index by owner, as stacks/accounts_stack.py adds it (the reference
tests check the synthesized template declares exactly this index)."""

OWNER_SUB = "6f1c2a3e-1111-4c2b-9d8e-0a1b2c3d4e5f"  # the sub in the sample events
OTHER_SUB = "9a8b7c6d-2222-4e3f-8a9b-1c2d3e4f5a6b"
VALID_BODY = {"owner_name": "Alice Example", "email": "Alice@Example.com", "currency": "EUR"}


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of a sample event from ``events/``."""
    return load_json(EVENTS_DIR / f"{name}.json")


@pytest.fixture
def sample_event() -> Callable[[str], dict[str, Any]]:
    """A fresh copy of a sample event from ``events/`` (``list_accounts``, ...)."""
    return load_event


@pytest.fixture
def owner_index() -> dict[str, Any]:
    """The index by owner the handler tests' table has (a fresh copy)."""
    return json.loads(json.dumps(OWNER_INDEX))


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment of the functions, with fake credentials that can reach nothing real."""
    fake_aws_environment(
        monkeypatch,
        TABLE_NAME=TABLE_NAME,
        OWNER_INDEX_NAME=OWNER_INDEX_NAME,
        EVENT_TOPIC_ARN=f"arn:aws:sns:{REGION}:123456789012:accounts-events",
        POWERTOOLS_SERVICE_NAME="accounts",
    )


@pytest.fixture
def dynamodb(aws_env: None) -> Iterator[Any]:
    """A moto DynamoDB client, with the service's table (pk/sk strings, on demand) and its
    index by owner."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_service_table(client, TABLE_NAME, global_secondary_indexes=[OWNER_INDEX])
        yield client


@pytest.fixture
def table_items(dynamodb: Any) -> Callable[[], list[dict[str, Any]]]:
    """Every item in the table, sorted by key."""
    return lambda: sorted_items(dynamodb, TABLE_NAME)


@pytest.fixture
def handlers(aws_env: None, dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The handler modules, freshly imported after the environment and moto are set up."""
    with import_handlers(monkeypatch, [CODE_DIR], MODULES) as modules:
        yield modules


@pytest.fixture
def open_account(handlers: Any, lambda_context: Any) -> Callable[..., Response]:
    """Call ``POST /accounts`` with a JSON ``body`` (or a ``raw`` body string) as ``sub``.

    ``encode_base64`` sends the body base64-encoded, as API Gateway does for binary media
    types; ``is_base64_encoded`` overrides the flag alone.
    """

    def call(
        body: object = VALID_BODY,
        *,
        raw: str | None = None,
        sub: str | None = OWNER_SUB,
        authorizer: bool = True,
        encode_base64: bool = False,
        is_base64_encoded: bool | None = None,
    ) -> Response:
        event = as_caller(load_event("open_account"), sub, authorizer=authorizer)
        text = raw if raw is not None else json.dumps(body)
        if encode_base64:
            text = base64.b64encode(text.encode()).decode()
        event["body"] = text
        event["isBase64Encoded"] = encode_base64 if is_base64_encoded is None else is_base64_encoded
        return decode(handlers.open_account.handler(event, lambda_context))

    return call


@pytest.fixture
def get_account(handlers: Any, lambda_context: Any) -> Callable[..., Response]:
    """Call ``GET /accounts/{id}`` as ``sub`` (``account_id=None``: no path parameters)."""

    def call(
        account_id: str | None, *, sub: str | None = OWNER_SUB, authorizer: bool = True
    ) -> Response:
        event = as_caller(load_event("get_account"), sub, authorizer=authorizer)
        event["pathParameters"] = None if account_id is None else {"id": account_id}
        event["path"] = f"/accounts/{account_id or ''}"
        return decode(handlers.get_account.handler(event, lambda_context))

    return call


@pytest.fixture
def list_accounts(handlers: Any, lambda_context: Any) -> Callable[..., Response]:
    """Call ``GET /accounts`` as ``sub``, with query parameters ``query`` (None: none)."""

    def call(
        *,
        sub: str | None = OWNER_SUB,
        authorizer: bool = True,
        query: Mapping[str, str] | None = None,
    ) -> Response:
        event = as_caller(load_event("list_accounts"), sub, authorizer=authorizer)
        event["queryStringParameters"] = None if query is None else dict(query)
        event["multiValueQueryStringParameters"] = (
            None if query is None else {name: [value] for name, value in query.items()}
        )
        return decode(handlers.list_accounts.handler(event, lambda_context))

    return call


@pytest.fixture
def list_all(list_accounts: Callable[..., Response]) -> Callable[..., list[Response]]:
    """Every page of a caller's accounts, following ``next_cursor`` (at most 50 pages)."""

    def call(*, limit: int, sub: str = OWNER_SUB) -> list[Response]:
        pages = [list_accounts(sub=sub, query={"limit": str(limit)})]
        while pages[-1].status == 200 and pages[-1].body["next_cursor"] is not None:
            assert len(pages) < 50, "pagination does not end"
            cursor = pages[-1].body["next_cursor"]
            pages.append(list_accounts(sub=sub, query={"limit": str(limit), "cursor": cursor}))
        return pages

    return call


@pytest.fixture
def owner_sub() -> str:
    """The caller of the sample events."""
    return OWNER_SUB


@pytest.fixture
def other_sub() -> str:
    """Another signed-in customer."""
    return OTHER_SUB


@pytest.fixture
def valid_body() -> dict[str, str]:
    """A valid ``POST /accounts`` body (a fresh copy)."""
    return dict(VALID_BODY)
