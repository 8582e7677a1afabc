"""Pages of a DynamoDB query, as the services' list endpoints serve them.

Each service keeps its own cursor format (what a page ends at is its own key); what is the
same everywhere is the ``limit`` query parameter and reading a query until a page is full.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from payments_shared.api_proxy import BadRequestError

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
_DIGITS = re.compile(r"[0-9]{1,4}")


class QueryClient(Protocol):
    """The one DynamoDB client method a page read needs."""

    def query(self, **kwargs: Any) -> Mapping[str, Any]: ...


def parse_limit(raw: str | None) -> int:
    """The page size: ``limit`` as plain decimal digits from 1 to 100, or the default."""
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if _DIGITS.fullmatch(raw) and 1 <= int(raw) <= MAX_PAGE_SIZE:
        return int(raw)
    raise BadRequestError(
        f"query parameter 'limit' must be an integer from 1 to {MAX_PAGE_SIZE}, got {raw[:64]!r}"
    )


def query_items(
    client: QueryClient,
    query: Mapping[str, Any],
    *,
    count: int,
    start: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """Up to ``count`` items of ``query``, after the key ``start`` (None: from the first).

    One DynamoDB response stops at 1 MB, maybe before ``Limit``: read on until ``count``
    items are there or the query has no more."""
    items: list[dict[str, Any]] = []
    request = dict(query)
    while len(items) < count:
        if start is not None:
            request["ExclusiveStartKey"] = start
        response = client.query(**request, Limit=count - len(items))
        items.extend(response.get("Items", []))
        start = response.get("LastEvaluatedKey")
        if start is None:
            break
    return items
