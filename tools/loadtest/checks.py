"""What must hold after a load run, whatever faults were injected: each check names what it
found wrong (a violation), and a run passes only with none.

The ledger's own invariants are read from the database; the client's view (every attempt
of every operation) is checked against the ledger; the events the fake SNS accepted are
checked against the movements the ledger holds. Checks run once the service is quiet again
and the outbox has been given time to drain.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tools.loadtest.client import Attempt, Operation
from transfers_service.events import EVENT_ID_NAMESPACE

# Two examples per violated check are enough to find the cause; the count says how many.
EXAMPLES = 3
OUTCOME_UNKNOWN = "outcome_unknown"
SCOPES = {
    "transfer": "POST /transfers",
    "deposit": "POST /transfers/accounts/{account_id}/deposits",
}


@dataclass
class Check:
    """One invariant and what broke it."""

    name: str
    checked: int = 0
    violations: list[str] = field(default_factory=list)

    def expect(self, condition: bool, violation: str) -> None:
        """Count one check; record ``violation`` unless ``condition`` holds."""
        self.checked += 1
        if not condition:
            self.violations.append(violation)

    @property
    def passed(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        if self.passed:
            return f"{self.name}: ok ({self.checked} checked)"
        shown = "; ".join(self.violations[:EXAMPLES])
        return f"{self.name}: {len(self.violations)} violation(s) of {self.checked}: {shown}"


def event_id(kind: str, transfer_id: str) -> str:
    """The event id the service gives a movement's event (uuid5 of type and id)."""
    event_type = "TransferCompleted" if kind == "transfer" else "DepositCompleted"
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{event_type}:{transfer_id}"))


def ledger_checks(conn: psycopg.Connection[Any]) -> list[Check]:
    """The double-entry ledger's invariants, over every row."""
    entries = Check("every movement is two entries summing to zero, of its amount")
    for transfer_id, count, total, credit, amount in conn.execute(
        "SELECT t.transfer_id, count(e.*), coalesce(sum(e.amount_minor), 0),"
        " max(e.amount_minor), t.amount_minor FROM transfers t"
        " LEFT JOIN ledger_entries e USING (transfer_id) GROUP BY t.transfer_id"
    ):
        entries.expect(
            count == 2 and total == 0 and credit == amount,
            f"{transfer_id}: {count} entries summing to {total}",
        )
    balances = Check("every balance equals the sum of its entries")
    for account_id, balance, summed in conn.execute(
        "SELECT a.account_id, a.balance_minor, coalesce(sum(e.amount_minor), 0)"
        " FROM accounts a LEFT JOIN ledger_entries e USING (account_id) GROUP BY a.account_id"
    ):
        balances.expect(balance == summed, f"{account_id}: {balance} != {summed}")
    conserved = Check("money is conserved: all balances, funding accounts included, sum to 0")
    row = conn.execute("SELECT coalesce(sum(balance_minor), 0) FROM accounts").fetchone()
    assert row is not None
    conserved.expect(row[0] == 0, f"the balances sum to {row[0]}")
    overdrawn = Check("no customer account is overdrawn")
    for account_id, balance in conn.execute(
        "SELECT account_id, balance_minor FROM accounts WHERE kind = 'customer'"
    ):
        overdrawn.expect(balance >= 0, f"{account_id}: {balance}")
    return [entries, balances, conserved, overdrawn]


def outbox_checks(
    conn: psycopg.Connection[Any], published: Sequence[Mapping[str, Any]]
) -> list[Check]:
    """Every movement's event is in the outbox, sent, and was accepted by SNS at least once;
    SNS got nothing else."""
    queued = Check("every movement queued its event in the outbox")
    outbox = {
        str(event): sent
        for event, sent in conn.execute("SELECT event_id, sent_at IS NOT NULL FROM outbox")
    }
    published_ids: dict[str, int] = {}
    for message in published:
        body = json.loads(message["message"])
        published_ids[str(body["event_id"])] = published_ids.get(str(body["event_id"]), 0) + 1
    sent = Check("every committed movement's event was published at least once")
    for kind, transfer_id in conn.execute("SELECT kind, transfer_id FROM transfers"):
        expected = event_id(kind, str(transfer_id))
        queued.expect(expected in outbox, f"{transfer_id} has no outbox row")
        sent.expect(expected in published_ids, f"{transfer_id}'s event never sent")
    stuck = Check("no event is stuck in the outbox")
    for event, is_sent in outbox.items():
        stuck.expect(is_sent, f"{event} unsent")
    phantom = Check("SNS received only events of committed movements")
    for published_id in published_ids:
        phantom.expect(published_id in outbox, f"{published_id} is not in the outbox")
    return [queued, sent, stuck, phantom]


