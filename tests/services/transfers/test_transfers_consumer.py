"""The AccountOpened consumer against moto's SQS: idempotent, and poison messages stay."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from transfers_support import (
    CALLER,
    OTHER_CALLER,
    Ledger,
    ServiceServer,
    account_opened,
    wait_for,
)

from tools.test_servers import free_port
from transfers_service.cache import NoCache
from transfers_service.consumer import AccountEventsConsumer
from transfers_service.db import Pool, create_pool
from transfers_service.events import ContractRegistry
from transfers_service.settings import Settings

REGION = "us-east-1"


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def queues(sqs: Any) -> tuple[str, str]:
    """The service's queue (visibility timeout 0, so a message left is received again at
    once) and its dead-letter queue, after 2 receives as a QueueWorker's redrive does."""
    dlq_url = sqs.create_queue(QueueName="transfers-accounts-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName="transfers-accounts",
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    return queue_url, dlq_url


def _consumer(
    pool: Pool, sqs: Any, queue_url: str, registry: ContractRegistry
) -> AccountEventsConsumer:
    return AccountEventsConsumer(pool, sqs, queue_url, registry, NoCache(), wait_seconds=0)


def _messages(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _accounts(ledger: Ledger) -> list[tuple[Any, ...]]:
    return ledger.conn.execute(
        "SELECT account_id, kind, currency, balance_minor, opened_event_id, owner_sub"
        " FROM accounts ORDER BY account_id"
    ).fetchall()


def test_an_account_opened_event_makes_the_account_known(
    pool: Pool, sqs: Any, queues: tuple[str, str], registry: ContractRegistry, ledger: Ledger
) -> None:
    queue_url, _ = queues
    account_id, event_id = uuid.uuid4(), uuid.uuid4()
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(
            account_opened(account_id, currency="USD", event_id=event_id, owner=OTHER_CALLER)
        ),
    )

    result = _consumer(pool, sqs, queue_url, registry).poll()

    assert (result.opened, result.rejected, result.failed) == (1, 0, 0)
    assert _accounts(ledger) == [(account_id, "customer", "USD", 0, event_id, OTHER_CALLER)]
    assert _messages(sqs, queue_url) == 0  # deleted after the commit


def test_a_duplicate_delivery_changes_nothing(
    pool: Pool, sqs: Any, queues: tuple[str, str], registry: ContractRegistry, ledger: Ledger
) -> None:
    queue_url, _ = queues
    event = account_opened()
    consumer = _consumer(pool, sqs, queue_url, registry)
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))
    assert consumer.poll().opened == 1
    before = _accounts(ledger)

    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))
    result = consumer.poll()

    assert (result.opened, result.duplicates) == (0, 1)
    assert _accounts(ledger) == before
    assert _messages(sqs, queue_url) == 0


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        json.dumps({**account_opened(), "event_type": "AccountClosed"}),
        json.dumps({**account_opened(), "event_version": 2}),
        json.dumps({**account_opened(), "occurred_at": "yesterday"}),
        json.dumps({**account_opened(), "data": {"account_id": str(uuid.uuid4())}}),
        json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "TransferCompleted",
                "event_version": 1,
                "occurred_at": "2026-01-05T09:30:00Z",
                "data": {
                    "transfer_id": str(uuid.uuid4()),
                    "from_account_id": str(uuid.uuid4()),
                    "to_account_id": str(uuid.uuid4()),
                    "amount_minor": 1,
                    "currency": "EUR",
                    "completed_at": "2026-01-05T09:30:00Z",
                },
            }
        ),
    ],
    ids=[
        "not-json",
        "not-object",
        "other-type",
        "other-version",
        "bad-time",
        "no-currency",
        "valid-but-not-ours",
    ],
)
def test_invalid_messages_are_left_for_the_dead_letter_queue(
    pool: Pool,
    sqs: Any,
    queues: tuple[str, str],
    registry: ContractRegistry,
    ledger: Ledger,
    body: str,
) -> None:
    queue_url, dlq_url = queues
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    consumer = _consumer(pool, sqs, queue_url, registry)

    results = [consumer.poll() for _ in range(3)]

    assert [result.rejected for result in results] == [1, 1, 0]  # then redriven
    assert _accounts(ledger) == []
    assert _messages(sqs, queue_url) == 0
    [dead] = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert dead["Body"] == body


