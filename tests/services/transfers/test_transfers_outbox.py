"""The outbox publisher against moto's SNS, read back through a subscribed SQS queue."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import psycopg
import pytest
from transfers_support import CALLER, Ledger, ServiceServer, wait_for

from transfers_service.db import Pool
from transfers_service.events import ContractRegistry
from transfers_service.outbox import (
    SNS_BATCH_BYTES,
    SNS_BATCH_ENTRIES,
    OutboxPublisher,
    OutboxRow,
    PublishResult,
    backoff_seconds,
    sns_batches,
)
from transfers_service.service import TransfersService
from transfers_service.settings import Settings

REGION = "us-east-1"


@pytest.fixture
def topic(aws: None) -> str:
    arn: str = boto3.client("sns", region_name=REGION).create_topic(Name="transfers-events")[
        "TopicArn"
    ]
    return arn


Drain = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def subscribe(topic: str) -> Callable[[str, list[str]], Drain]:
    """Subscribes a new queue as EventBus.subscribe does it (raw, filtered on event_type);
    returns a function that drains it."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)

    def subscribe_queue(name: str, event_types: list[str]) -> Drain:
        queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicy": json.dumps({"event_type": event_types}),
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

    return subscribe_queue


@pytest.fixture
def subscriber(subscribe: Callable[[str, list[str]], Drain]) -> Drain:
    """A queue subscribed as the statements service is (StatementsStack): to both events."""
    return subscribe("statements", ["TransferCompleted", "DepositCompleted"])


