"""Property tests of the statements' read model against the ledger it mirrors.

Hypothesis writes a ledger history (accounts opened, deposits, transfers between accounts
of one currency, never overdrawn), modelled here as plain Python: the balances and the
movements. From it come the events the services publish (``AccountOpened`` per account,
``DepositCompleted`` / ``TransferCompleted`` per movement, built by the ``envelopes``
factory). Hypothesis then delivers them as SNS -> SQS (standard queue) -> Lambda would:
duplicated, in any order, in batches of 1 to 10, with poison messages mixed in, through a
real redrive loop on moto (queue + dead-letter queue, ``apply_events.handler``, partial batch
responses). Then the statements read through ``GET /statements/{id}`` must equal what the
ledger says, and the dead-letter queue must hold exactly the poison messages.

AWS rules the loop relies on:

- SQS moves a message to the dead-letter queue "after the value of maxReceiveCount is
  exceeded" (DeadLetterQueue.maxReceiveCount, CDK API reference, aws_cdk.aws_sqs; the
  redrive policy of https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html):
  a message received maxReceiveCount times and not deleted goes to the DLQ instead of being
  received again. moto 5 does the same: on a receive, a visible message whose receive count
  is >= maxReceiveCount is moved to the DLQ instead of being returned.
- Lambda with ``ReportBatchItemFailures`` (which QueueWorker turns on) makes only the
  messages named in ``batchItemFailures`` visible again and deletes the others; if the
  function raises, "all messages in that batch become visible in the queue again"
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html, "Implementing
  partial batch responses"). Powertools raises ``BatchProcessingError`` when every record of
  a batch failed. moto has no event source mapping, so this loop plays its part: receive,
  invoke, delete what succeeded, make the rest visible at once (``VisibilityTimeout=0``:
  the real timeout only delays the retry, it changes no count).
- Standard queues deliver at least once and in no particular order: a message may come again
  even after it was processed (here: its delete is "lost" and it becomes visible again), and
  SNS may deliver one publish twice (two SQS messages, one body).
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3  # type: ignore[import-untyped]
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from handler_support import REGION, sqs_lambda_event
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

# The statements consumer's redrive policy. StatementsStack (stacks/statements_stack.py)
# builds its QueueWorker without max_receive_count, so the library default applies:
# constructs/cdk_microservices/queue_worker.py, ``max_receive_count=5 if max_receive_count
# is None``; its docstring states "max_receive_count=5 receives before a message is
# dead-lettered". The batch size is QueueWorker's default ``batch_size=10``.
MAX_RECEIVE_COUNT = 5
BATCH_SIZE = 10
# SNS only delivers to the queue what the subscriptions' filter policies let through
# (StatementsStack subscribes the worker to these types on the ``event_type`` attribute).
SUBSCRIBED_TYPES = ("AccountOpened", "DepositCompleted", "TransferCompleted")
CURRENCIES = ("EUR", "USD", "GBP")
OWNERS = (
    "6f1c2a3e-1111-4c2b-9d8e-0a1b2c3d4e5f",
    "9a8b7c6d-2222-4e3f-8a9b-1c2d3e4f5a6b",
    "us-east-1:owner-three",
)
MAX_ACCOUNTS = 4
MAX_STEPS = 8
START = datetime(2025, 11, 22, 14, 0, tzinfo=UTC)
MAX_LOOPS = 400
"""Receive/invoke rounds before the test calls the loop stuck."""

# The profile (tests/conftest.py) sets the budget; moto and the handler modules are set up
# once per test (function-scoped fixtures), and every example starts from an empty table and
# new queues.
PROPERTY_SETTINGS = settings(
    suppress_health_check=[
        *settings().suppress_health_check,
        HealthCheck.function_scoped_fixture,
    ],
)


# ---------------------------------------------------------------------------------------
# The ledger model: what the transfers and accounts services know to be true.


@dataclass(frozen=True)
class Account:
    account_id: str
    owner_sub: str
    currency: str
    opened_at: str
    event_id: str


@dataclass(frozen=True)
class Movement:
    """A deposit (``payer`` None) or a transfer, as the ledger committed it."""

    event_id: str
    movement_id: str
    occurred_at: str
    payee: str
    amount_minor: int
    currency: str
    payer: str | None = None


@dataclass
class Ledger:
    accounts: list[Account] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)
    balances: dict[str, int] = field(default_factory=dict)
    # In ledger order: AccountOpened at opening, a movement's event at its commit.
    events: list[dict[str, Any]] = field(default_factory=list)

    def expected_statement(self, account: Account) -> dict[str, Any]:
        """The statement of ``account`` as ``GET /statements/{id}`` must show it (all pages)."""
        entries: list[dict[str, Any]] = [
            {
                "event_id": account.event_id,
                "occurred_at": account.opened_at,
                "kind": "opened",
                "amount_minor": 0,
                "currency": account.currency,
                "transfer_id": None,
                "counterparty_account_id": None,
                "deposit_id": None,
            }
        ]
        for movement in self.movements:
            common = {
                "event_id": movement.event_id,
                "occurred_at": movement.occurred_at,
                "amount_minor": movement.amount_minor,
                "currency": movement.currency,
            }
            if movement.payer is None and movement.payee == account.account_id:
                entries.append(
                    {
                        **common,
                        "kind": "deposit",
                        "transfer_id": None,
                        "counterparty_account_id": None,
                        "deposit_id": movement.movement_id,
                    }
                )
            elif movement.payer is not None and account.account_id in (
                movement.payer,
                movement.payee,
            ):
                debit = movement.payer == account.account_id
                entries.append(
                    {
                        **common,
                        "kind": "debit" if debit else "credit",
                        "transfer_id": movement.movement_id,
                        "counterparty_account_id": movement.payee if debit else movement.payer,
                        "deposit_id": None,
                    }
                )
        # Newest first; same instant: by event id (descending), as the service documents.
        entries.sort(key=lambda e: (_instant(e["occurred_at"]), e["event_id"]), reverse=True)
        return {
            "account_id": account.account_id,
            "currency": account.currency,
            "opened_at": account.opened_at,
            "balance_minor": self.balances[account.account_id],
            "entries": entries,
        }


def _instant(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _timestamp(instant: datetime, digits: int) -> str:
    """``instant`` in the contracts' format with ``digits`` fractional digits (truncated)."""
    text = instant.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{instant.microsecond:06d}"[:digits]
    return text + "Z"


