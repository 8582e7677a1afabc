"""DATABASE_SECRET_ARN: the pool reads the Aurora secret from Secrets Manager (moto) for new
connections, and a changed secret reaches the connections made after the refresh.

A rotation as Secrets Manager's single-user rotation does it, against a PostgreSQL that
checks passwords (scram-sha-256): the password changes in the database first, then in the
secret; the very next new connection, from the pool or from ``db.connect``, logs in with the
new password at once, by reading the secret again when its login is refused, not a minute
later at the next refresh. A password wrong in the secret too still fails, and the secret is
read again at most once per ``reread_min_seconds``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import PoolTimeout

from tools.test_servers import PostgresServer, free_port
from transfers_service.db import connect, create_pool
from transfers_service.settings import SecretConninfo, Settings

REREAD_MIN_SECONDS = 5.0


@pytest.fixture
def secretsmanager(aws: None) -> object:
    return boto3.client("secretsmanager", region_name="us-east-1")


def _secret_of(url: str) -> dict[str, object]:
    """The Aurora secret's shape, for the test server behind ``url``."""
    params = conninfo_to_dict(url)
    return {
        "username": params["user"],
        "password": "not-checked-by-trust-auth",
        "host": params["host"],
        "port": int(params["port"]),
        "dbname": params["dbname"],
        "engine": "postgres",
    }


def test_new_connections_follow_the_secret_in_secrets_manager(
    secretsmanager: object, database_url: str, blank_database_url: str
) -> None:
    client = secretsmanager
    arn = client.create_secret(  # type: ignore[attr-defined]
        Name="transfers-ledger", SecretString=json.dumps(_secret_of(database_url))
    )["ARN"]
    settings = Settings.from_env({"DATABASE_SECRET_ARN": arn, "DATABASE_SSLMODE": "disable"})
    conninfo = settings.database_conninfo
    assert isinstance(conninfo, SecretConninfo)
    now = [0.0]
    conninfo._clock = lambda: now[0]

    pool = create_pool(settings)
    pool.open(wait=True, timeout=10)
    try:
        with pool.connection() as conn:
            first = conn.execute("SELECT current_database()").fetchone()
        # "Rotation": the secret now names another database; after the refresh, new
        # connections go there, while the pooled one keeps working.
        client.put_secret_value(  # type: ignore[attr-defined]
            SecretId=arn, SecretString=json.dumps(_secret_of(blank_database_url))
        )
        now[0] += 60
        with psycopg.connect(conninfo(), autocommit=True) as fresh:
            second = fresh.execute("SELECT current_database()").fetchone()
        with pool.connection() as conn:
            still = conn.execute("SELECT 1").fetchone()
    finally:
        pool.close()

    assert first == (conninfo_to_dict(database_url)["dbname"],)
    assert second == (conninfo_to_dict(blank_database_url)["dbname"],)
    assert still == (1,)


