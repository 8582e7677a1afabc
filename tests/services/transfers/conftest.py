"""Fixtures of the transfers service tests: a fresh, migrated database per test, the service
over a pool, and the real app served by uvicorn on a free loopback port. The contracts come
from the repository's ``contracts/events`` (copied to ``/app/contracts/events`` in the image).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from moto import mock_aws
from transfers_support import Ledger, ServiceServer

from tools.test_servers import PostgresServer, RedisServer
from transfers_service.cache import BalanceCache, NoCache, RedisBalanceCache
from transfers_service.db import Pool, create_pool, migrate
from transfers_service.events import ACCOUNT_OPENED, PUBLISHED, ContractRegistry
from transfers_service.service import TransfersService
from transfers_service.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
CONTRACTS_DIR = ROOT / "contracts" / "events"

TEMPLATE_DATABASE = "transfers_template"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def registry() -> ContractRegistry:
    return ContractRegistry(CONTRACTS_DIR, required=(ACCOUNT_OPENED, *PUBLISHED))


@pytest.fixture(scope="session")
def migrated_template(postgres_server: PostgresServer) -> str:
    """A database with every migration applied, copied for each test."""
    with psycopg.connect(postgres_server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE_DATABASE}")
    with psycopg.connect(postgres_server.url(TEMPLATE_DATABASE), autocommit=True) as conn:
        migrate(conn)
    return TEMPLATE_DATABASE


def _new_database(server: PostgresServer, template: str) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield server.url(name)
    finally:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database_url(postgres_server: PostgresServer, migrated_template: str) -> Iterator[str]:
    """A fresh database of this test alone, migrated."""
    yield from _new_database(postgres_server, migrated_template)


@pytest.fixture
def blank_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database (no migrations applied)."""
    yield from _new_database(postgres_server, "template0")


@pytest.fixture
def settings(database_url: str, redis_server: RedisServer) -> Settings:
    return Settings(
        database_conninfo=database_url,
        redis_url=redis_server.url(),
        contracts_dir=CONTRACTS_DIR,
        database_pool_max_size=10,
        database_pool_timeout_seconds=5.0,
        database_startup_retry_max_seconds=1.0,
        outbox_sweep_seconds=0.2,
        account_events_wait_seconds=1,
    )


@pytest.fixture
def pool(settings: Settings) -> Iterator[Pool]:
    pool = create_pool(settings)
    pool.open(wait=True, timeout=10)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def ledger(database_url: str, registry: ContractRegistry) -> Iterator[Ledger]:
    """Direct SQL access for arranging and inspecting the ledger."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield Ledger(conn, registry)


@pytest.fixture
def cache(settings: Settings) -> Iterator[BalanceCache]:
    assert settings.redis_url
    cache = RedisBalanceCache.from_url(settings.redis_url, ttl_seconds=30)
    yield cache
    cache.close()


@pytest.fixture
def service(pool: Pool, registry: ContractRegistry) -> TransfersService:
    """The service layer without HTTP and without a cache."""
    return TransfersService(pool, registry, NoCache())


@pytest.fixture
def serve() -> Iterator[Callable[..., ServiceServer]]:
    """Starts the real app (``create_app``) under uvicorn, by default waiting until it is
    ready (``ready=False``: until it serves); stopped after the test."""
    started: list[ServiceServer] = []

    def start(
        settings: Settings, *, ready: bool = True, **runtime_options: object
    ) -> ServiceServer:
        server = ServiceServer(settings, **runtime_options)
        started.append(server)
        server.start(ready=ready)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def api(serve: Callable[..., ServiceServer], settings: Settings) -> ServiceServer:
    """The app with the test's database and the session's Redis, no SNS/SQS loops."""
    return serve(settings)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's AWS in ``REGION``, with fake credentials and no profile or endpoint from the
    machine leaking in."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield
