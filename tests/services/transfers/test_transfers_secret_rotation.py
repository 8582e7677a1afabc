"""DATABASE_SECRET_ARN: the pool reads the Aurora secret from Secrets Manager (moto) for new
connections, and a changed secret reaches the connections made after the refresh."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict

from transfers_service.db import create_pool
from transfers_service.settings import SecretConninfo, Settings


@pytest.fixture
def secretsmanager(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


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
