"""The whole event flow in moto, through the real handlers, wired as the stacks wire them.

``POST /accounts`` writes the account -> the table's stream -> ``publish_events`` puts
``AccountOpened`` on the accounts topic -> the statements queue (raw delivery, filter on
``event_type``) -> ``apply_events`` -> ``GET /statements/{id}``. The transfers
service is not part of this test, so the test publishes its ``DepositCompleted`` and
``TransferCompleted`` the way it does: a valid envelope on the transfers topic with the
``event_type`` attribute.

One correlation id follows an account from ``POST /accounts`` (its ``X-Correlation-Id``)
through the account item, its stream record and the SNS publish (the ``correlation_id``
message attribute) to the SQS message the statements consumer gets and the consumer's log
lines (Powertools' JSON logs on stdout).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from handler_support import (
    REGION,
    create_service_table,
    fake_aws_environment,
    import_handlers,
    json_logs,
    load_json,
    sqs_lambda_event,
)
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS_CODE = ROOT / "lambda_src" / "accounts_api"
STATEMENTS_CODE = ROOT / "lambda_src" / "statements"
HANDLER_MODULES = ("publish_events", "open_account", "apply_events", "get_statement")
HERE = Path(__file__).resolve().parent
ACCOUNTS_TABLE = "accounts"
STATEMENTS_TABLE = "statements"
MAX_RECEIVE_COUNT = 2
ALICE = "6f1c2a3e-1111-4c2b-9d8e-0a1b2c3d4e5f"
BOB = "9a8b7c6d-2222-4e3f-8a9b-1c2d3e4f5a6b"


def _sample(path: str) -> dict[str, Any]:
    return load_json(HERE / path)


class Platform:
    """The AWS side of the flow, as PlatformStack, AccountsStack and StatementsStack build it."""

    def __init__(self) -> None:
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        # moto routes DynamoDB Streams only on the classic endpoint name.
        self.streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
        )
        self.stream_arn = create_service_table(dynamodb, ACCOUNTS_TABLE, stream=True)[
            "LatestStreamArn"
        ]
        create_service_table(dynamodb, STATEMENTS_TABLE)
        self.account_events = self.sns.create_topic(Name="accounts-events")["TopicArn"]
        self.transfer_events = self.sns.create_topic(Name="transfers-events")["TopicArn"]

        self.dead_letter_url = self.sqs.create_queue(QueueName="statements-dlq")["QueueUrl"]
        self.queue_url = self.sqs.create_queue(
            QueueName="statements",
            Attributes={
                "RedrivePolicy": json.dumps(
                    {
                        "deadLetterTargetArn": self._arn(self.dead_letter_url),
                        "maxReceiveCount": MAX_RECEIVE_COUNT,
                    }
                )
            },
        )["QueueUrl"]
        self.queue_arn = self._arn(self.queue_url)
        for topic, event_types in (
            (self.account_events, ["AccountOpened"]),
            (self.transfer_events, ["DepositCompleted", "TransferCompleted"]),
        ):
            self.sns.subscribe(
                TopicArn=topic,
                Protocol="sqs",
                Endpoint=self.queue_arn,
                Attributes={
                    "RawMessageDelivery": "true",
                    "FilterPolicy": json.dumps({"event_type": event_types}),
                },
            )
        self._shard_iterators: dict[str, str] = {}

    def _arn(self, queue_url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def new_stream_records(self) -> dict[str, Any]:
        """The stream records written since the last call, as a Lambda stream event."""
        records = []
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in shards["Shards"]:
            shard_id = shard["ShardId"]
            iterator = (
                self._shard_iterators.get(shard_id)
                or self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            response = self.streams.get_records(ShardIterator=iterator)
            self._shard_iterators[shard_id] = response["NextShardIterator"]
            for record in response["Records"]:
                created = record["dynamodb"]["ApproximateCreationDateTime"]
                record["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
                records.append({**record, "eventSourceARN": self.stream_arn})
        return {"Records": records}

    def receive(self, *, queue_url: str | None = None) -> list[dict[str, Any]]:
        """Every message now visible on the queue; they stay in flight until deleted."""
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(
            QueueUrl=queue_url or self.queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages"):
            messages.extend(batch)
        return messages

    def as_lambda_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """What the SQS event source mapping hands the function for these messages."""
        return sqs_lambda_event(messages, self.queue_arn)

    def settle(self, messages: list[dict[str, Any]], failed: set[str]) -> None:
        """What the event source mapping does after a batch: delete the messages that
        succeeded; the failed ones become visible again (their visibility timeout passes)."""
        for message in messages:
            handle = message["ReceiptHandle"]
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)

    def consume(self, handler: Callable[..., Any], context: Any) -> tuple[list[Any], set[str]]:
        """Run one batch of everything visible through ``handler``; (messages, failed ids)."""
        messages = self.receive()
        try:
            response = handler(self.as_lambda_event(messages), context)
            failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        except BatchProcessingError:  # every record failed: the whole batch is retried
            failed = {message["MessageId"] for message in messages}
        self.settle(messages, failed)
        return messages, failed


@pytest.fixture
def flow(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Platform, SimpleNamespace]]:
    """The platform in moto and the handler modules of both services."""
    fake_aws_environment(monkeypatch)
    with mock_aws():
        platform = Platform()
        monkeypatch.setenv("EVENT_TOPIC_ARN", platform.account_events)
        folders = [ACCOUNTS_CODE, STATEMENTS_CODE]
        with import_handlers(monkeypatch, folders, HANDLER_MODULES) as handlers:
            yield platform, handlers


def _open_account(
    handlers: Any,
    context: Any,
    monkeypatch: Any,
    sub: str,
    email: str,
    *,
    correlation_id: str | None = None,
) -> str:
    monkeypatch.setenv("TABLE_NAME", ACCOUNTS_TABLE)
    event = _sample("accounts_api/events/open_account.json")
    event["requestContext"]["authorizer"]["claims"]["sub"] = sub
    event["body"] = json.dumps({"owner_name": "Customer", "email": email, "currency": "EUR"})
    if correlation_id is not None:
        event["headers"]["X-Correlation-Id"] = correlation_id
        event["multiValueHeaders"]["X-Correlation-Id"] = [correlation_id]
    response = handlers.open_account.handler(event, context)
    assert response["statusCode"] == 201, response
    if correlation_id is not None:
        assert response["headers"]["X-Correlation-Id"] == correlation_id
    return str(json.loads(response["body"])["account_id"])


class RecordingSns:
    """An SNS client that records every publish, then makes it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> Any:
        self.published.append(kwargs)
        return self.client.publish(**kwargs)


