"""Pages of a DynamoDB query, as the services' list endpoints serve them.

The same everywhere: the ``limit`` query parameter, reading a query until a page is full,
and the cursor's form (url-safe base64 without padding of compact JSON, accepted only
exactly as issued). Each service names the fields a cursor holds and their patterns.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from payments_shared.api_proxy import BadRequestError

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
_DIGITS = re.compile(r"[0-9]{1,4}")
_MAX_CURSOR_LENGTH = 512
_CURSOR_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
Position = TypeVar("Position")


class InvalidCursorError(ValueError):
    """A pagination cursor that this service did not issue (malformed or tampered with)."""

    def __init__(self) -> None:
        super().__init__("invalid cursor")


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


def encode_cursor(fields: Mapping[str, str]) -> str:
    """The opaque cursor holding ``fields`` (in the order given)."""
    text = json.dumps(dict(fields), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, patterns: Mapping[str, re.Pattern[str]]) -> dict[str, str]:
    """The fields of a cursor from :func:`encode_cursor`, each matching its pattern (and no
    other field); else :class:`InvalidCursorError`. Another encoding of the same fields
    (padding, key order, spaces) is refused too: only what the service issued is accepted."""
    if len(cursor) > _MAX_CURSOR_LENGTH or not _CURSOR_ALPHABET.fullmatch(cursor):
        raise InvalidCursorError
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursorError from error
    if not isinstance(data, dict) or set(data) != set(patterns):
        raise InvalidCursorError
    for name, pattern in patterns.items():
        value = data[name]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise InvalidCursorError
    if encode_cursor({name: data[name] for name in patterns}) != cursor:
        raise InvalidCursorError
    return {name: data[name] for name in patterns}


def parse_cursor(raw: str | None, decode: Callable[[str], Position]) -> Position | None:
    """The position the ``cursor`` query parameter continues after (None: the first page);
    a cursor ``decode`` refuses is a :class:`BadRequestError`."""
    if raw is None:
        return None
    try:
        return decode(raw)
    except InvalidCursorError as error:
        raise BadRequestError(str(error)) from error
