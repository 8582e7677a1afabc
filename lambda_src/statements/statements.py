"""Statements: each account's read model and its DynamoDB repository (no Lambda or HTTP here).

A statement is built from domain events only; it is never written by requests. Single-table
layout (pk and sk strings):

- header: pk=``ACCOUNT#{account_id}``, sk=``STATEMENT``, type=``Statement``; account_id,
  owner_sub, currency and opened_at (set by ``AccountOpened``) and balance_minor (a Number,
  only ever changed with ``ADD``, so the events that move it commute);
- entry:  pk=``ACCOUNT#{account_id}``, sk=``ENTRY#{occurred_at}#{event_id}`` (the envelope's
  ``occurred_at`` padded to six fractional digits, see :func:`sortable_timestamp`),
  type=``StatementEntry`` and the fields of :class:`Entry`.

Events and their entries: ``AccountOpened`` v1 writes an ``opened`` entry (amount 0);
``TransferCompleted`` v1 a ``debit`` on the payer and a ``credit`` on the payee (each with the
``transfer_id`` and the other account as counterparty); ``DepositCompleted`` v1 a ``deposit``
on the account credited (with the ``deposit_id``, no transfer and no counterparty). Amounts
are never negative: the kind says which way the money moved.

Applying an event is one ``TransactWriteItems``: its entries, each written only if new, and
the changes to the headers. An event whose entries exist was applied before, so applying it
again changes nothing (idempotence); and as the balance only takes additions and the entries
sort by time, the events may arrive in any order. A ``TransferCompleted`` or
``DepositCompleted`` that arrives before its account's ``AccountOpened`` creates a header
without an owner, completed later; an ``AccountOpened`` never changes an owner already set
(that fails instead).
"""

from __future__ import annotations

import functools
import os
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from payments_shared import pagination
from payments_shared.events import Event, InvalidEventError
from payments_shared.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    query_items,
)

STATEMENT_SK = "STATEMENT"
ENTRY_PREFIX = "ENTRY#"
HEADER_TYPE = "Statement"
ENTRY_TYPE = "StatementEntry"
CONFLICT_ATTEMPTS = 3
"""Tries of one event's transaction when it races another event of the same account."""
CONFLICT_BACKOFF_SECONDS = 0.05
_NEW_KEY_ONLY = "attribute_not_exists(pk)"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ENTRY_SK = re.compile(
    rf"{ENTRY_PREFIX}[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T[0-9:]{{8}}\.[0-9]{{6}}Z#{_UUID}"
)

EntryKind = Literal["opened", "credit", "debit", "deposit"]
_ENTRY_KINDS: dict[str, EntryKind] = {
    "opened": "opened",
    "credit": "credit",
    "debit": "debit",
    "deposit": "deposit",
}
Item = dict[str, dict[str, str]]
"""A DynamoDB item in the low-level client's format (string and number attributes)."""