def _statement(handlers: Any, context: Any, account_id: str, sub: str) -> dict[str, Any]:
    event = _sample("statements/events/get_statement.json")
    event["requestContext"]["authorizer"]["claims"]["sub"] = sub
    event["pathParameters"] = {"id": account_id}
    event["path"] = f"/accounts/{account_id}/statement"
    event["queryStringParameters"] = None
    response = handlers.get_statement.handler(event, context)
    return {"status": response["statusCode"], **json.loads(response["body"])}


def _deposit_completed(account: str, amount_minor: int) -> dict[str, Any]:
    deposit_id = str(uuid.uuid4())
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "DepositCompleted",
        "event_version": 1,
        "occurred_at": "2099-01-01T09:00:00Z",
        "data": {
            "deposit_id": deposit_id,
            "account_id": account,
            "amount_minor": amount_minor,
            "currency": "EUR",
            "completed_at": "2099-01-01T09:00:00Z",
        },
    }


def _transfer_completed(source: str, target: str, amount_minor: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "TransferCompleted",
        "event_version": 1,
        "occurred_at": "2099-01-01T10:00:00Z",
        "data": {
            "transfer_id": str(uuid.uuid4()),
            "from_account_id": source,
            "to_account_id": target,
            "amount_minor": amount_minor,
            "currency": "EUR",
            "completed_at": "2099-01-01T10:00:00Z",
        },
    }


def _publish_raw(platform: Platform, topic: str, body: str, event_type: str) -> None:
    platform.sns.publish(
        TopicArn=topic,
        Message=body,
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": event_type}},
    )


