"""The statement export task (``export_statement.handler``) on moto: the document, its key
and encryption, the StatementExported event, bad input, reruns and a long month."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from handler_support import REGION, import_handlers

ROOT = Path(__file__).resolve().parents[3]
CODE_DIR = ROOT / "lambda_src" / "statements"
CONTRACTS_DIR = ROOT / "contracts" / "events"
MODULES = ("statements", "apply_events", "exports", "export_statement")
BUCKET = "statement-exports-test"
TABLE_NAME = "statements-test"  # the statements conftest's table
ACCOUNT_A = "0b5c1e52-9a3f-4d47-8f2e-6f4c1d2b3a90"
ACCOUNT_B = "7d2e4f61-3c5b-4a8e-9f1d-2b3c4d5e6f70"
UNKNOWN = "2c4e6a8b-0d1f-4e3a-8b5c-7d9e1f2a3b4c"


@pytest.fixture
def s3(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The exports bucket (moto), encrypted by default with a KMS key, as the stack makes it."""
    monkeypatch.setenv("EXPORT_BUCKET_NAME", BUCKET)
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    client.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_id,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    return client


@pytest.fixture
def modules(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    with import_handlers(monkeypatch, [CODE_DIR], MODULES) as imported:
        yield imported


@pytest.fixture
def apply(
    modules: SimpleNamespace, make_record: Callable[..., dict[str, Any]], lambda_context: Any
) -> Callable[..., None]:
    """Apply envelopes to the statements, as the queue worker does."""

    def call(*envelopes: dict[str, Any]) -> None:
        records = [make_record(envelope) for envelope in envelopes]
        response = modules.apply_events.handler({"Records": records}, lambda_context)
        assert response == {"batchItemFailures": []}

    return call


@pytest.fixture
def export(modules: SimpleNamespace, lambda_context: Any) -> Callable[..., dict[str, Any]]:
    def call(payload: Any) -> dict[str, Any]:
        result: dict[str, Any] = modules.export_statement.handler(payload, lambda_context)
        return result

    return call


@pytest.fixture
def history(apply: Callable[..., None], envelopes: Any) -> dict[str, str]:
    """Account A: opened in October 2025 with a deposit of 50.00; in November a transfer of
    10.00 to B and a deposit of 3.00; in December 2.00 from B. Account B: opened in October.
    The event ids, by name."""
    events = {
        "opened_a": envelopes.opened(ACCOUNT_A, occurred_at="2025-10-05T09:00:00Z"),
        "opened_b": envelopes.opened(
            ACCOUNT_B, owner_sub="other", occurred_at="2025-10-06T09:00:00Z"
        ),
        "deposit_oct": envelopes.deposit(ACCOUNT_A, 5000, occurred_at="2025-10-10T10:00:00.5Z"),
        "transfer_nov": envelopes.transfer(
            ACCOUNT_A, ACCOUNT_B, 1000, occurred_at="2025-11-01T00:00:00Z"
        ),
        "deposit_nov": envelopes.deposit(ACCOUNT_A, 300, occurred_at="2025-11-30T23:59:59.999999Z"),
        "transfer_dec": envelopes.transfer(
            ACCOUNT_B, ACCOUNT_A, 200, occurred_at="2025-12-01T00:00:00Z"
        ),
    }
    apply(*events.values())
    return {name: event["event_id"] for name, event in events.items()}


def _contracts(modules: SimpleNamespace) -> Any:
    return modules.exports.ContractRegistry(CONTRACTS_DIR)


def _object(s3: Any, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    response = s3.get_object(Bucket=BUCKET, Key=key)
    return json.loads(response["Body"].read()), response


def test_exports_the_months_entries_with_balances_and_announces_them(
    history: dict[str, str],
    export: Callable[..., dict[str, Any]],
    modules: SimpleNamespace,
    s3: Any,
) -> None:
    result = export({"account_id": ACCOUNT_A, "month": "2025-11"})

    key = f"statements/{ACCOUNT_A}/2025-11.json"
    assert (result["bucket"], result["key"], result["entries"]) == (BUCKET, key, 2)
    assert result["written"] is True
    document, response = _object(s3, key)
    assert document == {
        "format": 1,
        "account_id": ACCOUNT_A,
        "month": "2025-11",
        "currency": "EUR",
        "opening_balance_minor": 5000,
        "closing_balance_minor": 4300,
        "entries": [
            {
                "event_id": history["transfer_nov"],
                "occurred_at": "2025-11-01T00:00:00Z",
                "kind": "debit",
                "amount_minor": 1000,
                "currency": "EUR",
                "transfer_id": document["entries"][0]["transfer_id"],
                "counterparty_account_id": ACCOUNT_B,
                "deposit_id": None,
            },
            {
                "event_id": history["deposit_nov"],
                "occurred_at": "2025-11-30T23:59:59.999999Z",
                "kind": "deposit",
                "amount_minor": 300,
                "currency": "EUR",
                "transfer_id": None,
                "counterparty_account_id": None,
                "deposit_id": document["entries"][1]["deposit_id"],
            },
        ],
    }
    assert response["ContentType"] == "application/json"
    # Encrypted by the bucket's default (SSE-KMS): the function passes no key of its own.
    assert response["ServerSideEncryption"] == "aws:kms"

    event = result["event"]
    parsed = _contracts(modules).parse(result["message"])
    assert json.loads(result["message"]) == event
    assert parsed.event_type == "StatementExported"
    assert parsed.event_version == 1
    assert event["data"] == {
        "account_id": ACCOUNT_A,
        "month": "2025-11",
        "bucket": BUCKET,
        "key": key,
        "entry_count": 2,
        "content_sha256": response["Metadata"]["content-sha256"],
    }
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert event["occurred_at"] == head["LastModified"].astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_the_balances_of_other_months_follow_from_the_entries(
    history: dict[str, str], export: Callable[..., dict[str, Any]], s3: Any
) -> None:
    for month, opening, closing, count in (
        ("2025-10", 0, 5000, 2),
        ("2025-12", 4300, 4500, 1),
        ("2026-01", 4500, 4500, 0),
    ):
        result = export({"account_id": ACCOUNT_A, "month": month})
        document, _ = _object(s3, result["key"])
        assert (
            document["opening_balance_minor"],
            document["closing_balance_minor"],
            len(document["entries"]),
            result["entries"],
        ) == (opening, closing, count, count), month


def test_a_month_without_entries_is_an_empty_statement(
    history: dict[str, str],
    export: Callable[..., dict[str, Any]],
    modules: SimpleNamespace,
    s3: Any,
) -> None:
    result = export({"account_id": ACCOUNT_A, "month": "2024-02"})

    document, _ = _object(s3, f"statements/{ACCOUNT_A}/2024-02.json")
    assert document["entries"] == []
    assert (document["opening_balance_minor"], document["closing_balance_minor"]) == (0, 0)
    assert result["entries"] == 0
    assert result["event"]["data"]["entry_count"] == 0
    _contracts(modules).validate(result["event"])


def test_an_account_the_service_never_heard_of_is_not_found(
    history: dict[str, str],
    export: Callable[..., dict[str, Any]],
    modules: SimpleNamespace,
    s3: Any,
) -> None:
    with pytest.raises(modules.exports.StatementNotFound) as raised:
        export({"account_id": UNKNOWN, "month": "2025-11"})

    assert type(raised.value).__name__ == "StatementNotFound"
    assert "KeyCount" not in s3.list_objects_v2(Bucket=BUCKET) or (
        s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    )


def _current_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _next_year() -> str:
    return f"{datetime.now(UTC).year + 1}-01"


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (None, "JSON object"),
        ([ACCOUNT_A, "2025-11"], "JSON object"),
        ("2025-11", "JSON object"),
        ({"month": "2025-11"}, "missing account_id"),
        ({"account_id": ACCOUNT_A}, "missing month"),
        ({}, "missing account_id, month"),
        ({"account_id": ACCOUNT_A, "month": "2025-11", "format": "csv"}, "unknown format"),
        ({"account_id": ACCOUNT_A.upper(), "month": "2025-11"}, "lowercase UUID"),
        ({"account_id": "not-a-uuid", "month": "2025-11"}, "lowercase UUID"),
        ({"account_id": 42, "month": "2025-11"}, "lowercase UUID"),
        ({"account_id": ACCOUNT_A, "month": "2025-13"}, "YYYY-MM"),
        ({"account_id": ACCOUNT_A, "month": "2025-00"}, "YYYY-MM"),
        ({"account_id": ACCOUNT_A, "month": "2025-1"}, "YYYY-MM"),
        ({"account_id": ACCOUNT_A, "month": "2025-11-01"}, "YYYY-MM"),
        ({"account_id": ACCOUNT_A, "month": 202511}, "YYYY-MM"),
        ({"account_id": ACCOUNT_A, "month": _current_month()}, "has not ended"),
        ({"account_id": ACCOUNT_A, "month": _next_year()}, "has not ended"),
    ],
)
def test_bad_input_raises_invalid_export_request(
    export: Callable[..., dict[str, Any]],
    modules: SimpleNamespace,
    s3: Any,
    payload: Any,
    says: str,
) -> None:
    with pytest.raises(modules.exports.InvalidExportRequest, match=says) as raised:
        export(payload)

    # The name a Step Functions Catch matches (Lambda reports the class name as errorType).
    assert type(raised.value).__name__ == "InvalidExportRequest"
    assert modules.export_statement.InvalidExportRequest is modules.exports.InvalidExportRequest
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_exporting_a_month_again_writes_nothing_and_repeats_the_event(
    history: dict[str, str],
    export: Callable[..., dict[str, Any]],
    apply: Callable[..., None],
    envelopes: Any,
    s3: Any,
) -> None:
    request = {"account_id": ACCOUNT_A, "month": "2025-11"}
    first = export(request)
    stored = s3.head_object(Bucket=BUCKET, Key=first["key"])

    second = export(dict(request))

    assert second["written"] is False
    assert (second["key"], second["message"]) == (first["key"], first["message"])
    again = s3.head_object(Bucket=BUCKET, Key=first["key"])
    assert (again["ETag"], again["LastModified"]) == (stored["ETag"], stored["LastModified"])

    # An entry of that month applied late changes the document, and so the event.
    apply(envelopes.deposit(ACCOUNT_A, 1, occurred_at="2025-11-15T12:00:00Z"))
    third = export(dict(request))
    assert third["written"] is True
    assert third["key"] == first["key"]
    assert third["entries"] == 3
    assert third["event"]["event_id"] != first["event"]["event_id"]


