"""Settings from the environment (no servers needed)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio.to_thread
import pytest
from psycopg.conninfo import conninfo_to_dict

from transfers_service.app import Runtime, create_app
from transfers_service.settings import SecretConninfo, Settings, SettingsError

SECRET = {
    "username": "transfers_app",
    "password": "s3cr3t p@ss",
    "host": "cluster.example.internal",
    "port": 5432,
    "dbname": "transfers",
    "engine": "postgres",
}


def test_the_aurora_secret_gives_the_connection_with_tls() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_SECRET": json.dumps(SECRET),
            "REDIS_URL": "rediss://cache.example.internal:6379",
            "EVENT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:transfers",
            "ACCOUNT_EVENTS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/accounts",
            "CONTRACTS_DIR": "/contracts",
        }
    )

    params = conninfo_to_dict(settings.database_conninfo)
    assert params == {
        "host": "cluster.example.internal",
        "port": "5432",
        "dbname": "transfers",
        "user": "transfers_app",
        "password": "s3cr3t p@ss",
        "sslmode": "require",
        "connect_timeout": "5",
        "application_name": "transfers",
    }
    assert settings.redis_url == "rediss://cache.example.internal:6379"
    assert settings.event_topic_arn == "arn:aws:sns:eu-west-1:123456789012:transfers"
    assert settings.account_events_queue_url == "https://sqs.eu-west-1.amazonaws.com/1/accounts"
    assert settings.contracts_dir == Path("/contracts")
    assert "s3cr3t" not in repr(settings)


def test_database_host_port_and_name_override_the_secret() -> None:
    secret = {key: value for key, value in SECRET.items() if key != "dbname"}
    settings = Settings.from_env(
        {
            "DATABASE_SECRET": json.dumps(secret),
            "DATABASE_HOST": "proxy.example.internal",
            "DATABASE_PORT": "6432",
            "DATABASE_NAME": "ledger",
            "DATABASE_SSLMODE": "verify-full",
        }
    )
    params = conninfo_to_dict(settings.database_conninfo)
    assert (params["host"], params["port"], params["dbname"], params["sslmode"]) == (
        "proxy.example.internal",
        "6432",
        "ledger",
        "verify-full",
    )


def test_database_url_for_local_runs() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgresql://me@localhost:5433/transfers"})
    params = conninfo_to_dict(settings.database_conninfo)
    assert (params["host"], params["port"], params["user"], params["dbname"]) == (
        "localhost",
        "5433",
        "me",
        "transfers",
    )
    assert settings.redis_url is None
    assert settings.event_topic_arn is None
    assert settings.contracts_dir == Path("/app/contracts/events")
    assert settings.database_startup_retry_max_seconds == 10.0


def test_by_default_an_idle_service_lets_the_database_pause() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgresql://h/db"})
    assert settings.database_pool_min_size == 0
    assert settings.database_pool_max_idle_seconds == 30.0
    # No more often than Aurora Serverless v2's default auto-pause delay.
    assert settings.outbox_sweep_seconds == 300.0


def test_the_pool_sweep_and_startup_settings_can_be_set() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://h/db",
            "DATABASE_STARTUP_RETRY_MAX_SECONDS": "30",
            "DATABASE_POOL_MIN_SIZE": "2",
            "DATABASE_POOL_MAX_SIZE": "4",
            "DATABASE_POOL_MAX_IDLE_SECONDS": "120",
            "OUTBOX_SWEEP_SECONDS": "900",
        }
    )
    assert settings.database_startup_retry_max_seconds == 30.0
    assert (settings.database_pool_min_size, settings.database_pool_max_size) == (2, 4)
    assert settings.database_pool_max_idle_seconds == 120.0
    assert settings.outbox_sweep_seconds == 900.0
    # As many request threads as pooled connections, unless told.
    assert settings.request_threads == 4


def test_request_threads_can_be_set_and_must_be_positive() -> None:
    base = {"DATABASE_URL": "postgresql://h/db"}
    assert Settings.from_env(base).request_threads == 10
    assert Settings.from_env({**base, "REQUEST_THREADS": "3"}).request_threads == 3
    with pytest.raises(SettingsError, match="REQUEST_THREADS"):
        Settings.from_env({**base, "REQUEST_THREADS": "0"})


@pytest.mark.parametrize(("request_threads", "expected"), [(None, 7), (3, 3)])
def test_the_app_runs_as_many_request_threads_as_set(
    request_threads: int | None, expected: int
) -> None:
    settings = Settings(
        # Nothing listens there: the startup keeps retrying in the background meanwhile.
        database_conninfo="postgresql://127.0.0.1:1/db?connect_timeout=1",
        database_pool_max_size=7,
        request_threads=request_threads,
        contracts_dir=Path(__file__).resolve().parents[3] / "contracts" / "events",
    )
    app = create_app(runtime=Runtime(settings))

    async def threads_while_serving() -> float:
        async with app.router.lifespan_context(app):
            return anyio.to_thread.current_default_thread_limiter().total_tokens

    assert anyio.run(threads_while_serving) == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "DATABASE_SECRET .* or DATABASE_URL"),
        ({"DATABASE_SECRET": "{"}, "DATABASE_SECRET is not JSON"),
        ({"DATABASE_SECRET": "[]"}, "not a JSON object"),
        ({"DATABASE_SECRET": json.dumps({"host": "h"})}, "lacks dbname .*username, password"),
        ({"DATABASE_SECRET": json.dumps({**SECRET, "port": "x"})}, "port"),
        ({"DATABASE_URL": "postgresql://h/db", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        (
            {"DATABASE_URL": "postgresql://h/db", "DATABASE_POOL_MAX_SIZE": "0"},
            "DATABASE_POOL_MAX_SIZE",
        ),
        (
            {"DATABASE_URL": "postgresql://h/db", "BALANCE_CACHE_TTL_SECONDS": "a"},
            "BALANCE_CACHE_TTL",
        ),
        (
            {"DATABASE_URL": "postgresql://h/db", "ACCOUNT_EVENTS_WAIT_SECONDS": "21"},
            "between 0 and 20",
        ),
        ({"DATABASE_URL": "not a = valid = conninfo"}, "DATABASE_URL"),
        (
            {"DATABASE_URL": "postgresql://h/db", "DATABASE_POOL_MIN_SIZE": "-1"},
            "DATABASE_POOL_MIN_SIZE must be >= 0",
        ),
        (
            {
                "DATABASE_URL": "postgresql://h/db",
                "DATABASE_POOL_MIN_SIZE": "3",
                "DATABASE_POOL_MAX_SIZE": "2",
            },
            r"DATABASE_POOL_MIN_SIZE \(3\) must not exceed DATABASE_POOL_MAX_SIZE \(2\)",
        ),
        (
            {"DATABASE_URL": "postgresql://h/db", "DATABASE_POOL_MAX_IDLE_SECONDS": "0"},
            "DATABASE_POOL_MAX_IDLE_SECONDS must be >= 1",
        ),
        (
            {"DATABASE_URL": "postgresql://h/db", "DATABASE_POOL_MAX_IDLE_SECONDS": "soon"},
            "DATABASE_POOL_MAX_IDLE_SECONDS must be an integer",
        ),
        (
            {"DATABASE_URL": "postgresql://h/db", "OUTBOX_SWEEP_SECONDS": "0"},
            "OUTBOX_SWEEP_SECONDS must be >= 1",
        ),
        (
            {"DATABASE_URL": "postgresql://h/db", "OUTBOX_SWEEP_SECONDS": "5m"},
            "OUTBOX_SWEEP_SECONDS must be an integer",
        ),
        (
            {"DATABASE_URL": "postgresql://h/db", "DATABASE_STARTUP_RETRY_MAX_SECONDS": "0"},
            "DATABASE_STARTUP_RETRY_MAX_SECONDS must be between 1 and 300",
        ),
        (
            {"DATABASE_URL": "postgresql://h/db", "DATABASE_STARTUP_RETRY_MAX_SECONDS": "1.5"},
            "DATABASE_STARTUP_RETRY_MAX_SECONDS must be an integer",
        ),
    ],
)
def test_wrong_settings_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


class _SecretsManager:
    """A stand-in for the boto3 client: serves the secret's current text, counts reads."""

    def __init__(self, secret: dict[str, object]) -> None:
        self.secret = dict(secret)
        self.reads = 0

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803
        assert SecretId == "arn:aws:secretsmanager:eu-west-1:1:secret:ledger"
        self.reads += 1
        return {"SecretString": json.dumps(self.secret)}