class DynamoDBClient(Protocol):
    """The part of a boto3 DynamoDB client the repository uses."""

    def transact_write_items(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def get_item(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def query(self, **kwargs: Any) -> Mapping[str, Any]: ...


class UnhandledEventError(ValueError):
    """A valid event of a type (or version) that statements do not apply."""


def statement_key(account_id: str) -> Item:
    """Primary key of an account's statement header."""
    return {"pk": {"S": f"ACCOUNT#{account_id}"}, "sk": {"S": STATEMENT_SK}}


def sortable_timestamp(timestamp: str) -> str:
    """``timestamp`` (contract format, UTC with ``Z``) with exactly six fractional digits.

    The contracts allow zero to six digits, and ``...:00Z`` sorts *after* ``...:00.5Z`` as
    text; padded to one width, text order is time order.
    """
    seconds, _, fraction = timestamp.removesuffix("Z").partition(".")
    return f"{seconds}.{fraction.ljust(6, '0')}Z"


def entry_sort_key(occurred_at: str, event_id: str) -> str:
    """Sort key of the entry an event writes: by time, then by event id."""
    return f"{ENTRY_PREFIX}{sortable_timestamp(occurred_at)}#{event_id}"


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One line of a statement: the opening, one side of a transfer, or a deposit.

    ``transfer_id`` and ``counterparty_account_id`` are set for ``credit`` and ``debit``
    only, ``deposit_id`` for ``deposit`` only.
    """

    account_id: str
    event_id: str
    occurred_at: str
    kind: EntryKind
    amount_minor: int
    currency: str
    transfer_id: str | None = None
    counterparty_account_id: str | None = None
    deposit_id: str | None = None

    @property
    def sort_key(self) -> str:
        """The entry's ``sk``."""
        return entry_sort_key(self.occurred_at, self.event_id)

    def to_json(self) -> dict[str, Any]:
        """The public representation (the account is the statement's)."""
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "kind": self.kind,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "transfer_id": self.transfer_id,
            "counterparty_account_id": self.counterparty_account_id,
            "deposit_id": self.deposit_id,
        }

    def to_item(self) -> Item:
        """The entry's DynamoDB item (absent optional fields are not stored)."""
        item: Item = {
            "pk": {"S": f"ACCOUNT#{self.account_id}"},
            "sk": {"S": self.sort_key},
            "type": {"S": ENTRY_TYPE},
            "account_id": {"S": self.account_id},
            "event_id": {"S": self.event_id},
            "occurred_at": {"S": self.occurred_at},
            "kind": {"S": self.kind},
            "amount_minor": {"N": str(self.amount_minor)},
            "currency": {"S": self.currency},
        }
        if self.transfer_id is not None:
            item["transfer_id"] = {"S": self.transfer_id}
        if self.counterparty_account_id is not None:
            item["counterparty_account_id"] = {"S": self.counterparty_account_id}
        if self.deposit_id is not None:
            item["deposit_id"] = {"S": self.deposit_id}
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Mapping[str, str]]) -> Entry:
        """Read an entry back from its DynamoDB item."""
        kind = _ENTRY_KINDS.get(item["kind"]["S"])
        if kind is None:
            raise ValueError(f"unknown entry kind {item['kind']['S']!r} in {item['sk']['S']}")
        return cls(
            account_id=item["account_id"]["S"],
            event_id=item["event_id"]["S"],
            occurred_at=item["occurred_at"]["S"],
            kind=kind,
            amount_minor=int(item["amount_minor"]["N"]),
            currency=item["currency"]["S"],
            transfer_id=item.get("transfer_id", {}).get("S"),
            counterparty_account_id=item.get("counterparty_account_id", {}).get("S"),
            deposit_id=item.get("deposit_id", {}).get("S"),
        )


@dataclass(frozen=True, kw_only=True)
class StatementHeader:
    """An account's statement without its entries.

    ``owner_sub``, ``currency`` and ``opened_at`` are None until ``AccountOpened`` is applied.
    """

    account_id: str
    owner_sub: str | None
    currency: str | None
    opened_at: str | None
    balance_minor: int

    def is_owned_by(self, sub: str) -> bool:
        """Whether ``sub`` owns the account (never true before ``AccountOpened``)."""
        return self.owner_sub is not None and self.owner_sub == sub

    @classmethod
    def from_item(cls, item: Mapping[str, Mapping[str, str]]) -> StatementHeader:
        """Read a header back from its DynamoDB item."""
        return cls(
            account_id=item["pk"]["S"].removeprefix("ACCOUNT#"),
            owner_sub=item.get("owner_sub", {}).get("S"),
            currency=item.get("currency", {}).get("S"),
            opened_at=item.get("opened_at", {}).get("S"),
            balance_minor=int(item.get("balance_minor", {}).get("N", "0")),
        )


@dataclass(frozen=True, kw_only=True)
class StatementPage:
    """A statement's header and one page of its entries, newest first."""

    header: StatementHeader
    entries: list[Entry]
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        """The public representation (without the owner's identity)."""
        return {
            "account_id": self.header.account_id,
            "currency": self.header.currency,
            "opened_at": self.header.opened_at,
            "balance_minor": self.header.balance_minor,
            "entries": [entry.to_json() for entry in self.entries],
            "next_cursor": self.next_cursor,
        }


def encode_cursor(sort_key: str) -> str:
    """The opaque cursor that continues a listing after the entry ``sort_key``."""
    return pagination.encode_cursor({"sk": sort_key})


def decode_cursor(cursor: str) -> str:
    """The entry sort key in a cursor from :func:`encode_cursor`; else
    :class:`InvalidCursorError` (compact JSON ``{"sk": "ENTRY#<time>#<event id>"}``)."""
    return pagination.decode_cursor(cursor, {"sk": _ENTRY_SK})["sk"]


