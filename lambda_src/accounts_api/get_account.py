"""``GET /accounts/{id}``: reads one of the signed-in customer's accounts.

Responses: 200 with the account; 400 when ``id`` is not a UUID; 401 without the caller's
``sub``; 404 when the account does not exist *or* belongs to someone else (a caller never
learns that another customer's account exists).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from accounts import repository_from_env
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

logger = Logger()


@logger.inject_lambda_context
@event_source(data_class=APIGatewayProxyEvent)
@correlated(logger)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> ProxyResponse:
    """Lambda entry point (``get_account.handler``)."""
    owner_sub = caller_sub(event)
    if owner_sub is None:
        return error_response(401, MISSING_IDENTITY)
    try:
        account_id = parse_uuid(event.path_parameters.get("id"), "id")
    except BadRequestError as error:
        return error_response(400, str(error))

    try:
        account = repository_from_env().get_owned(account_id, owner_sub)
    except ClientError:
        logger.exception("could not read the account")
        raise
    if account is None:
        logger.info("account not found or not the caller's", extra={"account_id": account_id})
        return error_response(404, f"account {account_id} not found")
    return json_response(200, account.to_json())