def test_an_opened_account_a_deposit_and_a_transfer_reach_the_statements(
    flow: tuple[Platform, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, handlers = flow
    alice = _open_account(handlers, lambda_context, monkeypatch, ALICE, "alice@example.com")
    bob = _open_account(handlers, lambda_context, monkeypatch, BOB, "bob@example.com")

    stream_event = platform.new_stream_records()
    assert len(stream_event["Records"]) == 4  # two accounts, two email claims
    assert handlers.publish_events.handler(stream_event, lambda_context) == {
        "batchItemFailures": []
    }
    # What the transfers service will publish, and something the filter must keep out.
    from payments_shared.events import ContractRegistry, publish

    contracts = ContractRegistry.from_env()
    deposit = contracts.validate(_deposit_completed(alice, 10_000))
    transfer = contracts.validate(_transfer_completed(alice, bob, 2500))
    publish(platform.sns, platform.transfer_events, deposit)
    publish(platform.sns, platform.transfer_events, transfer)
    _publish_raw(
        platform, platform.account_events, '{"event_type": "AccountClosed"}', "AccountClosed"
    )

    messages = platform.receive()
    assert sorted(m["MessageAttributes"]["event_type"]["StringValue"] for m in messages) == [
        "AccountOpened",
        "AccountOpened",
        "DepositCompleted",
        "TransferCompleted",
    ]
    monkeypatch.setenv("TABLE_NAME", STATEMENTS_TABLE)
    batch = platform.as_lambda_event(messages)
    assert handlers.apply_events.handler(batch, lambda_context) == {"batchItemFailures": []}
    # SQS delivers at least once: the same batch again changes nothing.
    assert handlers.apply_events.handler(batch, lambda_context) == {"batchItemFailures": []}
    platform.settle(messages, failed=set())
    assert platform.receive() == []

    alice_statement = _statement(handlers, lambda_context, alice, ALICE)
    assert alice_statement["status"] == 200
    assert alice_statement["balance_minor"] == 7500
    assert [(e["kind"], e["amount_minor"]) for e in alice_statement["entries"]] == [
        ("debit", 2500),
        ("deposit", 10_000),
        ("opened", 0),
    ]
    assert alice_statement["entries"][1]["deposit_id"] == deposit.data["deposit_id"]
    assert alice_statement["entries"][0]["counterparty_account_id"] == bob
    bob_statement = _statement(handlers, lambda_context, bob, BOB)
    assert bob_statement["balance_minor"] == 2500
    assert [e["kind"] for e in bob_statement["entries"]] == ["credit", "opened"]
    # One customer never sees another's statement.
    assert _statement(handlers, lambda_context, alice, BOB)["status"] == 404


def test_a_poison_message_fails_alone_and_ends_in_the_dead_letter_queue(
    flow: tuple[Platform, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, handlers = flow
    alice = _open_account(handlers, lambda_context, monkeypatch, ALICE, "alice@example.com")
    handlers.publish_events.handler(platform.new_stream_records(), lambda_context)
    poison = _transfer_completed(alice, str(uuid.uuid4()), 0)  # amount_minor must be >= 1
    _publish_raw(platform, platform.transfer_events, json.dumps(poison), "TransferCompleted")
    monkeypatch.setenv("TABLE_NAME", STATEMENTS_TABLE)

    for attempt in range(MAX_RECEIVE_COUNT):
        messages, failed = platform.consume(handlers.apply_events.handler, lambda_context)
        assert len(messages) == (2 if attempt == 0 else 1)  # AccountOpened applied at once
        [poison_message] = [m for m in messages if m["MessageId"] in failed]
        assert json.loads(poison_message["Body"]) == poison

    assert platform.receive() == []  # received too often: SQS moved it on
    [dead_lettered] = platform.receive(queue_url=platform.dead_letter_url)
    assert json.loads(dead_lettered["Body"]) == poison
    statement = _statement(handlers, lambda_context, alice, ALICE)
    assert statement["balance_minor"] == 0
    assert [e["kind"] for e in statement["entries"]] == ["opened"]


CORRELATION_ID = "checkout-7f3a.retry_1"


def test_one_correlation_id_follows_an_account_from_the_request_to_the_consumers_logs(
    flow: tuple[Platform, Any],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform, handlers = flow
    sns = RecordingSns(platform.sns)
    monkeypatch.setattr(handlers.publish_events, "_sns_client", lambda: sns)

    # The request: the id comes back in the response (checked by _open_account).
    alice = _open_account(
        handlers,
        lambda_context,
        monkeypatch,
        ALICE,
        "alice@example.com",
        correlation_id=CORRELATION_ID,
    )
    # The account item's stream record carries it (the email claim does not).
    stream_event = platform.new_stream_records()
    images = {
        record["dynamodb"]["NewImage"]["sk"]["S"]: record["dynamodb"]["NewImage"]
        for record in stream_event["Records"]
    }
    assert images["PROFILE"]["correlation_id"] == {"S": CORRELATION_ID}
    assert "correlation_id" not in images["EMAIL"]

    # The SNS publish: a message attribute, the event itself unchanged (its contract).
    assert handlers.publish_events.handler(stream_event, lambda_context) == {
        "batchItemFailures": []
    }
    [published] = sns.published
    assert published["MessageAttributes"]["correlation_id"] == {
        "DataType": "String",
        "StringValue": CORRELATION_ID,
    }
    assert CORRELATION_ID not in published["Message"]

    # An event of another request, without an id, in the same batch.
    from payments_shared.events import ContractRegistry, publish

    deposit = ContractRegistry.from_env().validate(_deposit_completed(alice, 500))
    publish(platform.sns, platform.transfer_events, deposit)

    # The SQS message the statements consumer gets (raw delivery keeps the attribute).
    messages = platform.receive()
    by_type = {m["MessageAttributes"]["event_type"]["StringValue"]: m for m in messages}
    assert by_type["AccountOpened"]["MessageAttributes"]["correlation_id"] == {
        "DataType": "String",
        "StringValue": CORRELATION_ID,
    }
    assert "correlation_id" not in by_type["DepositCompleted"]["MessageAttributes"]
    batch = platform.as_lambda_event(messages)
    assert batch["Records"][0]["messageAttributes"]  # what the event source mapping passes

    monkeypatch.setenv("TABLE_NAME", STATEMENTS_TABLE)
    with json_logs(handlers.apply_events.logger) as lines:
        assert handlers.apply_events.handler(batch, lambda_context) == {"batchItemFailures": []}

    applied = {line["event_type"]: line for line in lines if line["message"] == "event applied"}
    assert set(applied) == {"AccountOpened", "DepositCompleted"}
    assert applied["AccountOpened"]["correlation_id"] == CORRELATION_ID
    assert applied["AccountOpened"]["message_id"] == by_type["AccountOpened"]["MessageId"]
    # Each record logs with its own id: none leaks into the next record of the batch.
    assert "correlation_id" not in applied["DepositCompleted"]
    platform.settle(messages, failed=set())
    assert _statement(handlers, lambda_context, alice, ALICE)["balance_minor"] == 500


def test_the_publishers_logs_carry_the_id_and_an_id_less_account_publishes_without_one(
    flow: tuple[Platform, Any],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform, handlers = flow
    _open_account(
        handlers, lambda_context, monkeypatch, ALICE, "alice@example.com", correlation_id="one"
    )
    _open_account(handlers, lambda_context, monkeypatch, BOB, "bob@example.com")

    with json_logs(handlers.publish_events.logger) as lines:
        handlers.publish_events.handler(platform.new_stream_records(), lambda_context)

    published = [line for line in lines if line["message"] == "published"]
    assert len(published) == 2
    assert published[0]["correlation_id"] == "one"
    # Bob's request sent no header: API Gateway's request id of the sample stands for it.
    sample = _sample("accounts_api/events/open_account.json")
    assert published[1]["correlation_id"] == sample["requestContext"]["requestId"]
    ids = sorted(
        m["MessageAttributes"]["correlation_id"]["StringValue"] for m in platform.receive()
    )
    assert ids == sorted(["one", sample["requestContext"]["requestId"]])
