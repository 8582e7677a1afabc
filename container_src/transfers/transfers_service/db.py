"""The connection pool and the schema migrations.

The pool keeps no connection open while the service is idle (``database_pool_min_size`` 0,
unused connections closed after ``database_pool_max_idle_seconds``), so that Aurora
Serverless v2 at 0 ACU can pause. Every connection names itself ``application_name``
``transfers`` unless its conninfo names it otherwise.

When the conninfo comes from the Aurora secret in Secrets Manager (:class:`SecretConninfo`),
a login that fails on its password reads the secret again and tries once more with the
password found there, in the pool as for the connections of startup and readiness checks:
the secret's single-user rotation changes the password in the database a moment before it
stores it in the secret, and the periodic refresh alone would leave new connections failing
for up to a minute after each rotation. A password still wrong after that re-read fails as
before (the pool backs off and tries again, and so does startup).

Migrations are the numbered files ``migrations/NNNN_name.sql``, applied in order, each in
its own transaction, under a PostgreSQL advisory lock (so tasks starting together apply
each one once), and recorded with a checksum in ``schema_migrations``. Running them again
does nothing; an applied file that changed afterwards stops startup.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

import psycopg
from psycopg import Connection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from transfers_service.settings import SecretConninfo, Settings

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# pg_advisory_lock key of the migrations: "transfer" in ASCII, as a bigint.
MIGRATIONS_LOCK = int.from_bytes(b"transfer", "big")
_MIGRATION_FILE = re.compile(r"(?P<version>[0-9]{4})_(?P<name>[a-z0-9_]+)\.sql")

Pool = ConnectionPool[Connection[Any]]
APPLICATION_NAME = "transfers"
# SQLSTATEs of a refused login: invalid_password, invalid_authorization_specification.
AUTHENTICATION_SQLSTATES = frozenset({"28P01", "28000"})
# What libpq reports when the server refuses the password (PostgreSQL's English message,
# which Aurora sends).
PASSWORD_FAILED_MESSAGE = "password authentication failed"

_C = TypeVar("_C", bound=Connection[Any])


class MigrationError(RuntimeError):
    """The migrations on disk and those recorded in the database disagree."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def create_pool(settings: Settings) -> Pool:
    """A pool of autocommit connections (writes use explicit transactions), not yet open.

    Each connection is checked before it is handed out, so a database restart or failover
    costs the requests in flight, not the ones after it. Reconnection attempts back off
    exponentially and are given up after ``database_reconnect_timeout_seconds`` (the next
    request starts a fresh attempt), which bounds how long the service stays unavailable
    after the database is back. Connections are opened on demand (``min_size`` 0 by
    default) and closed once unused for ``max_idle`` (one per interval): an idle pool holds
    none. A login that fails on its password is retried once with the secret read again
    (see the module).
    """
    return ConnectionPool(
        lambda: conninfo(settings),
        connection_class=_connection_class(settings),
        min_size=settings.database_pool_min_size,
        max_size=settings.database_pool_max_size,
        max_idle=settings.database_pool_max_idle_seconds,
        timeout=settings.database_pool_timeout_seconds,
        kwargs={"autocommit": True},
        check=ConnectionPool.check_connection,
        reconnect_timeout=settings.database_reconnect_timeout_seconds,
        name="transfers",
        open=False,
    )


def conninfo(settings: Settings) -> str:
    """The current conninfo (a rotating secret is read again when due), with the
    ``application_name`` ``transfers`` unless it names one."""
    current = settings.database_conninfo
    return _named(current() if callable(current) else current)


def _named(text: str) -> str:
    if conninfo_to_dict(text).get("application_name"):
        return text
    return make_conninfo(text, application_name=APPLICATION_NAME)


def connect(settings: Settings, *, timeout_seconds: float | None = None) -> Connection[Any]:
    """One autocommit connection outside the pool, closed by its user (startup, readiness
    checks); ``timeout_seconds`` overrides the conninfo's ``connect_timeout``. A login that
    fails on its password is retried once with the secret read again (see the module)."""
    extra: dict[str, Any] = {}
    if timeout_seconds is not None:
        # libpq's connect_timeout: whole seconds, and 1 is taken as 2.
        extra["connect_timeout"] = max(2, round(timeout_seconds))
    return _connect_with_current_secret(
        settings.database_conninfo,
        conninfo(settings),
        lambda text: Connection.connect(text, autocommit=True, **extra),
    )


def is_authentication_failure(error: psycopg.Error) -> bool:
    """Whether ``error`` is the server refusing a login (a wrong password, typically)."""
    if error.sqlstate in AUTHENTICATION_SQLSTATES:
        return True
    # psycopg gives no SQLSTATE for an error while connecting (error.sqlstate is None: libpq
    # reports it as text only), so the message of a refused password is matched as well.
    return PASSWORD_FAILED_MESSAGE in str(error)


def _connect_with_current_secret(
    source: str | Callable[[], str], text: str, open_connection: Callable[[str], _C]
) -> _C:
    """``open_connection(text)``; if ``source`` is a secret in Secrets Manager and the login
    fails on its password, once more with the secret read again, if that changed it."""
    try:
        return open_connection(text)
    except psycopg.OperationalError as error:
        if not isinstance(source, SecretConninfo) or not is_authentication_failure(error):
            raise
        fresh = _named(source.reread())
        if fresh == text:
            raise
        logger.warning(
            "database login failed on its password, retrying with the password just read"
            " from the secret (rotated?): %s",
            error,
        )
        return open_connection(fresh)


def _connection_class(settings: Settings) -> type[Connection[Any]]:
    """The pool's class of connections: ``Connection``, or for a secret in Secrets Manager
    a subclass whose ``connect`` retries a login refused on its password once with the
    secret read again."""
    source = settings.database_conninfo
    if not isinstance(source, SecretConninfo):
        return Connection

    class SecretConnection(Connection[Any]):
        """A connection whose login follows a just rotated secret."""

        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
            return _connect_with_current_secret(
                source,
                conninfo,
                lambda text: super(SecretConnection, cls).connect(text, **kwargs),
            )

    return SecretConnection


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files of ``directory``, by version; two files of one version are an error."""
    migrations: dict[int, Migration] = {}
    for file in sorted(directory.glob("*.sql")):
        match = _MIGRATION_FILE.fullmatch(file.name)
        if match is None:
            raise MigrationError(f"migration file name {file.name!r} is not NNNN_name.sql")
        version = int(match["version"])
        if version in migrations:
            raise MigrationError(f"two migrations have version {version}")
        migrations[version] = Migration(version, match["name"], file.read_text(encoding="utf-8"))
    return [migrations[version] for version in sorted(migrations)]


def migrate(conn: Connection[Any], migrations: list[Migration] | None = None) -> list[int]:
    """Apply the pending migrations; the versions applied now (none when up to date)."""
    if not conn.autocommit:
        raise MigrationError("migrate() needs an autocommit connection")
    migrations = discover() if migrations is None else migrations
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATIONS_LOCK,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
        applied: dict[int, str] = {int(version): str(checksum) for version, checksum in rows}
        for migration in migrations:
            recorded = applied.get(migration.version)
            if recorded is not None and recorded != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version} ({migration.name}) changed after it was "
                    "applied: add a new migration instead"
                )
        done: list[int] = []
        for migration in migrations:
            if migration.version in applied:
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            logger.info("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration.version)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATIONS_LOCK,))
