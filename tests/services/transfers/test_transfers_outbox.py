"""The outbox publisher against moto's SNS, read back through a subscribed SQS queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws
from transfers_support import Ledger, ServiceServer, wait_for

from transfers_service.db import Pool
from transfers_service.events import ContractRegistry
from transfers_service.outbox import OutboxPublisher, backoff_seconds
from transfers_service.service import TransfersService
from transfers_service.settings import Settings

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def topic(aws: None) -> str:
    arn: str = boto3.client("sns", region_name=REGION).create_topic(Name="transfers-events")[
        "TopicArn"
    ]
    return arn


@pytest.fixture
def subscriber(topic: str) -> Callable[[], list[dict[str, Any]]]:
    """A queue subscribed as EventBus.subscribe does it (raw, filtered on event_type);
    returns a function that drains it."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="statements")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps({"event_type": ["TransferCompleted"]}),
        },
    )

    def drain() -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while batch := sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages"):
            messages.extend(batch)
            for message in batch:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    return drain


class FlakySns:
    """An SNS client whose first ``failures`` publishes fail, then delegates."""

    def __init__(self, client: Any, failures: int) -> None:
        self.client = client
        self.failures = failures
        self.calls = 0

    def publish(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("SNS is unreachable (simulated)")
        response: Mapping[str, Any] = self.client.publish(**kwargs)
        return response


def _transfers(service: TransfersService, ledger: Ledger, count: int) -> list[str]:
    alice, bob = ledger.open_account(balance=10_000), ledger.open_account()
    return [
        service.create_transfer(
            idempotency_key=str(uuid.uuid4()),
            from_account_id=alice,
            to_account_id=bob,
            amount_minor=10 + index,
            currency="EUR",
        ).body["transfer_id"]
        for index in range(count)
    ]


def test_each_event_is_published_once_with_its_event_type_attribute(
    pool: Pool,
    service: TransfersService,
    ledger: Ledger,
    topic: str,
    subscriber: Callable[[], list[dict[str, Any]]],
    registry: ContractRegistry,
) -> None:
    transfer_ids = _transfers(service, ledger, 30)  # more than one batch
    publisher = OutboxPublisher(pool, boto3.client("sns", region_name=REGION), topic, batch_size=25)

    first, second = publisher.publish_batch(), publisher.publish_batch()
    third = publisher.publish_batch()

    assert (first.sent, second.sent, third.sent) == (25, 5, 0)
    messages = subscriber()
    assert len(messages) == 30
    events = [json.loads(message["Body"]) for message in messages]
    for message, event in zip(messages, events, strict=True):
        registry.validate(event)
        assert message["MessageAttributes"]["event_type"] == {
            "DataType": "String",
            "StringValue": "TransferCompleted",
        }
    assert sorted(event["data"]["transfer_id"] for event in events) == sorted(transfer_ids)
    rows = ledger.outbox()
    assert all(row["sent_at"] is not None and row["sns_message_id"] for row in rows)
    assert {str(row["event_id"]) for row in rows} == {event["event_id"] for event in events}
    assert publisher.publish_batch().sent == 0
    assert subscriber() == []


def test_a_failed_publish_is_retried_and_marked_sent_only_after_success(
    pool: Pool,
    service: TransfersService,
    ledger: Ledger,
    topic: str,
    subscriber: Callable[[], list[dict[str, Any]]],
) -> None:
    [transfer_id] = _transfers(service, ledger, 1)
    sns = FlakySns(boto3.client("sns", region_name=REGION), failures=1)
    publisher = OutboxPublisher(pool, sns, topic, retry_after=lambda attempts: 0.0)

    failed = publisher.publish_batch()

    assert (failed.sent, failed.failed) == (0, 1)
    [row] = ledger.outbox()
    assert (row["sent_at"], row["attempts"]) == (None, 1)
    assert "unreachable" in row["last_error"]
    assert subscriber() == []

    retried = publisher.publish_batch()

    assert (retried.sent, retried.failed) == (1, 0)
    [row] = ledger.outbox()
    assert row["sent_at"] is not None
    assert (row["attempts"], row["last_error"]) == (2, None)
    [message] = subscriber()
    assert json.loads(message["Body"])["data"]["transfer_id"] == transfer_id
    assert publisher.publish_batch().sent == 0


def test_publishing_to_a_missing_topic_keeps_the_event_and_backs_off(
    pool: Pool, service: TransfersService, ledger: Ledger, topic: str
) -> None:
    _transfers(service, ledger, 1)
    missing = topic.replace("transfers-events", "no-such-topic")
    publisher = OutboxPublisher(pool, boto3.client("sns", region_name=REGION), missing)

    result = publisher.publish_batch()

    assert (result.sent, result.failed) == (0, 1)
    [row] = ledger.outbox()
    assert row["sent_at"] is None
    assert row["last_error"]
    # Backing off: not due again right away.
    assert publisher.publish_batch() == type(result)(0, 0)
    due_in = ledger.conn.execute("SELECT next_attempt_at - now() FROM outbox").fetchone()
    assert due_in is not None
    assert due_in[0].total_seconds() > 1


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff_seconds(attempt) for attempt in range(1, 15)]
    assert delays[:3] == [2.0, 4.0, 8.0]
    assert delays == sorted(delays)
    assert max(delays) == 300.0


def test_rows_locked_by_another_publisher_are_skipped(
    pool: Pool,
    service: TransfersService,
    ledger: Ledger,
    topic: str,
    subscriber: Callable[[], list[dict[str, Any]]],
    database_url: str,
) -> None:
    _transfers(service, ledger, 3)
    publisher = OutboxPublisher(pool, boto3.client("sns", region_name=REGION), topic)
    with psycopg.connect(database_url) as other, other.transaction():
        # Another publisher is busy with the oldest row.
        other.execute("SELECT id FROM outbox ORDER BY id LIMIT 1 FOR UPDATE").fetchone()
        assert publisher.publish_batch().sent == 2
    assert publisher.publish_batch().sent == 1
    assert len(subscriber()) == 3


def test_the_running_app_publishes_after_each_transfer(
    serve: Callable[..., ServiceServer],
    settings: Settings,
    ledger: Ledger,
    topic: str,
    subscriber: Callable[[], list[dict[str, Any]]],
) -> None:
    # A long poll interval: only the wake-up after the commit can publish in time.
    app_settings = Settings(
        **{**settings.__dict__, "event_topic_arn": topic, "outbox_poll_seconds": 60}
    )
    api = serve(app_settings, sns=boto3.client("sns", region_name=REGION))
    alice, bob = ledger.open_account(balance=100), ledger.open_account()

    response = api.transfer(alice, bob, 40)

    assert response.status_code == 201
    received: list[dict[str, Any]] = []
    wait_for(lambda: received.extend(subscriber()) or received, what="the TransferCompleted event")
    [message] = received
    assert json.loads(message["Body"])["data"]["transfer_id"] == response.json()["transfer_id"]
    wait_for(lambda: ledger.outbox()[0]["sent_at"] is not None, what="the row marked sent")