class FlakySns:
    """An SNS client whose first ``failures`` calls fail, then delegates."""

    def __init__(self, client: Any, failures: int) -> None:
        self.client = client
        self.failures = failures
        self.calls = 0

    def publish_batch(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("SNS is unreachable (simulated)")
        response: Mapping[str, Any] = self.client.publish_batch(**kwargs)
        return response


class CountingPublisher(OutboxPublisher):
    """Counts its batches: each one is a transaction on the database."""

    batches = 0

    def publish_batch(self) -> PublishResult:
        self.batches += 1
        return super().publish_batch()


def _transfers(service: TransfersService, ledger: Ledger, count: int) -> list[str]:
    """``count`` transfers from an account funded by one deposit: ``count`` + 1 events."""
    alice, bob = ledger.open_account(balance=10_000), ledger.open_account()
    return [
        service.create_transfer(
            caller_sub=CALLER,
            idempotency_key=str(uuid.uuid4()),
            from_account_id=alice,
            to_account_id=bob,
            amount_minor=10 + index,
            currency="EUR",
        ).body["transfer_id"]
        for index in range(count)
    ]


def _deposits(service: TransfersService, ledger: Ledger, count: int) -> list[str]:
    """``count`` deposits into a new account: ``count`` DepositCompleted events."""
    account = ledger.open_account()
    return [
        service.create_deposit(
            caller_sub=CALLER,
            idempotency_key=str(uuid.uuid4()),
            account_id=account,
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
    subscriber: Drain,
    registry: ContractRegistry,
) -> None:
    transfer_ids = _transfers(service, ledger, 30)  # with the funding deposit: 31 events
    [funding_deposit] = ledger.outbox("DepositCompleted")
    publisher = OutboxPublisher(pool, boto3.client("sns", region_name=REGION), topic, batch_size=25)

    first, second = publisher.publish_batch(), publisher.publish_batch()
    third = publisher.publish_batch()

    assert (first.sent, second.sent, third.sent) == (25, 6, 0)
    messages = subscriber()
    assert len(messages) == 31
    events = [json.loads(message["Body"]) for message in messages]
    for message, event in zip(messages, events, strict=True):
        registry.validate(event)
        # The attribute is each row's own event type.
        assert message["MessageAttributes"]["event_type"] == {
            "DataType": "String",
            "StringValue": event["event_type"],
        }
    assert Counter(event["event_type"] for event in events) == {
        "TransferCompleted": 30,
        "DepositCompleted": 1,
    }
    assert sorted(
        event["data"]["transfer_id"] for event in events if "transfer_id" in event["data"]
    ) == sorted(transfer_ids)
    assert [event for event in events if event["event_type"] == "DepositCompleted"] == [
        json.loads(funding_deposit["message"])
    ]
    rows = ledger.outbox()
    assert all(row["sent_at"] is not None and row["sns_message_id"] for row in rows)
    assert {str(row["event_id"]) for row in rows} == {event["event_id"] for event in events}
    assert publisher.publish_batch().sent == 0
    assert subscriber() == []


class RecordingSns:
    """Delegates to an SNS client and keeps the entries of every PublishBatch call."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[list[dict[str, Any]]] = []

    def publish_batch(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls.append(list(kwargs["PublishBatchRequestEntries"]))
        response: Mapping[str, Any] = self.client.publish_batch(**kwargs)
        return response


def test_due_rows_go_out_ten_to_a_call_each_once(
    pool: Pool, service: TransfersService, ledger: Ledger, topic: str, subscriber: Drain
) -> None:
    _transfers(service, ledger, 22)  # with the funding deposit: 23 events
    sns = RecordingSns(boto3.client("sns", region_name=REGION))
    publisher = OutboxPublisher(pool, sns, topic, batch_size=25)

    assert publisher.publish_batch() == PublishResult(23, 0)

    assert [len(call) for call in sns.calls] == [10, 10, 3]
    # Entry ids are unique within a call, as PublishBatch requires.
    assert all(len({entry["Id"] for entry in call}) == len(call) for call in sns.calls)
    messages = subscriber()
    assert len(messages) == 23
    assert len({json.loads(m["Body"])["event_id"] for m in messages}) == 23
    assert all(row["sent_at"] is not None for row in ledger.outbox())


class PartlyRefusingSns:
    """Accepts every entry of a batch but the first, which it reports as failed (SNS answers
    200 with a Failed list)."""

    def __init__(self) -> None:
        self.calls = 0

    def publish_batch(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls += 1
        entries = kwargs["PublishBatchRequestEntries"]
        return {
            "Successful": [
                {"Id": entry["Id"], "MessageId": f"message-{self.calls}-{entry['Id']}"}
                for entry in entries[1:]
            ],
            "Failed": [
                {
                    "Id": entries[0]["Id"],
                    "Code": "InternalError",
                    "Message": "try again",
                    "SenderFault": False,
                }
            ],
        }


def test_an_entry_sns_refuses_is_rescheduled_and_the_others_are_sent(
    pool: Pool, service: TransfersService, ledger: Ledger
) -> None:
    _transfers(service, ledger, 3)  # 4 events
    publisher = OutboxPublisher(
        pool, PartlyRefusingSns(), "arn:aws:sns:us-east-1:123456789012:t", retry_after=lambda n: 60
    )

    assert publisher.publish_batch() == PublishResult(3, 1)

    refused, *others = ledger.outbox()  # in order: the first entry of the batch was refused
    assert refused["sent_at"] is None
    assert refused["attempts"] == 1
    assert refused["last_error"] == "InternalError: try again"
    assert all(row["sent_at"] is not None and row["sns_message_id"] for row in others)
    # Not due again for a minute: nothing to publish now.
    assert publisher.publish_batch() == PublishResult(0, 0)


def _row(index: int, message: str) -> OutboxRow:
    return OutboxRow(index, uuid.uuid4(), "TransferCompleted", 1, message, 0, "c-1")


def test_batches_hold_at_most_ten_entries_and_256_kib() -> None:
    small = [_row(index, "x" * 100) for index in range(23)]
    assert [len(batch) for batch in sns_batches(small)] == [10, 10, 3]
    assert SNS_BATCH_ENTRIES == 10

    # Three bodies of 100 KiB: two fit in 256 KiB with their attributes, the third does not.
    large = [_row(index, "x" * 100 * 1024) for index in range(3)]
    batches = sns_batches(large)
    assert [len(batch) for batch in batches] == [2, 1]
    assert all(sum(row.size for row in batch) <= SNS_BATCH_BYTES for batch in batches)
    # Attributes count: a body that alone fills the limit leaves no room for a second row.
    assert _row(0, "x" * SNS_BATCH_BYTES).size > SNS_BATCH_BYTES
    assert [len(b) for b in sns_batches([_row(0, "x" * 200_000), _row(1, "x" * 70_000)])] == [
        1,
        1,
    ]


def test_a_deposit_is_published_once_as_deposit_completed(
    pool: Pool,
    service: TransfersService,
    ledger: Ledger,
    subscribe: Callable[[str, list[str]], Drain],
    topic: str,
    registry: ContractRegistry,
) -> None:
    statements = subscribe("statements", ["TransferCompleted", "DepositCompleted"])
    transfers_only = subscribe("transfers-only", ["TransferCompleted"])
    [deposit_id] = _deposits(service, ledger, 1)
    publisher = OutboxPublisher(pool, boto3.client("sns", region_name=REGION), topic)

    assert publisher.publish_batch().sent == 1

    [message] = statements()
    assert message["MessageAttributes"] == {
        "event_type": {"DataType": "String", "StringValue": "DepositCompleted"},
        "event_version": {"DataType": "Number", "StringValue": "1"},
    }
    [row] = ledger.outbox()
    assert message["Body"] == row["message"]
    event = json.loads(message["Body"])
    registry.validate(event)
    assert (event["event_type"], event["data"]["deposit_id"]) == ("DepositCompleted", deposit_id)
    assert row["sent_at"] is not None
    assert row["sns_message_id"]
    assert transfers_only() == []  # the subscription filter sees the attribute
    assert publisher.publish_batch().sent == 0
    assert statements() == []


def test_a_failed_publish_is_retried_and_marked_sent_only_after_success(
    pool: Pool,
    service: TransfersService,
    ledger: Ledger,
    topic: str,
    subscriber: Drain,
) -> None:
    [deposit_id] = _deposits(service, ledger, 1)
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
    assert json.loads(message["Body"])["data"]["deposit_id"] == deposit_id
    assert publisher.publish_batch().sent == 0


def test_publishing_to_a_missing_topic_keeps_the_event_and_backs_off(
    pool: Pool, service: TransfersService, ledger: Ledger, topic: str
) -> None:
    _deposits(service, ledger, 1)
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


def test_the_running_publisher_retries_a_failed_row_when_due_and_does_not_poll(
    pool: Pool, service: TransfersService, ledger: Ledger, topic: str, subscriber: Drain
) -> None:
    [deposit_id] = _deposits(service, ledger, 1)
    sns = FlakySns(boto3.client("sns", region_name=REGION), failures=1)
    publisher = CountingPublisher(pool, sns, topic, retry_after=lambda attempts: 1.5)
    stop = threading.Event()
    # A sweep an hour away: only the row's own retry time can bring it out in time.
    runner = threading.Thread(target=publisher.run, args=(stop,), kwargs={"sweep_seconds": 3600})
    started = time.monotonic()
    runner.start()
    try:
        received: list[dict[str, Any]] = []
        wait_for(lambda: received.extend(subscriber()) or received, what="the retried event")
        assert time.monotonic() - started >= 1.5  # not before its next_attempt_at
        assert json.loads(received[0]["Body"])["data"]["deposit_id"] == deposit_id
        assert sns.calls == 2
        wait_for(lambda: ledger.outbox()[0]["sent_at"] is not None, what="the row marked sent")
        batches = publisher.batches
        assert batches == 2  # the first (failed) and the retry, nothing in between

        time.sleep(2.5)  # nothing is due: no batch, no query

        assert publisher.batches == batches
    finally:
        stop.set()
        publisher.wake.set()
        runner.join(timeout=10)
    assert not runner.is_alive()


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
    subscriber: Drain,
    database_url: str,
) -> None:
    _transfers(service, ledger, 3)  # and the funding deposit: 4 events
    publisher = OutboxPublisher(pool, boto3.client("sns", region_name=REGION), topic)
    with psycopg.connect(database_url) as other, other.transaction():
        # Another publisher is busy with the oldest row.
        other.execute("SELECT id FROM outbox ORDER BY id LIMIT 1 FOR UPDATE").fetchone()
        assert publisher.publish_batch().sent == 3
    assert publisher.publish_batch().sent == 1
    assert len(subscriber()) == 4


def test_the_running_app_publishes_after_each_transfer(
    serve: Callable[..., ServiceServer],
    settings: Settings,
    ledger: Ledger,
    topic: str,
    subscriber: Drain,
) -> None:
    alice, bob = ledger.open_account(balance=100), ledger.open_account()
    # A long sweep interval: only the wake-up after the commit can publish in time (the
    # funding deposit's event may go out with the first batch at startup, or with it).
    app_settings = Settings(
        **{**settings.__dict__, "event_topic_arn": topic, "outbox_sweep_seconds": 60}
    )
    api = serve(app_settings, sns=boto3.client("sns", region_name=REGION))

    response = api.transfer(alice, bob, 40)

    assert response.status_code == 201
    received: list[dict[str, Any]] = []
    wait_for(
        lambda: received.extend(subscriber()) or len(received) >= 2,
        what="the DepositCompleted and TransferCompleted events",
    )
    events = {json.loads(m["Body"])["event_type"]: json.loads(m["Body"]) for m in received}
    assert sorted(events) == ["DepositCompleted", "TransferCompleted"]
    assert events["TransferCompleted"]["data"]["transfer_id"] == response.json()["transfer_id"]
    wait_for(
        lambda: all(row["sent_at"] is not None for row in ledger.outbox()),
        what="the rows marked sent",
    )
    assert subscriber() == []


def test_the_running_app_publishes_after_each_deposit(
    serve: Callable[..., ServiceServer],
    settings: Settings,
    ledger: Ledger,
    topic: str,
    subscriber: Drain,
) -> None:
    account = ledger.open_account()
    # A long sweep interval: only the wake-up after the deposit's commit can publish in time.
    app_settings = Settings(
        **{**settings.__dict__, "event_topic_arn": topic, "outbox_sweep_seconds": 60}
    )
    api = serve(app_settings, sns=boto3.client("sns", region_name=REGION))

    response = api.deposit(account, 40, key="deposit-and-replay")
    replay = api.deposit(account, 40, key="deposit-and-replay")

    assert (response.status_code, replay.status_code) == (201, 201)
    received: list[dict[str, Any]] = []
    wait_for(lambda: received.extend(subscriber()) or received, what="the DepositCompleted event")
    wait_for(lambda: ledger.outbox()[0]["sent_at"] is not None, what="the row marked sent")
    received.extend(subscriber())
    [message] = received  # once, the replay queued nothing
    assert message["MessageAttributes"]["event_type"]["StringValue"] == "DepositCompleted"
    assert json.loads(message["Body"])["data"] == {
        "deposit_id": response.json()["transfer_id"],
        "account_id": str(account),
        "amount_minor": 40,
        "currency": "EUR",
        "completed_at": response.json()["completed_at"],
    }
