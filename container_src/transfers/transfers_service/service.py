"""The service's use cases, without HTTP: what the routes call, and what tests can call.

A write is one transaction: the idempotency claim, the ledger change, the outbox event and
the idempotency record commit together or not at all. Only after the commit is the
balance cache invalidated and the outbox publisher woken.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transfers_service import idempotency, ledger
from transfers_service.cache import BalanceCache
from transfers_service.db import Pool
from transfers_service.events import ContractRegistry

TRANSFER_SCOPE = "POST /transfers"
DEPOSIT_SCOPE = "POST /accounts/{account_id}/deposits"


@dataclass(frozen=True)
class Outcome:
    """The response to a write: status and body, and whether it is a replay."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


class TransfersService:
    """Transfers, deposits and balances over one connection pool."""

    def __init__(
        self,
        pool: Pool,
        registry: ContractRegistry,
        cache: BalanceCache,
        *,
        on_outbox_written: Callable[[], None] = lambda: None,
        health_timeout_seconds: float = 2.0,
    ) -> None:
        self.pool = pool
        self._registry = registry
        self._cache = cache
        self._on_outbox_written = on_outbox_written
        self._health_timeout_seconds = health_timeout_seconds

    def create_transfer(
        self,
        *,
        idempotency_key: str,
        from_account_id: uuid.UUID,
        to_account_id: uuid.UUID,
        amount_minor: int,
        currency: str,
    ) -> Outcome:
        """Transfer between two accounts, once per idempotency key."""
        request = {
            "from_account_id": str(from_account_id),
            "to_account_id": str(to_account_id),
            "amount_minor": amount_minor,
            "currency": currency,
        }
        fingerprint = idempotency.fingerprint(TRANSFER_SCOPE, request)
        with self.pool.connection() as conn, conn.transaction():
            stored = idempotency.claim(
                conn, scope=TRANSFER_SCOPE, key=idempotency_key, request_fingerprint=fingerprint
            )
            if stored is not None:
                return Outcome(stored.status_code, stored.body, replayed=True)
            transfer = ledger.transfer(
                conn,
                from_account_id=from_account_id,
                to_account_id=to_account_id,
                amount_minor=amount_minor,
                currency=currency,
                registry=self._registry,
            )
            response = idempotency.StoredResponse(201, transfer.to_json())
            idempotency.record(
                conn,
                scope=TRANSFER_SCOPE,
                key=idempotency_key,
                request_fingerprint=fingerprint,
                response=response,
                transfer_id=transfer.transfer_id,
            )
        self._cache.invalidate(from_account_id, to_account_id)
        self._on_outbox_written()
        return Outcome(response.status_code, response.body)

    def create_deposit(
        self, *, idempotency_key: str, account_id: uuid.UUID, amount_minor: int, currency: str
    ) -> Outcome:
        """Credit an account from outside the ledger, once per idempotency key."""
        request = {
            "account_id": str(account_id),
            "amount_minor": amount_minor,
            "currency": currency,
        }
        fingerprint = idempotency.fingerprint(DEPOSIT_SCOPE, request)
        with self.pool.connection() as conn, conn.transaction():
            stored = idempotency.claim(
                conn, scope=DEPOSIT_SCOPE, key=idempotency_key, request_fingerprint=fingerprint
            )
            if stored is not None:
                return Outcome(stored.status_code, stored.body, replayed=True)
            deposit = ledger.deposit(
                conn,
                account_id=account_id,
                amount_minor=amount_minor,
                currency=currency,
                registry=self._registry,
            )
            response = idempotency.StoredResponse(201, deposit.to_json())
            idempotency.record(
                conn,
                scope=DEPOSIT_SCOPE,
                key=idempotency_key,
                request_fingerprint=fingerprint,
                response=response,
                transfer_id=deposit.transfer_id,
            )
        self._cache.invalidate(account_id)
        self._on_outbox_written()
        return Outcome(response.status_code, response.body)

    def balance(self, account_id: uuid.UUID) -> ledger.Balance | None:
        """An account's balance: from the cache when there, else the database (then cached)."""
        cached = self._cache.get(account_id)
        if cached is not None:
            return cached
        with self.pool.connection() as conn:
            balance = ledger.get_balance(conn, account_id)
        if balance is not None:
            self._cache.put(balance)
        return balance

    def transfer(self, transfer_id: uuid.UUID) -> ledger.Transfer | None:
        """One transfer or deposit."""
        with self.pool.connection() as conn:
            return ledger.get_transfer(conn, transfer_id)

    def check_database(self) -> None:
        """Raise unless the database answers within the health timeout."""
        with self.pool.connection(timeout=self._health_timeout_seconds) as conn:
            conn.execute("SELECT 1").fetchone()
