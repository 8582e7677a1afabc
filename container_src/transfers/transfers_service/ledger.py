"""The double-entry ledger: accounts, transfers and their entries, in SQL.

Every function here runs inside a transaction the caller holds, so a use case (a transfer
with its idempotency record and outbox event) commits whole or not at all. Money moves
only through :func:`transfer` and :func:`deposit`: they lock the accounts involved
``FOR UPDATE`` in one order (by account id, so two transfers in opposite directions cannot
deadlock), check, then write one debit and one credit that sum to zero and update the
balances. The balance check runs under those locks, so concurrent transfers cannot
overdraw an account; the ``accounts_never_overdrawn`` CHECK backs it up. Each of them also
queues its event (TransferCompleted, DepositCompleted) in ``outbox``, validated against its
contract, in the same transaction: no movement of money goes unannounced. The event's row
keeps the ``correlation_id`` of the request that caused it (see ``correlation``).

Each customer account has an owner (``owner_sub``, from AccountOpened); a caller may move
money out of, deposit into, and read the balance of only the accounts they own (see
:func:`owned_by`), and read only the transfers to or from one of them. The check of a
movement is made on the rows it has locked, in its transaction: no check-then-act race.
An account the caller does not own is answered as one that does not exist (the same
:class:`AccountNotFoundError` and message), so as not to tell that it exists.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import Connection

from transfers_service import events
from transfers_service.correlation import valid_correlation_id

Kind = Literal["transfer", "deposit"]


class LedgerError(Exception):
    """A request the ledger refuses; ``status`` and ``code`` say how the API answers."""

    status = 422
    code = "ledger_error"


class AccountNotFoundError(LedgerError):
    status = 404
    code = "account_not_found"


class CurrencyMismatchError(LedgerError):
    status = 422
    code = "currency_mismatch"


class SameAccountError(LedgerError):
    status = 422
    code = "same_account"


class InsufficientFundsError(LedgerError):
    status = 409
    code = "insufficient_funds"


class ConflictingAccountError(LedgerError):
    """An AccountOpened event that contradicts what the ledger already holds."""

    status = 409
    code = "conflicting_account"


@dataclass(frozen=True, kw_only=True)
class Transfer:
    """One committed movement of money."""

    transfer_id: uuid.UUID
    kind: Kind
    from_account_id: uuid.UUID
    to_account_id: uuid.UUID
    amount_minor: int
    currency: str
    completed_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The API representation (a deposit has no ``from_account_id``)."""
        return {
            "transfer_id": str(self.transfer_id),
            "kind": self.kind,
            "from_account_id": None if self.kind == "deposit" else str(self.from_account_id),
            "to_account_id": str(self.to_account_id),
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "completed_at": events.timestamp(self.completed_at),
        }


@dataclass(frozen=True, kw_only=True)
class Balance:
    """An account's balance in its currency's minor unit, and its owner (not in the API)."""

    account_id: uuid.UUID
    currency: str
    balance_minor: int
    owner_sub: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": str(self.account_id),
            "currency": self.currency,
            "balance_minor": self.balance_minor,
        }


@dataclass(frozen=True)
class _Locked:
    account_id: uuid.UUID
    kind: str
    currency: str
    balance_minor: int
    owner_sub: str | None


def owned_by(owner_sub: str | None, caller_sub: str) -> bool:
    """Whether an account of ``owner_sub`` is the caller's: an account without an owner
    (recorded before accounts had owners, or a funding account) is nobody's."""
    return owner_sub is not None and owner_sub == caller_sub


Opened = Literal["opened", "owner_filled", "known"]


