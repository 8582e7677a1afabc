"""The cleanup job (``python -m transfers_service.cleanup``) against a real PostgreSQL:
what it removes and what it never removes, batches, reruns, concurrency, its report line
and exit status."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import psycopg
import pytest
from transfers_support import Ledger

from tools.test_servers import free_port
from transfers_service import cleanup
from transfers_service.cleanup import CleanupSettings, run_cleanup
from transfers_service.settings import SettingsError

DAY = 24


def _transfer_id(ledger: Ledger) -> uuid.UUID:
    """A transfer (a deposit) that idempotency keys may point at."""
    account = ledger.open_account(balance=100)
    row = ledger.conn.execute(
        "SELECT transfer_id FROM transfers WHERE to_account_id = %s", (account,)
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def add_keys(
    ledger: Ledger, count: int, *, age_hours: float, caller: str | None = "caller", tag: str = ""
) -> None:
    """``count`` idempotency keys recorded ``age_hours`` ago (``caller=None``: keys as
    recorded before keys had callers, which the CHECK, NOT VALID, lets exist)."""
    transfer_id = _transfer_id(ledger)
    if caller is None:
        ledger.conn.execute(
            "ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_name_their_caller"
        )
    ledger.conn.execute(
        "INSERT INTO idempotency_keys (scope, caller_sub, idempotency_key, request_fingerprint,"
        " status_code, response_body, transfer_id, created_at)"
        " SELECT 'POST /transfers', %s, %s || i, 'f', 201, '{}', %s,"
        " now() - make_interval(hours => %s) FROM generate_series(1, %s) i",
        (caller, f"{tag or uuid.uuid4().hex}-", transfer_id, age_hours, count),
    )
    if caller is None:
        ledger.conn.execute(
            "ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_name_their_caller"
            " CHECK (caller_sub IS NOT NULL) NOT VALID"
        )


def add_outbox_rows(
    ledger: Ledger, count: int, *, created_hours_ago: float, sent_hours_ago: float | None
) -> None:
    """``count`` outbox rows written ``created_hours_ago``, published ``sent_hours_ago``
    (None: not yet, still failing)."""
    ledger.conn.execute(
        "INSERT INTO outbox (event_id, event_type, event_version, message, created_at,"
        " attempts, next_attempt_at, sent_at, last_error)"
        " SELECT gen_random_uuid(), 'TransferCompleted', 1, '{}',"
        " now() - make_interval(hours => %(created)s), 1, now(),"
        " now() - make_interval(hours => %(sent)s), CASE WHEN %(sent)s IS NULL THEN 'down' END"
        " FROM generate_series(1, %(count)s)",
        {"created": created_hours_ago, "sent": sent_hours_ago, "count": count},
    )


def keys_left(ledger: Ledger) -> list[tuple[Any, ...]]:
    return ledger.conn.execute(
        "SELECT caller_sub, round(extract(epoch FROM now() - created_at) / 3600)::int, count(*)"
        " FROM idempotency_keys GROUP BY 1, 2 ORDER BY 2"
    ).fetchall()


def outbox_left(ledger: Ledger) -> list[tuple[Any, ...]]:
    """(sent?, age of creation in hours, count) of the outbox rows left."""
    return ledger.conn.execute(
        "SELECT sent_at IS NOT NULL, round(extract(epoch FROM now() - created_at) / 3600)::int,"
        " count(*) FROM outbox GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()


def clean(database_url: str, **settings: int) -> cleanup.CleanupReport:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return run_cleanup(conn, CleanupSettings(**settings))


def test_expired_keys_go_fresh_ones_stay(ledger: Ledger, database_url: str) -> None:
    ledger.conn.execute("DELETE FROM outbox")  # the deposits' events: not this test's
    add_keys(ledger, 3, age_hours=7 * DAY + 1)
    add_keys(ledger, 2, age_hours=400 * DAY, caller=None)  # legacy keys, never replayed
    add_keys(ledger, 4, age_hours=7 * DAY - 1)
    add_keys(ledger, 5, age_hours=0)

    report = clean(database_url)

    assert keys_left(ledger) == [("caller", 0, 5), ("caller", 7 * DAY - 1, 4)]
    assert report.idempotency_keys.deleted == 5
    assert report.idempotency_keys.retention_hours == 7 * DAY
    assert report.outbox.deleted == 0


def test_the_key_retention_is_configurable(ledger: Ledger, database_url: str) -> None:
    add_keys(ledger, 3, age_hours=25)
    add_keys(ledger, 2, age_hours=23)

    report = clean(database_url, idempotency_key_retention_hours=24)

    assert keys_left(ledger) == [("caller", 23, 2)]
    assert report.idempotency_keys.deleted == 3


def test_only_rows_published_before_the_retention_leave_the_outbox(
    ledger: Ledger, database_url: str
) -> None:
    ledger.conn.execute("DELETE FROM outbox")
    add_outbox_rows(ledger, 3, created_hours_ago=500, sent_hours_ago=169)  # gone
    add_outbox_rows(ledger, 2, created_hours_ago=300, sent_hours_ago=167)  # sent late: stays
    add_outbox_rows(ledger, 4, created_hours_ago=900, sent_hours_ago=None)  # owed: stays
    add_outbox_rows(ledger, 1, created_hours_ago=0, sent_hours_ago=None)

    report = clean(database_url)

    assert outbox_left(ledger) == [(False, 0, 1), (False, 900, 4), (True, 300, 2)]
    assert report.outbox.deleted == 3
    assert report.outbox.retention_hours == 168


def test_the_outbox_retention_is_configurable(ledger: Ledger, database_url: str) -> None:
    ledger.conn.execute("DELETE FROM outbox")
    add_outbox_rows(ledger, 2, created_hours_ago=3, sent_hours_ago=2)
    add_outbox_rows(ledger, 1, created_hours_ago=1, sent_hours_ago=0)

    report = clean(database_url, outbox_retention_hours=1)

    assert outbox_left(ledger) == [(True, 1, 1)]
    assert report.outbox.deleted == 2


def test_it_works_in_batches_and_a_rerun_removes_nothing(ledger: Ledger, database_url: str) -> None:
    add_keys(ledger, 2500, age_hours=200)
    add_keys(ledger, 10, age_hours=1)
    ledger.conn.execute("DELETE FROM outbox")  # the deposits' events: not this test's
    add_outbox_rows(ledger, 2000, created_hours_ago=300, sent_hours_ago=200)
    add_outbox_rows(ledger, 7, created_hours_ago=300, sent_hours_ago=None)

    first = clean(database_url, batch_size=1000)
    second = clean(database_url, batch_size=1000)

    # 1000 + 1000 + 500; 1000 + 1000 + an empty batch that says there is no more.
    assert (first.idempotency_keys.deleted, first.idempotency_keys.batches) == (2500, 3)
    assert (first.outbox.deleted, first.outbox.batches) == (2000, 3)
    assert (second.idempotency_keys.deleted, second.idempotency_keys.batches) == (0, 1)
    assert (second.outbox.deleted, second.outbox.batches) == (0, 1)
    assert ledger.count("idempotency_keys") == 10
    assert outbox_left(ledger) == [(False, 300, 7)]


def test_each_batch_commits_on_its_own(ledger: Ledger, database_url: str) -> None:
    """A batch's rows are gone (committed) before the next batch runs: a failure part-way
    keeps what was done, and no transaction holds more than a batch of rows."""
    add_keys(ledger, 30, age_hours=200)
    seen: list[int] = []
    original = cleanup.delete_in_batches

    def watching(conn: Any, statement: str, *args: Any) -> None:
        class Watch:
            def __getattr__(self, name: str) -> Any:
                return getattr(conn, name)

            def transaction(self) -> Any:
                seen.append(ledger.count("idempotency_keys"))
                return conn.transaction()

        original(Watch(), statement, *args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cleanup, "delete_in_batches", watching)
        clean(database_url, batch_size=10)

    # Seen from another connection before each batch of the keys' pass.
    assert seen[:4] == [30, 20, 10, 0]


def test_rows_another_transaction_holds_are_skipped_not_waited_for(
    ledger: Ledger, database_url: str
) -> None:
    add_keys(ledger, 5, age_hours=200, tag="k")
    ledger.conn.execute("DELETE FROM outbox")
    add_outbox_rows(ledger, 5, created_hours_ago=300, sent_hours_ago=200)
    with psycopg.connect(database_url) as holder:  # a transaction open until the end
        holder.execute("SELECT 1 FROM idempotency_keys WHERE idempotency_key = 'k-1' FOR UPDATE")
        holder.execute("SELECT 1 FROM outbox WHERE id = (SELECT min(id) FROM outbox) FOR UPDATE")
        started = time.monotonic()
        report = clean(database_url)
        elapsed = time.monotonic() - started
        holder.rollback()

    assert elapsed < 2, "the cleanup waited for a lock"
    assert (report.idempotency_keys.deleted, report.outbox.deleted) == (4, 4)
    assert ledger.conn.execute("SELECT idempotency_key FROM idempotency_keys").fetchall() == [
        ("k-1",)
    ]
    assert ledger.count("outbox") == 1
    # The next run takes what was held.
    assert clean(database_url).idempotency_keys.deleted == 1


def test_two_runs_at_once_share_the_work(ledger: Ledger, database_url: str) -> None:
    add_keys(ledger, 3000, age_hours=200)
    ledger.conn.execute("DELETE FROM outbox")
    add_outbox_rows(ledger, 3000, created_hours_ago=300, sent_hours_ago=200)
    reports: list[cleanup.CleanupReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                start.wait()
                reports.append(run_cleanup(conn, CleanupSettings(batch_size=100)))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(r.idempotency_keys.deleted for r in reports) == 3000
    assert sum(r.outbox.deleted for r in reports) == 3000
    assert ledger.counts()["idempotency_keys"] == ledger.counts()["outbox"] == 0


def test_the_ledger_itself_is_untouched(ledger: Ledger, database_url: str) -> None:
    add_keys(ledger, 3, age_hours=200)
    before = ledger.counts()

    clean(database_url, outbox_retention_hours=1)

    after = ledger.counts()
    assert after == {**before, "idempotency_keys": 0}
    ledger.assert_consistent()  # the deposits' events are unsent: still there


@pytest.mark.parametrize(
    ("table", "index", "statement"),
    [
        (
            "idempotency_keys",
            "idempotency_keys_by_created_at",
            cleanup.DELETE_IDEMPOTENCY_KEYS,
        ),
        ("outbox", "outbox_sent_by_sent_at", cleanup.DELETE_SENT_OUTBOX_ROWS),
    ],
)
def test_a_batch_reads_an_index_not_the_whole_table(
    ledger: Ledger, database_url: str, table: str, index: str, statement: str
) -> None:
    """With sequential scans priced out, the plan uses the index migration 0004 made for
    the batch's query (were there none, it would still be a Seq Scan)."""
    add_keys(ledger, 50, age_hours=200)
    add_outbox_rows(ledger, 50, created_hours_ago=300, sent_hours_ago=200)
    ledger.conn.execute(f"ANALYZE {table}")
    with ledger.conn.transaction():
        ledger.conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            str(row[0])
            for row in ledger.conn.execute(
                f"EXPLAIN {statement}",
                {"cutoff": "2100-01-01T00:00:00Z", "limit": 1000},
            ).fetchall()
        )
    assert f"Index Scan using {index} on {table}" in plan, plan
    assert "Seq Scan" not in plan, plan


