"""One correlation id per request, carried from the API into the events it causes.

The id of a request is the caller's ``X-Correlation-Id`` header when it is valid (1 to 64
of ``A-Z a-z 0-9 . _ -``), else API Gateway's request id (``requestContext.requestId``, the
``requestId`` of the API's access log). Anything else the header holds is ignored and never
logged: a client cannot inject text into the logs through it.

Where the id travels:

- API responses carry it back in ``X-Correlation-Id``;
- every log line of the request has it as ``correlation_id`` (Powertools Logger);
- a write that will be announced stores it with the data (the account item's
  ``correlation_id`` attribute), so that the event published later, from the table's
  stream, carries it too;
- events carry it outside their payload (the contracts do not change) as the SNS message
  attribute :data:`CORRELATION_ATTRIBUTE`, which raw delivery hands to every SQS consumer;
- consumers log each message's processing with its id.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

CORRELATION_HEADER = "X-Correlation-Id"
CORRELATION_ATTRIBUTE = "correlation_id"
"""The SNS/SQS message attribute (a String) holding an event's correlation id."""
MAX_LENGTH = 64
_VALID = re.compile(r"[A-Za-z0-9._-]{1,64}")

ProxyHandler = Callable[[APIGatewayProxyEvent, LambdaContext], dict[str, Any]]


def valid_correlation_id(value: object) -> str | None:
    """``value`` if it is a valid correlation id (a string of 1 to 64 of ``A-Z a-z 0-9 .
    _ -``), else None."""
    if isinstance(value, str) and _VALID.fullmatch(value):
        return value
    return None


def from_api_request(event: APIGatewayProxyEvent) -> str:
    """The request's id: a valid ``X-Correlation-Id`` header, else API Gateway's request id
    (which is a UUID, so always valid; ``"unknown"`` only for a malformed test event)."""
    sent = valid_correlation_id(event.headers.get(CORRELATION_HEADER))
    if sent is not None:
        return sent
    return valid_correlation_id(event.request_context.request_id) or "unknown"


def correlated(logger: Logger) -> Callable[[ProxyHandler], ProxyHandler]:
    """Decorates a proxy handler (after ``event_source``): its logs carry the request's
    correlation id (``logger.set_correlation_id``) and API Gateway's request id
    (``api_request_id``), and its response the ``X-Correlation-Id`` header. Put
    ``logger.inject_lambda_context`` outside it."""

    def decorate(handler: ProxyHandler) -> ProxyHandler:
        @functools.wraps(handler)
        def wrapper(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
            correlation_id = from_api_request(event)
            logger.set_correlation_id(correlation_id)
            # API Gateway's id too (its access log's requestId), when the caller sent its own.
            logger.append_keys(api_request_id=event.request_context.request_id)
            response = handler(event, context)
            response["headers"] = {
                **(response.get("headers") or {}),
                CORRELATION_HEADER: correlation_id,
            }
            return response

        return wrapper

    return decorate


def message_attribute(correlation_id: str | None) -> dict[str, dict[str, str]]:
    """The SNS message attribute carrying ``correlation_id`` (none for None or an invalid
    id, which is never passed on)."""
    valid = valid_correlation_id(correlation_id)
    if valid is None:
        return {}
    return {CORRELATION_ATTRIBUTE: {"DataType": "String", "StringValue": valid}}
