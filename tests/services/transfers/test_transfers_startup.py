"""Startup without the database: the process serves at once and becomes ready when it can.

On a first deploy Aurora's writer comes up minutes after the cluster: a task that exited for
want of a database would count as a failed task, and three trip the ECS circuit breaker.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import httpx
import psycopg
import pytest
from transfers_support import Ledger, ServiceServer, wait_for

from tools.test_servers import PostgresServer, free_port
from transfers_service.db import discover
from transfers_service.events import ContractRegistry
from transfers_service.settings import Settings


def _unavailable(response: httpx.Response, *codes: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] in codes, response.text
    assert response.json()["message"]
    assert response.headers["Retry-After"]


def _not_ready_everywhere(api: ServiceServer, *codes: str) -> None:
    """Liveness 200; readiness and every route that needs the database 503 with ``codes``."""
    assert api.get("/health/live").status_code == 200
    account = uuid.uuid4()
    for response in (
        api.get("/health"),
        api.transfer(account, uuid.uuid4(), 10),
        api.deposit(account, 10),
        api.get(f"/transfers/accounts/{account}/balance"),
        api.get(f"/transfers/{uuid.uuid4()}"),
    ):
        _unavailable(response, *codes)
    # Who calls is known without the database: a request that says no one is 401 anyway.
    unauthenticated = api.get(f"/transfers/{uuid.uuid4()}", caller=None)
    assert unauthenticated.status_code == 401, unauthenticated.text


def test_the_service_serves_before_its_database_exists_and_gets_ready_without_a_restart(
    serve: Callable[..., ServiceServer],
    settings: Settings,
    registry: ContractRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    app_settings = Settings(
        **{
            **settings.__dict__,
            "database_conninfo": f"postgresql://postgres@127.0.0.1:{port}/postgres",
            "redis_url": None,
            "database_startup_retry_max_seconds": 0.5,
        }
    )
    with caplog.at_level(logging.WARNING, logger="transfers_service"):
        api = serve(app_settings, ready=False)  # nothing listens on the port yet

        _not_ready_everywhere(api, "starting", "database_unavailable")
        wait_for(
            lambda: api.get("/health").json()["code"] == "database_unavailable",
            what="a failed connection attempt",
        )
        _not_ready_everywhere(api, "database_unavailable")
        assert "database not reachable" in caplog.text

        with PostgresServer(port=port) as database:
            wait_for(lambda: api.get("/health").status_code == 200, timeout=15, what="ready")

            with psycopg.connect(database.url(), autocommit=True) as conn:
                applied = conn.execute("SELECT version FROM schema_migrations").fetchall()
                assert applied == [(m.version,) for m in discover()]
                ledger = Ledger(conn, registry)
                alice, bob = ledger.open_account(balance=100), ledger.open_account()
                response = api.transfer(alice, bob, 40)
                assert response.status_code == 201, response.text
                assert (ledger.balance(alice), ledger.balance(bob)) == (60, 40)
                ledger.assert_consistent()


def test_a_changed_migration_keeps_the_service_unready_and_says_so(
    serve: Callable[..., ServiceServer],
    settings: Settings,
    blank_database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with psycopg.connect(blank_database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute("INSERT INTO schema_migrations VALUES (1, 'ledger', 'not-its-checksum')")
    app_settings = Settings(
        **{
            **settings.__dict__,
            "database_conninfo": blank_database_url,
            "redis_url": None,
            "database_startup_retry_max_seconds": 0.5,
        }
    )

    with caplog.at_level(logging.WARNING, logger="transfers_service"):
        api = serve(app_settings, ready=False)
        wait_for(
            lambda: api.get("/health").json()["code"] == "migration_failed",
            what="the migration error",
        )

    _not_ready_everywhere(api, "migration_failed")
    assert "changed after it was applied" in api.get("/health").json()["message"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "migration" in r.message]
    assert errors, caplog.text
    with psycopg.connect(blank_database_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('accounts')").fetchone() == (None,)