def _report_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_main_logs_one_json_report_and_exits_0(
    ledger: Ledger, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    add_keys(ledger, 3, age_hours=30)
    ledger.conn.execute("DELETE FROM outbox")
    add_outbox_rows(ledger, 2, created_hours_ago=10, sent_hours_ago=5)

    status = cleanup.main(
        [],
        {
            "DATABASE_URL": database_url,
            "IDEMPOTENCY_KEY_RETENTION_HOURS": "24",
            "OUTBOX_RETENTION_HOURS": "4",
            "CLEANUP_BATCH_SIZE": "2",
        },
    )

    assert status == 0
    [line] = _report_lines(capsys)
    assert line["message"] == "cleanup finished"
    assert line["level"] == "INFO"
    assert line["job"] == "transfers-cleanup"
    report = line["report"]
    assert report["batch_size"] == 2
    assert {k: v for k, v in report["idempotency_keys"].items() if k != "cutoff"} == {
        "retention_hours": 24,
        "deleted": 3,
        "batches": 2,
    }
    assert {k: v for k, v in report["outbox"].items() if k != "cutoff"} == {
        "retention_hours": 4,
        "deleted": 2,
        "batches": 2,
    }
    assert report["idempotency_keys"]["cutoff"] < report["outbox"]["cutoff"]


def test_main_fails_with_status_1_when_the_database_is_unreachable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=2"

    status = cleanup.main([], {"DATABASE_URL": url})

    assert status == 1
    [line] = _report_lines(capsys)
    assert line["message"] == "cleanup failed"
    assert line["level"] == "ERROR"
    assert line["error"].startswith("OperationalError:")
    assert line["report"]["idempotency_keys"]["deleted"] == 0
    assert "exception" in line


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"IDEMPOTENCY_KEY_RETENTION_HOURS": "23"}, "IDEMPOTENCY_KEY_RETENTION_HOURS"),
        ({"IDEMPOTENCY_KEY_RETENTION_HOURS": "a day"}, "IDEMPOTENCY_KEY_RETENTION_HOURS"),
        ({"OUTBOX_RETENTION_HOURS": "0"}, "OUTBOX_RETENTION_HOURS"),
        ({"OUTBOX_RETENTION_HOURS": "99999"}, "OUTBOX_RETENTION_HOURS"),
        ({"CLEANUP_BATCH_SIZE": "0"}, "CLEANUP_BATCH_SIZE"),
        ({"CLEANUP_BATCH_SIZE": "1.5"}, "CLEANUP_BATCH_SIZE"),
    ],
)
def test_bad_settings_are_named_and_exit_2(
    environ: dict[str, str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SettingsError, match=named):
        CleanupSettings.from_env(environ)

    status = cleanup.main([], {"DATABASE_URL": "postgresql://nowhere/db", **environ})

    assert status == 2
    [line] = _report_lines(capsys)
    assert line["message"] == "cleanup not started: bad setting"
    assert named in line["error"]


def test_without_a_database_setting_it_does_not_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cleanup.main([], {}) == 2
    [line] = _report_lines(capsys)
    assert "DATABASE_SECRET_ARN" in line["error"]


def test_the_defaults_keep_keys_and_events_a_week() -> None:
    assert CleanupSettings.from_env({}) == CleanupSettings(
        idempotency_key_retention_hours=168, outbox_retention_hours=168, batch_size=1000
    )