def open_account(
    conn: Connection[Any],
    *,
    account_id: uuid.UUID,
    owner_sub: str,
    currency: str,
    opened_at: str,
    event_id: uuid.UUID,
) -> Opened:
    """Record an account from its AccountOpened event.

    ``opened`` for a new account; ``owner_filled`` for a known account that had no owner
    yet (recorded before accounts had owners), which now has ``owner_sub``; ``known`` when
    the event changes nothing (the same event again, or another one of the same account).
    An existing owner never changes: an event giving a known account another owner, or
    another currency, raises :class:`ConflictingAccountError`.
    """
    row = conn.execute(
        "INSERT INTO accounts (account_id, kind, currency, opened_at, opened_event_id, owner_sub)"
        " VALUES (%s, 'customer', %s, %s, %s, %s)"
        " ON CONFLICT (account_id) DO UPDATE SET owner_sub = EXCLUDED.owner_sub"
        " WHERE accounts.owner_sub IS NULL AND accounts.kind = 'customer'"
        " AND accounts.currency = EXCLUDED.currency"
        # xmax is 0 in a row just inserted, the updating transaction's id in one updated.
        " RETURNING xmax = 0",
        (account_id, currency, opened_at, event_id, owner_sub),
    ).fetchone()
    if row is not None:
        return "opened" if row[0] else "owner_filled"
    row = conn.execute(
        "SELECT kind, currency, owner_sub FROM accounts WHERE account_id = %s", (account_id,)
    ).fetchone()
    if row is None or row[0] != "customer" or row[1] != currency:
        raise ConflictingAccountError(
            f"account {account_id} is known with currency {row[1] if row else None}, "
            f"the event says {currency}"
        )
    if row[2] != owner_sub:
        raise ConflictingAccountError(
            f"account {account_id} is known with another owner than the event says"
        )
    return "known"


def transfer(
    conn: Connection[Any],
    *,
    caller_sub: str,
    from_account_id: uuid.UUID,
    to_account_id: uuid.UUID,
    amount_minor: int,
    currency: str,
    registry: events.ContractRegistry,
    correlation_id: str | None = None,
) -> Transfer:
    """Move ``amount_minor`` between two customer accounts and queue TransferCompleted.

    The caller must own ``from_account_id`` (else it is not found); ``to_account_id`` may
    be anyone's.
    """
    if from_account_id == to_account_id:
        raise SameAccountError("from_account_id and to_account_id must differ")
    _check_amount(amount_minor)
    locked = _lock_accounts(conn, [from_account_id, to_account_id])
    for account_id in (from_account_id, to_account_id):
        account = locked.get(account_id)
        if (
            account is None
            or account.kind != "customer"
            or (account_id == from_account_id and not owned_by(account.owner_sub, caller_sub))
        ):
            raise AccountNotFoundError(f"account {account_id} does not exist")
        if account.currency != currency:
            raise CurrencyMismatchError(
                f"account {account_id} holds {account.currency}, the transfer is in {currency}"
            )
    available = locked[from_account_id].balance_minor
    if available < amount_minor:
        raise InsufficientFundsError(
            f"account {from_account_id} has {available} {currency} (minor units) available, "
            f"the transfer needs {amount_minor}"
        )
    moved = Transfer(
        transfer_id=uuid.uuid4(),
        kind="transfer",
        from_account_id=from_account_id,
        to_account_id=to_account_id,
        amount_minor=amount_minor,
        currency=currency,
        completed_at=locked.now,
    )
    event = events.transfer_completed(
        transfer_id=moved.transfer_id,
        from_account_id=from_account_id,
        to_account_id=to_account_id,
        amount_minor=amount_minor,
        currency=currency,
        completed_at=moved.completed_at,
    )
    _write(conn, moved, event, registry, correlation_id)
    return moved


