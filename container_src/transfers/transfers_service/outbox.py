"""The outbox publisher: sends the events that committed transactions left in ``outbox``.

Each batch locks up to ``batch_size`` unsent rows with ``FOR UPDATE SKIP LOCKED`` (so
several tasks share the work without sending a row twice at once), publishes each to SNS
with the message attributes ``event_type``, ``event_version`` and, when the row has one,
``correlation_id`` (the id of the request that queued it; its log lines carry it too), and
marks a row sent only after SNS accepted it.
A failed publish records the error and schedules the row again later (exponential backoff):
delivery is at least once, and consumers deduplicate on ``event_id``.

The publisher does not poll. :meth:`OutboxPublisher.run` publishes when it starts, then
whenever :attr:`OutboxPublisher.wake` is set (the service sets it after each commit that
wrote to the outbox), when the earliest failed row is due again, and otherwise only every
``sweep_seconds`` (a safety net for rows another task left): an idle service sends no query
to the database, so that Aurora Serverless v2 can pause.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from psycopg import Connection

from transfers_service import correlation
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
                "SELECT id, event_id, event_type, event_version, message, attempts,"
                " correlation_id FROM outbox"
                " WHERE sent_at IS NULL AND next_attempt_at <= now()"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (self._batch_size,),
            ).fetchall()
            for row in rows:
                with correlation.bound(row[6]):
                    if self._publish_row(conn, row):
                        sent += 1
                    else:
                        failed += 1
        return PublishResult(sent, failed)

    def _publish_row(self, conn: Connection[Any], row: tuple[Any, ...]) -> bool:
        """Publish one locked row and mark it sent (True) or reschedule it (False)."""
        row_id, event_id, event_type, event_version, message, attempts, correlation_id = row
        try:
            response = self._sns.publish(
                TopicArn=self._topic_arn,
                Message=message,
                MessageAttributes={
                    EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event_type},
                    "event_version": {"DataType": "Number", "StringValue": str(event_version)},
                    **correlation.message_attribute(correlation_id),
                },
            )
        except Exception as error:  # any failure: keep the row, try again later
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
            return False
        message_id = str(response.get("MessageId", ""))
        conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, sent_at = now(),"
            " sns_message_id = %s, last_error = NULL WHERE id = %s",
            (message_id, row_id),
        )
        logger.info(
            "published event %s (%s)",
            event_id,
            event_type,
            extra={"event_id": str(event_id), "event_type": event_type, "message_id": message_id},
        )
        return True

    def seconds_until_due(self) -> float | None:
        """Seconds until the earliest unsent row is due (<= 0: due now); None: none left."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT extract(epoch FROM min(next_attempt_at) - now())::float8 FROM outbox"
                " WHERE sent_at IS NULL"
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def run(
        self, stop: threading.Event, *, sweep_seconds: float, min_pause_seconds: float = 1.0
    ) -> None:
        """Publish until ``stop`` is set (which must be followed by ``wake.set()``): at
        once, then whenever woken, when a failed row is due again, and at the latest every
        ``sweep_seconds``. Waits at least ``min_pause_seconds`` between two batches unless
        woken (rows due but locked by another task do not make it spin), and backs off from
        it up to ``sweep_seconds`` while the database fails."""
        logger.info(
            "outbox publisher started (topic %s, sweep every %.0fs)", self._topic_arn, sweep_seconds
        )
        error_pause = min_pause_seconds
        while True:
            # Cleared before the outbox is read: a commit from now on sets it again, so the
            # wait below returns at once and the next batch sees that commit's row.
            self.wake.clear()
            if stop.is_set():  # checked after the clear: stop() sets the flag, then wakes
                break
            try:
                result = self.publish_batch()
                if result.sent + result.failed >= self._batch_size:
                    continue  # a full batch: there may be more
                due_in = self.seconds_until_due()
            except Exception:
                logger.exception("outbox publisher failed, retrying in %.0fs", error_pause)
                pause = error_pause
                error_pause = min(error_pause * 2, sweep_seconds)
            else:
                error_pause = min_pause_seconds
                pause = sweep_seconds
                if due_in is not None:
                    pause = min(sweep_seconds, max(due_in, min_pause_seconds))
            self.wake.wait(pause)
        logger.info("outbox publisher stopped")
