"""Correlation ids in the transfers service: a request's ``X-Correlation-Id`` (or one the
service makes) is echoed, logged as JSON, stored with the event in the outbox and published
as the SNS message attribute ``correlation_id``; the AccountOpened consumer logs each
message with its attribute; an invalid header is replaced, never echoed or logged."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from transfers_support import Ledger, ServiceServer, account_opened, wait_for

from transfers_service import correlation
from transfers_service.cache import NoCache
from transfers_service.consumer import AccountEventsConsumer
from transfers_service.db import Pool, discover, migrate
from transfers_service.events import ContractRegistry
from transfers_service.logs import JsonFormatter
from transfers_service.outbox import OutboxPublisher
from transfers_service.settings import Settings

REGION = "us-east-1"
TRANSFERS_CODE = Path(__file__).resolve().parents[3] / "container_src" / "transfers"
FORGED = 'x"}\n{"level":"CRITICAL","message":"forged'
# What a client could send in a header (no line break: HTTP forbids it).
FORGED_HEADER = 'x","level":"CRITICAL","message":"forged'
UUID_TEXT = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


# -- the header rule ------------------------------------------------------------------------


# A fixed UUID, not uuid.uuid4(): a test's id must be the same in every collection (pytest-xdist
# workers each collect the session and refuse to run when their lists differ).
A_UUID = "49d93c36-8d0b-4f8e-a2b3-8e5d02c6db52"


@pytest.mark.parametrize("value", ["a", "Z-9", "req_1.retry-2", "x" * 64, A_UUID])
def test_valid_ids_are_kept(value: str) -> None:
    assert correlation.valid_correlation_id(value) == value
    assert correlation.from_headers([value]) == value


@pytest.mark.parametrize(
    "value", ["", "x" * 65, "two words", "new\nline", 'quote"', "ünï", "a/b", "{}", FORGED]
)
def test_invalid_ids_are_replaced_by_a_new_one(value: str) -> None:
    assert correlation.valid_correlation_id(value) is None
    made = correlation.from_headers([value])
    assert made != value
    assert uuid.UUID(made).version == 4


def test_no_header_or_a_repeated_one_gets_a_new_id() -> None:
    assert uuid.UUID(correlation.from_headers([]))
    assert correlation.from_headers(["a", "a"]) != "a"  # which one would be the request's?


def test_bound_sets_the_current_id_for_the_block_only_and_never_an_invalid_one() -> None:
    assert correlation.current() is None
    with correlation.bound("outer"):
        with correlation.bound(FORGED):
            assert correlation.current() is None
        assert correlation.current() == "outer"
    assert correlation.current() is None


# -- JSON logs -------------------------------------------------------------------------------


@pytest.fixture
def service_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The service's log lines as ``logs.configure`` formats them, parsed (each line must
    be a JSON object)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    service_logger = logging.getLogger("transfers_service")
    service_logger.addHandler(handler)
    previous = service_logger.level
    service_logger.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        service_logger.removeHandler(handler)
        service_logger.setLevel(previous)


def test_a_log_line_is_one_json_object_with_the_current_id_extras_and_traceback() -> None:
    record = logging.LogRecord(
        "transfers_service.x", logging.ERROR, "f.py", 1, "a %s", ("b",), None
    )
    record.account_id = "acc-1"
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    with correlation.bound("req-7"):
        line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "a b"
    assert line["level"] == "ERROR"
    assert line["logger"] == "transfers_service.x"
    assert line["correlation_id"] == "req-7"
    assert line["account_id"] == "acc-1"
    assert "ValueError: boom" in line["exception"]
    assert line["timestamp"].endswith("Z")


def test_every_log_of_the_process_is_json_uvicorns_included() -> None:
    """As in the container: uvicorn configures its loggers first, then the app factory
    calls ``configure_logging``; every line on stderr is then a JSON object."""
    script = """
import logging, logging.config
import uvicorn.config
logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
from transfers_service.correlation import bound
from transfers_service.settings import configure_logging
configure_logging("INFO")
logging.getLogger("uvicorn.error").info("Started server process")
logging.getLogger("uvicorn.access").info(
    '%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", "/health/live", "1.1", 200
)
with bound("req-42"):
    logging.getLogger("transfers_service.app").warning("inside a request")
