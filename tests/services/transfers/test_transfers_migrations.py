"""Schema migrations: in order, once, under a lock; and the ledger's own constraints."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from transfers_support import Ledger

from transfers_service import idempotency
from transfers_service.db import MigrationError, discover, migrate


def test_migrations_apply_once_and_are_recorded(blank_database_url: str) -> None:
    with psycopg.connect(blank_database_url, autocommit=True) as conn:
        first = migrate(conn)
        second = migrate(conn)
        recorded = conn.execute(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
        ).fetchall()

    versions = [migration.version for migration in discover()]
    assert first == versions
    assert versions[0] == 1
    assert second == []
    assert recorded == [(m.version, m.name, m.checksum) for m in discover()]


def test_concurrent_startups_apply_each_migration_once(blank_database_url: str) -> None:
    applied: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            with psycopg.connect(blank_database_url, autocommit=True) as conn:
                start.wait()
                applied.append(migrate(conn))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(applied, key=len) == [[], [], [], [m.version for m in discover()]]


def test_new_migrations_apply_in_order_and_a_changed_one_stops_startup(
    blank_database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0002_second.sql").write_text("CREATE TABLE second (id int);")
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE first (id int);")
    (tmp_path / "0010_third.sql").write_text("ALTER TABLE second ADD COLUMN note text;")
    with psycopg.connect(blank_database_url, autocommit=True) as conn:
        assert migrate(conn, discover(tmp_path)) == [1, 2, 10]

        (tmp_path / "0002_second.sql").write_text("CREATE TABLE second (id bigint);")
        with pytest.raises(MigrationError, match=r"migration 2 .* changed"):
            migrate(conn, discover(tmp_path))


def test_a_failing_migration_leaves_nothing_of_itself(
    blank_database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (id int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half (id int); SELECT 1/0;")
    with psycopg.connect(blank_database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            migrate(conn, discover(tmp_path))
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [(1,)]
        assert conn.execute("SELECT to_regclass('half')").fetchone() == (None,)


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "0001_Upper.sql"])
def test_badly_named_migration_files_are_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        discover(tmp_path)


def test_the_database_refuses_an_overdrawn_customer_account(ledger: Ledger) -> None:
    account = ledger.open_account(balance=10)
    with pytest.raises(psycopg.errors.CheckViolation, match="accounts_never_overdrawn"):
        ledger.conn.execute(
            "UPDATE accounts SET balance_minor = -1 WHERE account_id = %s", (account,)
        )


def test_the_database_refuses_entries_that_do_not_sum_to_zero(ledger: Ledger) -> None:
    alice, bob = ledger.open_account(balance=100), ledger.open_account()
    transfer_id = uuid.uuid4()

    def write_unbalanced_entries() -> None:
        with ledger.conn.transaction():
            ledger.conn.execute(
                "INSERT INTO transfers (transfer_id, kind, from_account_id, to_account_id,"
                " amount_minor, currency) VALUES (%s, 'transfer', %s, %s, 5, 'EUR')",
                (transfer_id, alice, bob),
            )
            ledger.conn.execute(
                "INSERT INTO ledger_entries (transfer_id, account_id, amount_minor, currency)"
                " VALUES (%s, %s, -5, 'EUR'), (%s, %s, 4, 'EUR')",
                (transfer_id, alice, transfer_id, bob),
            )

    with pytest.raises(psycopg.errors.CheckViolation, match="do not sum to zero"):
        write_unbalanced_entries()
    assert ledger.conn.execute(
        "SELECT count(*) FROM transfers WHERE transfer_id = %s", (transfer_id,)
    ).fetchone() == (0,)


def test_ledger_entries_are_append_only(ledger: Ledger) -> None:
    ledger.open_account(balance=100)
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        ledger.conn.execute("UPDATE ledger_entries SET amount_minor = amount_minor * 2")
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        ledger.conn.execute("DELETE FROM ledger_entries")


def test_an_owner_once_set_never_changes(ledger: Ledger) -> None:
    owned, unowned = ledger.open_account(owner="owner-a"), ledger.open_account(owner=None)

    for new_owner in ("owner-b", None):
        with pytest.raises(psycopg.errors.RestrictViolation, match="never changes"):
            ledger.conn.execute(
                "UPDATE accounts SET owner_sub = %s WHERE account_id = %s", (new_owner, owned)
            )
    ledger.conn.execute(
        "UPDATE accounts SET owner_sub = 'owner-c' WHERE account_id = %s", (unowned,)
    )

    assert (ledger.owner(owned), ledger.owner(unowned)) == ("owner-a", "owner-c")


def test_funding_accounts_have_no_owner_and_owners_are_1_to_128_characters(
    ledger: Ledger,
) -> None:
    ledger.open_account(balance=10)  # creates the EUR funding account
    with pytest.raises(psycopg.errors.CheckViolation, match="accounts_funding_has_no_owner"):
        ledger.conn.execute("UPDATE accounts SET owner_sub = 'x' WHERE kind = 'funding'")
    for owner in ("", "x" * 129):
        with pytest.raises(psycopg.errors.CheckViolation, match="accounts_owner_sub_length"):
            ledger.open_account(owner=owner)


def test_accounts_recorded_before_owners_were_have_none(blank_database_url: str) -> None:
    [first, *later] = discover()
    account_id = uuid.uuid4()
    with psycopg.connect(blank_database_url, autocommit=True) as conn:
        migrate(conn, [first])
        conn.execute(
            "INSERT INTO accounts (account_id, kind, currency) VALUES (%s, 'customer', 'EUR'),"
            " (%s, 'funding', 'EUR')",
            (account_id, uuid.uuid4()),
        )

        assert migrate(conn) == [migration.version for migration in later]

        owners = conn.execute("SELECT kind, owner_sub FROM accounts ORDER BY kind").fetchall()
    assert owners == [("customer", None), ("funding", None)]


def test_idempotency_keys_recorded_before_callers_were_are_never_replayed(
    blank_database_url: str,
) -> None:
    migrations = discover()
    before = [m for m in migrations if m.name != "idempotency_keys_per_caller"]
    assert len(before) == len(migrations) - 1
    source, target, transfer_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    scope, key = "POST /transfers", "legacy-key"
    with psycopg.connect(blank_database_url, autocommit=True) as conn:
        migrate(conn, before)
        conn.execute(
            "INSERT INTO accounts (account_id, currency) VALUES (%s, 'EUR'), (%s, 'EUR')",
            (source, target),
        )
        conn.execute(
            "INSERT INTO transfers (transfer_id, kind, from_account_id, to_account_id,"
            " amount_minor, currency) VALUES (%s, 'transfer', %s, %s, 1, 'EUR')",
            (transfer_id, source, target),
        )
        conn.execute(
            "INSERT INTO idempotency_keys (scope, idempotency_key, request_fingerprint,"
            " status_code, response_body, transfer_id) VALUES (%s, %s, 'f', 201, '{}', %s)",
            (scope, key, transfer_id),
        )

        migrate(conn)

        assert conn.execute("SELECT caller_sub FROM idempotency_keys").fetchall() == [(None,)]
        with conn.transaction():
            for caller in ("any-caller", ""):
                assert (
                    idempotency.claim(
                        conn, scope=scope, caller_sub=caller, key=key, request_fingerprint="f"
                    )
                    is None
                )
        # A key recorded from now on names its caller.
        with pytest.raises(psycopg.errors.CheckViolation, match="name_their_caller"):
            conn.execute(
                "INSERT INTO idempotency_keys (scope, idempotency_key, request_fingerprint,"
                " status_code, response_body, transfer_id) VALUES (%s, 'new', 'f', 201, '{}', %s)",
                (scope, transfer_id),
            )
