"""Owners: a caller moves money out of, deposits into and reads only their own accounts,
and sees only transfers to or from one of them; anything else is 404, as if it did not
exist."""

from __future__ import annotations

import uuid

import httpx
import pytest
from transfers_support import CALLER, OTHER_CALLER, Ledger, ServiceServer

THIRD_CALLER = "9a8b7c6d-3333-4e5f-a1b2-c3d4e5f6a7b8"


def _not_found(response: httpx.Response, code: str, message: str) -> None:
    assert response.status_code == 404, response.text
    assert response.json() == {"message": message, "code": code}


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(100, "EUR"), (5_000, "EUR"), (100, "USD")],
    ids=["would-succeed", "more-than-there", "other-currency"],
)
def test_a_transfer_out_of_someone_elses_account_is_404_as_for_an_unknown_one(
    api: ServiceServer, ledger: Ledger, amount: int, currency: str
) -> None:
    alice = ledger.open_account(balance=1_000, owner=CALLER)
    mallory = ledger.open_account(owner=OTHER_CALLER)
    unknown = uuid.uuid4()
    before = ledger.counts()

    stolen = api.transfer(alice, mallory, amount, currency=currency, caller=OTHER_CALLER)
    from_nowhere = api.transfer(unknown, mallory, amount, currency=currency, caller=OTHER_CALLER)

    # No 409 (how much is there) nor 422 (in which currency): the account does not exist.
    _not_found(stolen, "account_not_found", f"account {alice} does not exist")
    _not_found(from_nowhere, "account_not_found", f"account {unknown} does not exist")
    assert ledger.counts() == before  # no transfer, entry, outbox row or idempotency key
    assert (ledger.balance(alice), ledger.balance(mallory)) == (1_000, 0)
    assert ledger.outbox("TransferCompleted") == []
    ledger.assert_consistent()


def test_the_to_account_may_be_anyones_and_both_sides_see_the_transfer(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice = ledger.open_account(balance=1_000, owner=CALLER)
    bob = ledger.open_account(owner=OTHER_CALLER)

    response = api.transfer(alice, bob, 300, caller=CALLER)

    assert response.status_code == 201, response.text
    transfer_id = response.json()["transfer_id"]
    assert api.balance(alice, caller=CALLER) == 700
    assert api.balance(bob, caller=OTHER_CALLER) == 300
    for caller in (CALLER, OTHER_CALLER):
        fetched = api.get(f"/transfers/{transfer_id}", caller=caller)
        assert (fetched.status_code, fetched.json()) == (200, response.json())
    _not_found(
        api.get(f"/transfers/{transfer_id}", caller=THIRD_CALLER),
        "transfer_not_found",
        f"transfer {transfer_id} does not exist",
    )
    # Paying Bob does not make his account Alice's.
    _not_found(
        api.get(f"/transfers/accounts/{bob}/balance", caller=CALLER),
        "account_not_found",
        f"account {bob} does not exist",
    )
    assert api.transfer(bob, alice, 1, caller=CALLER).status_code == 404
    ledger.assert_consistent()


@pytest.mark.parametrize("currency", ["EUR", "USD"])
def test_a_deposit_into_someone_elses_account_is_404_and_writes_nothing(
    api: ServiceServer, ledger: Ledger, currency: str
) -> None:
    alice = ledger.open_account(balance=100, owner=CALLER)
    before = ledger.counts()

    response = api.deposit(alice, 50, currency=currency, caller=OTHER_CALLER)

    _not_found(response, "account_not_found", f"account {alice} does not exist")
    assert ledger.counts() == before
    assert ledger.balance(alice) == 100
    assert api.deposit(alice, 50, caller=CALLER).status_code == 201  # the control


def test_the_balance_of_someone_elses_account_is_404_as_for_an_unknown_one(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice = ledger.open_account(balance=100, owner=CALLER)
    unknown = uuid.uuid4()

    for account in (alice, unknown):
        _not_found(
            api.get(f"/transfers/accounts/{account}/balance", caller=OTHER_CALLER),
            "account_not_found",
            f"account {account} does not exist",
        )
    assert api.balance(alice, caller=CALLER) == 100


def test_a_transfer_or_deposit_of_someone_else_is_404_as_an_unknown_one(
    api: ServiceServer, ledger: Ledger
) -> None:
    alice, bob = ledger.open_account(balance=100), ledger.open_account()  # both CALLER's
    transfer = api.transfer(alice, bob, 10).json()["transfer_id"]
    deposit = api.deposit(bob, 10).json()["transfer_id"]
    unknown = str(uuid.uuid4())

    for transfer_id in (transfer, deposit, unknown):
        _not_found(
            api.get(f"/transfers/{transfer_id}", caller=OTHER_CALLER),
            "transfer_not_found",
            f"transfer {transfer_id} does not exist",
        )
    for transfer_id in (transfer, deposit):
        assert api.get(f"/transfers/{transfer_id}", caller=CALLER).status_code == 200


def test_an_account_without_an_owner_is_nobodys(api: ServiceServer, ledger: Ledger) -> None:
    alice = ledger.open_account(balance=100, owner=CALLER)
    legacy = ledger.open_account(owner=None)  # recorded before accounts had owners
    paid = api.transfer(alice, legacy, 60)  # the to account may be anyone's, even nobody's
    assert paid.status_code == 201, paid.text
    before = ledger.counts()

    for caller in (CALLER, OTHER_CALLER):
        for response in (
            api.transfer(legacy, alice, 10, caller=caller),
            api.deposit(legacy, 10, caller=caller),
            api.get(f"/transfers/accounts/{legacy}/balance", caller=caller),
        ):
            _not_found(response, "account_not_found", f"account {legacy} does not exist")
    assert ledger.counts() == before
    assert ledger.balance(legacy) == 60
    # The transfer into it is still Alice's to see: she owns its from account.
    assert api.get(f"/transfers/{paid.json()['transfer_id']}").status_code == 200
    assert (
        api.get(f"/transfers/{paid.json()['transfer_id']}", caller=OTHER_CALLER).status_code == 404
    )
