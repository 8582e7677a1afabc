"""payments_shared.pagination: the ``limit`` rule and reading a query until a page is full."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture
def pagination() -> ModuleType:
    """The module, imported with the shared layer on the path (see tests/handlers/conftest)."""
    return importlib.import_module("payments_shared.pagination")


class PagedClient:
    """Answers a query in pages of at most ``page`` items, as DynamoDB does at 1 MB."""

    def __init__(self, items: list[dict[str, Any]], page: int) -> None:
        self.items = items
        self.page = page
        self.requests: list[dict[str, Any]] = []

    def query(self, **kwargs: Any) -> Mapping[str, Any]:
        self.requests.append(kwargs)
        start = kwargs.get("ExclusiveStartKey", {}).get("n", -1) + 1
        size = min(kwargs["Limit"], self.page)
        found = self.items[start : start + size]
        response: dict[str, Any] = {"Items": found}
        if found and start + size < len(self.items):
            response["LastEvaluatedKey"] = {"n": start + size - 1}
        return response


def test_reads_on_until_the_page_is_full(pagination: ModuleType) -> None:
    client = PagedClient([{"n": n} for n in range(10)], page=3)
    items = pagination.query_items(client, {"TableName": "t"}, count=7, start=None)
    assert [item["n"] for item in items] == list(range(7))
    assert [request["Limit"] for request in client.requests] == [7, 4, 1]
    assert all(request["TableName"] == "t" for request in client.requests)


def test_starts_after_the_given_key_and_stops_when_the_query_ends(pagination: ModuleType) -> None:
    client = PagedClient([{"n": n} for n in range(5)], page=10)
    items = pagination.query_items(client, {"TableName": "t"}, count=25, start={"n": 1})
    assert [item["n"] for item in items] == [2, 3, 4]
    assert len(client.requests) == 1


@pytest.mark.parametrize(("raw", "limit"), [(None, 25), ("1", 1), ("100", 100), ("007", 7)])
def test_a_valid_limit(pagination: ModuleType, raw: str | None, limit: int) -> None:
    assert pagination.parse_limit(raw) == limit


@pytest.mark.parametrize("raw", ["0", "101", "-1", "1.5", "ten", "", "10000", " 5"])
def test_an_invalid_limit_is_a_bad_request(pagination: ModuleType, raw: str) -> None:
    api_proxy = importlib.import_module("payments_shared.api_proxy")
    with pytest.raises(api_proxy.BadRequestError, match="'limit' must be an integer from 1 to 100"):
        pagination.parse_limit(raw)
