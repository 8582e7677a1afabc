"""``GET /accounts``: the signed-in customer's accounts, newest first.

Query parameters: ``limit`` (accounts per page, an integer from 1 to 100, default 25) and
``cursor`` (the ``next_cursor`` of the previous page). The body is ``{"accounts": [...],
"next_cursor": ...}``: each account as ``GET /accounts/{id}`` returns it, and
``next_cursor`` null on the last page.

The accounts are read from the table's index by owner, which is eventually consistent: an
account opened a moment ago may not be listed yet (``POST /accounts`` returned it, and
``GET /accounts/{id}`` reads it at once).

Responses: 200 with the page (an empty list for a customer without accounts); 400 for a bad
``limit`` or a cursor this service did not issue; 401 without the caller's ``sub``.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from accounts import (
    decode_cursor,
    repository_from_env,
)
from payments_shared.api_proxy import (
    MISSING_IDENTITY,
    BadRequestError,
    ProxyResponse,
    caller_sub,
    error_response,
    json_response,
)
from payments_shared.correlation import correlated
from payments_shared.pagination import parse_cursor, parse_limit

logger = Logger()


@logger.inject_lambda_context
@event_source(data_class=APIGatewayProxyEvent)
@correlated(logger)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> ProxyResponse:
    """Lambda entry point (``list_accounts.handler``)."""
    owner_sub = caller_sub(event)
    if owner_sub is None:
        return error_response(401, MISSING_IDENTITY)
    query = event.query_string_parameters
    try:
        limit = parse_limit(query.get("limit"))
        after = parse_cursor(query.get("cursor"), decode_cursor)
    except BadRequestError as error:
        logger.info("rejected request", extra={"reason": str(error)})
        return error_response(400, str(error))

    try:
        page = repository_from_env().list_owned(owner_sub, limit=limit, after=after)
    except ClientError:
        logger.exception("could not list the accounts")
        raise
    return json_response(200, page.to_json())