def deposit(
    conn: Connection[Any],
    *,
    caller_sub: str,
    account_id: uuid.UUID,
    amount_minor: int,
    currency: str,
    registry: events.ContractRegistry,
    correlation_id: str | None = None,
) -> Transfer:
    """Credit a customer account the caller owns (else it is not found) from its currency's
    funding account (created on first use) and queue DepositCompleted."""
    _check_amount(amount_minor)
    locked = _lock_with_funding(conn, account_id, currency)
    account = locked.get(account_id)
    if account is None or account.kind != "customer" or not owned_by(account.owner_sub, caller_sub):
        raise AccountNotFoundError(f"account {account_id} does not exist")
    if account.currency != currency:
        raise CurrencyMismatchError(
            f"account {account_id} holds {account.currency}, the deposit is in {currency}"
        )
    [funding_id] = [a.account_id for a in locked.rows.values() if a.kind == "funding"]
    moved = Transfer(
        transfer_id=uuid.uuid4(),
        kind="deposit",
        from_account_id=funding_id,
        to_account_id=account_id,
        amount_minor=amount_minor,
        currency=currency,
        completed_at=locked.now,
    )
    event = events.deposit_completed(
        deposit_id=moved.transfer_id,
        account_id=account_id,
        amount_minor=amount_minor,
        currency=currency,
        completed_at=moved.completed_at,
    )
    _write(conn, moved, event, registry, correlation_id)
    return moved


def get_balance(conn: Connection[Any], account_id: uuid.UUID) -> Balance | None:
    """The balance of a customer account with its owner (whoever that is: the caller
    checks :func:`owned_by`), or None if the ledger does not know it."""
    row = conn.execute(
        "SELECT currency, balance_minor, owner_sub FROM accounts"
        " WHERE account_id = %s AND kind = 'customer'",
        (account_id,),
    ).fetchone()
    if row is None:
        return None
    return Balance(
        account_id=account_id,
        currency=str(row[0]),
        balance_minor=int(row[1]),
        owner_sub=None if row[2] is None else str(row[2]),
    )


def get_transfer(
    conn: Connection[Any], transfer_id: uuid.UUID, *, caller_sub: str
) -> Transfer | None:
    """One transfer or deposit by id, if the caller owns its from or its to account (the
    from account of a deposit, a funding account, is nobody's); else None."""
    row = conn.execute(
        "SELECT kind, from_account_id, to_account_id, amount_minor, currency, completed_at"
        " FROM transfers t WHERE transfer_id = %s AND EXISTS (SELECT 1 FROM accounts a"
        "  WHERE a.account_id IN (t.from_account_id, t.to_account_id) AND a.owner_sub = %s)",
        (transfer_id, caller_sub),
    ).fetchone()
    if row is None:
        return None
    kind, from_account_id, to_account_id, amount_minor, currency, completed_at = row
    return Transfer(
        transfer_id=transfer_id,
        kind=kind,
        from_account_id=from_account_id,
        to_account_id=to_account_id,
        amount_minor=int(amount_minor),
        currency=str(currency),
        completed_at=completed_at,
    )


def _check_amount(amount_minor: int) -> None:
    if type(amount_minor) is not int or amount_minor < 1:
        raise LedgerError("amount_minor must be a positive integer")


_LOCKED_COLUMNS = "account_id, kind, currency, balance_minor, owner_sub, clock_timestamp()"


@dataclass(frozen=True)
class _LockedAccounts:
    """Rows locked FOR UPDATE, by id, and the database's clock when they were read."""

    rows: dict[uuid.UUID, _Locked]
    now: datetime

    def get(self, account_id: uuid.UUID) -> _Locked | None:
        return self.rows.get(account_id)

    def __getitem__(self, account_id: uuid.UUID) -> _Locked:
        return self.rows[account_id]


def _locked_rows(rows: list[tuple[Any, ...]]) -> _LockedAccounts | None:
    """The locked rows (None when there is none: then no account asked for exists)."""
    if not rows:
        return None
    locked = {
        row[0]: _Locked(
            row[0], str(row[1]), str(row[2]), int(row[3]), None if row[4] is None else str(row[4])
        )
        for row in rows
    }
    return _LockedAccounts(locked, max(row[5] for row in rows))


