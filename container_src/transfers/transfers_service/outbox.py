"""The outbox publisher: sends the events that committed transactions left in ``outbox``.

Each batch locks up to ``batch_size`` unsent rows with ``FOR UPDATE SKIP LOCKED`` (so
several tasks share the work without sending a row twice at once), publishes them to SNS
with the message attributes ``event_type``, ``event_version`` and, when the row has one,
``correlation_id`` (the id of the request that queued it; its log lines carry it too), and
marks a row sent only after SNS accepted it. Rows go out in PublishBatch calls of up to 10
(see :func:`sns_batches`; the ``sns:Publish`` permission covers it): one call per event
made the publisher the service's largest CPU cost under load (signing and parsing a call
per event), and its drain rate lower than the rate transfers commit (bench/load.md).
SNS answers each entry of a batch separately: an entry it refuses, or a call that fails
as a whole, records the error and schedules the row again later (exponential backoff):
delivery is at least once, and consumers deduplicate on ``event_id``.

The publisher does not poll. :meth:`OutboxPublisher.run` publishes when it starts, then
whenever :attr:`OutboxPublisher.wake` is set (the service sets it after each commit that
wrote to the outbox; it then lingers :data:`LINGER_SECONDS` for more to batch them), when
the earliest failed row is due again, and otherwise only every ``sweep_seconds`` (a safety
net for rows another task left): an idle service sends no query to the database, so that
Aurora Serverless v2 can pause.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from psycopg import Connection

from transfers_service import correlation
from transfers_service.db import Pool
from transfers_service.events import EVENT_TYPE_ATTRIBUTE

logger = logging.getLogger(__name__)


# PublishBatch's limits (SNS API reference, PublishBatch): at most 10 entries, and the
# bodies and attributes of all entries at most the topic's MaximumMessageSize, 256 KiB by
# default.
SNS_BATCH_ENTRIES = 10
# How long the publisher waits, once woken by a commit, for more commits to join the batch:
# woken for each commit, it sent batches of one to three events under load (one SNS call,
# signed and parsed, for each), for an event delay of at most this much more.
LINGER_SECONDS = 0.05
SNS_BATCH_BYTES = 262_144


class SnsClient(Protocol):
    """The part of a boto3 SNS client the publisher uses."""

    def publish_batch(self, **kwargs: Any) -> Mapping[str, Any]: ...


def backoff_seconds(attempts: int) -> float:
    """Seconds to wait before the next attempt, after ``attempts`` failed ones."""
    return float(min(2 ** min(attempts, 10), 300))


@dataclass(frozen=True)
class OutboxRow:
    """An unsent outbox row, as the publisher reads it."""

    id: int
    event_id: Any
    event_type: str
    event_version: int
    message: str
    attempts: int
    correlation_id: str | None

    @property
    def attributes(self) -> dict[str, dict[str, str]]:
        """The SNS message attributes: the event's type and version, and its correlation id
        when it has one."""
        return {
            EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": self.event_type},
            "event_version": {"DataType": "Number", "StringValue": str(self.event_version)},
            **correlation.message_attribute(self.correlation_id),
        }

    @property
    def size(self) -> int:
        """Bytes this entry counts toward a batch's total: its body and its attributes'
        names, types and values (how SNS measures a message's size)."""
        attributes = sum(
            len(name.encode())
            + len(value["DataType"].encode())
            + len(value["StringValue"].encode())
            for name, value in self.attributes.items()
        )
        return len(self.message.encode()) + attributes


def sns_batches(rows: Sequence[OutboxRow]) -> list[list[OutboxRow]]:
    """``rows`` in order, cut into PublishBatch calls SNS accepts: at most
    :data:`SNS_BATCH_ENTRIES` entries, and bodies with attributes of at most
    :data:`SNS_BATCH_BYTES` together (a single row above that gets a call of its own, and
    SNS refuses it as it would refuse it alone)."""
    batches: list[list[OutboxRow]] = []
    current: list[OutboxRow] = []
    current_bytes = 0
    for row in rows:
        if current and (
            len(current) == SNS_BATCH_ENTRIES or current_bytes + row.size > SNS_BATCH_BYTES
        ):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(row)
        current_bytes += row.size
    if current:
        batches.append(current)
    return batches


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
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self._pool = pool
        self._sns = sns
        self._topic_arn = topic_arn
        self._batch_size = batch_size
        self._retry_after = retry_after
        self._linger_seconds = linger_seconds
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
            for chunk in sns_batches([OutboxRow(*row) for row in rows]):
                chunk_sent, chunk_failed = self._publish_chunk(conn, chunk)
                sent += chunk_sent
                failed += chunk_failed
        return PublishResult(sent, failed)

    def _publish_chunk(self, conn: Connection[Any], rows: Sequence[OutboxRow]) -> tuple[int, int]:
        """Publish locked rows in one PublishBatch call; mark each sent or reschedule it.
        The counts of rows sent and failed."""
        try:
            response = self._sns.publish_batch(
                TopicArn=self._topic_arn,
                PublishBatchRequestEntries=[
                    {"Id": str(index), "Message": row.message, "MessageAttributes": row.attributes}
                    for index, row in enumerate(rows)
                ],
            )
        except Exception as error:  # any failure: keep every row, try again later
            self._reschedule(conn, [(row, str(error)) for row in rows])
            return 0, len(rows)
        succeeded = {
            int(entry["Id"]): str(entry.get("MessageId", ""))
            for entry in response.get("Successful", [])
        }
        # An entry SNS reports neither way is treated as failed: delivery stays at least once.
        errors = {
            int(entry["Id"]): f"{entry.get('Code')}: {entry.get('Message')}"
            for entry in response.get("Failed", [])
        }
        done = [(row, succeeded[index]) for index, row in enumerate(rows) if index in succeeded]
        if done:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, sent_at = now(),"
                " sns_message_id = sent.message_id, last_error = NULL"
                " FROM unnest(%s::bigint[], %s::text[]) AS sent (id, message_id)"
                " WHERE outbox.id = sent.id",
                ([row.id for row, _ in done], [message_id for _, message_id in done]),
            )
        for row, message_id in done:
            with correlation.bound(row.correlation_id):
                logger.info(
                    "published event %s (%s)",
                    row.event_id,
                    row.event_type,
                    extra={
                        "event_id": str(row.event_id),
                        "event_type": row.event_type,
                        "message_id": message_id,
                    },
                )
        missed = [
            (row, errors.get(index, "SNS reported no result for this entry"))
            for index, row in enumerate(rows)
            if index not in succeeded
        ]
        self._reschedule(conn, missed)
        return len(done), len(missed)

    def _reschedule(self, conn: Connection[Any], failures: Sequence[tuple[OutboxRow, str]]) -> None:
        for row, error in failures:
            delay = self._retry_after(row.attempts + 1)
            with correlation.bound(row.correlation_id):
                logger.warning(
                    "publishing event %s failed (attempt %d), retrying in %.0fs: %s",
                    row.event_id,
                    row.attempts + 1,
                    delay,
                    error,
                )
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = %s,"
                " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                (error[:1000], delay, row.id),
            )

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
            if self.wake.wait(pause) and self._linger_seconds > 0:
                # Woken by a commit: the commits of the next moment join its batch.
                stop.wait(self._linger_seconds)
        logger.info("outbox publisher stopped")