@st.composite
def ledgers(draw: st.DrawFn, envelopes: Any) -> Ledger:
    """A valid ledger history: accounts opened, then deposits and transfers interleaved with
    later openings; no transfer across currencies, no balance below zero. Time never goes
    backwards but may stand still (several events in one instant), and each timestamp has
    0 to 6 fractional digits, as the contracts allow."""
    ledger = Ledger()
    # Ids are unique and fixed (not drawn: 64 drawn uuids made hypothesis overrun its buffer).
    ids = (uuid.uuid5(uuid.NAMESPACE_URL, f"ledger/{n}") for n in itertools.count())
    clock = START

    def tick() -> str:
        nonlocal clock
        clock += timedelta(microseconds=draw(st.sampled_from([0, 1, 500_000, 1_000_000, 7])))
        return _timestamp(clock, draw(st.integers(0, 6)))

    def open_account() -> None:
        opened_at = tick()
        account = Account(
            account_id=str(next(ids)),
            owner_sub=draw(st.sampled_from(OWNERS)),
            currency=draw(st.sampled_from(CURRENCIES)),
            opened_at=opened_at,
            event_id=str(next(ids)),
        )
        ledger.accounts.append(account)
        ledger.balances[account.account_id] = 0
        ledger.events.append(
            envelopes.opened(
                account.account_id,
                owner_sub=account.owner_sub,
                occurred_at=opened_at,
                currency=account.currency,
                event_id=account.event_id,
            )
        )

    def deposit() -> None:
        account = draw(st.sampled_from(ledger.accounts))
        movement = Movement(
            event_id=str(next(ids)),
            movement_id=str(next(ids)),
            occurred_at=tick(),
            payee=account.account_id,
            amount_minor=draw(st.integers(1, 10_000)),
            currency=account.currency,
        )
        ledger.movements.append(movement)
        ledger.balances[account.account_id] += movement.amount_minor
        ledger.events.append(
            envelopes.deposit(
                account.account_id,
                movement.amount_minor,
                occurred_at=movement.occurred_at,
                currency=movement.currency,
                event_id=movement.event_id,
                deposit_id=movement.movement_id,
            )
        )

    def transfer(pairs: Sequence[tuple[Account, Account]]) -> None:
        payer, payee = draw(st.sampled_from(pairs))
        movement = Movement(
            event_id=str(next(ids)),
            movement_id=str(next(ids)),
            occurred_at=tick(),
            payer=payer.account_id,
            payee=payee.account_id,
            amount_minor=draw(st.integers(1, ledger.balances[payer.account_id])),
            currency=payer.currency,
        )
        ledger.movements.append(movement)
        ledger.balances[payer.account_id] -= movement.amount_minor
        ledger.balances[payee.account_id] += movement.amount_minor
        ledger.events.append(
            envelopes.transfer(
                payer.account_id,
                payee.account_id,
                movement.amount_minor,
                occurred_at=movement.occurred_at,
                currency=movement.currency,
                event_id=movement.event_id,
                transfer_id=movement.movement_id,
            )
        )

    open_account()
    for _ in range(draw(st.integers(0, MAX_STEPS))):
        pairs = [
            (payer, payee)
            for payer in ledger.accounts
            for payee in ledger.accounts
            if payer is not payee
            and payer.currency == payee.currency
            and ledger.balances[payer.account_id] > 0
        ]
        steps = ["deposit", *(["open"] if len(ledger.accounts) < MAX_ACCOUNTS else [])]
        steps += ["transfer"] if pairs else []
        step = draw(st.sampled_from(steps))
        if step == "open":
            open_account()
        elif step == "deposit":
            deposit()
        else:
            transfer(pairs)
    return ledger


