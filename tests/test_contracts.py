"""Event contracts under contracts/events/ load as EventContracts and validate as promised."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import fastjsonschema
import pytest

from cdk_microservices import EventContract

CONTRACTS = sorted((Path(__file__).resolve().parent.parent / "contracts" / "events").glob("*.json"))
SAMPLES = {
    "AccountOpened": {
        "account_id": str(uuid.uuid4()),
        "owner_sub": "6f1c2a3e-1111-4c2b-9d8e-0a1b2c3d4e5f",
        "currency": "EUR",
        "opened_at": "2026-11-22T10:00:00.123Z",
    },
    "DepositCompleted": {
        "deposit_id": str(uuid.uuid4()),
        "account_id": str(uuid.uuid4()),
        "amount_minor": 5000,
        "currency": "EUR",
        "completed_at": "2026-11-23T10:00:00Z",
    },
    "TransferCompleted": {
        "transfer_id": str(uuid.uuid4()),
        "from_account_id": str(uuid.uuid4()),
        "to_account_id": str(uuid.uuid4()),
        "amount_minor": 1250,
        "currency": "EUR",
        "completed_at": "2026-11-22T10:00:00Z",
    },
    "StatementExported": {
        "account_id": "0b5c1e52-9a3f-4d47-8f2e-6f4c1d2b3a90",
        "month": "2026-10",
        "bucket": "payments-dev-statement-exports",
        "key": "statements/0b5c1e52-9a3f-4d47-8f2e-6f4c1d2b3a90/2026-10.json",
        "entry_count": 12,
        "content_sha256": "a" * 64,
    },
}


def _event(contract: EventContract) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": contract.name,
        "event_version": contract.version,
        "occurred_at": "2026-11-22T10:00:00Z",
        "data": dict(SAMPLES[contract.name]),
    }


def test_the_declared_contracts_exist() -> None:
    assert [path.name for path in CONTRACTS] == [
        "AccountOpened.v1.json",
        "DepositCompleted.v1.json",
        "StatementExported.v1.json",
        "TransferCompleted.v1.json",
    ]


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda path: path.name)
def test_contract_accepts_a_valid_event_and_rejects_bad_ones(path: Path) -> None:
    contract = EventContract.from_file(path)
    schema = json.loads(path.read_text(encoding="utf-8"))
    validate = fastjsonschema.compile(schema)
    good = _event(contract)
    validate(good)

    wrong_type = {**good, "event_type": "Other"}
    unknown_field = {**good, "extra": 1}
    missing_data_field = {
        **good,
        "data": {
            k: v
            for k, v in SAMPLES[contract.name].items()
            if k != schema["properties"]["data"]["required"][-1]
        },
    }
    bad_id = {**good, "event_id": "not-a-uuid"}
    for bad in (wrong_type, unknown_field, missing_data_field, bad_id):
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            validate(bad)
