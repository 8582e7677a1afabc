"""Statement exports: one account's statement of one calendar month, as a JSON document in
S3, and the ``StatementExported`` event that announces it (no Lambda here).

The request is ``{"account_id": "<uuid>", "month": "YYYY-MM"}``, nothing else; the month is
a UTC calendar month that has ended (a statement is of a closed month). A bad request
raises :class:`InvalidExportRequest`; an account the statements service has never heard of
raises :class:`StatementNotFound`.

The document (``statements/<account_id>/<month>.json``) holds the account, the month, the
currency, the opening and closing balances and the month's entries, oldest first, each as
``GET /statements/{id}`` shows it. The balances follow from the read model: the closing
balance is the statement's balance now less the entries after the month, the opening
balance the closing one less the month's entries. The document carries no time of its own
making, so the same statement gives the same bytes: it is written only if the object there
does not already hold exactly them (its ``content-sha256`` metadata), and the event id is a
uuid5 of the account, the month and that hash. Exporting a month twice therefore writes
once and announces the same event (same id, same ``occurred_at``: the object's
``LastModified``); an entry applied to that month late changes the document, and so the
event id. The bucket's default encryption (SSE-KMS) applies: no key is passed.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from payments_shared.events import ContractRegistry, Event
from statements import ENTRY_PREFIX, Entry, StatementRepository

STATEMENT_EXPORTED = "StatementExported"
EVENT_ID_NAMESPACE = uuid.UUID("8b0f4a1e-6c2d-4f5e-9a7b-3d1c0e2f4a6b")
"""uuid5 namespace of the statement exports' event ids (never change it)."""
DOCUMENT_FORMAT = 1
"""``format`` of the exported document (raise it when its shape changes incompatibly)."""
HASH_METADATA = "content-sha256"
KEY_PREFIX = "statements"
CONTENT_TYPE = "application/json"
_REQUEST_FIELDS = frozenset({"account_id", "month"})
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MONTH = re.compile(r"(?P<year>[0-9]{4})-(?P<month>0[1-9]|1[0-2])")
# One character after "#": every entry's sort key of the account sorts before it.
_AFTER_ENTRIES = ENTRY_PREFIX[:-1] + chr(ord(ENTRY_PREFIX[-1]) + 1)
_SIGN = {"opened": 0, "credit": 1, "deposit": 1, "debit": -1}


class InvalidExportRequest(ValueError):  # noqa: N818 (the name the workflow catches)
    """The request is not ``{"account_id": <lowercase UUID>, "month": "YYYY-MM"}`` of a
    month that has ended; the message says what is wrong."""


class StatementNotFound(LookupError):  # noqa: N818 (the name the workflow catches)
    """The statements service knows nothing of the account (no statement, no entry)."""