# ---------------------------------------------------------------------------------------
# Delivery: what reaches the queue.


@dataclass(frozen=True)
class Message:
    """One SQS message as SNS raw delivery leaves it: the body and its message attributes."""

    body: str
    event_type: str | None
    event_version: str | None = None
    poison: bool = False
    why: str = ""


def _compact(envelope: Mapping[str, Any]) -> str:
    return json.dumps(envelope, separators=(",", ":"))


def valid_message(envelope: Mapping[str, Any], body: str | None = None) -> Message:
    return Message(
        body=_compact(envelope) if body is None else body,
        event_type=envelope["event_type"],
        event_version=str(envelope["event_version"]),
    )


@st.composite
def copies(draw: st.DrawFn, envelope: dict[str, Any]) -> list[Message]:
    """The messages one event becomes: once, or more. A second copy is SNS delivering the
    publish twice (same body) or the event sent again (same event, body serialized anew:
    other key order, other spacing, or an amount written ``1000.0``, which JSON Schema counts
    as the integer 1000). Any copy may be the first to arrive."""
    forms = ["same", "sorted", "spaced"] + (["float"] if "amount_minor" in envelope["data"] else [])
    messages: list[Message] = []
    for _ in range(1 + draw(st.integers(0, 2))):
        form = draw(st.sampled_from(forms)) if messages else "same"
        if form == "same":
            messages.append(valid_message(envelope))
        elif form == "sorted":
            messages.append(valid_message(envelope, json.dumps(envelope, sort_keys=True)))
        elif form == "spaced":
            messages.append(valid_message(envelope, json.dumps(envelope, indent=1)))
        else:
            floated = {**envelope, "data": {**envelope["data"]}}
            floated["data"]["amount_minor"] = float(floated["data"]["amount_minor"])
            messages.append(valid_message(envelope, _compact(floated)))
    return messages


