"""The connection pool and the schema migrations.

The pool keeps no connection open while the service is idle (``database_pool_min_size`` 0,
unused connections closed after ``database_pool_max_idle_seconds``), so that Aurora
Serverless v2 at 0 ACU can pause. Every connection names itself ``application_name``
``transfers`` unless its conninfo names it otherwise.

Migrations are the numbered files ``migrations/NNNN_name.sql``, applied in order, each in
its own transaction, under a PostgreSQL advisory lock (so tasks starting together apply
each one once), and recorded with a checksum in ``schema_migrations``. Running them again
does nothing; an applied file that changed afterwards stops startup.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import Connection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from transfers_service.settings import Settings

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# pg_advisory_lock key of the migrations: "transfer" in ASCII, as a bigint.
MIGRATIONS_LOCK = int.from_bytes(b"transfer", "big")
_MIGRATION_FILE = re.compile(r"(?P<version>[0-9]{4})_(?P<name>[a-z0-9_]+)\.sql")

Pool = ConnectionPool[Connection[Any]]
APPLICATION_NAME = "transfers"


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
    none.
    """
    return ConnectionPool(
        lambda: conninfo(settings),
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
    text = current() if callable(current) else current
    if conninfo_to_dict(text).get("application_name"):
        return text
    return make_conninfo(text, application_name=APPLICATION_NAME)


def connect(settings: Settings, *, timeout_seconds: float | None = None) -> Connection[Any]:
    """One autocommit connection outside the pool, closed by its user (startup, readiness
    checks); ``timeout_seconds`` overrides the conninfo's ``connect_timeout``."""
    extra: dict[str, Any] = {}
    if timeout_seconds is not None:
        # libpq's connect_timeout: whole seconds, and 1 is taken as 2.
        extra["connect_timeout"] = max(2, round(timeout_seconds))
    return Connection.connect(conninfo(settings), autocommit=True, **extra)


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
