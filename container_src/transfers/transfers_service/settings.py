"""Settings from the environment: one frozen object, read once at startup.

The database is given by one of, in this order: ``DATABASE_SECRET_ARN`` (the Aurora secret
in Secrets Manager, read again every minute while connections are made, so that new
connections use the password the secret's rotation set, and at once when a login fails on
its password: see :class:`SecretConninfo`), ``DATABASE_SECRET`` (the JSON of
that secret: ``username``, ``password``, ``host``, ``port``, ``dbname``), both completed or
overridden by ``DATABASE_HOST``, ``DATABASE_PORT`` and ``DATABASE_NAME``; or
``DATABASE_URL`` (a libpq URL or conninfo string, for local runs). Everything else is
optional: without ``REDIS_URL`` balances are not cached, without ``EVENT_TOPIC_ARN`` the
outbox is not published, and without ``ACCOUNT_EVENTS_QUEUE_URL`` no AccountOpened events
are consumed (each is logged at startup).

Tunables, each optional (default in brackets; a bad value names its variable):

- ``DATABASE_STARTUP_RETRY_MAX_SECONDS`` [10], 1 to 300: the longest pause between two
  attempts to reach the database and apply the migrations at startup. The process never
  gives up (it answers 503 meanwhile), so this bounds how long a task stays unready after
  the database is up.
- ``DATABASE_POOL_MIN_SIZE`` [0], ``DATABASE_POOL_MAX_SIZE`` [10]: connections a task
  keeps open at least (0: none while idle, so that Aurora Serverless v2 at 0 ACU can pause;
  it pauses only while no connection is open) and at most.
- ``DATABASE_POOL_MAX_IDLE_SECONDS`` [30], at least 1: a pooled connection that stayed unused
  for this long is closed (psycopg_pool closes one such connection per interval, so a task
  that used k connections in a burst holds none about k times this after its last request).
  30 s: an idle Dev task with its usual 1 to 3 connections holds none a minute or two after
  its last request (at most 5 minutes with 10), and Aurora's auto-pause delay (300 s by
  default) starts then; the price is a new connection (TLS and login, tens of
  milliseconds) for a request after a quiet half minute, which steady Prod traffic rarely
  pays.
- ``DATABASE_POOL_TIMEOUT_SECONDS`` [2]: how long a request waits for a connection before
  it gets 503. A transaction holds a connection for milliseconds, so a request that waited
  this long waits for a database that is down or overloaded: a prompt 503 (with
  ``Retry-After``) frees the caller and the request's thread (the restart-postgres fault
  run, bench/faults.md, measures it).
- ``REQUEST_THREADS`` [``DATABASE_POOL_MAX_SIZE``], at least 1: how many requests run at
  once (the routes are synchronous: each runs in a thread of this many). A request needs a
  pooled connection for all but a cached balance, so more threads than connections only
  wait on the pool, and contend for the interpreter meanwhile: 10 threads served about 8%
  more writes per second than 40 under 16 concurrent clients (bench/load.md).
- ``OUTBOX_SWEEP_SECONDS`` [300], at least 1: the outbox publisher is woken by the task's
  own commits that write to the outbox, and by the retry of a failed publish when it is due;
  besides, it sweeps the outbox every this many seconds, a safety net for events another
  task committed and could not publish (it stopped). Each sweep connects to the database:
  keep it at least Aurora's auto-pause delay (``seconds_until_auto_pause``, 300 s by
  default) or the sweeps keep a Dev database from ever pausing (a shorter one is logged as
  a warning at startup).
- ``STRIP_PATH_PREFIX`` [empty]: empty, or ``/`` followed by letters, digits, ``_`` and
  ``-`` (one path segment, such as ``/api``). A request whose path starts with it (followed
  by ``/`` or nothing) is served as if it came without it: API Gateway's private integration
  puts its stage's name in front of the path it sends (``/api/transfers/...`` for the stage
  ``api``), while the load balancer's health checks come without it. See ``edge``.
- ``BALANCE_CACHE_TTL_SECONDS`` [30], ``ACCOUNT_EVENTS_WAIT_SECONDS`` [20] (the SQS long
  poll, 0 to 20), ``LOG_LEVEL`` [INFO].
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_CONTRACTS_DIR = "/app/contracts/events"
AURORA_DEFAULT_AUTO_PAUSE_SECONDS = 300
"""Aurora Serverless v2's default ``seconds_until_auto_pause`` (300 to 86 400 s)."""
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# STRIP_PATH_PREFIX: one path segment of URL-safe characters, with its leading slash.
_PATH_PREFIX = re.compile(r"/[A-Za-z0-9_-]+")