def _fresh(envelope: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``envelope`` with a new event id (never one of the ledger's)."""
    copied: dict[str, Any] = json.loads(json.dumps(envelope))
    copied["event_id"] = str(uuid.uuid4())
    return copied


def _broken(envelope: dict[str, Any], how: str) -> dict[str, Any]:
    """A copy of ``envelope`` that fails its contract in the way ``how`` names."""
    bad = _fresh(envelope)
    data = bad["data"]
    if how == "missing field":
        del bad["occurred_at"]
    elif how == "extra field":
        bad["extra"] = 1
    elif how == "bad event id":
        bad["event_id"] = "not-a-uuid"
    elif how == "bad timestamp":
        bad["occurred_at"] = "2025-11-22 14:00:00"
    elif how == "bad currency":
        data["currency"] = "XXX"
    elif how == "amount not positive":
        data["amount_minor" if "amount_minor" in data else "currency"] = 0
    elif how == "amount as text":
        data["amount_minor" if "amount_minor" in data else "opened_at"] = "10"
    elif how == "data not an object":
        bad["data"] = []
    return bad


BREAKAGES = (
    "missing field",
    "extra field",
    "bad event id",
    "bad timestamp",
    "bad currency",
    "amount not positive",
    "amount as text",
    "data not an object",
)


@st.composite
def poison_messages(draw: st.DrawFn, ledger: Ledger) -> Message:
    """A message the consumer must never apply: it fails every time and ends in the DLQ."""
    envelope = draw(st.sampled_from(ledger.events))
    attribute = draw(st.sampled_from(SUBSCRIBED_TYPES))
    kind = draw(
        st.sampled_from(
            [
                "invalid JSON",
                "JSON not an object",
                "breaks its contract",
                "unknown event_type",
                "attribute names another type",
                "wrong version",
                "version as text",
                "valid event statements do not apply",
                "transfer to the same account",
            ]
        )
    )
    if kind == "invalid JSON":
        body = draw(
            st.sampled_from(["{", "", " ", "{'event_type': 'X'}", "nul", _compact(envelope)[:-1]])
        )
        # An empty body cannot be sent to SQS (at least one character): use a blank instead.
        return Message(body or "\t", attribute, poison=True, why=kind)
    if kind == "JSON not an object":
        body = draw(st.sampled_from(["[]", "42", '"AccountOpened"', "null", "NaN"]))
        return Message(body, attribute, poison=True, why=kind)
    if kind == "breaks its contract":
        how = draw(st.sampled_from(BREAKAGES))
        bad = _broken(envelope, how)
        return Message(_compact(bad), bad["event_type"], "1", poison=True, why=f"{kind}: {how}")
    if kind == "unknown event_type":
        bad = _fresh(envelope)
        bad["event_type"] = draw(st.sampled_from(["AccountClosed", "accountopened", ""]))
        return Message(_compact(bad), attribute, "1", poison=True, why=kind)
    if kind == "attribute names another type":
        bad = _fresh(envelope)
        other = draw(st.sampled_from([t for t in SUBSCRIBED_TYPES if t != bad["event_type"]]))
        return Message(_compact(bad), other, "1", poison=True, why=kind)
    if kind == "wrong version":
        bad = _fresh(envelope)
        bad["event_version"] = draw(st.sampled_from([0, 2, 99]))
        return Message(
            _compact(bad), bad["event_type"], str(bad["event_version"]), poison=True, why=kind
        )
    if kind == "version as text":
        bad = _fresh(envelope)
        bad["event_version"] = draw(st.sampled_from(["1", True]))
        return Message(_compact(bad), bad["event_type"], poison=True, why=kind)
    if kind == "valid event statements do not apply":
        account = draw(st.sampled_from(ledger.accounts))
        exported = {
            "event_id": str(uuid.uuid4()),
            "event_type": "StatementExported",
            "event_version": 1,
            "occurred_at": "2025-12-01T00:00:00Z",
            "data": {
                "account_id": account.account_id,
                "month": "2025-11",
                "bucket": "statement-exports",
                "key": f"statements/{account.account_id}/2025-11.json",
                "entry_count": 1,
                "content_sha256": "0" * 64,
            },
        }
        # Its attribute passes the filter (a publisher bug): it still must not be applied.
        return Message(_compact(exported), attribute, "1", poison=True, why=kind)
    # A transfer from an account to itself: valid by its contract, impossible in a ledger.
    account = draw(st.sampled_from(ledger.accounts))
    selfie = {
        "event_id": str(uuid.uuid4()),
        "event_type": "TransferCompleted",
        "event_version": 1,
        "occurred_at": "2025-12-01T00:00:00Z",
        "data": {
            "transfer_id": str(uuid.uuid4()),
            "from_account_id": account.account_id,
            "to_account_id": account.account_id,
            "amount_minor": 1,
            "currency": account.currency,
            "completed_at": "2025-12-01T00:00:00Z",
        },
    }
    return Message(_compact(selfie), "TransferCompleted", "1", poison=True, why=kind)


@dataclass(frozen=True)
class Delivery:
    """What hypothesis chose: the messages in sending order, which ones lose their delete
    once (so SQS delivers them again after they were processed), and the batch sizes."""

    messages: list[Message]
    lost_deletes: frozenset[int]
    batch_sizes: list[int]


@st.composite
def deliveries(draw: st.DrawFn, ledger: Ledger) -> Delivery:
    messages = [m for envelope in ledger.events for m in draw(copies(envelope))]
    messages += draw(st.lists(poison_messages(ledger), max_size=3))
    order = draw(st.permutations(messages))
    valid = [i for i, m in enumerate(order) if not m.poison]
    lost = draw(st.sets(st.sampled_from(valid), max_size=3)) if valid else set()
    sizes = draw(st.lists(st.integers(1, BATCH_SIZE), min_size=1, max_size=6))
    return Delivery(list(order), frozenset(lost), sizes)


# ---------------------------------------------------------------------------------------
# The queue, its dead-letter queue and the event source mapping's loop, on moto.


class RedriveLoop:
    """The statements queue with the redrive policy of the stack, and a stand-in for the
    Lambda event source mapping (which moto does not run)."""

    def __init__(self, handler: Callable[..., Any], context: Any) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.handler = handler
        self.context = context
        suffix = uuid.uuid4().hex[:12]
        self.dlq_url = self.sqs.create_queue(QueueName=f"statements-dlq-{suffix}")["QueueUrl"]
        self.queue_url = self.sqs.create_queue(
            QueueName=f"statements-{suffix}",
            Attributes={
                "RedrivePolicy": json.dumps(
                    {
                        "deadLetterTargetArn": self._arn(self.dlq_url),
                        "maxReceiveCount": MAX_RECEIVE_COUNT,
                    }
                )
            },
        )["QueueUrl"]
        self.queue_arn = self._arn(self.queue_url)
        self.invocations = 0

    def _arn(self, url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def close(self) -> None:
        for url in (self.queue_url, self.dlq_url):
            self.sqs.delete_queue(QueueUrl=url)

    def send(self, message: Message) -> str:
        attributes: dict[str, Any] = {}
        if message.event_type is not None:
            attributes["event_type"] = {"DataType": "String", "StringValue": message.event_type}
        if message.event_version is not None:
            attributes["event_version"] = {
                "DataType": "Number",
                "StringValue": message.event_version,
            }
        response = self.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=message.body, MessageAttributes=attributes
        )
        return str(response["MessageId"])

    def lambda_event(self, received: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """What the SQS event source mapping hands the function for these messages."""
        return sqs_lambda_event(received, self.queue_arn)

    def run(self, batch_sizes: Sequence[int], lose_delete_once: set[str]) -> None:
        """Receive, invoke, settle until the queue is empty (everything was applied or moved
        to the DLQ). A message in ``lose_delete_once`` is not deleted after its first
        success: it becomes visible again, as when a delete is lost."""
        for round_ in range(MAX_LOOPS):
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=batch_sizes[round_ % len(batch_sizes)],
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            ).get("Messages", [])
            if not received:
                return
            self.invocations += 1
            try:
                response = self.handler(self.lambda_event(received), self.context)
                failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
            except BatchProcessingError:  # every record failed: the whole batch comes back
                failed = {message["MessageId"] for message in received}
            for message in received:
                message_id = message["MessageId"]
                if message_id in failed or message_id in lose_delete_once:
                    lose_delete_once.discard(message_id)
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=0,
                    )
                else:
                    self.sqs.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
        raise AssertionError(f"the queue did not drain in {MAX_LOOPS} rounds")

    def counts(self, url: str) -> tuple[int, int]:
        """(visible, in flight) messages of the queue at ``url``."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def dead_letters(self) -> list[str]:
        """The bodies in the DLQ (received and left there)."""
        bodies: list[str] = []
        while batch := self.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages"):
            bodies.extend(message["Body"] for message in batch)
        return bodies


# ---------------------------------------------------------------------------------------
# The property.


def _read_statement(read_all: Callable[..., Any], account: Account, limit: int) -> dict[str, Any]:
    """The whole statement through ``GET /statements/{id}`` as its owner, pages joined."""
    pages = read_all(account.account_id, limit=limit, sub=account.owner_sub)
    assert [page.status for page in pages] == [200] * len(pages), pages[-1].body
    statement = {key: pages[0].body[key] for key in ("account_id", "currency", "opened_at")}
    balances = {page.body["balance_minor"] for page in pages}
    assert len(balances) == 1, balances
    statement["balance_minor"] = balances.pop()
    statement["entries"] = [entry for page in pages for entry in page.body["entries"]]
    return statement


def _classify(ledger: Ledger, delivery: Delivery) -> None:
    """Label the example for ``--hypothesis-show-statistics``: how often a movement comes
    before the opening of one of its accounts, and how often there is poison."""
    first: dict[str, int] = {}
    for position, message in enumerate(delivery.messages):
        if not message.poison:
            first.setdefault(json.loads(message.body)["event_id"], position)
    opened = {account.account_id: first[account.event_id] for account in ledger.accounts}
    early = any(
        first[m.event_id] < opened[account]
        for m in ledger.movements
        for account in (m.payee, m.payer)
        if account is not None
    )
    event("a movement arrives before its account's opening" if early else "openings first")
    event("with poison" if any(m.poison for m in delivery.messages) else "without poison")


@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_delivery_of_a_ledger_history_gives_the_ledgers_statements_and_dlqs_only_poison(
    data: st.DataObject,
    envelopes: Any,
    handlers: Any,
    lambda_context: Any,
    reset_table: Callable[[], None],
    table_items: Callable[[], list[dict[str, Any]]],
    read_all: Callable[..., Any],
) -> None:
    reset_table()
    ledger = data.draw(ledgers(envelopes), label="ledger")
    delivery = data.draw(deliveries(ledger), label="delivery")
    note(f"poison: {[m.why for m in delivery.messages if m.poison]}")
    limit = data.draw(st.sampled_from([2, 100]), label="page size")
    _classify(ledger, delivery)

    loop = RedriveLoop(handlers.apply_events.handler, lambda_context)
    try:
        message_ids = [loop.send(message) for message in delivery.messages]
        loop.run(delivery.batch_sizes, {message_ids[i] for i in delivery.lost_deletes})
        assert loop.counts(loop.queue_url) == (0, 0), "messages left on the queue"
        dead = loop.dead_letters()
    finally:
        loop.close()

    # Every poison message is in the DLQ, no valid message is, and nothing else.
    assert Counter(dead) == Counter(m.body for m in delivery.messages if m.poison)

    # Each statement is the ledger's: its balance, and each movement exactly once.
    for account in ledger.accounts:
        assert _read_statement(read_all, account, limit) == ledger.expected_statement(account)
    # Nothing else was written: one header per account, one entry per account and movement.
    kinds = Counter(item["type"]["S"] for item in table_items())
    movement_entries = sum(1 if m.payer is None else 2 for m in ledger.movements)
    assert kinds == {
        "Statement": len(ledger.accounts),
        "StatementEntry": len(ledger.accounts) + movement_entries,
    }
