"""The AccountOpened consumer: the accounts the ledger may move money between.

Long-polls the service's own SQS queue (subscribed to AccountOpened on the accounts bus,
raw delivery: each body is an event envelope). A valid event is applied in one
transaction and its message deleted only after the commit. The account is recorded with
its owner (``data.owner_sub``, whom the customer routes authorize). Applying is idempotent:
a redelivered event changes nothing, except that it fills in the owner of an account
recorded before accounts had owners. An invalid message, or one contradicting the ledger
(another currency, or another owner, than the account has), is logged and left on the
queue, so that the queue's redrive policy moves it to the dead-letter queue.

Each message is handled, and logged, with its ``correlation_id`` message attribute (the id
of the request that opened the account; see ``correlation``), if it has a valid one.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from transfers_service import correlation, ledger
from transfers_service.cache import BalanceCache
from transfers_service.db import Pool
from transfers_service.events import ACCOUNT_OPENED, ContractRegistry, InvalidEventError

logger = logging.getLogger(__name__)

_OPENED_LOG: dict[ledger.Opened, str] = {
    "opened": "opened",
    "owner_filled": "already known (duplicate), its owner filled in",
    "known": "already known (duplicate)",
}


class SqsClient(Protocol):
    """The part of a boto3 SQS client the consumer uses."""

    def receive_message(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def delete_message(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ConsumeResult:
    """What one poll did: accounts opened, duplicates, messages left on the queue."""

    opened: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0


class AccountEventsConsumer:
    """Applies AccountOpened events from one queue to the ledger."""

    def __init__(
        self,
        pool: Pool,
        sqs: SqsClient,
        queue_url: str,
        registry: ContractRegistry,
        cache: BalanceCache,
        *,
        wait_seconds: int = 20,
    ) -> None:
        self._pool = pool
        self._sqs = sqs
        self._queue_url = queue_url
        self._registry = registry
        self._cache = cache
        self._wait_seconds = wait_seconds

    def poll(self, *, wait_seconds: int | None = None) -> ConsumeResult:
        """Receive up to 10 messages (long polling) and handle each."""
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait_seconds if wait_seconds is None else wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
            # SQS returns only the message attributes asked for.
            MessageAttributeNames=[correlation.CORRELATION_ATTRIBUTE],
        )
        counts = {"opened": 0, "duplicates": 0, "rejected": 0, "failed": 0}
        for message in response.get("Messages", []):
            counts[self.handle(message)] += 1
        return ConsumeResult(**counts)

    def handle(self, message: Mapping[str, Any]) -> str:
        """Apply one message, with its correlation id bound (logs carry it); ``opened``,
        ``duplicates``, ``rejected`` or ``failed``."""
        attributes = message.get("MessageAttributes") or {}
        attribute = attributes.get(correlation.CORRELATION_ATTRIBUTE) or {}
        with correlation.bound(attribute.get("StringValue")):
            return self._handle(message)

    def _handle(self, message: Mapping[str, Any]) -> str:
        message_id = message.get("MessageId")
        try:
            event = self._registry.parse(str(message.get("Body", "")))
            if (event["event_type"], event["event_version"]) != ACCOUNT_OPENED:
                raise InvalidEventError(
                    f"expected AccountOpened v1, got {event['event_type']} "
                    f"v{event['event_version']}"
                )
        except InvalidEventError as error:
            logger.error("leaving invalid message %s for the DLQ: %s", message_id, error)
            return "rejected"
        data = event["data"]
        account_id = uuid.UUID(data["account_id"])
        # Fenced as a write is (see cache): the owner it may fill in changes who is served.
        self._cache.begin_write(account_id)
        try:
            with self._pool.connection() as conn, conn.transaction():
                opened = ledger.open_account(
                    conn,
                    account_id=account_id,
                    owner_sub=data["owner_sub"],
                    currency=data["currency"],
                    opened_at=data["opened_at"],
                    event_id=uuid.UUID(event["event_id"]),
                )
        except ledger.ConflictingAccountError as error:
            logger.error("leaving conflicting message %s for the DLQ: %s", message_id, error)
            return "rejected"
        except Exception:
            logger.exception("applying message %s failed; it will be received again", message_id)
            return "failed"
        finally:
            self._cache.invalidate(account_id)
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        logger.info("account %s %s", account_id, _OPENED_LOG[opened])
        return "opened" if opened == "opened" else "duplicates"

    def run(self, stop: threading.Event, *, error_pause_seconds: float = 5.0) -> None:
        """Poll until ``stop`` is set (a long poll in progress finishes first)."""
        logger.info("AccountOpened consumer started (queue %s)", self._queue_url)
        while not stop.is_set():
            try:
                result = self.poll()
            except Exception:
                logger.exception("AccountOpened consumer failed, retrying")
                stop.wait(error_pause_seconds)
                continue
            if result.failed:
                stop.wait(error_pause_seconds)
        logger.info("AccountOpened consumer stopped")
