"""Idempotency-Key: a retry gets the first response and moves money once; keys are per
caller."""

from __future__ import annotations

import json
import threading
import uuid

from transfers_support import CALLER, OTHER_CALLER, Ledger, ServiceServer


def test_the_same_key_and_body_returns_the_first_response_and_moves_money_once(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()

    first = api.transfer(alice, bob, 250, key="retry-me")
    second = api.transfer(alice, bob, 250, key="retry-me")

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert (api.balance(alice), api.balance(bob)) == (750, 250)
    assert ledger.count("transfers") == 2  # the funding deposit and this transfer
    assert [row["event_type"] for row in ledger.outbox()] == [
        "DepositCompleted",
        "TransferCompleted",
    ]
    ledger.assert_consistent()


def test_the_same_key_with_another_body_is_422_and_moves_nothing(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice, bob, carol = (
        ledger.open_account(balance=1_000),
        ledger.open_account(),
        ledger.open_account(),
    )
    assert api.transfer(alice, bob, 250, key="once").status_code == 201
    before = ledger.counts()

    for response in (
        api.transfer(alice, bob, 251, key="once"),
        api.transfer(alice, carol, 250, key="once"),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "idempotency_key_reused"
        assert "different request" in response.json()["message"]
    assert ledger.counts() == before
    assert (api.balance(alice), api.balance(bob), api.balance(carol)) == (750, 250, 0)


def test_keys_of_deposits_and_transfers_are_separate_and_checked_too(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice, bob = ledger.open_account(), ledger.open_account()

    first = api.deposit(alice, 500, key="shared-key")
    replay = api.deposit(alice, 500, key="shared-key")
    other_account = api.deposit(bob, 500, key="shared-key")
    transfer = api.transfer(alice, bob, 100, key="shared-key")

    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert other_account.status_code == 422
    assert other_account.json()["code"] == "idempotency_key_reused"
    assert transfer.status_code == 201  # another endpoint, another scope
    assert (api.balance(alice), api.balance(bob)) == (400, 100)
    [deposited, transferred] = ledger.outbox()
    assert (deposited["event_type"], transferred["event_type"]) == (
        "DepositCompleted",
        "TransferCompleted",
    )
    assert json.loads(deposited["message"])["data"]["deposit_id"] == first.json()["transfer_id"]
    ledger.assert_consistent()


def test_a_replayed_deposit_queues_no_second_event(api: ServiceServer, ledger: Ledger) -> None:
    account = ledger.open_account()
    first = api.deposit(account, 700, key="deposit-once")
    assert first.status_code == 201, first.text
    before = ledger.counts()
    assert before["outbox"] == 1

    replay = api.deposit(account, 700, key="deposit-once")

    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert ledger.counts() == before
    [row] = ledger.outbox()
    assert row["event_type"] == "DepositCompleted"
    assert json.loads(row["message"])["data"]["deposit_id"] == first.json()["transfer_id"]
    assert api.balance(account) == 700


def test_a_refused_request_records_nothing_and_may_be_retried_with_its_key(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice, bob = ledger.open_account(balance=100), ledger.open_account()

    refused = api.transfer(alice, bob, 300, key="after-top-up")
    assert refused.status_code == 409
    assert ledger.count("idempotency_keys") == 0
    api.deposit(alice, 200)
    retried = api.transfer(alice, bob, 300, key="after-top-up")

    assert retried.status_code == 201, retried.text
    assert (api.balance(alice), api.balance(bob)) == (0, 300)


def test_concurrent_requests_with_one_key_move_money_once(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()
    start = threading.Barrier(10)
    results: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def send() -> None:
        with api.client() as client:
            start.wait()
            response = client.post(
                "/transfers",
                json={
                    "from_account_id": str(alice),
                    "to_account_id": str(bob),
                    "amount_minor": 100,
                    "currency": "EUR",
                },
                headers={"Idempotency-Key": "the-one-key"},
            )
        with lock:
            results.append((response.status_code, response.content))

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 10
    assert {status for status, _ in results} == {201}
    assert len({content for _, content in results}) == 1
    assert (api.balance(alice), api.balance(bob)) == (900, 100)
    assert len(ledger.outbox("TransferCompleted")) == 1
    ledger.assert_consistent()


def test_concurrent_deposits_with_one_key_queue_one_event(
    api: ServiceServer, ledger: Ledger
) -> None:
    account = ledger.open_account()
    start = threading.Barrier(10)
    results: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def send() -> None:
        with api.client() as client:
            start.wait()
            response = client.post(
                f"/transfers/accounts/{account}/deposits",
                json={"amount_minor": 100, "currency": "EUR"},
                headers={"Idempotency-Key": "the-one-deposit-key"},
            )
        with lock:
            results.append((response.status_code, response.content))

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {status for status, _ in results} == {201}
    assert len({content for _, content in results}) == 1
    assert api.balance(account) == 100
    [row] = ledger.outbox()
    assert row["event_type"] == "DepositCompleted"
    ledger.assert_consistent()


def test_fingerprints_ignore_formatting_of_the_same_request(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()
    compact = (
        f'{{"from_account_id":"{alice}","to_account_id":"{bob}","amount_minor":5,"currency":"EUR"}}'
    )
    reordered = (
        f'{{ "currency": "EUR", "amount_minor": 5,\n "to_account_id": "{str(bob).upper()}",'
        f' "from_account_id": "{alice}" }}'
    )
    with api.client() as client:
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        first = client.post("/transfers", content=compact, headers=headers)
        second = client.post("/transfers", content=reordered, headers=headers)

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert api.balance(alice) == 995


def test_the_same_key_from_two_callers_is_two_transfers(api: ServiceServer, ledger: Ledger) -> None:
    alice = ledger.open_account(balance=1_000, owner=CALLER)
    mallory = ledger.open_account(balance=1_000, owner=OTHER_CALLER)
    carol = ledger.open_account(owner=CALLER)

    first = api.transfer(alice, carol, 100, key="shared", caller=CALLER)
    second = api.transfer(mallory, carol, 100, key="shared", caller=OTHER_CALLER)

    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert "Idempotent-Replayed" not in second.headers
    assert first.json()["transfer_id"] != second.json()["transfer_id"]
    assert (ledger.balance(alice), ledger.balance(mallory), ledger.balance(carol)) == (
        900,
        900,
        200,
    )
    assert len(ledger.outbox("TransferCompleted")) == 2
    # Each replays their own.
    for caller, source, response in ((CALLER, alice, first), (OTHER_CALLER, mallory, second)):
        replay = api.transfer(source, carol, 100, key="shared", caller=caller)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.content == response.content
    assert ledger.count("transfers") == 4  # two funding deposits, two transfers
    ledger.assert_consistent()


def test_another_caller_is_never_answered_with_the_first_callers_response(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()
    first = api.transfer(alice, bob, 250, key="alices-key")
    assert first.status_code == 201, first.text
    before = ledger.counts()

    # The very same request from someone else: not a replay, but theirs, and refused.
    copied = api.transfer(alice, bob, 250, key="alices-key", caller=OTHER_CALLER)

    assert copied.status_code == 404, copied.text
    assert copied.json() == {
        "message": f"account {alice} does not exist",
        "code": "account_not_found",
    }
    assert "Idempotent-Replayed" not in copied.headers
    assert first.json()["transfer_id"] not in copied.text
    assert ledger.counts() == before


def test_a_key_reused_for_another_request_is_422_per_caller(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice = ledger.open_account(owner=CALLER)
    mallory = ledger.open_account(owner=OTHER_CALLER)
    assert api.deposit(alice, 500, key="deposit-key", caller=CALLER).status_code == 201

    # Another caller's deposit under that key is theirs: no reuse.
    theirs = api.deposit(mallory, 70, key="deposit-key", caller=OTHER_CALLER)
    # The first caller's other deposit under it is a reuse.
    reused = api.deposit(alice, 501, key="deposit-key", caller=CALLER)

    assert theirs.status_code == 201, theirs.text
    assert "Idempotent-Replayed" not in theirs.headers
    assert reused.status_code == 422, reused.text
    assert reused.json()["code"] == "idempotency_key_reused"
    assert (ledger.balance(alice), ledger.balance(mallory)) == (500, 70)
    assert sorted(
        row
        for row in ledger.conn.execute(
            "SELECT caller_sub, idempotency_key FROM idempotency_keys"
        ).fetchall()
    ) == sorted([(CALLER, "deposit-key"), (OTHER_CALLER, "deposit-key")])
