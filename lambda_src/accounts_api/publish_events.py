"""Publishes ``AccountOpened`` for every account written to the accounts table.

Invoked by the table's DynamoDB stream (``TableEventPublisher``), filtered to inserts of
account items, so an account that exists is always announced, even when ``POST /accounts``
died right after writing it. A record that cannot be published is reported as a batch item
failure: the stream retries it (and the records after it, keeping their order) until it
succeeds or is handed to the failure queue. Each account's event has an ``event_id``
derived from its account id, so publishing it again after a retry is a duplicate that
consumers recognize.

The correlation id of the request that opened the account (the item's ``correlation_id``)
goes with the event as its ``correlation_id`` message attribute, and each record's log lines
carry it (``correlation_id``, cleared after the record).
"""

from __future__ import annotations

import functools
import os
import uuid
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from accounts import ITEM_TYPE, Account
from payments_shared.correlation import CORRELATION_ATTRIBUTE, valid_correlation_id
from payments_shared.events import ContractRegistry, Event, publish

ACCOUNT_OPENED = "AccountOpened"
EVENT_ID_NAMESPACE = uuid.UUID("3f0e9c52-7a61-4c55-9a53-2d8f4b1e6a70")
"""uuid5 namespace of the accounts service's event ids (never change it)."""

logger = Logger()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
contracts = ContractRegistry.from_env()


@functools.cache
def _sns_client() -> Any:
    return boto3.client("sns")


def account_opened(account: Account) -> Event:
    """The ``AccountOpened`` event of ``account``, validated against its contract."""
    return contracts.validate(
        {
            "event_id": str(
                uuid.uuid5(EVENT_ID_NAMESPACE, f"{ACCOUNT_OPENED}:{account.account_id}")
            ),
            "event_type": ACCOUNT_OPENED,
            "event_version": 1,
            "occurred_at": account.opened_at,
            "data": {
                "account_id": account.account_id,
                "owner_sub": account.owner_sub,
                "currency": account.currency,
                "opened_at": account.opened_at,
            },
        }
    )


def publish_record(record: DynamoDBRecord) -> None:
    """Publish the event of one stream record; raises (-> item failure) when it cannot.
    Logs with the record's correlation id, if it has one."""
    new_image = record.raw_event.get("dynamodb", {}).get("NewImage") or {}
    correlation_id = valid_correlation_id(new_image.get(CORRELATION_ATTRIBUTE, {}).get("S"))
    logger.set_correlation_id(correlation_id)
    try:
        _publish(record, new_image, correlation_id)
    finally:
        logger.set_correlation_id(None)


def _publish(record: DynamoDBRecord, new_image: dict[str, Any], correlation_id: str | None) -> None:
    item_type = new_image.get("type", {}).get("S")
    if record.raw_event.get("eventName") != "INSERT" or item_type != ITEM_TYPE:
        # The event source's filter lets only account inserts through; anything else is
        # not an account being opened, so there is nothing to announce.
        logger.warning("ignored a record that is not an account insert", extra={"type": item_type})
        return
    event = account_opened(Account.from_item(new_image))
    message_id = publish(
        _sns_client(), os.environ["EVENT_TOPIC_ARN"], event, correlation_id=correlation_id
    )
    logger.info(
        "published",
        extra={
            "event_type": event.event_type,
            "event_id": event.event_id,
            "account_id": event.data["account_id"],
            "message_id": message_id,
        },
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point (``publish_events.handler``)."""
    return process_partial_response(
        event=event, record_handler=publish_record, processor=processor, context=context
    )