def test_the_same_statement_gives_the_same_event_id_in_another_bucket_object(
    history: dict[str, str],
    export: Callable[..., dict[str, Any]],
    s3: Any,
) -> None:
    """The id derives from the account, the month and the content, not from S3's answers:
    a document deleted and exported again is announced with the same id."""
    first = export({"account_id": ACCOUNT_A, "month": "2025-11"})
    s3.delete_object(Bucket=BUCKET, Key=first["key"])

    second = export({"account_id": ACCOUNT_A, "month": "2025-11"})

    assert second["written"] is True
    assert second["event"]["event_id"] == first["event"]["event_id"]


def _write_month(
    dynamodb: Any, modules: SimpleNamespace, account_id: str, count: int, month: str
) -> None:
    """``count`` deposits of 1 in ``month`` straight into the table, and a header whose
    balance is their sum (faster than applying that many events)."""
    entries = [
        modules.statements.Entry(
            account_id=account_id,
            event_id=f"00000000-0000-4000-8000-{number:012d}",
            occurred_at=(
                f"{month}-{1 + number % 28:02d}T10:{number % 60:02d}:{number // 60 % 60:02d}Z"
            ),
            kind="deposit",
            amount_minor=1,
            currency="EUR",
            deposit_id=f"10000000-0000-4000-8000-{number:012d}",
        )
        for number in range(count)
    ]
    for start in range(0, count, 25):
        dynamodb.batch_write_item(
            RequestItems={
                TABLE_NAME: [
                    {"PutRequest": {"Item": entry.to_item()}}
                    for entry in entries[start : start + 25]
                ]
            }
        )
    header = modules.statements.statement_key(account_id)
    header.update(
        {
            "type": {"S": "Statement"},
            "account_id": {"S": account_id},
            "currency": {"S": "EUR"},
            "balance_minor": {"N": str(count)},
        }
    )
    dynamodb.put_item(TableName=TABLE_NAME, Item=header)


