"""Accounts: the domain record and its DynamoDB repository (no Lambda or HTTP concerns here).

Single-table layout, every attribute a string:

- account:     pk=``ACCOUNT#{account_id}``, sk=``PROFILE``, type=``Account`` and the fields of
  :class:`Account`; plus ``correlation_id``, the id of the request that opened it (see
  ``payments_shared.correlation``), which the account's ``AccountOpened`` carries as a
  message attribute. It is not a field of :class:`Account`: no response shows it;
- email claim: pk=``EMAIL#{normalized email}``, sk=``EMAIL``, account_id; it makes an email
  own at most one account, and is written in the same transaction as the account.

A customer's accounts are listed through a global secondary index keyed by ``owner_sub``
(partition) and ``opened_at`` (sort; UTC with exactly three fractional digits, so text order
is time order). It is sparse: only account items carry ``owner_sub``, so email claims never
appear in it. Its name comes from ``OWNER_INDEX_NAME`` (the stack sets it); like every global
secondary index it is eventually consistent, so an account just opened may take a moment to
be listed.
"""

from __future__ import annotations

import functools
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from payments_shared import pagination
from payments_shared.correlation import CORRELATION_ATTRIBUTE
from payments_shared.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    query_items,
)

ACCOUNT_SK = "PROFILE"
EMAIL_SK = "EMAIL"
ITEM_TYPE = "Account"
STATUS_OPEN = "OPEN"
_NEW_KEY_ONLY = "attribute_not_exists(pk)"
_OPENED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_ACCOUNT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Item = dict[str, dict[str, str]]
"""A DynamoDB item in the low-level client's format, string attributes only."""


class EmailAlreadyRegisteredError(Exception):
    """The email already owns an account; nothing was written."""

    def __init__(self) -> None:
        super().__init__("an account already exists for this email")