class S3Client(Protocol):
    """The part of a boto3 S3 client the exporter uses."""

    def head_object(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def put_object(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ExportRequest:
    """A checked request."""

    account_id: str
    month: str

    @property
    def key(self) -> str:
        """The document's S3 key."""
        return f"{KEY_PREFIX}/{self.account_id}/{self.month}.json"

    @property
    def next_month(self) -> str:
        year, month = int(self.month[:4]), int(self.month[5:])
        return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def parse_request(payload: object, *, now: datetime) -> ExportRequest:
    """The request in ``payload``; :class:`InvalidExportRequest` says what is wrong."""
    if not isinstance(payload, Mapping):
        raise InvalidExportRequest(
            'the input must be a JSON object {"account_id": ..., "month": "YYYY-MM"}'
        )
    missing = sorted(_REQUEST_FIELDS - set(payload))
    unknown = sorted(str(name) for name in set(payload) - _REQUEST_FIELDS)
    if missing or unknown:
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unknown {', '.join(unknown)}"] if unknown else []
        raise InvalidExportRequest(
            f"the input must have exactly account_id and month: {'; '.join(problems)}"
        )
    account_id, month = payload["account_id"], payload["month"]
    if not isinstance(account_id, str) or not _UUID.fullmatch(account_id):
        raise InvalidExportRequest(f"account_id must be a lowercase UUID, got {account_id!r}")
    if not isinstance(month, str) or not _MONTH.fullmatch(month):
        raise InvalidExportRequest(f"month must be YYYY-MM (01 to 12), got {month!r}")
    if month >= now.astimezone(UTC).strftime("%Y-%m"):
        raise InvalidExportRequest(
            f"month {month} has not ended yet (UTC): only a closed month has a statement"
        )
    return ExportRequest(account_id, month)


@dataclass(frozen=True)
class Export:
    """What one export did."""

    bucket: str
    key: str
    entries: int
    written: bool
    event: Event

    def to_json(self) -> dict[str, Any]:
        """The task's output: where the document is, how many entries, and the event (as an
        object, and as ``message``, the exact JSON text to publish)."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "entries": self.entries,
            "written": self.written,
            "event": json.loads(self.event.to_json()),
            "message": self.event.to_json(),
        }


def signed_amount(entry: Entry) -> int:
    """The entry's effect on the balance."""
    return _SIGN[entry.kind] * entry.amount_minor


class StatementExporter:
    """Exports statements from the statements table to one bucket."""

    def __init__(
        self,
        repository: StatementRepository,
        s3: S3Client,
        bucket: str,
        contracts: ContractRegistry,
        *,
        page_size: int = 500,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repository = repository
        self.s3 = s3
        self.bucket = bucket
        self.contracts = contracts
        self.page_size = page_size
        self.clock = clock

    def export(self, payload: object) -> Export:
        """Export the statement ``payload`` asks for (see the module)."""
        request = parse_request(payload, now=self.clock())
        document = self.document(request)
        body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha256(body).hexdigest()
        written, stored_at = self._store(request.key, body, digest)
        event = self.contracts.validate(
            {
                "event_id": str(
                    uuid.uuid5(
                        EVENT_ID_NAMESPACE,
                        f"{STATEMENT_EXPORTED}:{request.account_id}:{request.month}:{digest}",
                    )
                ),
                "event_type": STATEMENT_EXPORTED,
                "event_version": 1,
                "occurred_at": stored_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "data": {
                    "account_id": request.account_id,
                    "month": request.month,
                    "bucket": self.bucket,
                    "key": request.key,
                    "entry_count": len(document["entries"]),
                    "content_sha256": digest,
                },
            }
        )
        return Export(self.bucket, request.key, len(document["entries"]), written, event)

    def document(self, request: ExportRequest) -> dict[str, Any]:
        """The statement document of ``request`` (raises :class:`StatementNotFound`)."""
        header = self.repository.get_header(request.account_id)
        entries = self._entries(
            request.account_id, f"{ENTRY_PREFIX}{request.month}-", f"{ENTRY_PREFIX}{request.month}."
        )
        if header is None and not entries:
            raise StatementNotFound(
                f"the statements service has no statement for account {request.account_id}"
            )
        opening = closing = None
        if header is not None:
            later = self._entries(
                request.account_id, f"{ENTRY_PREFIX}{request.next_month}-", _AFTER_ENTRIES
            )
            closing = header.balance_minor - sum(signed_amount(entry) for entry in later)
            opening = closing - sum(signed_amount(entry) for entry in entries)
        currency = header.currency if header is not None else None
        if currency is None and entries:
            currency = entries[0].currency
        return {
            "format": DOCUMENT_FORMAT,
            "account_id": request.account_id,
            "month": request.month,
            "currency": currency,
            "opening_balance_minor": opening,
            "closing_balance_minor": closing,
            "entries": [entry.to_json() for entry in entries],
        }

    def _entries(self, account_id: str, low: str, high: str) -> list[Entry]:
        """The account's entries whose sort keys lie between ``low`` and ``high``, oldest
        first, every page of the query read (strongly consistent)."""
        request: dict[str, Any] = {
            "TableName": self.repository.table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"ACCOUNT#{account_id}"},
                ":low": {"S": low},
                ":high": {"S": high},
            },
            "ScanIndexForward": True,
            "ConsistentRead": True,
            "Limit": self.page_size,
        }
        entries: list[Entry] = []
        while True:
            response = self.repository.client.query(**request)
            entries.extend(Entry.from_item(item) for item in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if start is None:
                return entries
            request["ExclusiveStartKey"] = start

    def _store(self, key: str, body: bytes, digest: str) -> tuple[bool, datetime]:
        """Write ``body`` at ``key`` unless it is there already; (written, LastModified)."""
        stored = self._head(key)
        if stored is not None and stored.get("Metadata", {}).get(HASH_METADATA) == digest:
            return False, stored["LastModified"]
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType=CONTENT_TYPE,
            Metadata={HASH_METADATA: digest},
        )
        stored = self._head(key)
        if stored is None:  # S3 is strongly consistent: only a concurrent delete does this
            raise RuntimeError(f"s3://{self.bucket}/{key} vanished right after it was written")
        return True, stored["LastModified"]

    def _head(self, key: str) -> Mapping[str, Any] | None:
        """The object's metadata, None if there is none (S3 answers 404 for a missing key
        only to a caller allowed s3:ListBucket; 403 is an error, not "missing")."""
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