def _lock_accounts(conn: Connection[Any], account_ids: list[uuid.UUID]) -> _LockedAccounts:
    """Lock the rows of ``account_ids`` FOR UPDATE, in one statement, by ascending id (the
    rows are sorted before they are locked: SELECT's ORDER BY comes before its locking
    clause), and the database's clock: the movement's ``completed_at``."""
    rows = conn.execute(
        f"SELECT {_LOCKED_COLUMNS} FROM accounts WHERE account_id = ANY(%s)"
        " ORDER BY account_id FOR UPDATE",
        (sorted(set(account_ids)),),
    ).fetchall()
    locked = _locked_rows(rows)
    if locked is None:
        raise AccountNotFoundError(f"account {account_ids[0]} does not exist")
    return locked


def _lock_with_funding(
    conn: Connection[Any], account_id: uuid.UUID, currency: str
) -> _LockedAccounts:
    """Lock an account and its currency's funding account (created on first use) as
    :func:`_lock_accounts` does, in one statement once the funding account exists."""
    statement = (
        f"SELECT {_LOCKED_COLUMNS} FROM accounts"
        " WHERE account_id = %s OR (kind = 'funding' AND currency = %s)"
        " ORDER BY account_id FOR UPDATE"
    )
    rows = conn.execute(statement, (account_id, currency)).fetchall()
    if not any(row[1] == "funding" for row in rows):
        conn.execute(
            "INSERT INTO accounts (account_id, kind, currency) VALUES (%s, 'funding', %s)"
            " ON CONFLICT (currency) WHERE kind = 'funding' DO NOTHING",
            (uuid.uuid4(), currency),
        )
        rows = conn.execute(statement, (account_id, currency)).fetchall()
    locked = _locked_rows(rows)
    assert locked is not None  # the funding account, at least
    return locked


def _write(
    conn: Connection[Any],
    moved: Transfer,
    event: dict[str, Any],
    registry: events.ContractRegistry,
    correlation_id: str | None,
) -> None:
    """Write a movement whose accounts are locked, in one statement: the transfer, its two
    entries, the two balances, and its event in the outbox, validated against its contract,
    with the correlation id of the request that caused it (an invalid one is not stored).
    (The foreign keys of the entries are checked at the end of the statement, when the
    transfer's row is there.)"""
    registry.validate(event)
    conn.execute(
        "WITH moved AS ("
        "  INSERT INTO transfers (transfer_id, kind, from_account_id, to_account_id,"
        "   amount_minor, currency, completed_at)"
        "  VALUES (%(transfer_id)s, %(kind)s, %(from)s, %(to)s, %(amount)s, %(currency)s,"
        "   %(completed_at)s)),"
        " entries AS ("
        "  INSERT INTO ledger_entries (transfer_id, account_id, amount_minor, currency)"
        "  VALUES (%(transfer_id)s, %(from)s, -%(amount)s::bigint, %(currency)s),"
        "   (%(transfer_id)s, %(to)s, %(amount)s, %(currency)s)),"
        " balances AS ("
        "  UPDATE accounts SET balance_minor = balance_minor + CASE account_id"
        "   WHEN %(from)s THEN -%(amount)s::bigint ELSE %(amount)s::bigint END"
        "  WHERE account_id IN (%(from)s, %(to)s))"
        " INSERT INTO outbox (event_id, event_type, event_version, message, correlation_id)"
        " VALUES (%(event_id)s, %(event_type)s, %(event_version)s, %(message)s,"
        "  %(correlation_id)s)",
        {
            "transfer_id": moved.transfer_id,
            "kind": moved.kind,
            "from": moved.from_account_id,
            "to": moved.to_account_id,
            "amount": moved.amount_minor,
            "currency": moved.currency,
            "completed_at": moved.completed_at,
            "event_id": event["event_id"],
            "event_type": event["event_type"],
            "event_version": event["event_version"],
            "message": json.dumps(event),
            "correlation_id": valid_correlation_id(correlation_id),
        },
    )
