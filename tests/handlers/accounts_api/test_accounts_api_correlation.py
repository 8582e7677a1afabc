"""The accounts API and correlation ids: a valid ``X-Correlation-Id`` is the request's id
(echoed, logged, stored on the account item); an invalid one is replaced by API Gateway's
request id and appears nowhere; no response shows the stored id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from handler_support import decode, json_logs

BAD_HEADER = 'x"}\n{"level":"ERROR","message":"forged'


def _open(
    handlers: Any, lambda_context: Any, header: str | None, sample_event: Any
) -> tuple[Any, dict[str, Any]]:
    event = sample_event("open_account")
    event["body"] = json.dumps(
        {"owner_name": "Alice", "email": "alice@example.com", "currency": "EUR"}
    )
    if header is not None:
        event["headers"]["x-correlation-id"] = header
    return decode(handlers.open_account.handler(event, lambda_context)), event


def _stored_id(table_items: Any) -> str | None:
    [account] = [item for item in table_items() if item["sk"]["S"] == "PROFILE"]
    value = account.get("correlation_id", {}).get("S")
    return None if value is None else str(value)


def test_a_valid_header_is_echoed_logged_and_stored(
    handlers: Any, lambda_context: Any, table_items: Any, sample_event: Any
) -> None:
    with json_logs(handlers.open_account.logger) as lines:
        response, event = _open(handlers, lambda_context, "mobile-app.7_f", sample_event)

    assert response.status == 201
    assert response.headers["X-Correlation-Id"] == "mobile-app.7_f"
    assert [line["correlation_id"] for line in lines] == ["mobile-app.7_f"]
    # API Gateway's own id (its access log's requestId) is logged beside it.
    assert [line["api_request_id"] for line in lines] == [event["requestContext"]["requestId"]]
    assert _stored_id(table_items) == "mobile-app.7_f"


@pytest.mark.parametrize("header", [BAD_HEADER, "", "x" * 65, "two words"])
def test_an_invalid_header_is_replaced_by_the_request_id_never_echoed_or_logged(
    handlers: Any, lambda_context: Any, table_items: Any, sample_event: Any, header: str
) -> None:
    with json_logs(handlers.open_account.logger) as lines:
        response, event = _open(handlers, lambda_context, header, sample_event)

    request_id = event["requestContext"]["requestId"]
    assert response.status == 201
    assert response.headers["X-Correlation-Id"] == request_id
    assert [line["correlation_id"] for line in lines] == [request_id]
    assert _stored_id(table_items) == request_id
    if header:
        assert header not in json.dumps(lines)
        assert header not in json.dumps(response.body)


def test_reads_and_listings_never_show_the_stored_id(
    handlers: Any,
    lambda_context: Any,
    get_account: Any,
    list_accounts: Any,
    sample_event: Any,
) -> None:
    opened, _ = _open(handlers, lambda_context, "secret-trace-1", sample_event)
    account_id = opened.body["account_id"]

    fetched = get_account(account_id)
    listed = list_accounts()

    for response in (opened, fetched, listed):
        assert "correlation_id" not in json.dumps(response.body)
        assert "secret-trace-1" not in json.dumps(response.body)
    assert listed.body["accounts"] == [fetched.body]
    # Each request has its own id: the read's, not the opening's.
    assert fetched.headers["X-Correlation-Id"] != "secret-trace-1"
