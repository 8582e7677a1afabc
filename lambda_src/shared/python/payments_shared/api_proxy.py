"""Helpers for API Gateway REST API Lambda proxy integrations: the caller and the responses."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

ProxyResponse = dict[str, Any]

MISSING_IDENTITY = "missing caller identity: no 'sub' claim from the Cognito authorizer"


class BadRequestError(ValueError):
    """The request cannot be served as sent; the message tells the caller why (-> 400)."""


def caller_sub(event: APIGatewayProxyEvent) -> str | None:
    """The Cognito user pool ``sub`` of the caller, or None when the authorizer gave none."""
    sub = event.request_context.authorizer.claims.get("sub")
    return sub if isinstance(sub, str) and sub else None


def json_response(
    status_code: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> ProxyResponse:
    """A proxy integration response carrying ``body`` as JSON."""
    return {
        "statusCode": status_code,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
    }


def error_response(status_code: int, message: str) -> ProxyResponse:
    """An error response: ``{"message": message}``, the shape API Gateway's own errors use."""
    return json_response(status_code, {"message": message})


def request_body(event: APIGatewayProxyEvent) -> str | None:
    """The request body as text, decoded when API Gateway base64-encoded it."""
    try:
        return event.decoded_body
    except ValueError as error:  # bad base64 or not UTF-8
        raise BadRequestError("request body could not be decoded as UTF-8 text") from error


def parse_uuid(raw: str | None, name: str) -> str:
    """The canonical (lowercase, hyphenated) form of the UUID path parameter ``name``."""
    if not raw:
        raise BadRequestError(f"path parameter {name!r} is required")
    problem = BadRequestError(f"path parameter {name!r} must be a UUID, got {raw[:64]!r}")
    try:
        value = str(uuid.UUID(raw))
    except ValueError as error:
        raise problem from error
    if value != raw.lower():  # only the hyphenated form, not braces, URNs or bare hex
        raise problem
    return value