def test_a_secret_arn_is_read_again_after_a_minute_so_a_rotated_password_is_used() -> None:
    now = [1000.0]
    client = _SecretsManager(SECRET)
    conninfo = SecretConninfo(
        "arn:aws:secretsmanager:eu-west-1:1:secret:ledger",
        {"DATABASE_NAME": "ledger"},
        client=client,
        clock=lambda: now[0],
    )

    first = conninfo_to_dict(conninfo())
    assert (first["password"], first["dbname"], first["sslmode"]) == (
        "s3cr3t p@ss",
        "ledger",
        "require",
    )
    client.secret["password"] = "rotated"
    now[0] += 59
    assert conninfo_to_dict(conninfo())["password"] == "s3cr3t p@ss"  # reused within a minute
    assert client.reads == 1
    now[0] += 1
    assert conninfo_to_dict(conninfo())["password"] == "rotated"
    assert client.reads == 2
    assert "rotated" not in repr(conninfo)


def test_the_secret_arn_comes_first_and_a_bad_secret_names_it() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:ledger",
            "DATABASE_SECRET": json.dumps(SECRET),
        }
    )
    assert isinstance(settings.database_conninfo, SecretConninfo)
    broken = SecretConninfo(
        "arn:aws:secretsmanager:eu-west-1:1:secret:ledger",
        {},
        client=_SecretsManager({"username": "x"}),
    )
    with pytest.raises(SettingsError, match="DATABASE_SECRET_ARN lacks host"):
        broken()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, ""), ("", ""), ("  ", ""), ("/api", "/api"), (" /v1_stage-2 ", "/v1_stage-2")],
)
def test_a_path_prefix_to_strip_is_one_path_segment_or_nothing(
    value: str | None, expected: str
) -> None:
    environ = {"DATABASE_URL": "postgresql://h/db"}
    if value is not None:
        environ["STRIP_PATH_PREFIX"] = value
    assert Settings.from_env(environ).strip_path_prefix == expected


@pytest.mark.parametrize(
    "value", ["api", "/", "/api/", "/a/b", "//api", "/a b", "/caf\u00e9", "/a.b"]
)
def test_a_bad_path_prefix_names_the_variable_and_the_rule(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"DATABASE_URL": "postgresql://h/db", "STRIP_PATH_PREFIX": value})
    assert str(raised.value).startswith("STRIP_PATH_PREFIX must be empty or '/' followed by")
    assert repr(value.strip()) in str(raised.value)
