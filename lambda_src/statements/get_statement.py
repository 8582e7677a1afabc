"""``GET /statements/{id}``: the signed-in customer's statement of one account.

Query parameters: ``limit`` (entries per page, an integer from 1 to 100, default 25) and
``cursor`` (the ``next_cursor`` of the previous page). Entries come newest first.

The statement has ``account_id``, ``currency``, ``opened_at``, ``balance_minor``, ``entries``
and ``next_cursor`` (null on the last page). Every entry has ``event_id``, ``occurred_at``,
``kind``, ``amount_minor`` (never negative: the kind says which way the money moved),
``currency``, ``transfer_id``, ``counterparty_account_id`` and ``deposit_id``; by kind:

- ``opened``: the account was opened; amount 0, the three ids null;
- ``debit`` / ``credit``: money transferred to / from ``counterparty_account_id`` by the
  transfer ``transfer_id``; ``deposit_id`` null;
- ``deposit``: money deposited into the account by the deposit ``deposit_id``;
  ``transfer_id`` and ``counterparty_account_id`` null.

Responses: 200 with the statement; 400 for an ``id`` that is not a UUID, a bad ``limit`` or a
cursor this service did not issue; 401 without the caller's ``sub``; 404 when the statement
does not exist, has no owner yet (its ``AccountOpened`` is not applied yet) *or* belongs to
someone else (a caller never learns that another customer's account exists).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from payments_shared.api_proxy import (
    MISSING_IDENTITY,
    BadRequestError,
    ProxyResponse,
    caller_sub,
    error_response,
    json_response,
    parse_uuid,
)
from payments_shared.correlation import correlated
from payments_shared.pagination import parse_cursor, parse_limit
from statements import (
    decode_cursor,
    repository_from_env,
)

logger = Logger()


@logger.inject_lambda_context
@event_source(data_class=APIGatewayProxyEvent)
@correlated(logger)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> ProxyResponse:
    """Lambda entry point (``get_statement.handler``)."""
    owner_sub = caller_sub(event)
    if owner_sub is None:
        return error_response(401, MISSING_IDENTITY)
    query = event.query_string_parameters
    try:
        account_id = parse_uuid(event.path_parameters.get("id"), "id")
        limit = parse_limit(query.get("limit"))
        after = parse_cursor(query.get("cursor"), decode_cursor)
    except BadRequestError as error:
        logger.info("rejected request", extra={"reason": str(error)})
        return error_response(400, str(error))

    try:
        page = repository_from_env().get_owned(account_id, owner_sub, limit=limit, after=after)
    except ClientError:
        logger.exception("could not read the statement")
        raise
    if page is None:
        logger.info("statement not found or not the caller's", extra={"account_id": account_id})
        return error_response(404, f"statement for account {account_id} not found")
    return json_response(200, page.to_json())
