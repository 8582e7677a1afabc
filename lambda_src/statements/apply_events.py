"""SQS consumer: applies the accounts' and the transfers' events to statements.

The events applied are ``AccountOpened`` v1 (accounts service), ``TransferCompleted`` v1 and
``DepositCompleted`` v1 (transfers service). The queue receives them from the event bus by
SNS raw delivery: each message body is the event envelope and its ``event_type`` message
attribute names the type. Every record is validated against its contract before anything is
written.

A record that fails (not a valid event, a type statements do not apply, a DynamoDB error)
is logged and reported as a batch item failure: SQS delivers it again and, after the
queue's ``maxReceiveCount``, moves it to the dead-letter queue. Nothing is dropped silently.
A record whose event was already applied succeeds without changing anything.

Each record's log lines carry its ``correlation_id`` message attribute (set by the publisher
from the request that caused the event; see ``payments_shared.correlation``), cleared after
the record: one batch mixes records of many requests. An invalid attribute is ignored.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from payments_shared.correlation import CORRELATION_ATTRIBUTE, valid_correlation_id
from payments_shared.events import (
    EVENT_TYPE_ATTRIBUTE,
    ContractRegistry,
    Event,
    InvalidEventError,
)
from statements import UnhandledEventError, repository_from_env

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
contracts = ContractRegistry.from_env()


def parse_record(record: SQSRecord) -> Event:
    """The valid event a record carries; :class:`InvalidEventError` says what is wrong.

    When the record has an ``event_type`` attribute (what the subscription filtered on), it
    must name the body's type.
    """
    event = contracts.parse(record.body)
    attribute = record.message_attributes[EVENT_TYPE_ATTRIBUTE]
    if attribute is not None and attribute.string_value != event.event_type:
        raise InvalidEventError(
            f"message attribute {EVENT_TYPE_ATTRIBUTE}={attribute.string_value!r} does not "
            f"match the body's event_type {event.event_type!r}"
        )
    return event


def record_correlation_id(record: SQSRecord) -> str | None:
    """The record's valid ``correlation_id`` message attribute, or None."""
    attribute = record.message_attributes[CORRELATION_ATTRIBUTE]
    return None if attribute is None else valid_correlation_id(attribute.string_value)


def apply_record(record: SQSRecord) -> None:
    """Apply the event of one record; raises (so the record is retried) when it cannot.
    Logs with the record's correlation id, if it has one."""
    logger.set_correlation_id(record_correlation_id(record))
    try:
        _apply(record)
    finally:
        logger.set_correlation_id(None)


def _apply(record: SQSRecord) -> None:
    context = {"message_id": record.message_id}
    try:
        event = parse_record(record)
        context.update(event_id=event.event_id, event_type=event.event_type)
        applied = repository_from_env().apply(event)
    except (InvalidEventError, UnhandledEventError) as error:
        logger.error("rejected message", extra={**context, "reason": str(error)})
        raise
    except ClientError as error:
        logger.exception("could not apply the event", extra={**context, "reason": str(error)})
        raise
    if applied:
        logger.info("event applied", extra=context)
    else:
        logger.info("event already applied, nothing changed", extra=context)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point (``apply_events.handler``): the batch's failed message ids.

    When every record fails, Powertools raises ``BatchProcessingError`` instead (the whole
    batch is retried).
    """
    return process_partial_response(
        event=event, record_handler=apply_record, processor=processor, context=context
    )
