"""The checks of the load and fault runs (tools/loadtest/checks.py) catch what they name: a
ledger or a client history broken on purpose is reported, a sound one is not."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from transfers_support import CALLER, Ledger

from tools.loadtest import checks
from tools.loadtest.client import Attempt, Operation
from transfers_service.service import TransfersService


def _violated(found: list[checks.Check]) -> dict[str, list[str]]:
    return {check.name: check.violations for check in found if check.violations}


def _transfer(service: TransfersService, source: uuid.UUID, target: uuid.UUID) -> Operation:
    """A transfer made through the service, recorded as the load client records it."""
    key = str(uuid.uuid4())
    body = {
        "from_account_id": str(source),
        "to_account_id": str(target),
        "amount_minor": 25,
        "currency": "EUR",
    }
    outcome = service.create_transfer(
        caller_sub=CALLER,
        idempotency_key=key,
        from_account_id=source,
        to_account_id=target,
        amount_minor=25,
        currency="EUR",
    )
    operation = Operation("transfer", CALLER, "POST", "/transfers", body, key)
    operation.attempts.append(Attempt(0.0, 0.1, outcome.status_code))
    operation.answer = outcome.body
    return operation


@pytest.fixture
def history(service: TransfersService, ledger: Ledger) -> tuple[list[Operation], set[str]]:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()
    seeds = {str(row[0]) for row in ledger.conn.execute("SELECT transfer_id FROM transfers")}
    return [_transfer(service, alice, bob) for _ in range(3)], seeds


def _published(ledger: Ledger) -> list[dict[str, Any]]:
    return [{"message": row["message"]} for row in ledger.outbox()]


def test_a_sound_ledger_and_history_pass_every_check(
    history: tuple[list[Operation], set[str]], ledger: Ledger
) -> None:
    operations, seeds = history
    ledger.conn.execute("UPDATE outbox SET sent_at = now()")

    found = [
        *checks.ledger_checks(ledger.conn),
        *checks.client_checks(ledger.conn, operations, seed_transfer_ids=seeds),
        *checks.outbox_checks(ledger.conn, _published(ledger)),
    ]

    assert _violated(found) == {}
    # Every check looked at something (none here was refused or answered 503).
    idle = {check.name for check in found if not check.checked}
    assert idle == {
        "a refused write (4xx) wrote nothing",
        "a 503 that said nothing was written wrote nothing",
    }


def test_a_balance_off_its_entries_and_money_made_up_are_caught(
    history: tuple[list[Operation], set[str]], ledger: Ledger
) -> None:
    ledger.conn.execute(
        "UPDATE accounts SET balance_minor = balance_minor + 1"
        " WHERE account_id = (SELECT account_id FROM accounts WHERE kind = 'customer' LIMIT 1)"
    )

    violated = _violated(checks.ledger_checks(ledger.conn))

    assert set(violated) == {
        "every balance equals the sum of its entries",
        "money is conserved: all balances, funding accounts included, sum to 0",
    }


def test_a_created_answer_the_ledger_does_not_hold_and_a_doubled_key_are_caught(
    history: tuple[list[Operation], set[str]], ledger: Ledger
) -> None:
    operations, seeds = history
    lost = operations[0]
    lost.answer = {**(lost.answer or {}), "transfer_id": str(uuid.uuid4())}
    unknown = Operation("transfer", CALLER, "POST", "/transfers", {}, str(uuid.uuid4()))

    violated = _violated(
        checks.client_checks(ledger.conn, [*operations[1:], lost], seed_transfer_ids=seeds)
    )

    assert "every 2xx write exists exactly once, as asked" in violated
    assert "every operation got a definitive answer (2xx or 4xx)" not in violated
    # The key of a movement nobody asked for (here: the client forgets it sent one).
    violated = _violated(
        checks.client_checks(ledger.conn, [*operations[1:], unknown], seed_transfer_ids=seeds)
    )
    assert "every movement answers a key the client sent (exactly one)" in violated
    assert "every operation got a definitive answer (2xx or 4xx)" in violated


def test_a_503_that_promised_nothing_but_committed_is_caught(
    history: tuple[list[Operation], set[str]], ledger: Ledger
) -> None:
    operations, seeds = history
    operation = operations[0]
    final = operation.attempts[-1]
    # The first try was answered 503 "nothing was written", the retry replayed the write.
    operation.attempts = [
        Attempt(0.0, 0.1, 503, code="database_unavailable"),
        Attempt(0.2, 0.3, final.status, replayed=True),
    ]

    violated = _violated(checks.client_checks(ledger.conn, operations, seed_transfer_ids=seeds))

    assert list(violated) == ["a 503 that said nothing was written wrote nothing"]
    # A 503 outcome_unknown, or a try with no answer, may have committed: not a violation.
    for first in (Attempt(0.0, 0.1, 503, code="outcome_unknown"), Attempt(0.0, 0.1, None)):
        operation.attempts[0] = first
        assert (
            _violated(checks.client_checks(ledger.conn, operations, seed_transfer_ids=seeds)) == {}
        )


def test_unsent_unpublished_and_phantom_events_are_caught(
    history: tuple[list[Operation], set[str]], ledger: Ledger
) -> None:
    published = _published(ledger)[1:]  # SNS never got the first event...
    phantom = {"event_id": str(uuid.uuid4()), "event_type": "TransferCompleted"}
    published.append({"message": json.dumps(phantom)})  # ...and got one nobody queued

    violated = _violated(checks.outbox_checks(ledger.conn, published))

    assert set(violated) == {
        "every committed movement's event was published at least once",
        "no event is stuck in the outbox",  # nothing was marked sent
        "SNS received only events of committed movements",
    }


def test_a_replay_with_another_answer_and_a_stale_balance_are_caught(
    history: tuple[list[Operation], set[str]], ledger: Ledger
) -> None:
    operations, _ = history
    first = operations[0]
    replayed = Attempt(0.0, 0.1, 201, replayed=True)
    other_answer = {**(first.answer or {}), "amount_minor": 26}

    assert checks.replay_check([(first, replayed, first.answer)]).passed
    assert not checks.replay_check([(first, replayed, other_answer)]).passed
    assert not checks.replay_check([(first, Attempt(0.0, 0.1, 201), first.answer)]).passed

    account = str(uuid.UUID(str(first.body["from_account_id"])))  # type: ignore[index]
    right = ledger.balance(uuid.UUID(account))
    assert checks.balance_check(ledger.conn, {account: right}, label="now").passed
    stale = checks.balance_check(ledger.conn, {account: right + 25}, label="now")
    assert stale.violations == [f"{account}: API {right + 25}, ledger {right}"]
