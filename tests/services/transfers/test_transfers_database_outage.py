"""The database goes away: 503 with a reason, nothing half-written, and recovery."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from transfers_support import Ledger, ServiceServer, wait_for

from tools.test_servers import PostgresServer
from transfers_service import idempotency
from transfers_service.db import migrate
from transfers_service.events import ContractRegistry
from transfers_service.settings import Settings


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test alone, which the test may stop and start."""
    with PostgresServer() as server:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            migrate(conn)
        yield server


def test_database_down_is_503_and_nothing_is_half_written(
    serve: Callable[..., ServiceServer],
    settings: Settings,
    own_postgres: PostgresServer,
    registry: ContractRegistry,
) -> None:
    app_settings = Settings(
        **{
            **settings.__dict__,
            "database_conninfo": own_postgres.url(),
            "redis_url": None,
            "database_pool_timeout_seconds": 1.0,
            "database_reconnect_timeout_seconds": 2.0,
        }
    )
    api = serve(app_settings)
    with psycopg.connect(own_postgres.url(), autocommit=True) as conn:
        ledger = Ledger(conn, registry)
        alice, bob = ledger.open_account(balance=1_000), ledger.open_account()
        assert api.transfer(alice, bob, 100).status_code == 201

    own_postgres.stop(mode="immediate")  # as if it crashed

    key = str(uuid.uuid4())
    for response in (
        api.transfer(alice, bob, 200, key=key),
        api.deposit(alice, 5),
        api.get(f"/transfers/accounts/{alice}/balance"),
        api.get("/health"),
    ):
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "database_unavailable"
        assert "unavailable" in response.json()["message"]
        assert response.headers["Retry-After"] == "1"
    # Liveness stays up: the load balancer keeps the task instead of replacing it.
    assert api.get("/health/live").status_code == 200

    own_postgres.start()

    wait_for(lambda: api.get("/health").status_code == 200, timeout=30, what="recovery")
    with psycopg.connect(own_postgres.url(), autocommit=True) as conn:
        ledger = Ledger(conn, registry)
        assert (ledger.balance(alice), ledger.balance(bob)) == (900, 100)
        ledger.assert_consistent()
        retried = api.transfer(alice, bob, 200, key=key)
        assert retried.status_code == 201, retried.text
        assert (ledger.balance(alice), ledger.balance(bob)) == (700, 300)
        ledger.assert_consistent()


def test_a_connection_lost_mid_transaction_writes_nothing(
    api: ServiceServer, ledger: Ledger, database_url: str
) -> None:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()
    before = ledger.counts()
    key = str(uuid.uuid4())
    responses: list[int] = []

    with psycopg.connect(database_url, autocommit=True) as blocker:
        with blocker.transaction():
            # The transfer writes its entries, balances and event, then waits here to record
            # its idempotency key (EXCLUSIVE lets the key's lookup through, not the insert).
            blocker.execute("LOCK TABLE idempotency_keys IN EXCLUSIVE MODE")
            request = threading.Thread(
                target=lambda: responses.append(api.transfer(alice, bob, 400, key=key).status_code)
            )
            request.start()
            # (Observed from another session: pg_stat_activity is a snapshot per transaction.)
            [(backend,)] = wait_for(
                lambda: ledger.conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO idempotency_keys%'"
                ).fetchall(),
                what="the transfer to wait for the idempotency_keys lock",
            )
            written = ledger.conn.execute(
                "SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'transactionid'",
                (backend,),
            ).fetchone()
            assert written == (1,)  # it has written (a transaction id), uncommitted
            ledger.conn.execute("SELECT pg_terminate_backend(%s)", (backend,))
        request.join(timeout=30)

    assert responses == [503]
    assert ledger.counts() == before
    assert (ledger.balance(alice), ledger.balance(bob)) == (1_000, 0)
    ledger.assert_consistent()
    retried = api.transfer(alice, bob, 400, key=key)
    assert retried.status_code == 201, retried.text
    assert (ledger.balance(alice), ledger.balance(bob)) == (600, 400)


def test_a_connection_lost_while_committing_is_503_outcome_unknown_and_a_retry_tells(
    api: ServiceServer,
    ledger: Ledger,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()
    record = idempotency.record

    def record_then_lose_the_connection(conn: psycopg.Connection[Any], **kwargs: Any) -> None:
        # The write is complete; the backend dies before COMMIT reaches it, as when the
        # database crashes or fails over at that moment.
        record(conn, **kwargs)
        with psycopg.connect(database_url, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))

    monkeypatch.setattr(idempotency, "record", record_then_lose_the_connection)
    key = str(uuid.uuid4())

    lost = api.transfer(alice, bob, 250, key=key)

    assert lost.status_code == 503, lost.text
    assert lost.json()["code"] == "outcome_unknown"
    assert "same Idempotency-Key" in lost.json()["message"]
    assert lost.headers["Retry-After"] == "1"
    monkeypatch.setattr(idempotency, "record", record)
    # Here the commit never happened: the retry makes the transfer, once.
    retried = api.transfer(alice, bob, 250, key=key)
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert api.balance(alice) == 750
    ledger.assert_consistent()