def whole_amount(amount: int | float) -> int:
    """An event's ``amount_minor`` as an ``int``.

    The contracts say ``"type": "integer"``, which JSON Schema also grants to a number with a
    zero fraction (``1000.0``): valid, it must still be stored as ``1000``, or the entry and
    the balance would hold ``"1000.0"``, which reads back as no integer (DynamoDB trims the
    zeroes, moto does not: never depend on either).
    """
    whole = int(amount)
    if whole != amount:
        raise InvalidEventError(f"amount_minor {amount!r} is not a whole number")
    return whole


def opened_entry(event: Event) -> Entry:
    """The entry of an ``AccountOpened`` v1 event."""
    data = event.data
    return Entry(
        account_id=data["account_id"],
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        kind="opened",
        amount_minor=0,
        currency=data["currency"],
    )


def transfer_entries(event: Event) -> tuple[Entry, Entry]:
    """The debit (on the payer) and credit (on the payee) of a ``TransferCompleted`` v1 event."""
    data = event.data
    payer, payee = data["from_account_id"], data["to_account_id"]
    if payer == payee:
        # Both sides would be the same item, which one transaction cannot write twice.
        raise InvalidEventError(f"TransferCompleted v1: transfer from account {payer} to itself")
    common: dict[str, Any] = {
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "amount_minor": whole_amount(data["amount_minor"]),
        "currency": data["currency"],
        "transfer_id": data["transfer_id"],
    }
    debit = Entry(account_id=payer, kind="debit", counterparty_account_id=payee, **common)
    credit = Entry(account_id=payee, kind="credit", counterparty_account_id=payer, **common)
    return debit, credit


def deposit_entry(event: Event) -> Entry:
    """The entry (on the account credited) of a ``DepositCompleted`` v1 event."""
    data = event.data
    return Entry(
        account_id=data["account_id"],
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        kind="deposit",
        amount_minor=whole_amount(data["amount_minor"]),
        currency=data["currency"],
        deposit_id=data["deposit_id"],
    )


