"""The service's use cases, without HTTP: what the routes call, and what tests can call.

Each use case acts for one caller (``caller_sub``, the ``X-Caller-Sub`` of the request) and
serves only what that caller owns (see ``ledger``): the check of a write is made in the
write's transaction, on the rows it locked.

A write is one transaction: the idempotency claim, the ledger change, the outbox event and
the idempotency record commit together or not at all. When the connection is lost while
that transaction commits, nobody can tell whether it did: the write raises
:class:`OutcomeUnknownError` (the API's 503 ``outcome_unknown``) instead of the usual
"nothing was written"; the same request with the same key tells the caller which it was.
The balance cache fences the accounts a write touches before it and drops their entries
after it, whatever its end (see ``cache``). Only after the commit is the outbox publisher
woken (``on_outbox_written``). Every write that adds to the outbox, transfer or deposit,
goes through ``_move_once`` and so wakes the publisher; a replayed request writes nothing
and wakes nothing. The publisher relies on it: it does not poll the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import Connection

from transfers_service import idempotency, ledger
from transfers_service.cache import BalanceCache
from transfers_service.db import Pool
from transfers_service.events import ContractRegistry

TRANSFER_SCOPE = "POST /transfers"
DEPOSIT_SCOPE = "POST /transfers/accounts/{account_id}/deposits"


class OutcomeUnknownError(Exception):
    """The connection failed while a write was committing: it may have committed or not.
    Retrying the request with its Idempotency-Key answers which (the first answer, or a new
    write)."""


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
    ) -> None:
        self.pool = pool
        self._registry = registry
        self._cache = cache
        self._on_outbox_written = on_outbox_written

    def create_transfer(
        self,
        *,
        caller_sub: str,
        idempotency_key: str,
        from_account_id: uuid.UUID,
        to_account_id: uuid.UUID,
        amount_minor: int,
        currency: str,
        correlation_id: str | None = None,
    ) -> Outcome:
        """Transfer from an account of the caller's to any account, once per idempotency key;
        its event is queued with ``correlation_id`` (the request's)."""
        request = {
            "from_account_id": str(from_account_id),
            "to_account_id": str(to_account_id),
            "amount_minor": amount_minor,
            "currency": currency,
        }
        return self._move_once(
            scope=TRANSFER_SCOPE,
            caller_sub=caller_sub,
            idempotency_key=idempotency_key,
            request=request,
            move=lambda conn: ledger.transfer(
                conn,
                caller_sub=caller_sub,
                from_account_id=from_account_id,
                to_account_id=to_account_id,
                amount_minor=amount_minor,
                currency=currency,
                registry=self._registry,
                correlation_id=correlation_id,
            ),
            touched=(from_account_id, to_account_id),
        )

    def create_deposit(
        self,
        *,
        caller_sub: str,
        idempotency_key: str,
        account_id: uuid.UUID,
        amount_minor: int,
        currency: str,
        correlation_id: str | None = None,
    ) -> Outcome:
        """Credit an account of the caller's from outside the ledger, once per idempotency
        key; its event is queued with ``correlation_id`` (the request's)."""
        request = {
            "account_id": str(account_id),
            "amount_minor": amount_minor,
            "currency": currency,
        }
        return self._move_once(
            scope=DEPOSIT_SCOPE,
            caller_sub=caller_sub,
            idempotency_key=idempotency_key,
            request=request,
            move=lambda conn: ledger.deposit(
                conn,
                caller_sub=caller_sub,
                account_id=account_id,
                amount_minor=amount_minor,
                currency=currency,
                registry=self._registry,
                correlation_id=correlation_id,
            ),
            touched=(account_id,),
        )

    def _move_once(
        self,
        *,
        scope: str,
        caller_sub: str,
        idempotency_key: str,
        request: dict[str, Any],
        move: Callable[[Connection[Any]], ledger.Transfer],
        touched: tuple[uuid.UUID, ...],
    ) -> Outcome:
        """Run ``move`` and record its response under the caller's key, in one transaction;
        a key the caller used before returns its first response instead (a different
        request: an error)."""
        fingerprint = idempotency.fingerprint(scope, request)
        committing = False
        self._cache.begin_write(*touched)
        try:
            with self.pool.connection() as conn, conn.transaction():
                stored = idempotency.claim(
                    conn,
                    scope=scope,
                    caller_sub=caller_sub,
                    key=idempotency_key,
                    request_fingerprint=fingerprint,
                )
                if stored is not None:
                    return Outcome(stored.status_code, stored.body, replayed=True)
                moved = move(conn)
                response = idempotency.StoredResponse(201, moved.to_json())
                idempotency.record(
                    conn,
                    scope=scope,
                    caller_sub=caller_sub,
                    key=idempotency_key,
                    request_fingerprint=fingerprint,
                    response=response,
                    transfer_id=moved.transfer_id,
                )
                committing = True
        except psycopg.OperationalError as error:
            if committing:
                raise OutcomeUnknownError(str(error)) from error
            raise
        finally:
            self._cache.invalidate(*touched)
        self._on_outbox_written()
        return Outcome(response.status_code, response.body)

    def balance(self, account_id: uuid.UUID, *, caller_sub: str) -> ledger.Balance | None:
        """The balance of an account of the caller's; None for any other account.

        From the cache only when the entry names the caller as the account's owner (an
        owner never changes once set, and only the owner's reads write entries), so that no
        other caller is ever answered from it. Otherwise (no entry, or one naming another
        owner or none) the database decides, and only the owner's read stores an entry,
        where there is none (see ``cache``): another caller is never answered from the
        cache, and never writes to it.
        """
        cached = self._cache.get(account_id)
        if cached is not None and ledger.owned_by(cached.owner_sub, caller_sub):
            return cached
        with self.pool.connection() as conn:
            balance = ledger.get_balance(conn, account_id)
        if balance is None or not ledger.owned_by(balance.owner_sub, caller_sub):
            return None
        self._cache.put(balance)
        return balance

    def transfer(self, transfer_id: uuid.UUID, *, caller_sub: str) -> ledger.Transfer | None:
        """One transfer or deposit to or from an account of the caller's; None otherwise."""
        with self.pool.connection() as conn:
            return ledger.get_transfer(conn, transfer_id, caller_sub=caller_sub)
