"""Domain events: the envelope, its validation against the contracts, and publishing.

Every event is a JSON object ``{event_id, event_type, event_version, occurred_at, data}``
whose exact shape is the JSON Schema ``contracts/events/<event_type>.v<event_version>.json``.
Functions read the contracts from ``CONTRACTS_DIR`` (default ``/opt/events``, where the
contracts layer puts them); tests point it at the repository's ``contracts/events``.

Publishers send the envelope as the SNS message body with the message attributes
``event_type`` (subscriptions filter on it), ``event_version`` and, when the event was
caused by a request, ``correlation_id`` (see ``correlation``: the id travels beside the
payload, never in it); consumers validate what they receive before acting on it, and
deduplicate on ``event_id``.

Raw delivery to an SQS queue passes at most 10 message attributes (SNS discards a message
with more as a client-side error): publishers send at most :data:`MAX_MESSAGE_ATTRIBUTES`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import fastjsonschema

from payments_shared.correlation import message_attribute

CONTRACTS_DIR_VARIABLE = "CONTRACTS_DIR"
DEFAULT_CONTRACTS_DIR = "/opt/events"
EVENT_TYPE_ATTRIBUTE = "event_type"
MAX_MESSAGE_ATTRIBUTES = 10
"""SNS: at most 10 message attributes reach an SQS subscription with raw delivery."""
_CONTRACT_FILE = re.compile(r"(?P<name>[A-Z][A-Za-z0-9]{1,63})\.v(?P<version>[1-9][0-9]*)\.json")


class InvalidEventError(ValueError):
    """A message that is not a valid event of a declared contract; says what is wrong."""


class SnsClient(Protocol):
    """The part of a boto3 SNS client that publishing uses."""

    def publish(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True, kw_only=True)
class Event:
    """One validated domain event."""

    event_id: str
    event_type: str
    event_version: int
    occurred_at: str
    data: dict[str, Any]

    def to_json(self) -> str:
        """The envelope as the JSON text that goes on the wire."""
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)


class ContractRegistry:
    """The event contracts found in one folder, compiled for validation."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._validators: dict[tuple[str, int], Any] = {}
        for file in sorted(directory.glob("*.json")):
            match = _CONTRACT_FILE.fullmatch(file.name)
            if match is None:
                continue
            schema = json.loads(file.read_text(encoding="utf-8"))
            key = (match["name"], int(match["version"]))
            self._validators[key] = fastjsonschema.compile(schema)
        if not self._validators:
            raise RuntimeError(f"no event contracts (<Name>.v<N>.json) found in {directory}")

    @classmethod
    def from_env(cls) -> ContractRegistry:
        """The contracts in ``$CONTRACTS_DIR`` (default ``/opt/events``)."""
        return cls(Path(os.environ.get(CONTRACTS_DIR_VARIABLE, DEFAULT_CONTRACTS_DIR)))

    @property
    def declared(self) -> list[str]:
        """``Name.vN`` of every contract, sorted."""
        return sorted(f"{name}.v{version}" for name, version in self._validators)

    def parse(self, body: str) -> Event:
        """Parse and validate a message body; :class:`InvalidEventError` says what is wrong."""
        try:
            envelope = json.loads(body)
        except ValueError as error:
            raise InvalidEventError(f"message body is not JSON: {error}") from error
        if not isinstance(envelope, dict):
            raise InvalidEventError("message body is not a JSON object")
        return self.validate(envelope)

    def validate(self, envelope: Mapping[str, Any]) -> Event:
        """Check ``envelope`` against the contract its ``event_type`` and version name."""
        event_type = envelope.get("event_type")
        event_version = envelope.get("event_version")
        validator = self._validators.get((str(event_type), event_version))  # type: ignore[arg-type]
        if validator is None or isinstance(event_version, bool):
            raise InvalidEventError(
                f"no contract for event_type {event_type!r} version {event_version!r}; "
                f"declared: {', '.join(self.declared)}"
            )
        try:
            validator(dict(envelope))
        except fastjsonschema.JsonSchemaValueException as error:
            # fastjsonschema calls the validated object "data": "data.data.amount_minor ..."
            # is the envelope's data.amount_minor, "data must contain ..." the envelope.
            message = error.message
            if message.startswith("data."):
                message = message.removeprefix("data.")
            elif message.startswith("data "):
                message = "the envelope " + message.removeprefix("data ")
            raise InvalidEventError(f"{event_type} v{event_version}: {message}") from error
        return Event(
            event_id=envelope["event_id"],
            event_type=envelope["event_type"],
            event_version=envelope["event_version"],
            occurred_at=envelope["occurred_at"],
            data=dict(envelope["data"]),
        )


def message_attributes(event: Event, correlation_id: str | None = None) -> dict[str, Any]:
    """The SNS message attributes of ``event``: ``event_type``, ``event_version`` and, for a
    valid ``correlation_id``, ``correlation_id``."""
    attributes: dict[str, Any] = {
        EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event.event_type},
        "event_version": {"DataType": "Number", "StringValue": str(event.event_version)},
        **message_attribute(correlation_id),
    }
    return attributes


def publish(
    client: SnsClient, topic_arn: str, event: Event, *, correlation_id: str | None = None
) -> str:
    """Publish ``event`` to ``topic_arn`` with its attributes (:func:`message_attributes`);
    the message id."""
    response = client.publish(
        TopicArn=topic_arn,
        Message=event.to_json(),
        MessageAttributes=message_attributes(event, correlation_id),
    )
    return str(response["MessageId"])