class CountingClient:
    """The Secrets Manager client, counting the reads of the secret."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.reads = 0

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.client.get_secret_value(**kwargs)


@dataclass
class Rotating:
    """A login role of the password-checking server, its secret and a fake clock."""

    server: PostgresServer
    client: Any
    role: str
    arn: str
    now: list[float]

    def source(self, *, client: Any | None = None) -> SecretConninfo:
        return SecretConninfo(
            self.arn,
            {"DATABASE_SSLMODE": "disable"},
            client=client or self.client,
            reread_min_seconds=REREAD_MIN_SECONDS,
            clock=lambda: self.now[0],
        )

    def set_database_password(self, password: str) -> None:
        with psycopg.connect(self.server.url(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(self.role), sql.Literal(password)
                )
            )

    def set_secret_password(self, password: str) -> None:
        self.client.put_secret_value(
            SecretId=self.arn, SecretString=json.dumps(self.secret(password))
        )

    def secret(self, password: str) -> dict[str, object]:
        return {
            "username": self.role,
            "password": password,
            "host": "127.0.0.1",
            "port": self.server.port,
            "dbname": "postgres",
            "engine": "postgres",
        }


@pytest.fixture(scope="module")
def password_postgres() -> Iterator[PostgresServer]:
    with PostgresServer(password_auth=True) as server:
        yield server


@pytest.fixture
def rotating(secretsmanager: object, password_postgres: PostgresServer) -> Rotating:
    """A role with the password ``old``, in the database and in its secret."""
    role = f"ledger_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(password_postgres.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'old'").format(sql.Identifier(role)))
    rotating = Rotating(password_postgres, secretsmanager, role, "", [0.0])
    rotating.arn = secretsmanager.create_secret(  # type: ignore[attr-defined]
        Name=f"transfers-{role}", SecretString=json.dumps(rotating.secret("old"))
    )["ARN"]
    return rotating


def _rotate(rotating: Rotating, password: str) -> None:
    """As the PostgreSQLSingleUser rotation does: the database first, then the secret."""
    rotating.set_database_password(password)
    rotating.set_secret_password(password)


def test_the_pool_connects_at_once_after_a_rotation(rotating: Rotating) -> None:
    reads = CountingClient(rotating.client)
    settings = Settings(
        database_conninfo=rotating.source(client=reads), database_pool_timeout_seconds=3.0
    )
    pool = create_pool(settings)
    pool.open(wait=True, timeout=10)
    try:
        with pool.connection() as before:
            assert before.execute("SELECT current_user").fetchone() == (rotating.role,)
            _rotate(rotating, "new")
            # The pool holds `before`, so this is a new connection; the clock has not moved.
            started = time.monotonic()
            with pool.connection() as after:
                user = after.execute("SELECT current_user").fetchone()
            elapsed = time.monotonic() - started
            # A session opened before the rotation is not affected by it.
            assert before.execute("SELECT 1").fetchone() == (1,)
        stats = pool.get_stats()
    finally:
        pool.close()

    assert user == (rotating.role,)
    assert elapsed < 1.0  # no reconnection backoff
    assert stats.get("connections_errors", 0) == 0
    assert reads.reads == 2  # the first read, and the one forced by the refused login


def test_connect_connects_at_once_after_a_rotation(rotating: Rotating) -> None:
    reads = CountingClient(rotating.client)
    settings = Settings(database_conninfo=rotating.source(client=reads))
    with connect(settings) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (rotating.role,)

    _rotate(rotating, "new")
    with connect(settings, timeout_seconds=2) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (rotating.role,)
    assert reads.reads == 2

    # The next rotation is caught at once too: the last forced read was long enough ago.
    rotating.now[0] += REREAD_MIN_SECONDS
    _rotate(rotating, "newer")
    with connect(settings) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (rotating.role,)
    assert reads.reads == 3


def test_a_password_wrong_in_the_secret_too_still_fails(rotating: Rotating) -> None:
    rotating.set_database_password("right")
    rotating.set_secret_password("wrong")
    reads = CountingClient(rotating.client)
    settings = Settings(
        database_conninfo=rotating.source(client=reads), database_pool_timeout_seconds=1.0
    )

    for _ in range(3):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            connect(settings)
    # The first read, then one forced by the first refused login; none more this soon.
    assert reads.reads == 2

    pool = create_pool(settings)
    pool.open(wait=True, timeout=10)
    try:
        with pytest.raises(PoolTimeout), pool.connection():
            pass
    finally:
        pool.close()
    assert reads.reads == 2

    rotating.now[0] += REREAD_MIN_SECONDS
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(settings)
    assert reads.reads == 3


def test_an_unreachable_database_does_not_read_the_secret_again(rotating: Rotating) -> None:
    reads = CountingClient(rotating.client)
    secret = rotating.secret("old") | {"port": free_port()}  # nothing listens there
    rotating.client.put_secret_value(SecretId=rotating.arn, SecretString=json.dumps(secret))
    settings = Settings(database_conninfo=rotating.source(client=reads))

    with pytest.raises(psycopg.OperationalError, match="Connection refused"):
        connect(settings)
    assert reads.reads == 1