def test_a_long_month_is_read_page_by_page(
    export: Callable[..., dict[str, Any]],
    modules: SimpleNamespace,
    dynamodb: Any,
    s3: Any,
) -> None:
    _write_month(dynamodb, modules, ACCOUNT_A, 1050, "2025-07")

    result = export({"account_id": ACCOUNT_A, "month": "2025-07"})

    document, _ = _object(s3, result["key"])
    assert result["entries"] == len(document["entries"]) == 1050
    times = [
        modules.statements.entry_sort_key(entry["occurred_at"], entry["event_id"])
        for entry in document["entries"]
    ]
    assert times == sorted(times)
    assert len(set(times)) == 1050
    assert (document["opening_balance_minor"], document["closing_balance_minor"]) == (0, 1050)

    # With small pages, every page is followed.
    calls: list[dict[str, Any]] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(dynamodb, name)

        def query(self, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return dynamodb.query(**kwargs)

    repository = modules.statements.StatementRepository(Counting(), TABLE_NAME)
    exporter = modules.exports.StatementExporter(
        repository, s3, BUCKET, _contracts(modules), page_size=100
    )
    document = exporter.document(modules.exports.ExportRequest(ACCOUNT_A, "2025-07"))
    assert len(document["entries"]) == 1050
    month = [c for c in calls if c["ExpressionAttributeValues"][":low"]["S"] == "ENTRY#2025-07-"]
    assert len(month) == 11  # 10 full pages of 100, then 50
    assert all(c["Limit"] == 100 and c["ConsistentRead"] for c in calls)