class StatementRepository:
    """Applies events to statements and reads them, in the service's table."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self.sleep = sleep
        self._appliers: dict[tuple[str, int], Callable[[Event], list[dict[str, Any]]]] = {
            ("AccountOpened", 1): self._account_opened,
            ("DepositCompleted", 1): self._deposit_completed,
            ("TransferCompleted", 1): self._transfer_completed,
        }

    @property
    def handled(self) -> list[str]:
        """``Name.vN`` of every event this repository applies, sorted."""
        return sorted(f"{name}.v{version}" for name, version in self._appliers)

    def apply(self, event: Event) -> bool:
        """Apply ``event`` to the statements it concerns, all at once; False if already applied.

        Raises :class:`UnhandledEventError` for an event type or version statements do not
        apply, :class:`InvalidEventError` for an event that cannot be applied (a transfer to
        the same account), and propagates any other DynamoDB failure as ``ClientError``.
        """
        applier = self._appliers.get((event.event_type, event.event_version))
        if applier is None:
            raise UnhandledEventError(
                f"statements do not apply {event.event_type} v{event.event_version}; "
                f"handled: {', '.join(self.handled)}"
            )
        actions = applier(event)
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                self.client.transact_write_items(TransactItems=actions)
            except ClientError as error:
                if _entry_already_written(error, actions):
                    return False
                if attempt < CONFLICT_ATTEMPTS and _conflicted(error):
                    # Another event of the same account is being applied right now.
                    self.sleep(random.uniform(0, CONFLICT_BACKOFF_SECONDS * attempt))
                    continue
                raise
            return True
        raise AssertionError("unreachable: the last attempt returns or raises")

    def get_header(self, account_id: str) -> StatementHeader | None:
        """The account's statement header, or None (strongly consistent)."""
        response = self.client.get_item(
            TableName=self.table_name, Key=statement_key(account_id), ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else StatementHeader.from_item(item)

    def get_owned(
        self,
        account_id: str,
        owner_sub: str,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> StatementPage | None:
        """A page of the statement if ``owner_sub`` owns the account, else None.

        None alike when the statement is missing, has no owner yet or is someone else's.
        ``after`` is the sort key of the last entry of the previous page (see
        :func:`decode_cursor`).
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be from 1 to {MAX_PAGE_SIZE}, got {limit}")
        header = self.get_header(account_id)
        if header is None or not header.is_owned_by(owner_sub):
            return None
        items = self._newest_entries(account_id, count=limit + 1, after=after)
        entries = [Entry.from_item(item) for item in items[:limit]]
        next_cursor = encode_cursor(entries[-1].sort_key) if len(items) > limit else None
        return StatementPage(header=header, entries=entries, next_cursor=next_cursor)

    def _newest_entries(
        self, account_id: str, *, count: int, after: str | None
    ) -> list[dict[str, Any]]:
        """Up to ``count`` entry items, newest first, older than the entry ``after``."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"ACCOUNT#{account_id}"},
                ":prefix": {"S": ENTRY_PREFIX},
            },
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
        start = (
            None if after is None else {"pk": {"S": f"ACCOUNT#{account_id}"}, "sk": {"S": after}}
        )
        return query_items(self.client, query, count=count, start=start)

    def _account_opened(self, event: Event) -> list[dict[str, Any]]:
        data = event.data
        entry = opened_entry(event)
        header_update = {
            "TableName": self.table_name,
            "Key": statement_key(entry.account_id),
            # ADD 0 creates the balance if this is the first event, and never changes it.
            "UpdateExpression": (
                "SET #type = :type, account_id = :account_id, owner_sub = :owner_sub, "
                "currency = :currency, opened_at = :opened_at ADD balance_minor :zero"
            ),
            # Never hand an account to another owner (a conflicting event fails, not a duplicate).
            "ConditionExpression": "attribute_not_exists(owner_sub) OR owner_sub = :owner_sub",
            "ExpressionAttributeNames": {"#type": "type"},
            "ExpressionAttributeValues": {
                ":type": {"S": HEADER_TYPE},
                ":account_id": {"S": entry.account_id},
                ":owner_sub": {"S": data["owner_sub"]},
                ":currency": {"S": data["currency"]},
                ":opened_at": {"S": data["opened_at"]},
                ":zero": {"N": "0"},
            },
        }
        return [{"Put": self._new_item(entry.to_item())}, {"Update": header_update}]

    def _transfer_completed(self, event: Event) -> list[dict[str, Any]]:
        debit, credit = transfer_entries(event)
        return [
            {"Put": self._new_item(debit.to_item())},
            {"Put": self._new_item(credit.to_item())},
            {"Update": self._add_to_balance(debit.account_id, -debit.amount_minor)},
            {"Update": self._add_to_balance(credit.account_id, credit.amount_minor)},
        ]

    def _deposit_completed(self, event: Event) -> list[dict[str, Any]]:
        deposit = deposit_entry(event)
        return [
            {"Put": self._new_item(deposit.to_item())},
            {"Update": self._add_to_balance(deposit.account_id, deposit.amount_minor)},
        ]

    def _add_to_balance(self, account_id: str, amount_minor: int) -> dict[str, Any]:
        return {
            "TableName": self.table_name,
            "Key": statement_key(account_id),
            "UpdateExpression": (
                "SET #type = :type, account_id = :account_id ADD balance_minor :amount"
            ),
            "ExpressionAttributeNames": {"#type": "type"},
            "ExpressionAttributeValues": {
                ":type": {"S": HEADER_TYPE},
                ":account_id": {"S": account_id},
                ":amount": {"N": str(amount_minor)},
            },
        }

    def _new_item(self, item: Item) -> dict[str, Any]:
        return {"TableName": self.table_name, "Item": item, "ConditionExpression": _NEW_KEY_ONLY}


def _conflicted(error: ClientError) -> bool:
    """Whether a cancelled transaction lost a race with another one on the same items."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    return any(reason.get("Code") == "TransactionConflict" for reason in reasons)


def _entry_already_written(error: ClientError, actions: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a cancelled transaction failed the condition of one of its entry ``Put``s.

    Entries are only ever written together with the rest of their event's changes, so one
    that exists proves the event was applied.
    """
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    return any(
        "Put" in action and reason.get("Code") == "ConditionalCheckFailed"
        for action, reason in zip(actions, reasons, strict=False)
    )


@functools.cache
def repository_from_env() -> StatementRepository:
    """The repository over the table named by ``TABLE_NAME``, created on first use."""
    return StatementRepository(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