logging.getLogger("psycopg.pool").warning("a library's warning")
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=TRANSFERS_CODE,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["logger"] for line in lines] == [
        "uvicorn.error",
        "uvicorn.access",
        "transfers_service.app",
        "psycopg.pool",
    ]
    assert lines[1]["message"] == '10.0.0.1:5000 - "GET /health/live HTTP/1.1" 200'
    assert lines[2]["correlation_id"] == "req-42"
    assert "correlation_id" not in lines[3]
    assert result.stdout == ""


# -- requests, the outbox and SNS ------------------------------------------------------------


@pytest.fixture
def published(aws: None) -> tuple[str, Callable[[], list[dict[str, Any]]]]:
    """A topic and a queue subscribed to it as EventBus.subscribe does (raw delivery);
    returns the topic and a function that drains the queue."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="transfers-events")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="statements")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
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

    return topic, drain


def _outbox(ledger: Ledger) -> dict[str, str | None]:
    """event_type of each outbox row -> its correlation_id (one row per type here)."""
    rows = ledger.conn.execute("SELECT event_type, correlation_id FROM outbox").fetchall()
    return {str(event_type): correlation_id for event_type, correlation_id in rows}


def test_a_transfers_id_goes_from_the_request_to_the_outbox_the_sns_attribute_and_the_logs(
    serve: Callable[..., ServiceServer],
    settings: Settings,
    ledger: Ledger,
    published: tuple[str, Callable[[], list[dict[str, Any]]]],
    service_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    topic, drain = published
    alice, bob = ledger.open_account(), ledger.open_account()
    api = serve(dataclasses.replace(settings, event_topic_arn=topic))
    deposit = api.post(
        f"/transfers/accounts/{alice}/deposits",
        {"amount_minor": 500, "currency": "EUR"},
        key=str(uuid.uuid4()),
        headers={"X-Correlation-Id": "dep-1"},
    )
    transfer = api.post(
        "/transfers",
        {
            "from_account_id": str(alice),
            "to_account_id": str(bob),
            "amount_minor": 200,
            "currency": "EUR",
        },
        key=str(uuid.uuid4()),
        headers={"X-Correlation-Id": "checkout-7f3a.retry_1"},
    )

    assert (deposit.status_code, transfer.status_code) == (201, 201)
    assert deposit.headers["X-Correlation-Id"] == "dep-1"
    assert transfer.headers["X-Correlation-Id"] == "checkout-7f3a.retry_1"
    assert _outbox(ledger) == {
        "DepositCompleted": "dep-1",
        "TransferCompleted": "checkout-7f3a.retry_1",
    }
    messages: list[dict[str, Any]] = []
    wait_for(lambda: messages.extend(drain()) or len(messages) >= 2, what="both events")
    attributes = {
        m["MessageAttributes"]["event_type"]["StringValue"]: m["MessageAttributes"]
        for m in messages
    }
    assert attributes["TransferCompleted"]["correlation_id"] == {
        "DataType": "String",
        "StringValue": "checkout-7f3a.retry_1",
    }
    assert attributes["DepositCompleted"]["correlation_id"]["StringValue"] == "dep-1"
    # The payload is the contract's, untouched.
    assert all("correlation_id" not in json.loads(m["Body"]) for m in messages)

    def published_ids() -> set[str]:
        return {
            line["correlation_id"]
            for line in service_logs()
            if line["message"].startswith("published event")
        }

    # The relay logs a row after SNS accepted it: the message can be in the queue first.
    wait_for(lambda: len(published_ids()) >= 2, what="both publish log lines")
    lines = service_logs()
    created = [line for line in lines if line.get("transfer_id") == transfer.json()["transfer_id"]]
    assert [line["correlation_id"] for line in created] == ["checkout-7f3a.retry_1"]
    assert published_ids() == {
        "dep-1",
        "checkout-7f3a.retry_1",
    }


@pytest.mark.parametrize("header", [FORGED_HEADER, "", "x" * 65, "two words"])
def test_an_invalid_header_is_replaced_never_echoed_stored_or_logged(
    api: ServiceServer,
    ledger: Ledger,
    service_logs: Callable[[], list[dict[str, Any]]],
    header: str,
) -> None:
    alice = ledger.open_account()

    response = api.post(
        f"/transfers/accounts/{alice}/deposits",
        {"amount_minor": 500, "currency": "EUR"},
        key=str(uuid.uuid4()),
        headers={"X-Correlation-Id": header},
    )

    assert response.status_code == 201
    made = response.headers["X-Correlation-Id"]
    assert made != header
    assert uuid.UUID(made).version == 4
    assert _outbox(ledger) == {"DepositCompleted": made}
    lines = service_logs()
    assert [line["correlation_id"] for line in lines if "transfer_id" in line] == [made]
    if header:
        assert all(header not in str(value) for line in lines for value in line.values())


def test_every_response_carries_an_id_errors_and_health_included(api: ServiceServer) -> None:
    for response in (
        api.get("/health/live"),
        api.get("/transfers/not-a-uuid"),
        api.get("/nowhere"),
        api.get("/transfers/accounts/x/balance", caller=None),
    ):
        assert uuid.UUID(response.headers["X-Correlation-Id"]).version == 4
    with api.client() as client:
        response = client.get("/health/live", headers={"X-Correlation-Id": "probe-1"})
    assert response.headers.get_list("X-Correlation-Id") == ["probe-1"]


def test_outbox_rows_without_an_id_publish_without_the_attribute(
    pool: Pool,
    ledger: Ledger,
    published: tuple[str, Callable[[], list[dict[str, Any]]]],
) -> None:
    topic, drain = published
    ledger.open_account(balance=100)  # queued by code that knows of no request
    assert _outbox(ledger) == {"DepositCompleted": None}

    result = OutboxPublisher(pool, boto3.client("sns", region_name=REGION), topic).publish_batch()

    assert result.sent == 1
    [message] = drain()
    assert set(message["MessageAttributes"]) == {"event_type", "event_version"}


# -- the AccountOpened consumer --------------------------------------------------------------


def test_the_consumer_logs_each_message_with_its_own_id(
    pool: Pool,
    registry: ContractRegistry,
    aws: None,
    service_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="transfers-accounts")["QueueUrl"]
    first, second, third = (account_opened() for _ in range(3))
    for event, attributes in (
        (first, {"correlation_id": {"DataType": "String", "StringValue": "open-1"}}),
        (second, {}),
        (third, {"correlation_id": {"DataType": "String", "StringValue": FORGED}}),
    ):
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(event),
            MessageAttributes={
                "event_type": {"DataType": "String", "StringValue": "AccountOpened"},
                **attributes,
            },
        )
    consumer = AccountEventsConsumer(pool, sqs, queue_url, registry, NoCache(), wait_seconds=0)

    result = consumer.poll(wait_seconds=0)

    assert result.opened == 3
    opened = {
        line["message"].split()[1]: line
        for line in service_logs()
        if line["message"].endswith(" opened")
    }
    assert opened[first["data"]["account_id"]]["correlation_id"] == "open-1"
    assert "correlation_id" not in opened[second["data"]["account_id"]]
    assert "correlation_id" not in opened[third["data"]["account_id"]]
    assert all("forged" not in json.dumps(line) for line in service_logs())


# -- the migration ---------------------------------------------------------------------------


def test_outbox_rows_queued_before_the_column_have_no_id_and_ids_are_checked(
    blank_database_url: str,
) -> None:
    migrations = discover()
    before = [m for m in migrations if m.name != "outbox_correlation_id"]
    assert len(before) == len(migrations) - 1
    with psycopg.connect(blank_database_url, autocommit=True) as conn:
        migrate(conn, before)
        conn.execute(
            "INSERT INTO outbox (event_id, event_type, event_version, message)"
            " VALUES (%s, 'DepositCompleted', 1, '{}')",
            (uuid.uuid4(),),
        )

        migrate(conn)

        assert conn.execute("SELECT correlation_id FROM outbox").fetchall() == [(None,)]
        for bad in ("", "x" * 65, "two words", FORGED):
            with pytest.raises(psycopg.errors.CheckViolation, match="outbox_correlation_id"):
                conn.execute(
                    "INSERT INTO outbox (event_id, event_type, event_version, message,"
                    " correlation_id) VALUES (%s, 'DepositCompleted', 1, '{}', %s)",
                    (uuid.uuid4(), bad),
                )
