"""Fixtures for the statements service's Lambda handlers (``lambda_src/statements``), on moto.

As for the accounts service, the handler modules are top-level modules (``statements``,
``apply_events``, ``get_statement``) imported freshly for each test with their folder first
on ``sys.path``, then removed again, putting back whatever they displaced.

Events (``AccountOpened``, ``TransferCompleted``, ``DepositCompleted``) are built with the
``envelopes`` factory, wrapped into SQS records (as SNS raw delivery leaves them) by
``sqs_record`` and fed to ``apply_events.handler`` by ``apply``; ``get_statement`` calls
``GET /statements/{id}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
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

CODE_DIR = Path(__file__).resolve().parents[3] / "lambda_src" / "statements"
EVENTS_DIR = Path(__file__).parent / "events"
MODULES = ("statements", "apply_events", "get_statement")
TABLE_NAME = "statements-test"

# The ids of the sample events.
OWNER_SUB = "6f1c2a3e-1111-4c2b-9d8e-0a1b2c3d4e5f"  # owns ACCOUNT_A, calls in get_statement.json
OTHER_SUB = "9a8b7c6d-2222-4e3f-8a9b-1c2d3e4f5a6b"  # owns ACCOUNT_B
ACCOUNT_A = "0b5c1e52-9a3f-4d47-8f2e-6f4c1d2b3a90"
ACCOUNT_B = "7d2e4f61-3c5b-4a8e-9f1d-2b3c4d5e6f70"
ACCOUNT_C = "2c4e6a8b-0d1f-4e3a-8b5c-7d9e1f2a3b4c"  # no sample event mentions it

AUTO = object()
"""``sqs_record(event_type=AUTO)``: the attribute names the envelope's type, as published."""


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of a sample event from ``events/``."""
    return load_json(EVENTS_DIR / f"{name}.json")


def _md5_of_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """SQS's ``md5OfMessageAttributes`` of string-valued attributes."""
    data = b""
    for name in sorted(attributes):
        attribute = attributes[name]
        for part in (name, attribute["dataType"], None, attribute["stringValue"]):
            if part is None:
                data += b"\x01"  # transport type: string
            else:
                data += struct.pack(">I", len(part.encode())) + part.encode()
    return hashlib.md5(data).hexdigest()


def sqs_record(
    body: Mapping[str, Any] | str,
    *,
    message_id: str | None = None,
    event_type: object = AUTO,
) -> dict[str, Any]:
    """An SQS record as Lambda receives it from a raw-delivery SNS subscription.

    ``body``: an envelope (sent as JSON) or the raw body text. ``event_type``: the value of
    the message attribute (AUTO: the envelope's ``event_type``; None: no attribute).
    """
    record = load_event("sqs_batch")["Records"][0]
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    record["messageId"] = message_id or str(uuid.uuid4())
    record["body"] = text
    record["md5OfBody"] = hashlib.md5(text.encode()).hexdigest()
    attributes = record["messageAttributes"]
    if event_type is AUTO:
        event_type = body.get("event_type") if isinstance(body, Mapping) else None
    if event_type is None:
        del attributes["event_type"]
    else:
        attributes["event_type"]["stringValue"] = event_type
    if isinstance(body, Mapping) and isinstance(body.get("event_version"), int):
        attributes["event_version"]["stringValue"] = str(body["event_version"])
    record["md5OfMessageAttributes"] = _md5_of_attributes(attributes)
    return record


class Envelopes:
    """Builds valid event envelopes (fresh event ids unless given)."""

    @staticmethod
    def opened(
        account_id: str = ACCOUNT_A,
        *,
        owner_sub: str = OWNER_SUB,
        occurred_at: str = "2025-11-22T14:00:00.000Z",
        currency: str = "EUR",
        event_id: str | None = None,
    ) -> dict[str, Any]:
        return {
            "event_id": event_id or str(uuid.uuid4()),
            "event_type": "AccountOpened",
            "event_version": 1,
            "occurred_at": occurred_at,
            "data": {
                "account_id": account_id,
                "owner_sub": owner_sub,
                "currency": currency,
                "opened_at": occurred_at,
            },
        }

    @staticmethod
    def transfer(
        from_account_id: str = ACCOUNT_A,
        to_account_id: str = ACCOUNT_B,
        amount_minor: int = 1000,
        *,
        occurred_at: str = "2025-11-22T15:00:00.000Z",
        currency: str = "EUR",
        event_id: str | None = None,
        transfer_id: str | None = None,
    ) -> dict[str, Any]:
        return {
            "event_id": event_id or str(uuid.uuid4()),
            "event_type": "TransferCompleted",
            "event_version": 1,
            "occurred_at": occurred_at,
            "data": {
                "transfer_id": transfer_id or str(uuid.uuid4()),
                "from_account_id": from_account_id,
                "to_account_id": to_account_id,
                "amount_minor": amount_minor,
                "currency": currency,
                "completed_at": occurred_at,
            },
        }

    @staticmethod
    def deposit(
        account_id: str = ACCOUNT_A,
        amount_minor: int = 5000,
        *,
        occurred_at: str = "2025-11-22T15:30:00.000Z",
        currency: str = "EUR",
        event_id: str | None = None,
        deposit_id: str | None = None,
    ) -> dict[str, Any]:
        return {
            "event_id": event_id or str(uuid.uuid4()),
            "event_type": "DepositCompleted",
            "event_version": 1,
            "occurred_at": occurred_at,
            "data": {
                "deposit_id": deposit_id or str(uuid.uuid4()),
                "account_id": account_id,
                "amount_minor": amount_minor,
                "currency": currency,
                "completed_at": occurred_at,
            },
        }


