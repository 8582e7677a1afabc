"""Concurrent requests over real HTTP: no account is ever overdrawn, nothing deadlocks."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter

from transfers_support import Ledger, ServiceServer


def _concurrently(requests: list[dict[str, object]], api: ServiceServer) -> list[int]:
    """POST every body to /transfers at once (one thread and connection each)."""
    start = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)

    def send(index: int, body: dict[str, object]) -> None:
        with api.client() as client:
            start.wait()
            response = client.post(
                "/transfers", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
            )
        statuses[index] = response.status_code

    threads = [
        threading.Thread(target=send, args=(index, body)) for index, body in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return statuses


def test_twenty_concurrent_transfers_exceeding_the_balance_never_overdraw(
    api: ServiceServer, ledger: Ledger
) -> None:
    source = ledger.open_account(balance=1_000)
    targets = [ledger.open_account() for _ in range(4)]
    requests: list[dict[str, object]] = [
        {
            "from_account_id": str(source),
            "to_account_id": str(targets[index % 4]),
            "amount_minor": 70,
            "currency": "EUR",
        }
        for index in range(20)
    ]

    statuses = _concurrently(requests, api)

    # 20 x 70 = 1400 asked for, 1000 there: exactly 14 fit, the other 6 are refused.
    assert Counter(statuses) == {201: 14, 409: 6}
    assert api.balance(source) == 1_000 - 14 * 70
    assert sum(api.balance(target) for target in targets) == 14 * 70
    assert len(ledger.outbox("TransferCompleted")) == 14
    assert len(ledger.outbox()) == 15  # and the funding deposit's DepositCompleted
    ledger.assert_consistent()  # includes: the running balance never went below zero


def test_transfers_in_opposite_directions_do_not_deadlock(
    api: ServiceServer, ledger: Ledger
) -> None:
    accounts = [ledger.open_account(balance=500) for _ in range(3)]
    rng = random.Random(7)
    requests: list[dict[str, object]] = []
    for _ in range(24):
        source, target = rng.sample(accounts, 2)
        requests.append(
            {
                "from_account_id": str(source),
                "to_account_id": str(target),
                "amount_minor": rng.randint(1, 60),
                "currency": "EUR",
            }
        )

    statuses = _concurrently(requests, api)

    assert set(statuses) == {201}, Counter(statuses)  # no 503 from a deadlock
    assert sum(api.balance(account) for account in accounts) == 1_500
    ledger.assert_consistent()