class SettingsError(ValueError):
    """A missing or invalid environment variable; the message names it."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the service reads from its environment."""

    # libpq conninfo, or a callable giving the current one (a rotating secret); repr=False:
    # it may hold the database password.
    database_conninfo: str | Callable[[], str] = field(repr=False)
    redis_url: str | None = field(default=None, repr=False)
    event_topic_arn: str | None = None
    account_events_queue_url: str | None = None
    contracts_dir: Path = Path(DEFAULT_CONTRACTS_DIR)
    balance_cache_ttl_seconds: int = 30
    database_pool_min_size: int = 0
    database_pool_max_size: int = 10
    # An unused pooled connection is closed after this long (one per interval).
    database_pool_max_idle_seconds: float = 30.0
    # How long a request waits for a pooled connection before it gets 503.
    database_pool_timeout_seconds: float = 2.0
    # How long the pool keeps retrying to reconnect (backing off) before a fresh attempt.
    database_reconnect_timeout_seconds: float = 10.0
    # Longest pause between two attempts to reach and migrate the database at startup (the
    # process never gives up: it serves 503s meanwhile).
    database_startup_retry_max_seconds: float = 10.0
    # Requests served at once (threads of the synchronous routes); None: the pool's size.
    request_threads: int | None = None
    # The outbox publisher's safety-net sweep; keep it >= Aurora's auto-pause delay.
    outbox_sweep_seconds: float = 300.0
    outbox_batch_size: int = 25
    account_events_wait_seconds: int = 20
    # Removed from the start of request paths ("" for none): API Gateway's stage, "/api".
    strip_path_prefix: str = ""
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and check every variable; :class:`SettingsError` names a wrong one."""
        log_level = environ.get("LOG_LEVEL", "INFO").upper()
        if log_level not in _LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")
        pool_min_size = _int(environ, "DATABASE_POOL_MIN_SIZE", 0, low=0)
        pool_max_size = _int(environ, "DATABASE_POOL_MAX_SIZE", 10, low=1)
        if pool_min_size > pool_max_size:
            raise SettingsError(
                f"DATABASE_POOL_MIN_SIZE ({pool_min_size}) must not exceed"
                f" DATABASE_POOL_MAX_SIZE ({pool_max_size})"
            )
        return cls(
            database_conninfo=database_conninfo(environ),
            redis_url=_optional(environ, "REDIS_URL"),
            event_topic_arn=_optional(environ, "EVENT_TOPIC_ARN"),
            account_events_queue_url=_optional(environ, "ACCOUNT_EVENTS_QUEUE_URL"),
            contracts_dir=Path(environ.get("CONTRACTS_DIR") or DEFAULT_CONTRACTS_DIR),
            balance_cache_ttl_seconds=_int(environ, "BALANCE_CACHE_TTL_SECONDS", 30, low=1),
            database_pool_min_size=pool_min_size,
            database_pool_max_size=pool_max_size,
            database_pool_max_idle_seconds=float(
                _int(environ, "DATABASE_POOL_MAX_IDLE_SECONDS", 30, low=1)
            ),
            database_pool_timeout_seconds=float(
                _int(environ, "DATABASE_POOL_TIMEOUT_SECONDS", 2, low=1)
            ),
            database_startup_retry_max_seconds=float(
                _int(environ, "DATABASE_STARTUP_RETRY_MAX_SECONDS", 10, low=1, high=300)
            ),
            request_threads=_int(environ, "REQUEST_THREADS", pool_max_size, low=1),
            outbox_sweep_seconds=float(_int(environ, "OUTBOX_SWEEP_SECONDS", 300, low=1)),
            account_events_wait_seconds=_int(
                environ, "ACCOUNT_EVENTS_WAIT_SECONDS", 20, low=0, high=20
            ),
            strip_path_prefix=_path_prefix(environ, "STRIP_PATH_PREFIX"),
            log_level=log_level,
        )


SECRET_REFRESH_SECONDS = 60.0
"""How long a secret read from Secrets Manager is reused for new connections."""
SECRET_REREAD_MIN_SECONDS = 5.0
"""The least time between two re-reads of the secret forced by failed logins."""


class SecretConninfo:
    """The current libpq conninfo from the Aurora secret in Secrets Manager.

    Called by the connection pool for each new connection. The secret is read again once
    ``refresh_seconds`` have passed, so within a minute of a rotation new connections log
    in with the new password (sessions already open are not affected by it).

    That minute is not soon enough: the single-user rotation changes the password in the
    database first and stores it in the secret a moment later, so every login with the
    cached password fails from then on. A login that fails on its password calls
    :meth:`reread`, which reads the secret again at once, though at most once per
    ``reread_min_seconds``, so that a password wrong in the secret too does not make each
    attempt read Secrets Manager.
    """

    def __init__(
        self,
        secret_arn: str,
        overrides: Mapping[str, str],
        *,
        client: Any = None,
        refresh_seconds: float = SECRET_REFRESH_SECONDS,
        reread_min_seconds: float = SECRET_REREAD_MIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_arn = secret_arn
        self._overrides = dict(overrides)
        self._client = client
        self._refresh_seconds = refresh_seconds
        self._reread_min_seconds = reread_min_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._conninfo: str | None = None
        self._read_at = 0.0
        self._reread_at: float | None = None

    def __call__(self) -> str:
        with self._lock:
            now = self._clock()
            if self._conninfo is None or now - self._read_at >= self._refresh_seconds:
                self._read(now)
            assert self._conninfo is not None
            return self._conninfo

    def reread(self) -> str:
        """The conninfo from the secret read again now, ignoring ``refresh_seconds``; or,
        when the last re-read was less than ``reread_min_seconds`` ago, the current one
        (which that re-read, or a later refresh, gave)."""
        with self._lock:
            now = self._clock()
            if (
                self._conninfo is None
                or self._reread_at is None
                or now - self._reread_at >= self._reread_min_seconds
            ):
                self._reread_at = now
                self._read(now)
            assert self._conninfo is not None
            return self._conninfo

    def _read(self, now: float) -> None:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]

            self._client = boto3.client("secretsmanager")
        text = self._client.get_secret_value(SecretId=self.secret_arn)["SecretString"]
        params = _secret_params(text, self._overrides, source="DATABASE_SECRET_ARN")
        self._conninfo = _finish(params)
        self._read_at = now

    def __repr__(self) -> str:
        return f"SecretConninfo({self.secret_arn!r})"


def database_conninfo(environ: Mapping[str, str]) -> str | Callable[[], str]:
    """The libpq conninfo from the first of ``DATABASE_SECRET_ARN``, ``DATABASE_SECRET``
    (each with the overrides) and ``DATABASE_URL`` that is set."""
    secret_arn = _optional(environ, "DATABASE_SECRET_ARN")
    if secret_arn is not None:
        return SecretConninfo(secret_arn, environ)
    secret_text = _optional(environ, "DATABASE_SECRET")
    url = _optional(environ, "DATABASE_URL")
    if secret_text is None and url is None:
        raise SettingsError(
            "set DATABASE_SECRET_ARN or DATABASE_SECRET (the Aurora secret) or DATABASE_URL"
        )
    if secret_text is None:
        assert url is not None
        try:
            params: dict[str, Any] = conninfo_to_dict(url)
        except Exception as error:
            raise SettingsError(f"DATABASE_URL is not a libpq URL or conninfo: {error}") from None
    else:
        params = _secret_params(secret_text, environ)
    return _finish(params)


def _finish(params: dict[str, Any]) -> str:
    # Fail fast rather than hang when the database is unreachable, and name the client.
    params.setdefault("connect_timeout", 5)
    params.setdefault("application_name", "transfers")
    return make_conninfo(**params)


def _secret_params(
    secret_text: str, environ: Mapping[str, str], *, source: str = "DATABASE_SECRET"
) -> dict[str, Any]:
    try:
        secret = json.loads(secret_text)
    except ValueError:
        raise SettingsError(f"{source} is not JSON") from None
    if not isinstance(secret, dict):
        raise SettingsError(f"{source} is not a JSON object")
    params: dict[str, Any] = {
        "host": environ.get("DATABASE_HOST") or secret.get("host"),
        "port": environ.get("DATABASE_PORT") or secret.get("port") or 5432,
        "dbname": environ.get("DATABASE_NAME") or secret.get("dbname"),
        "user": secret.get("username"),
        "password": secret.get("password"),
        # TLS to Aurora; DATABASE_SSLMODE=verify-full (with the RDS CA bundle) is stricter.
        "sslmode": environ.get("DATABASE_SSLMODE") or "require",
    }
    missing = [
        name
        for name, key in (
            ("host (or DATABASE_HOST)", "host"),
            ("dbname (or DATABASE_NAME)", "dbname"),
            ("username", "user"),
            ("password", "password"),
        )
        if not params[key]
    ]
    if missing:
        raise SettingsError(f"{source} lacks {', '.join(missing)}")
    try:
        params["port"] = int(params["port"])
    except (TypeError, ValueError):
        raise SettingsError(f"{source} port (or DATABASE_PORT) is not a number") from None
    return params


def _optional(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _path_prefix(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if value and not _PATH_PREFIX.fullmatch(value):
        raise SettingsError(
            f"{name} must be empty or '/' followed by letters, digits, '_' or '-'"
            f" (one path segment, such as /api), got {value!r}"
        )
    return value


def _int(
    environ: Mapping[str, str], name: str, default: int, *, low: int, high: int | None = None
) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise SettingsError(f"{name} must be {bounds}, got {value}")
    return value


def configure_logging(level: str) -> None:
    """JSON lines to stderr (CloudWatch in ECS), uvicorn's logs included, each with the
    correlation id of its request or message (see ``logs``), unless logging is set up
    already."""
    from transfers_service import logs

    logs.configure(level)
