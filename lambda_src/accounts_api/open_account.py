"""``POST /accounts``: opens an account for the signed-in customer.

Responses: 201 with the account and a ``Location`` header; 400 for a body that is not a
valid ``OpenAccountRequest`` (API Gateway validates the same schema first; this is defense
in depth); 401 without the caller's ``sub``; 409 when the email already owns an account.
DynamoDB failures are logged and propagate (a failed invocation). Every response carries
the request's ``X-Correlation-Id`` (see ``payments_shared.correlation``), which is stored on
the account item for its ``AccountOpened``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

import fastjsonschema
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from accounts import Account, EmailAlreadyRegisteredError, repository_from_env
from payments_shared.api_proxy import (
    MISSING_IDENTITY,
    BadRequestError,
    ProxyResponse,
    caller_sub,
    error_response,
    json_response,
    request_body,
)
from payments_shared.correlation import correlated, from_api_request

SCHEMA_FILE = Path(__file__).parent / "schemas" / "open_account_request.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
_validate = fastjsonschema.compile(SCHEMA)

# The JSON names of what ``json.loads`` returns, for messages.
_JSON_TYPES: dict[type, str] = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}
# What a failed ``pattern`` means, in words a caller can act on.
_PATTERN_HINTS = {
    "owner_name": "must not be blank",
    "email": "must be an email address such as name@example.com",
}

logger = Logger()


class OpenAccountRequest(TypedDict):
    """A valid request body, as sent (not yet trimmed or normalized)."""

    owner_name: str
    email: str
    currency: str


def parse_request(body: str | None) -> OpenAccountRequest:
    """Parse and validate the request body; :class:`BadRequestError` says what is wrong."""
    if not body:
        raise BadRequestError("request body is required: a JSON object")
    try:
        data = json.loads(body)
    except ValueError as error:
        raise BadRequestError(f"request body is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise BadRequestError(f"request body must be a JSON object, not {_JSON_TYPES[type(data)]}")
    try:
        _validate(data)
    except fastjsonschema.JsonSchemaValueException as error:
        raise BadRequestError(f"invalid request body: {_describe(error, data)}") from error
    return OpenAccountRequest(
        owner_name=data["owner_name"], email=data["email"], currency=data["currency"]
    )


def _describe(error: fastjsonschema.JsonSchemaValueException, data: dict[str, Any]) -> str:
    """Name the field(s) and the problem, deterministically (the library prints sets)."""
    if error.rule == "required":
        missing = [name for name in SCHEMA["required"] if name not in data]
        return "missing required field(s): " + ", ".join(missing)
    if error.rule == "additionalProperties":
        unknown = sorted(name for name in data if name not in SCHEMA["properties"])
        return "unknown field(s): " + ", ".join(unknown)
    field = ".".join(error.path[1:])
    if error.rule == "pattern" and field in _PATTERN_HINTS:
        return f"{field} {_PATTERN_HINTS[field]}"
    return error.message.removeprefix("data.")


@logger.inject_lambda_context
@event_source(data_class=APIGatewayProxyEvent)
@correlated(logger)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> ProxyResponse:
    """Lambda entry point (``open_account.handler``)."""
    owner_sub = caller_sub(event)
    if owner_sub is None:
        return error_response(401, MISSING_IDENTITY)
    try:
        request = parse_request(request_body(event))
    except BadRequestError as error:
        logger.info("rejected request", extra={"reason": str(error)})
        return error_response(400, str(error))

    account = Account.open(owner_sub=owner_sub, **request)
    try:
        repository_from_env().add(account, correlation_id=from_api_request(event))
    except EmailAlreadyRegisteredError as error:
        logger.info("email already registered")
        return error_response(409, str(error))
    except ClientError:
        logger.exception("could not store the account")
        raise

    logger.info("account opened", extra={"account_id": account.account_id})
    return json_response(
        201, account.to_json(), headers={"Location": f"/accounts/{account.account_id}"}
    )
