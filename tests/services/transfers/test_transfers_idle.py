"""An idle service leaves the database alone, so that Dev's Aurora can pause at 0 ACU.

Aurora Serverless v2 pauses only when no user connection is open for its auto-pause delay.
The service is run with its outbox publisher and AccountOpened consumer (moto's SNS and
SQS), on a PostgreSQL of its own that logs every connection and statement: once idle, it
must hold no connection and run no statement, and still publish a new deposit's event at
once (woken by the commit; the safety-net sweep is an hour away).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import psycopg
import pytest
from transfers_support import Ledger, ServiceServer, wait_for

from tools.test_servers import PostgresServer
from transfers_service.events import ContractRegistry
from transfers_service.settings import Settings

REGION = "us-east-1"
DATABASE = "transfers"
APPLICATION_NAME = "transfers"  # what the service names its connections
ARRANGE = "arrange"  # the test's own connection to the service's database
IDLE_SECONDS = 4.0


@pytest.fixture
def logging_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test alone that logs every connection and statement with its
    database and application_name, without autovacuum (whose work would count as activity)."""
    with PostgresServer(
        settings={
            "log_statement": "all",
            "log_connections": "on",
            "log_line_prefix": "db=%d,app=%a:",
            "autovacuum": "off",
        }
    ) as server:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        yield server


class Observer:
    """Watches the service's database from the ``postgres`` database (so that its own
    queries are not counted there). Once the test's own connection to the service's
    database is closed, every client there is the service's, whatever it calls itself."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.conn = psycopg.connect(server.url(), autocommit=True, application_name="observer")

    def service_connections(self) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = %s AND backend_type = 'client backend'",
            (DATABASE,),
        ).fetchone()
        assert row is not None
        return int(row[0])

    def commits(self) -> int:
        """Committed transactions in the service's database (pg_stat_database)."""
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        row = self.conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (DATABASE,),
        ).fetchone()
        assert row is not None
        return int(row[0])

    def log_size(self) -> int:
        return self.server.log_file.stat().st_size

    def service_log_since(self, offset: int = 0) -> list[str]:
        """The log lines of the service's connections and statements since ``offset``
        (those of the test's own connection left out)."""
        with self.server.log_file.open("rb") as log:
            log.seek(offset)
            lines = log.read().decode(errors="replace").splitlines()
        return [
            line
            for line in lines
            if line.startswith(f"db={DATABASE},")
            and not line.startswith(f"db={DATABASE},app={ARRANGE}:")
            and not line.endswith(f"application_name={ARRANGE}")
        ]


def test_an_idle_service_holds_no_connection_and_runs_no_query(
    serve: Callable[..., ServiceServer],
    settings: Settings,
    logging_postgres: PostgresServer,
    registry: ContractRegistry,
    aws: None,
) -> None:
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="transfers-events")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="transfers-accounts")["QueueUrl"]
    subscriber_url = sqs.create_queue(QueueName="statements")["QueueUrl"]
    subscriber_arn = sqs.get_queue_attributes(QueueUrl=subscriber_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=subscriber_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    received: list[dict[str, Any]] = []

    def receive() -> list[dict[str, Any]]:
        for message in sqs.receive_message(QueueUrl=subscriber_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=subscriber_url, ReceiptHandle=message["ReceiptHandle"])
        return received

    app_settings = Settings(
        **{
            **settings.__dict__,
            "database_conninfo": logging_postgres.url(DATABASE),
            "event_topic_arn": topic,
            "account_events_queue_url": queue_url,
            "account_events_wait_seconds": 1,
            "database_pool_max_idle_seconds": 1.0,
            "outbox_sweep_seconds": 3600.0,
        }
    )
    api = serve(app_settings, sns=sns, sqs=sqs)
    observer = Observer(logging_postgres)
    with psycopg.connect(
        logging_postgres.url(DATABASE), autocommit=True, application_name=ARRANGE
    ) as conn:
        ledger = Ledger(conn, registry)
        alice, bob = ledger.open_account(balance=100), ledger.open_account()
    # Some work first, so that the pool has connections to give back.
    assert api.transfer(alice, bob, 10).status_code == 201
    assert api.deposit(alice, 5).status_code == 201
    assert api.balance(bob) == 10
    wait_for(lambda: len(receive()) >= 3, what="the events of the work so far")
    # (The log shows the work, and the service's name on its connections.)
    worked = [line for line in observer.service_log_since() if "connection authorized" not in line]
    assert any("INSERT INTO outbox" in line for line in worked)
    assert {line.split(":", 1)[0] for line in worked} == {f"db={DATABASE},app={APPLICATION_NAME}"}

    wait_for(
        lambda: observer.service_connections() == 0,
        timeout=30,
        what="the service to close its idle connections",
    )
    log_offset, commits = observer.log_size(), observer.commits()
    deadline = time.monotonic() + IDLE_SECONDS
    while time.monotonic() < deadline:
        assert observer.service_connections() == 0
        time.sleep(0.1)

    assert observer.service_log_since(log_offset) == []
    assert observer.commits() == commits

    # Still awake: a deposit's event goes out at once, woken by the commit, not the sweep.
    received.clear()
    started = time.monotonic()
    deposit = api.deposit(alice, 7)
    assert deposit.status_code == 201, deposit.text
    wait_for(lambda: receive(), timeout=5, what="the DepositCompleted event")
    assert time.monotonic() - started < 5
    [event] = received
    assert (event["event_type"], event["data"]["deposit_id"]) == (
        "DepositCompleted",
        deposit.json()["transfer_id"],
    )
    assert uuid.UUID(event["event_id"])