def client_checks(
    conn: psycopg.Connection[Any],
    operations: Sequence[Operation],
    *,
    seed_transfer_ids: Collection[str],
) -> list[Check]:
    """What the client was told against what the ledger holds."""
    movements = {
        str(row[0]): row
        for row in conn.execute(
            "SELECT transfer_id, kind, from_account_id, to_account_id, amount_minor, currency"
            " FROM transfers"
        )
    }
    keys = {
        (str(caller), str(scope), str(key)): str(transfer_id)
        for caller, scope, key, transfer_id in conn.execute(
            "SELECT caller_sub, scope, idempotency_key, transfer_id FROM idempotency_keys"
        )
    }
    answered = Check("every operation got a definitive answer (2xx or 4xx)")
    no_500 = Check("no answer was a server error other than 503")
    created = Check("every 2xx write exists exactly once, as asked")
    refused = Check("a refused write (4xx) wrote nothing")
    claimed = Check("a 503 that said nothing was written wrote nothing")
    sent_keys: set[tuple[str, str, str]] = set()
    for operation in operations:
        answered.expect(
            operation.final is not None,
            f"{operation.kind} {operation.key}: {_statuses(operation.attempts)}",
        )
        for try_ in operation.attempts:
            no_500.expect(
                try_.status is None or try_.status < 500 or try_.status == 503,
                f"{operation.kind} {operation.key} got {try_.status} ({try_.code})",
            )
        if operation.key is None:
            continue
        key = (operation.caller, SCOPES[operation.kind], operation.key)
        sent_keys.add(key)
        final = operation.final
        if final is not None and final.status == 201:
            created.expect(
                _matches(operation, movements, keys.get(key)),
                (
                    f"{operation.kind} {operation.key}: answered {operation.answer}, "
                    f"ledger has {movements.get(str((operation.answer or {}).get('transfer_id')))}"
                ),
            )
            if final.replayed:
                # The write committed in an earlier attempt: one with no answer at all, or
                # one answered 503 outcome_unknown; any other 503 promised that nothing
                # was written.
                earlier = operation.attempts[:-1]
                claimed.expect(
                    any(t.status is None or t.code == OUTCOME_UNKNOWN for t in earlier),
                    f"{operation.kind} {operation.key}: {_statuses(operation.attempts)}",
                )
        elif final is not None:
            refused.expect(key not in keys, f"{operation.kind} {operation.key}")
    unasked = Check("every movement answers a key the client sent (exactly one)")
    by_transfer: dict[str, int] = {}
    for key, transfer_id in keys.items():
        by_transfer[transfer_id] = by_transfer.get(transfer_id, 0) + 1
        unasked.expect(key in sent_keys, f"unknown key {key}")
    for transfer_id in movements:
        if transfer_id in seed_transfer_ids:
            continue
        unasked.expect(
            by_transfer.get(transfer_id) == 1,
            f"{transfer_id} has {by_transfer.get(transfer_id, 0)} keys",
        )
    return [answered, no_500, created, refused, claimed, unasked]


def replay_check(
    replays: Iterable[tuple[Operation, Attempt, Mapping[str, Any] | None]],
) -> Check:
    """A write sent again with its key is answered with its first answer."""
    check = Check("a retried request with the same Idempotency-Key returns the first answer")
    for operation, try_, answer in replays:
        final = operation.final
        check.expect(
            final is not None
            and try_.status == final.status
            and try_.replayed
            and answer == operation.answer,
            (
                f"{operation.key}: first {operation.answer}, then {try_.status} {answer}"
                f" (replayed: {try_.replayed})"
            ),
        )
    return check


def balance_check(
    conn: psycopg.Connection[Any], read: Mapping[str, int | None], *, label: str
) -> Check:
    """Balances the API answers (``read``: account id -> balance, None for an error) equal
    the ledger's."""
    check = Check(f"every balance read {label} equals the ledger's")
    ledger = {
        str(account): int(balance)
        for account, balance in conn.execute(
            "SELECT account_id, balance_minor FROM accounts WHERE kind = 'customer'"
        )
    }
    for account_id, balance in read.items():
        check.expect(
            balance == ledger.get(account_id),
            f"{account_id}: API {balance}, ledger {ledger.get(account_id)}",
        )
    return check


def _matches(
    operation: Operation,
    movements: Mapping[str, tuple[Any, ...]],
    keyed_transfer: str | None,
) -> bool:
    answer = operation.answer or {}
    transfer_id = str(answer.get("transfer_id"))
    row = movements.get(transfer_id)
    body = operation.body or {}
    if row is None or keyed_transfer != transfer_id:
        return False
    _, kind, from_account, to_account, amount, currency = row
    if kind != operation.kind or amount != body.get("amount_minor"):
        return False
    if currency != body.get("currency"):
        return False
    if kind == "transfer":
        return (str(from_account), str(to_account)) == (
            body.get("from_account_id"),
            body.get("to_account_id"),
        )
    return str(to_account) == operation.path.split("/")[3]


def _statuses(attempts: Sequence[Attempt]) -> str:
    return ", ".join(str(t.status or t.error) for t in attempts)
