"""One correlation id per request or message, in every log line and every event it causes.

- A request's id is its ``X-Correlation-Id`` header when that is valid (sent once, 1 to 64
  of ``A-Z a-z 0-9 . _ -``); otherwise the service makes one (a UUID). An invalid header is
  ignored, never echoed nor logged. API Gateway's HTTP proxy integration passes the
  client's headers through, so the id a client sends to the API reaches the service.
  Every response carries the id in ``X-Correlation-Id`` (:class:`CorrelationMiddleware`).
- A write stores the id with the event it queues (``outbox.correlation_id``); the outbox
  publisher sends it as the SNS message attribute :data:`CORRELATION_ATTRIBUTE` (beside the
  event, whose contract does not change) and logs each row's publishing with it.
- The AccountOpened consumer logs each message with that message's attribute.

The id of the work in progress lives in a context variable (:func:`current`, set with
:func:`bound`); the JSON log formatter (see ``logs``) adds it to every record as
``correlation_id``. Threads and asyncio tasks each have their own context: the request
handlers FastAPI runs in its thread pool get a copy of the request's.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CORRELATION_HEADER = "X-Correlation-Id"
CORRELATION_ATTRIBUTE = "correlation_id"
"""The SNS/SQS message attribute (a String) holding an event's correlation id."""
_VALID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HEADER_KEY = CORRELATION_HEADER.lower().encode("latin-1")

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def valid_correlation_id(value: object) -> str | None:
    """``value`` if it is a valid correlation id (a string of 1 to 64 of ``A-Z a-z 0-9 .
    _ -``), else None."""
    if isinstance(value, str) and _VALID.fullmatch(value):
        return value
    return None


def new_correlation_id() -> str:
    """A fresh id, for a request that came without a valid one."""
    return str(uuid.uuid4())


def current() -> str | None:
    """The id of the request or message being handled in this context, if any."""
    return _current.get()


@contextmanager
def bound(correlation_id: str | None) -> Iterator[str | None]:
    """Within the block, :func:`current` is ``correlation_id`` if valid (else None);
    restored after."""
    token = _current.set(valid_correlation_id(correlation_id))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def from_headers(values: list[str]) -> str:
    """The request's id from the values of all its ``X-Correlation-Id`` headers: the one
    value if valid, else a new id (absent, repeated or invalid)."""
    sent = valid_correlation_id(values[0]) if len(values) == 1 else None
    return sent or new_correlation_id()


class CorrelationMiddleware:
    """ASGI middleware: each HTTP request runs with its correlation id bound (see
    :func:`from_headers`) and its response carries it in ``X-Correlation-Id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        values = [
            value.decode("latin-1")
            for key, value in scope.get("headers", [])
            if key.lower() == _HEADER_KEY
        ]
        correlation_id = from_headers(values)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[CORRELATION_HEADER] = correlation_id
            await send(message)

        with bound(correlation_id):
            await self.app(scope, receive, send_with_id)


def message_attribute(correlation_id: str | None) -> dict[str, dict[str, str]]:
    """The SNS message attribute carrying ``correlation_id`` (none for None or an invalid
    id, which is never passed on)."""
    valid = valid_correlation_id(correlation_id)
    if valid is None:
        return {}
    return {CORRELATION_ATTRIBUTE: {"DataType": "String", "StringValue": valid}}
