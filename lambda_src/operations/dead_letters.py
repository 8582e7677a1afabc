"""Dead-letter queues: which ones to watch, and how many messages each holds (no Lambda here).

The queues come from ``DEAD_LETTER_QUEUE_URLS``, a JSON object of queue name (the report's
and the metric's name for it, such as ``statements-events``) to queue URL. Counts are read
with SQS ``GetQueueAttributes`` only: receiving a message to look at it would hide it for
its visibility timeout and raise its receive count, so nothing here receives, deletes or
moves a message.

SQS's counts are approximate (eventually consistent): ``ApproximateNumberOfMessages``
(visible, waiting to be looked at or redriven), ``...NotVisible`` (received by someone,
such as a redrive in progress, and not yet deleted) and ``...Delayed``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

QUEUE_URLS_VARIABLE = "DEAD_LETTER_QUEUE_URLS"
COUNT_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
# A name is a CloudWatch dimension value and a log field: short, printable, no spaces.
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,80}")
# https://sqs.<region>.amazonaws.com[.cn]/<account id>/<queue name>, as SQS and CDK give it.
_QUEUE_URL = re.compile(r"https://[a-z0-9.-]+/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?")
MAX_QUEUES = 50


class ConfigurationError(ValueError):
    """``DEAD_LETTER_QUEUE_URLS`` is missing or malformed; the message says how."""


class SqsClient(Protocol):
    """The part of a boto3 SQS client the report uses."""

    def get_queue_attributes(self, **kwargs: Any) -> Mapping[str, Any]: ...


def parse_queue_urls(text: str | None) -> dict[str, str]:
    """The queues of ``DEAD_LETTER_QUEUE_URLS`` (name to URL), checked."""
    if text is None or not text.strip():
        raise ConfigurationError(
            f"{QUEUE_URLS_VARIABLE} is not set: give a JSON object of queue name to queue URL"
        )
    try:
        queues = json.loads(text)
    except ValueError as error:
        raise ConfigurationError(f"{QUEUE_URLS_VARIABLE} is not JSON: {error}") from None
    if not isinstance(queues, dict) or not queues:
        raise ConfigurationError(
            f"{QUEUE_URLS_VARIABLE} must be a non-empty JSON object of queue name to queue URL"
        )
    if len(queues) > MAX_QUEUES:
        raise ConfigurationError(
            f"{QUEUE_URLS_VARIABLE} names {len(queues)} queues; at most {MAX_QUEUES}"
        )
    for name, url in queues.items():
        if not _QUEUE_NAME.fullmatch(name):
            raise ConfigurationError(
                f"{QUEUE_URLS_VARIABLE}: queue name {name!r} must be 1 to 80 letters, digits"
                " or _.:/-"
            )
        if not isinstance(url, str) or not _QUEUE_URL.fullmatch(url):
            raise ConfigurationError(
                f"{QUEUE_URLS_VARIABLE}: the URL of {name!r} must be an SQS queue URL"
                f" (https://sqs.<region>.amazonaws.com/<account>/<queue>), got {url!r}"
            )
    return {str(name): str(url) for name, url in queues.items()}


@dataclass(frozen=True)
class QueueCount:
    """The messages one dead-letter queue holds."""

    name: str
    url: str
    visible: int
    not_visible: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.not_visible + self.delayed

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "visible": self.visible,
            "not_visible": self.not_visible,
            "delayed": self.delayed,
            "total": self.total,
        }


@dataclass(frozen=True)
class QueueFailure:
    """A queue whose counts could not be read (deleted, no permission, ...)."""

    name: str
    url: str
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "error": self.error}


@dataclass(frozen=True)
class Report:
    """The counts of every queue that answered, and the queues that did not."""

    counts: list[QueueCount]
    failures: list[QueueFailure]

    @property
    def total(self) -> int:
        return sum(count.total for count in self.counts)

    def to_json(self) -> dict[str, Any]:
        return {
            "queues": {count.name: count.to_json() for count in self.counts},
            "failed": {failure.name: failure.to_json() for failure in self.failures},
            "total": self.total,
        }


def count_messages(client: SqsClient, name: str, url: str) -> QueueCount:
    """The counts of one queue (raises the client's error)."""
    attributes = client.get_queue_attributes(
        QueueUrl=url, AttributeNames=list(COUNT_ATTRIBUTES)
    ).get("Attributes", {})
    visible, not_visible, delayed = (int(attributes.get(name, 0)) for name in COUNT_ATTRIBUTES)
    return QueueCount(name, url, visible, not_visible, delayed)


def read_report(client: SqsClient, queues: Mapping[str, str]) -> Report:
    """Every queue's counts; a queue that fails is recorded and the others still read."""
    counts: list[QueueCount] = []
    failures: list[QueueFailure] = []
    for name, url in queues.items():
        try:
            counts.append(count_messages(client, name, url))
        except ClientError as error:
            details = error.response.get("Error", {})
            code = details.get("Code", "ClientError")
            failures.append(QueueFailure(name, url, f"{code}: {details.get('Message', error)}"))
        except BotoCoreError as error:  # no endpoint, no credentials, ...
            failures.append(QueueFailure(name, url, f"{type(error).__name__}: {error}"))
    return Report(counts, failures)
