"""Event contracts: validation of what the service consumes and publishes.

The contracts are JSON Schema files ``<EventType>.v<N>.json``, copied into the image at
build time (``CONTRACTS_DIR``, default ``/app/contracts/events``). Services share these
files, not code: this is the transfers service's own small reader of them. An event is the
envelope ``{event_id, event_type, event_version, occurred_at, data}``; it travels as the raw
JSON body of the SNS/SQS message, with the message attribute ``event_type``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastjsonschema

EVENT_TYPE_ATTRIBUTE = "event_type"
ACCOUNT_OPENED = ("AccountOpened", 1)
TRANSFER_COMPLETED = ("TransferCompleted", 1)
DEPOSIT_COMPLETED = ("DepositCompleted", 1)
# The contracts of the events the service publishes: it does not start without them.
PUBLISHED = (TRANSFER_COMPLETED, DEPOSIT_COMPLETED)
# The event ids of the service's own events derive from what they announce (uuid5), so
# one transfer can only ever have one TransferCompleted event id, and one deposit one
# DepositCompleted event id.
EVENT_ID_NAMESPACE = uuid.UUID("5d2c3f7e-1b8a-4d7e-9a39-6c0f4e8b2a17")
_CONTRACT_FILE = re.compile(r"(?P<name>[A-Z][A-Za-z0-9]{1,63})\.v(?P<version>[1-9][0-9]*)\.json")


class InvalidEventError(ValueError):
    """A message that is not a valid event of a known contract; says what is wrong."""


class ContractRegistry:
    """The contracts found in one folder, compiled; ``required`` ones must be there."""

    def __init__(self, directory: Path, *, required: tuple[tuple[str, int], ...] = ()) -> None:
        self.directory = directory
        self._validators: dict[tuple[str, int], Callable[[Any], Any]] = {}
        for file in sorted(directory.glob("*.json")):
            match = _CONTRACT_FILE.fullmatch(file.name)
            if match is not None:
                schema = json.loads(file.read_text(encoding="utf-8"))
                self._validators[(match["name"], int(match["version"]))] = fastjsonschema.compile(
                    schema
                )
        missing = [
            f"{name}.v{version}"
            for name, version in required
            if (name, version) not in self._validators
        ]
        if missing:
            raise RuntimeError(f"event contracts {', '.join(missing)} not found in {directory}")

    def parse(self, body: str) -> dict[str, Any]:
        """A message body, parsed and validated (:class:`InvalidEventError` otherwise)."""
        try:
            envelope = json.loads(body)
        except ValueError as error:
            raise InvalidEventError(f"message body is not JSON: {error}") from None
        if not isinstance(envelope, dict):
            raise InvalidEventError("message body is not a JSON object")
        self.validate(envelope)
        return envelope

    def validate(self, envelope: Mapping[str, Any]) -> None:
        """Check ``envelope`` against the contract its event_type and event_version name."""
        event_type = envelope.get("event_type")
        event_version = envelope.get("event_version")
        validator = None
        if isinstance(event_type, str) and type(event_version) is int:
            validator = self._validators.get((event_type, event_version))
        if validator is None:
            raise InvalidEventError(
                f"no contract for event_type {event_type!r} version {event_version!r}"
            )
        try:
            validator(dict(envelope))
        except fastjsonschema.JsonSchemaValueException as error:
            raise InvalidEventError(f"{event_type} v{event_version}: {error.message}") from None


def timestamp(moment: datetime) -> str:
    """``moment`` as the contracts want it: UTC, ISO-8601, microseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def transfer_completed(
    *,
    transfer_id: uuid.UUID,
    from_account_id: uuid.UUID,
    to_account_id: uuid.UUID,
    amount_minor: int,
    currency: str,
    completed_at: datetime,
) -> dict[str, Any]:
    """The TransferCompleted v1 envelope of one committed transfer."""
    return {
        "event_id": str(uuid.uuid5(EVENT_ID_NAMESPACE, f"TransferCompleted:{transfer_id}")),
        "event_type": TRANSFER_COMPLETED[0],
        "event_version": TRANSFER_COMPLETED[1],
        "occurred_at": timestamp(completed_at),
        "data": {
            "transfer_id": str(transfer_id),
            "from_account_id": str(from_account_id),
            "to_account_id": str(to_account_id),
            "amount_minor": amount_minor,
            "currency": currency,
            "completed_at": timestamp(completed_at),
        },
    }


def deposit_completed(
    *,
    deposit_id: uuid.UUID,
    account_id: uuid.UUID,
    amount_minor: int,
    currency: str,
    completed_at: datetime,
) -> dict[str, Any]:
    """The DepositCompleted v1 envelope of one committed deposit (``deposit_id`` is its
    ``transfer_id`` in the API)."""
    return {
        "event_id": str(uuid.uuid5(EVENT_ID_NAMESPACE, f"DepositCompleted:{deposit_id}")),
        "event_type": DEPOSIT_COMPLETED[0],
        "event_version": DEPOSIT_COMPLETED[1],
        "occurred_at": timestamp(completed_at),
        "data": {
            "deposit_id": str(deposit_id),
            "account_id": str(account_id),
            "amount_minor": amount_minor,
            "currency": currency,
            "completed_at": timestamp(completed_at),
        },
    }
