"""Helpers of the transfers service tests: the app under uvicorn in a thread, direct SQL
on the ledger (arranging accounts, checking invariants), and AccountOpened events.

Requests carry the caller header API Gateway sets (``X-Caller-Sub``), by default of
:data:`CALLER`, who owns the accounts :meth:`Ledger.open_account` opens unless told
otherwise; ``caller=None`` sends no such header."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import uvicorn

from transfers_service import ledger
from transfers_service.app import Runtime, create_app
from transfers_service.events import ContractRegistry
from transfers_service.settings import Settings

OPENED_AT = "2026-01-05T09:30:00.000000Z"
# The header API Gateway overwrites with the verified token's sub (spelled out here, not
# imported: it is the contract with the edge).
CALLER_HEADER = "X-Caller-Sub"
# Cognito subs are UUIDs: the default caller, and others.
CALLER = "0c5b7a4e-1111-4c2b-9d8e-0a1b2c3d4e5f"
OTHER_CALLER = "7d2e9f10-2222-4a6b-8c1d-5e6f7a8b9c0d"


def caller_headers(caller: str | None = CALLER) -> dict[str, str]:
    """The header that says who calls (none for ``None``)."""
    return {} if caller is None else {CALLER_HEADER: caller}


def wait_for(
    condition: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class ServiceServer:
    """The app from ``create_app`` served by uvicorn on a free loopback port, in a thread.

    The listening socket is bound before the server starts; ``start`` returns once uvicorn
    serves and, unless ``ready=False``, the app is ready (``/health`` answers 200: the
    database reached and migrated).
    """

    def __init__(self, settings: Settings, **runtime_options: Any) -> None:
        self.runtime = Runtime(settings, **runtime_options)
        self.app = create_app(runtime=self.runtime)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, lifespan="on", log_level="warning", timeout_graceful_shutdown=5
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self, *, ready: bool = True) -> None:
        self._thread.start()
        wait_for(
            lambda: self.server.started or not self._thread.is_alive(),
            timeout=30,
            what="uvicorn to start",
        )
        if not self.server.started:
            raise RuntimeError("the app did not start (see the log above)")
        if ready:
            wait_for(lambda: self.get("/health").status_code == 200, timeout=30, what="ready")

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()
        assert not self._thread.is_alive(), "uvicorn did not stop"

    def client(self, caller: str | None = CALLER) -> httpx.Client:
        """A client whose requests come from ``caller`` (``None``: no caller header)."""
        return httpx.Client(base_url=self.base_url, timeout=30, headers=caller_headers(caller))

    def post(
        self,
        path: str,
        body: Any,
        *,
        key: str | None = None,
        caller: str | None = CALLER,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {} if key is None else {"Idempotency-Key": key}
        headers.update(kwargs.pop("headers", None) or {})
        with self.client(caller) as client:
            return client.post(path, json=body, headers=headers, **kwargs)

    def get(self, path: str, *, caller: str | None = CALLER) -> httpx.Response:
        with self.client(caller) as client:
            return client.get(path)

    def transfer(
        self,
        from_account: uuid.UUID,
        to_account: uuid.UUID,
        amount_minor: int,
        *,
        currency: str = "EUR",
        key: str | None = None,
        caller: str | None = CALLER,
    ) -> httpx.Response:
        return self.post(
            "/transfers",
            {
                "from_account_id": str(from_account),
                "to_account_id": str(to_account),
                "amount_minor": amount_minor,
                "currency": currency,
            },
            key=key or str(uuid.uuid4()),
            caller=caller,
        )

    def deposit(
        self,
        account: uuid.UUID,
        amount_minor: int,
        *,
        currency: str = "EUR",
        key: str | None = None,
        caller: str | None = CALLER,
    ) -> httpx.Response:
        return self.post(
            f"/transfers/accounts/{account}/deposits",
            {"amount_minor": amount_minor, "currency": currency},
            key=key or str(uuid.uuid4()),
            caller=caller,
        )

    def balance(self, account: uuid.UUID, *, caller: str | None = CALLER) -> int:
        response = self.get(f"/transfers/accounts/{account}/balance", caller=caller)
        assert response.status_code == 200, response.text
        return int(response.json()["balance_minor"])


@dataclass
class Ledger:
    """Direct SQL on the test's database (autocommit)."""

    conn: psycopg.Connection[Any]
    registry: ContractRegistry

    def open_account(
        self, currency: str = "EUR", *, balance: int = 0, owner: str | None = CALLER
    ) -> uuid.UUID:
        """An account of ``owner`` as AccountOpened makes it, funded by a deposit of
        ``balance`` (which, like every deposit, queues its DepositCompleted event).

        ``owner=None``: an account as recorded before accounts had owners (owned by nobody,
        so no deposit can fund it: transfer to it instead).
        """
        account_id = uuid.uuid4()
        if owner is None:
            if balance:
                raise ValueError("an account without an owner cannot be funded by a deposit")
            self.conn.execute(
                "INSERT INTO accounts (account_id, kind, currency, opened_at, opened_event_id)"
                " VALUES (%s, 'customer', %s, %s, %s)",
                (account_id, currency, OPENED_AT, uuid.uuid4()),
            )
            return account_id
        with self.conn.transaction():
            ledger.open_account(
                self.conn,
                account_id=account_id,
                owner_sub=owner,
                currency=currency,
                opened_at=OPENED_AT,
                event_id=uuid.uuid4(),
            )
            if balance:
                ledger.deposit(
                    self.conn,
                    caller_sub=owner,
                    account_id=account_id,
                    amount_minor=balance,
                    currency=currency,
                    registry=self.registry,
                )
        return account_id

    def owner(self, account_id: uuid.UUID) -> str | None:
        row = self.conn.execute(
            "SELECT owner_sub FROM accounts WHERE account_id = %s", (account_id,)
        ).fetchone()
        assert row is not None, f"no account {account_id}"
        return None if row[0] is None else str(row[0])

    def balance(self, account_id: uuid.UUID) -> int:
        row = self.conn.execute(
            "SELECT balance_minor FROM accounts WHERE account_id = %s", (account_id,)
        ).fetchone()
        assert row is not None, f"no account {account_id}"
        return int(row[0])

    def count(self, table: str) -> int:
        row = self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])

    def counts(self) -> dict[str, int]:
        tables = ("accounts", "transfers", "ledger_entries", "outbox", "idempotency_keys")
        return {table: self.count(table) for table in tables}

    def outbox(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The outbox rows in order, all or those of one ``event_type``."""
        rows = self.conn.execute(
            "SELECT event_id, event_type, message, attempts, sent_at, sns_message_id, last_error"
            " FROM outbox WHERE %(event_type)s::text IS NULL OR event_type = %(event_type)s"
            " ORDER BY id",
            {"event_type": event_type},
        ).fetchall()
        keys = (
            "event_id",
            "event_type",
            "message",
            "attempts",
            "sent_at",
            "sns_message_id",
            "last_error",
        )
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def assert_consistent(self) -> None:
        """The ledger's invariants: entries of each transfer sum to zero (one debit, one
        credit), every balance is the sum of its entries, no customer account below zero,
        no account's running balance ever went below zero (entries in commit order), and
        every transfer and deposit has exactly one event in the outbox, of its kind, and
        every event there announces one of them."""
        unbalanced = self.conn.execute(
            "SELECT t.transfer_id FROM transfers t JOIN ledger_entries e USING (transfer_id)"
            " GROUP BY t.transfer_id, t.amount_minor"
            " HAVING sum(e.amount_minor) <> 0 OR count(*) <> 2"
            " OR max(e.amount_minor) <> t.amount_minor"
        ).fetchall()
        assert unbalanced == []
        orphans = self.conn.execute(
            "SELECT transfer_id FROM transfers t WHERE NOT EXISTS"
            " (SELECT 1 FROM ledger_entries e WHERE e.transfer_id = t.transfer_id)"
        ).fetchall()
        assert orphans == []
        drifted = self.conn.execute(
            "SELECT a.account_id, a.balance_minor, coalesce(sum(e.amount_minor), 0)"
            " FROM accounts a LEFT JOIN ledger_entries e USING (account_id)"
            " GROUP BY a.account_id HAVING a.balance_minor <> coalesce(sum(e.amount_minor), 0)"
        ).fetchall()
        assert drifted == []
        went_negative = self.conn.execute(
            "SELECT account_id, running FROM ("
            "  SELECT e.account_id, sum(e.amount_minor) OVER"
            "   (PARTITION BY e.account_id ORDER BY e.entry_id) AS running"
            "  FROM ledger_entries e JOIN accounts a USING (account_id)"
            "  WHERE a.kind = 'customer') r WHERE running < 0"
        ).fetchall()
        assert went_negative == []
        announced = (
            "SELECT t.transfer_id, t.kind, o.event_id FROM transfers t {join} outbox o"
            " ON o.event_type = CASE t.kind WHEN 'transfer' THEN 'TransferCompleted'"
            " WHEN 'deposit' THEN 'DepositCompleted' END"
            " AND t.transfer_id = (o.message::json -> 'data' ->> CASE o.event_type"
            " WHEN 'DepositCompleted' THEN 'deposit_id' ELSE 'transfer_id' END)::uuid"
        )
        events_without_transfer = self.conn.execute(
            f"SELECT event_id, event_type FROM outbox WHERE event_id NOT IN"
            f" (SELECT event_id FROM ({announced.format(join='JOIN')}) a)"
        ).fetchall()
        assert events_without_transfer == []
        unannounced = self.conn.execute(
            f"SELECT transfer_id, kind, count(event_id) FROM"
            f" ({announced.format(join='LEFT JOIN')}) a"
            f" GROUP BY transfer_id, kind HAVING count(event_id) <> 1"
        ).fetchall()
        assert unannounced == []


def account_opened(
    account_id: uuid.UUID | None = None,
    *,
    currency: str = "EUR",
    event_id: uuid.UUID | None = None,
    owner: str = CALLER,
) -> dict[str, Any]:
    """A valid AccountOpened v1 envelope."""
    return {
        "event_id": str(event_id or uuid.uuid4()),
        "event_type": "AccountOpened",
        "event_version": 1,
        "occurred_at": OPENED_AT,
        "data": {
            "account_id": str(account_id or uuid.uuid4()),
            "owner_sub": owner,
            "currency": currency,
            "opened_at": OPENED_AT,
        },
    }


def body(event: dict[str, Any]) -> str:
    return json.dumps(event)