def test_an_event_contradicting_a_known_account_is_left_alone(
    pool: Pool, sqs: Any, queues: tuple[str, str], registry: ContractRegistry, ledger: Ledger
) -> None:
    queue_url, _ = queues
    account_id = ledger.open_account("EUR")
    before = _accounts(ledger)
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=json.dumps(account_opened(account_id, currency="GBP"))
    )

    result = _consumer(pool, sqs, queue_url, registry).poll()

    assert result.rejected == 1
    assert _accounts(ledger) == before
    assert _messages(sqs, queue_url) == 1


def test_a_redelivery_fills_in_the_owner_of_an_account_recorded_without_one(
    pool: Pool, sqs: Any, queues: tuple[str, str], registry: ContractRegistry, ledger: Ledger
) -> None:
    queue_url, _ = queues
    account_id = ledger.open_account("EUR", owner=None)  # recorded before owners were
    [(_, _, _, _, first_event_id, owner)] = _accounts(ledger)
    assert owner is None
    consumer = _consumer(pool, sqs, queue_url, registry)
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=json.dumps(account_opened(account_id, owner=OTHER_CALLER))
    )

    result = consumer.poll()

    assert (result.opened, result.duplicates, result.rejected) == (0, 1, 0)
    assert _accounts(ledger) == [(account_id, "customer", "EUR", 0, first_event_id, OTHER_CALLER)]
    assert _messages(sqs, queue_url) == 0
    # Filled once, then kept: the same owner again is a duplicate, another one a conflict.
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=json.dumps(account_opened(account_id, owner=OTHER_CALLER))
    )
    assert consumer.poll().duplicates == 1
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=json.dumps(account_opened(account_id, owner=CALLER))
    )
    assert consumer.poll().rejected == 1
    assert ledger.owner(account_id) == OTHER_CALLER


def test_an_event_naming_another_owner_never_changes_the_owner(
    pool: Pool, sqs: Any, queues: tuple[str, str], registry: ContractRegistry, ledger: Ledger
) -> None:
    queue_url, dlq_url = queues
    account_id = ledger.open_account("EUR", owner=CALLER)
    before = _accounts(ledger)
    body = json.dumps(account_opened(account_id, owner=OTHER_CALLER))
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    consumer = _consumer(pool, sqs, queue_url, registry)

    results = [consumer.poll() for _ in range(3)]

    assert [result.rejected for result in results] == [1, 1, 0]  # then redriven
    assert _accounts(ledger) == before
    assert ledger.owner(account_id) == CALLER
    [dead] = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert dead["Body"] == body


def test_an_event_with_another_currency_fills_in_no_owner(
    pool: Pool, sqs: Any, queues: tuple[str, str], registry: ContractRegistry, ledger: Ledger
) -> None:
    queue_url, _ = queues
    account_id = ledger.open_account("EUR", owner=None)
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(account_opened(account_id, currency="GBP", owner=OTHER_CALLER)),
    )

    result = _consumer(pool, sqs, queue_url, registry).poll()

    assert result.rejected == 1
    assert ledger.owner(account_id) is None
    assert _messages(sqs, queue_url) == 1


def test_a_message_is_not_deleted_when_the_database_is_down(
    sqs: Any, queues: tuple[str, str], registry: ContractRegistry, settings: Settings
) -> None:
    queue_url, _ = queues
    down = Settings(
        **{
            **settings.__dict__,
            "database_conninfo": f"postgresql://postgres@127.0.0.1:{free_port()}/x?connect_timeout=1",
            "database_pool_timeout_seconds": 1.0,
        }
    )
    pool = create_pool(down)
    pool.open(wait=False)
    try:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(account_opened()))
        result = _consumer(pool, sqs, queue_url, registry).poll()
    finally:
        pool.close()

    assert result.failed == 1
    assert _messages(sqs, queue_url) == 1


def test_the_running_app_consumes_its_queue(
    serve: Callable[..., ServiceServer],
    settings: Settings,
    sqs: Any,
    queues: tuple[str, str],
    ledger: Ledger,
) -> None:
    queue_url, _ = queues
    api = serve(Settings(**{**settings.__dict__, "account_events_queue_url": queue_url}), sqs=sqs)
    account_id = uuid.uuid4()

    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(account_opened(account_id)))

    wait_for(
        lambda: api.get(f"/transfers/accounts/{account_id}/balance").status_code == 200,
        what="the account to be opened",
    )
    assert api.deposit(account_id, 10).status_code == 201
    wait_for(lambda: _messages(sqs, queue_url) == 0, what="the message to be deleted")
