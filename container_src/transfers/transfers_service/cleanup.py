"""The nightly cleanup of the ledger database: ``python -m transfers_service.cleanup``.

It runs as a one-off ECS task of the service's image, with the service's environment (the
database comes from the same variables, see ``settings``), and removes what would
otherwise grow forever:

- **idempotency keys** recorded more than ``IDEMPOTENCY_KEY_RETENTION_HOURS`` ago. A key
  is recorded in the transaction of the transfer it protects (see ``idempotency``), so
  there is no row of a request still in progress to spare: a request in flight has no row
  until it commits, and then a fresh one. A retry of a request whose key was removed is a
  new request, so the retention is what the API promises: a retry with the same key is
  answered with the first response for at least this long. Keys recorded before keys had a
  caller (migration 0003; never replayed to anyone) go the same way.
- **outbox rows already published** (``sent_at`` set) more than ``OUTBOX_RETENTION_HOURS``
  ago. An unsent row is never removed, however old: it is an event still owed to the bus.

Tunables (default in brackets; a bad value names its variable and exits with status 2):

- ``IDEMPOTENCY_KEY_RETENTION_HOURS`` [168, a week], 24 to 8760: clients retry within
  minutes or hours (a network failure, a 503), a mobile client perhaps after a night
  offline; a week covers a retry after a long weekend's outage at the price of a small
  row per transfer. Below 24 hours is refused: that is the least the API may promise.
- ``OUTBOX_RETENTION_HOURS`` [168, a week], 1 to 8760: a published event stays queryable
  (``event_id``, ``sns_message_id``) for a week of investigating a consumer's complaint.
- ``CLEANUP_BATCH_SIZE`` [1000], 1 to 10000: rows removed per transaction.

How it stays harmless next to the running service (and another run of itself): the cutoff
of each table is fixed once, from the database's clock, when the run starts; rows are
removed in batches of ``CLEANUP_BATCH_SIZE``, each its own short transaction that locks
only the rows it removes (``FOR UPDATE SKIP LOCKED``: a row another transaction holds is
left for a later run, never waited for); migration 0004's indexes let each batch read only
the rows it removes instead of scanning the table. Running it twice removes nothing the
second time. ``lock_timeout`` and ``statement_timeout`` bound any wait.

It logs JSON lines to stdout: at the end one ``cleanup finished`` line with the counts,
cutoffs and retentions, and exit status 0; on a failure (the database unreachable, a
timeout) one ``cleanup failed`` line with the error and the counts removed until then, and
exit status 1 (2 for a bad setting).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection

from transfers_service.db import connect
from transfers_service.settings import Settings, SettingsError, _int

logger = logging.getLogger("transfers_service.cleanup")

APPLICATION_NAME = "transfers-cleanup"
# Bounds on waiting: a batch never waits for a lock (SKIP LOCKED), but the DELETE of rows
# it locked, or a slow disk, must not hang the job either.
LOCK_TIMEOUT = "5s"
STATEMENT_TIMEOUT = "60s"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SETTINGS = 2
HOURS_PER_YEAR = 8760


@dataclass(frozen=True, kw_only=True)
class CleanupSettings:
    """How long rows are kept, and how many go per transaction."""

    idempotency_key_retention_hours: int = 168
    outbox_retention_hours: int = 168
    batch_size: int = 1000

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CleanupSettings:
        """Read and check the tunables; :class:`SettingsError` names a wrong one."""
        return cls(
            idempotency_key_retention_hours=_int(
                environ, "IDEMPOTENCY_KEY_RETENTION_HOURS", 168, low=24, high=HOURS_PER_YEAR
            ),
            outbox_retention_hours=_int(
                environ, "OUTBOX_RETENTION_HOURS", 168, low=1, high=HOURS_PER_YEAR
            ),
            batch_size=_int(environ, "CLEANUP_BATCH_SIZE", 1000, low=1, high=10000),
        )


@dataclass
class TableReport:
    """What the run did to one table."""

    retention_hours: int
    cutoff: datetime | None = None
    deleted: int = 0
    batches: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "retention_hours": self.retention_hours,
            "cutoff": None if self.cutoff is None else self.cutoff.isoformat(),
            "deleted": self.deleted,
            "batches": self.batches,
        }


@dataclass
class CleanupReport:
    """What the run did (so far, when it failed)."""

    idempotency_keys: TableReport
    outbox: TableReport
    batch_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "idempotency_keys": self.idempotency_keys.to_json(),
            "outbox": self.outbox.to_json(),
            "batch_size": self.batch_size,
        }


# Each statement removes one batch: it locks up to %(limit)s expired rows that no other
# transaction holds (skipping, never waiting for, those it does) and deletes them, checking
# the condition again on the locked rows. The indexes of migration 0004 serve the inner
# SELECT (a range scan from the oldest row, stopping after the limit).
DELETE_IDEMPOTENCY_KEYS = (
    "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY("
    " SELECT ctid FROM idempotency_keys WHERE created_at < %(cutoff)s"
    " ORDER BY created_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED))"
    " AND created_at < %(cutoff)s"
)
DELETE_SENT_OUTBOX_ROWS = (
    "DELETE FROM outbox WHERE id = ANY(ARRAY("
    " SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < %(cutoff)s"
    " ORDER BY sent_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED))"
    " AND sent_at IS NOT NULL AND sent_at < %(cutoff)s"
)


def delete_in_batches(
    conn: Connection[Any], statement: str, cutoff: datetime, batch_size: int, table: TableReport
) -> None:
    """Run ``statement`` (one batch) in transactions of its own until a batch removes
    fewer than ``batch_size`` rows; counts go into ``table`` as they commit."""
    while True:
        with conn.transaction():
            deleted = conn.execute(statement, {"cutoff": cutoff, "limit": batch_size}).rowcount
        table.deleted += deleted
        table.batches += 1
        if deleted < batch_size:
            return


def run_cleanup(
    conn: Connection[Any], settings: CleanupSettings, report: CleanupReport | None = None
) -> CleanupReport:
    """Remove expired idempotency keys and published outbox rows (see the module) over an
    autocommit connection; the report (also filled in as it goes, when given)."""
    if not conn.autocommit:
        raise ValueError("run_cleanup() needs an autocommit connection")
    report = report or new_report(settings)
    conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    row = conn.execute(
        "SELECT now() - make_interval(hours => %s), now() - make_interval(hours => %s)",
        (settings.idempotency_key_retention_hours, settings.outbox_retention_hours),
    ).fetchone()
    assert row is not None
    report.idempotency_keys.cutoff, report.outbox.cutoff = row
    delete_in_batches(
        conn, DELETE_IDEMPOTENCY_KEYS, row[0], settings.batch_size, report.idempotency_keys
    )
    delete_in_batches(conn, DELETE_SENT_OUTBOX_ROWS, row[1], settings.batch_size, report.outbox)
    return report


def new_report(settings: CleanupSettings) -> CleanupReport:
    """An empty report of a run with ``settings``."""
    return CleanupReport(
        idempotency_keys=TableReport(settings.idempotency_key_retention_hours),
        outbox=TableReport(settings.outbox_retention_hours),
        batch_size=settings.batch_size,
    )


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the record's
    ``report``/``error`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created).astimezone().isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("job", "report", "error", "duration_seconds"):
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLineFormatter())
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the cleanup once; the process's exit status (see the module)."""
    del argv  # no options: everything comes from the environment
    environ = os.environ if environ is None else environ
    _configure_logging()
    job = {"job": "transfers-cleanup"}
    try:
        settings = CleanupSettings.from_env(environ)
        database = Settings.from_env(environ)
    except SettingsError as error:
        logger.error("cleanup not started: bad setting", extra={**job, "error": str(error)})
        return EXIT_BAD_SETTINGS
    report = new_report(settings)
    started = time.monotonic()
    try:
        with connect(database) as conn:
            conn.execute("SELECT set_config('application_name', %s, false)", (APPLICATION_NAME,))
            run_cleanup(conn, settings, report)
    except Exception as error:  # the database unreachable, a timeout, ...
        logger.error(
            "cleanup failed",
            exc_info=True,
            extra={
                **job,
                "error": f"{type(error).__name__}: {error}",
                "report": report.to_json(),
                "duration_seconds": round(time.monotonic() - started, 3),
            },
        )
        return EXIT_FAILED
    logger.info(
        "cleanup finished",
        extra={
            **job,
            "report": report.to_json(),
            "duration_seconds": round(time.monotonic() - started, 3),
        },
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