@pytest.fixture
def envelopes() -> type[Envelopes]:
    """Factory of valid event envelopes.

    ``envelopes.opened(...)`` (AccountOpened), ``envelopes.transfer(...)`` (TransferCompleted)
    and ``envelopes.deposit(...)`` (DepositCompleted), all v1.
    """
    return Envelopes


@pytest.fixture
def sample_event() -> Callable[[str], dict[str, Any]]:
    """A fresh copy of a sample event from ``events/`` (``sqs_batch``, ``get_statement``)."""
    return load_event


@pytest.fixture
def make_record() -> Callable[..., dict[str, Any]]:
    """:func:`sqs_record`: an SQS record carrying an envelope (or a raw body)."""
    return sqs_record


@pytest.fixture
def auto() -> object:
    """The default of ``make_record(event_type=...)``: the envelope's own type."""
    return AUTO


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment of the functions, with fake credentials that can reach nothing real."""
    fake_aws_environment(
        monkeypatch,
        TABLE_NAME=TABLE_NAME,
        POWERTOOLS_SERVICE_NAME="statements",
    )


@pytest.fixture
def dynamodb(aws_env: None) -> Iterator[Any]:
    """A moto DynamoDB client, with the service's table (pk/sk strings, on demand)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_service_table(client, TABLE_NAME)
        yield client


@pytest.fixture
def table_items(dynamodb: Any) -> Callable[[], list[dict[str, Any]]]:
    """Every item in the table, sorted by key."""
    return lambda: sorted_items(dynamodb, TABLE_NAME)


@pytest.fixture
def reset_table(dynamodb: Any) -> Callable[[], None]:
    """Empty the table (drop and recreate it)."""

    def reset() -> None:
        dynamodb.delete_table(TableName=TABLE_NAME)
        create_service_table(dynamodb, TABLE_NAME)

    return reset


@pytest.fixture
def handlers(aws_env: None, dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The handler modules, freshly imported after the environment and moto are set up."""
    with import_handlers(monkeypatch, [CODE_DIR], MODULES) as modules:
        yield modules


@pytest.fixture
def apply(handlers: Any, lambda_context: Any) -> Callable[..., dict[str, Any]]:
    """Call ``apply_events.handler`` with a batch of records (or envelopes, wrapped as sent)."""

    def call(*records: Mapping[str, Any]) -> dict[str, Any]:
        batch = [dict(r) if "messageId" in r else sqs_record(r) for r in records]
        response: dict[str, Any] = handlers.apply_events.handler({"Records": batch}, lambda_context)
        return response

    return call


@pytest.fixture
def get_statement(handlers: Any, lambda_context: Any) -> Callable[..., Response]:
    """Call ``GET /statements/{id}`` as ``sub``, with query parameters ``query``.

    ``account_id=None``: no path parameters; ``query=None``: no query string.
    """

    def call(
        account_id: str | None = ACCOUNT_A,
        *,
        sub: str | None = OWNER_SUB,
        authorizer: bool = True,
        query: Mapping[str, str] | None = None,
    ) -> Response:
        event = as_caller(load_event("get_statement"), sub, authorizer=authorizer)
        event["pathParameters"] = None if account_id is None else {"id": account_id}
        event["path"] = f"/statements/{account_id or ''}"
        event["queryStringParameters"] = None if query is None else dict(query)
        event["multiValueQueryStringParameters"] = (
            None if query is None else {name: [value] for name, value in query.items()}
        )
        return decode(handlers.get_statement.handler(event, lambda_context))

    return call


@pytest.fixture
def read_all(get_statement: Callable[..., Response]) -> Callable[..., list[Response]]:
    """Every page of a statement, following ``next_cursor`` (at most 50 pages)."""

    def call(account_id: str = ACCOUNT_A, *, limit: int, sub: str = OWNER_SUB) -> list[Response]:
        pages = [get_statement(account_id, sub=sub, query={"limit": str(limit)})]
        while pages[-1].status == 200 and pages[-1].body["next_cursor"] is not None:
            assert len(pages) < 50, "pagination does not end"
            cursor = pages[-1].body["next_cursor"]
            pages.append(
                get_statement(account_id, sub=sub, query={"limit": str(limit), "cursor": cursor})
            )
        return pages

    return call


@pytest.fixture
def cursor_for() -> Callable[[object], str]:
    """A cursor in the service's encoding around any JSON value (for forged cursors)."""

    def encode(value: object) -> str:
        text = json.dumps(value, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    return encode


@pytest.fixture
def ids() -> SimpleNamespace:
    """The subs and account ids of the sample events."""
    return SimpleNamespace(
        owner_sub=OWNER_SUB,
        other_sub=OTHER_SUB,
        account_a=ACCOUNT_A,
        account_b=ACCOUNT_B,
        account_c=ACCOUNT_C,
    )