class DynamoDBClient(Protocol):
    """The part of a boto3 DynamoDB client the repository uses."""

    def transact_write_items(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def get_item(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def query(self, **kwargs: Any) -> Mapping[str, Any]: ...


def normalize_email(email: str) -> str:
    """The form an email is stored and compared in: trimmed and lowercased."""
    return email.strip().lower()


def account_key(account_id: str) -> Item:
    """Primary key of an account item."""
    return {"pk": {"S": f"ACCOUNT#{account_id}"}, "sk": {"S": ACCOUNT_SK}}


def email_key(email: str) -> Item:
    """Primary key of the item that claims ``email`` (already normalized) for one account."""
    return {"pk": {"S": f"EMAIL#{email}"}, "sk": {"S": EMAIL_SK}}


def _utc_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, kw_only=True)
class Account:
    """A customer's account."""

    account_id: str
    owner_sub: str
    owner_name: str
    email: str
    currency: str
    status: str
    opened_at: str

    @classmethod
    def open(
        cls,
        *,
        owner_sub: str,
        owner_name: str,
        email: str,
        currency: str,
        now: datetime | None = None,
    ) -> Account:
        """A new open account with a fresh id; name trimmed, email normalized."""
        return cls(
            account_id=str(uuid.uuid4()),
            owner_sub=owner_sub,
            owner_name=owner_name.strip(),
            email=normalize_email(email),
            currency=currency,
            status=STATUS_OPEN,
            opened_at=_utc_timestamp(now or datetime.now(UTC)),
        )

    def to_json(self) -> dict[str, str]:
        """The public representation: every field but the owner's identity."""
        public = asdict(self)
        del public["owner_sub"]
        return public

    def to_item(self) -> Item:
        """The account's DynamoDB item."""
        attributes = {name: {"S": value} for name, value in asdict(self).items()}
        return {**account_key(self.account_id), "type": {"S": ITEM_TYPE}, **attributes}

    @classmethod
    def from_item(cls, item: Mapping[str, Mapping[str, str]]) -> Account:
        """Read an account back from its DynamoDB item."""
        return cls(
            account_id=item["account_id"]["S"],
            owner_sub=item["owner_sub"]["S"],
            owner_name=item["owner_name"]["S"],
            email=item["email"]["S"],
            currency=item["currency"]["S"],
            status=item["status"]["S"],
            opened_at=item["opened_at"]["S"],
        )


@dataclass(frozen=True, kw_only=True)
class ListPosition:
    """Where a listing of one owner's accounts continues: after the account with this
    ``opened_at`` and ``account_id`` (the index's sort key, then the table's key)."""

    opened_at: str
    account_id: str


@dataclass(frozen=True, kw_only=True)
class AccountPage:
    """One page of a customer's accounts, newest first."""

    accounts: list[Account]
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        """The public representation: each account as ``GET /accounts/{id}`` returns it."""
        return {
            "accounts": [account.to_json() for account in self.accounts],
            "next_cursor": self.next_cursor,
        }


def encode_cursor(position: ListPosition) -> str:
    """The opaque cursor that continues a listing after ``position``."""
    return pagination.encode_cursor(
        {"opened_at": position.opened_at, "account_id": position.account_id}
    )


def decode_cursor(cursor: str) -> ListPosition:
    """The position in a cursor from :func:`encode_cursor`; else :class:`InvalidCursorError`
    (compact JSON ``{"opened_at": "<UTC, milliseconds>", "account_id": "<uuid>"}``)."""
    fields = pagination.decode_cursor(cursor, {"opened_at": _OPENED_AT, "account_id": _ACCOUNT_ID})
    return ListPosition(opened_at=fields["opened_at"], account_id=fields["account_id"])


class AccountRepository:
    """Stores and reads accounts in the service's table.

    ``owner_index`` names the global secondary index by owner (see the module's docstring);
    only :meth:`list_owned` needs it.
    """

    def __init__(
        self, client: DynamoDBClient, table_name: str, *, owner_index: str | None = None
    ) -> None:
        self.client = client
        self.table_name = table_name
        self.owner_index = owner_index

    def add(self, account: Account, *, correlation_id: str | None = None) -> None:
        """Write ``account`` and claim its email, both or neither; ``correlation_id`` (the
        request's) is stored on the account item, for the event announcing it.

        Raises :class:`EmailAlreadyRegisteredError` when the email is taken; any other failure
        (including the practically impossible clash of account ids) propagates as the
        botocore ``ClientError``.
        """
        email_claim: Item = {
            **email_key(account.email),
            "account_id": {"S": account.account_id},
        }
        account_item = account.to_item()
        if correlation_id is not None:
            account_item[CORRELATION_ATTRIBUTE] = {"S": correlation_id}
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {"Put": self._new_item(account_item)},
                    {"Put": self._new_item(email_claim)},
                ]
            )
        except ClientError as error:
            if _cancelled_by_condition(error, index=1):
                raise EmailAlreadyRegisteredError from error
            raise

    def get(self, account_id: str) -> Account | None:
        """The account with this id, or None (strongly consistent: read-your-writes)."""
        response = self.client.get_item(
            TableName=self.table_name, Key=account_key(account_id), ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else Account.from_item(item)

    def get_owned(self, account_id: str, owner_sub: str) -> Account | None:
        """The account if ``owner_sub`` owns it; None when it is missing *or* someone else's.

        The two cases are deliberately indistinguishable to callers.
        """
        account = self.get(account_id)
        return account if account is not None and account.owner_sub == owner_sub else None

    def list_owned(
        self,
        owner_sub: str,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        after: ListPosition | None = None,
    ) -> AccountPage:
        """A page of the accounts ``owner_sub`` owns, newest first.

        ``after`` is the position of the last account of the previous page (see
        :func:`decode_cursor`). Read from the owner index, so eventually consistent.
        """
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be from 1 to {MAX_PAGE_SIZE}, got {limit}")
        if self.owner_index is None:
            raise ValueError("listing accounts needs the owner index: pass owner_index")
        items = self._newest_owned(owner_sub, count=limit + 1, after=after)
        accounts = [Account.from_item(item) for item in items[:limit]]
        last = accounts[-1] if accounts else None
        next_cursor = (
            encode_cursor(ListPosition(opened_at=last.opened_at, account_id=last.account_id))
            if last is not None and len(items) > limit
            else None
        )
        return AccountPage(accounts=accounts, next_cursor=next_cursor)

    def _newest_owned(
        self, owner_sub: str, *, count: int, after: ListPosition | None
    ) -> list[dict[str, Any]]:
        """Up to ``count`` account items of ``owner_sub``, newest first, after ``after``."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": self.owner_index,
            "KeyConditionExpression": "owner_sub = :owner_sub",
            "ExpressionAttributeValues": {":owner_sub": {"S": owner_sub}},
            "ScanIndexForward": False,
        }
        # An index's start key is its own key and the table's: where the last page ended.
        start = (
            None
            if after is None
            else {
                "owner_sub": {"S": owner_sub},
                "opened_at": {"S": after.opened_at},
                **account_key(after.account_id),
            }
        )
        return query_items(self.client, query, count=count, start=start)

    def _new_item(self, item: Item) -> dict[str, Any]:
        return {"TableName": self.table_name, "Item": item, "ConditionExpression": _NEW_KEY_ONLY}


def _cancelled_by_condition(error: ClientError, *, index: int) -> bool:
    """Whether a cancelled transaction failed the condition of its ``index``-th action."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    return len(reasons) > index and reasons[index].get("Code") == "ConditionalCheckFailed"


@functools.cache
def repository_from_env() -> AccountRepository:
    """The repository over the table named by ``TABLE_NAME`` (and, where set, its owner index
    named by ``OWNER_INDEX_NAME``), created on first use."""
    return AccountRepository(
        boto3.client("dynamodb"),
        os.environ["TABLE_NAME"],
        owner_index=os.environ.get("OWNER_INDEX_NAME"),
    )
