"""The outbox publisher: sends the events that committed transactions left in ``outbox``.

Each batch locks up to ``batch_size`` unsent rows with ``FOR UPDATE SKIP LOCKED`` (so
several tasks share the work without sending a row twice at once), publishes each to SNS
with the ``event_type`` message attribute, and marks a row sent only after SNS accepted it.
A failed publish records the error and schedules the row again later (exponential backoff):
delivery is at least once, and consumers deduplicate on ``event_id``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from transfers_service.db import Pool
from transfers_service.events import EVENT_TYPE_ATTRIBUTE

logger = logging.getLogger(__name__)


class SnsClient(Protocol):
    """The part of a boto3 SNS client the publisher uses."""

    def publish(self, **kwargs: Any) -> Mapping[str, Any]: ...


def backoff_seconds(attempts: int) -> float:
    """Seconds to wait before the next attempt, after ``attempts`` failed ones."""
    return float(min(2 ** min(attempts, 10), 300))


@dataclass(frozen=True)
class PublishResult:
    """What one batch did."""

    sent: int
    failed: int


class OutboxPublisher:
    """Publishes the outbox to one SNS topic."""

    def __init__(
        self,
        pool: Pool,
        sns: SnsClient,
        topic_arn: str,
        *,
        batch_size: int = 25,
        retry_after: Callable[[int], float] = backoff_seconds,
    ) -> None:
        self._pool = pool
        self._sns = sns
        self._topic_arn = topic_arn
        self._batch_size = batch_size
        self._retry_after = retry_after
        self.wake = threading.Event()

    def publish_batch(self) -> PublishResult:
        """Publish up to one batch of due rows; each row is marked sent or rescheduled."""
        sent = failed = 0
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT id, event_id, event_type, event_version, message, attempts FROM outbox"
                " WHERE sent_at IS NULL AND next_attempt_at <= now()"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (self._batch_size,),
            ).fetchall()
            for row_id, event_id, event_type, event_version, message, attempts in rows:
                try:
                    response = self._sns.publish(
                        TopicArn=self._topic_arn,
                        Message=message,
                        MessageAttributes={
                            EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event_type},
                            "event_version": {
                                "DataType": "Number",
                                "StringValue": str(event_version),
                            },
                        },
                    )
                except Exception as error:  # any failure: keep the row, try again later
                    failed += 1
                    delay = self._retry_after(int(attempts) + 1)
                    logger.warning(
                        "publishing event %s failed (attempt %d), retrying in %.0fs: %s",
                        event_id,
                        attempts + 1,
                        delay,
                        error,
                    )
                    conn.execute(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = %s,"
                        " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                        (str(error)[:1000], delay, row_id),
                    )
                else:
                    sent += 1
                    conn.execute(
                        "UPDATE outbox SET attempts = attempts + 1, sent_at = now(),"
                        " sns_message_id = %s, last_error = NULL WHERE id = %s",
                        (str(response.get("MessageId", "")), row_id),
                    )
        return PublishResult(sent, failed)

    def run(self, stop: threading.Event, *, poll_seconds: float) -> None:
        """Publish until ``stop`` is set: whenever woken, else every ``poll_seconds``."""
        logger.info("outbox publisher started (topic %s)", self._topic_arn)
        while not stop.is_set():
            try:
                result = self.publish_batch()
            except Exception:
                logger.exception("outbox publisher failed, retrying")
                result = PublishResult(0, 0)
                stop.wait(poll_seconds)
            if result.sent + result.failed >= self._batch_size:
                continue  # a full batch: there may be more
            self.wake.wait(poll_seconds)
            self.wake.clear()
        logger.info("outbox publisher stopped")
