"""``apply_events.handler`` (the statements' SQS consumer) against moto: what each event
writes, that each event is applied once however often it arrives and in whatever order, and
that a message that cannot be applied is reported as a batch item failure, never dropped.
"""

import json
import logging
import random

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

NO_FAILURES = {"batchItemFailures": []}


def _errors(caplog):
    return [r for r in caplog.records if r.name == "statements" and r.levelno >= logging.ERROR]


def _statement(table_items, account_id):
    """The header and entry items of one account, sorted by sk."""
    return [item for item in table_items() if item["pk"]["S"] == f"ACCOUNT#{account_id}"]


def _header(table_items, account_id):
    [header] = [i for i in _statement(table_items, account_id) if i["sk"]["S"] == "STATEMENT"]
    return header


def _entries(table_items, account_id):
    return [i for i in _statement(table_items, account_id) if i["sk"]["S"] != "STATEMENT"]


def test_the_sample_batch_applies(apply, sample_event, table_items, ids):
    assert apply(*sample_event("sqs_batch")["Records"]) == NO_FAILURES

    assert _header(table_items, ids.account_a)["balance_minor"] == {"N": "-2500"}
    assert _header(table_items, ids.account_b)["balance_minor"] == {"N": "2500"}
    assert [e["kind"]["S"] for e in _entries(table_items, ids.account_a)] == ["opened", "debit"]
    assert [e["kind"]["S"] for e in _entries(table_items, ids.account_b)] == ["opened", "credit"]


def test_account_opened_creates_the_header_and_the_opened_entry(apply, envelopes, table_items, ids):
    opened = envelopes.opened(ids.account_a, occurred_at="2025-11-22T14:00:00.123Z")

    assert apply(opened) == NO_FAILURES

    assert table_items() == [
        {
            "pk": {"S": f"ACCOUNT#{ids.account_a}"},
            "sk": {"S": f"ENTRY#2025-11-22T14:00:00.123000Z#{opened['event_id']}"},
            "type": {"S": "StatementEntry"},
            "account_id": {"S": ids.account_a},
            "event_id": {"S": opened["event_id"]},
            "occurred_at": {"S": "2025-11-22T14:00:00.123Z"},
            "kind": {"S": "opened"},
            "amount_minor": {"N": "0"},
            "currency": {"S": "EUR"},
        },
        {
            "pk": {"S": f"ACCOUNT#{ids.account_a}"},
            "sk": {"S": "STATEMENT"},
            "type": {"S": "Statement"},
            "account_id": {"S": ids.account_a},
            "owner_sub": {"S": ids.owner_sub},
            "currency": {"S": "EUR"},
            "opened_at": {"S": "2025-11-22T14:00:00.123Z"},
            "balance_minor": {"N": "0"},
        },
    ]


def test_transfer_completed_debits_the_payer_and_credits_the_payee(
    apply, envelopes, table_items, ids
):
    apply(envelopes.opened(ids.account_a), envelopes.opened(ids.account_b, owner_sub=ids.other_sub))
    transfer = envelopes.transfer(ids.account_a, ids.account_b, 1234)

    assert apply(transfer) == NO_FAILURES

    assert _header(table_items, ids.account_a)["balance_minor"] == {"N": "-1234"}
    assert _header(table_items, ids.account_b)["balance_minor"] == {"N": "1234"}
    [debit] = [e for e in _entries(table_items, ids.account_a) if e["kind"]["S"] != "opened"]
    [credit] = [e for e in _entries(table_items, ids.account_b) if e["kind"]["S"] != "opened"]
    common = {
        "event_id": {"S": transfer["event_id"]},
        "occurred_at": {"S": transfer["occurred_at"]},
        "amount_minor": {"N": "1234"},
        "currency": {"S": "EUR"},
        "transfer_id": {"S": transfer["data"]["transfer_id"]},
    }
    assert (
        debit.items()
        >= {
            **common,
            "kind": {"S": "debit"},
            "counterparty_account_id": {"S": ids.account_b},
        }.items()
    )
    assert (
        credit.items()
        >= {
            **common,
            "kind": {"S": "credit"},
            "counterparty_account_id": {"S": ids.account_a},
        }.items()
    )


def test_deposit_completed_credits_the_account_with_a_deposit_entry(
    apply, envelopes, table_items, ids
):
    apply(envelopes.opened(ids.account_a))
    deposit = envelopes.deposit(ids.account_a, 5000, occurred_at="2025-11-22T15:30:00.5Z")

    assert apply(deposit) == NO_FAILURES

    assert _header(table_items, ids.account_a)["balance_minor"] == {"N": "5000"}
    [entry] = [e for e in _entries(table_items, ids.account_a) if e["kind"]["S"] != "opened"]
    assert entry == {
        "pk": {"S": f"ACCOUNT#{ids.account_a}"},
        "sk": {"S": f"ENTRY#2025-11-22T15:30:00.500000Z#{deposit['event_id']}"},
        "type": {"S": "StatementEntry"},
        "account_id": {"S": ids.account_a},
        "event_id": {"S": deposit["event_id"]},
        "occurred_at": {"S": "2025-11-22T15:30:00.5Z"},
        "kind": {"S": "deposit"},
        "amount_minor": {"N": "5000"},
        "currency": {"S": "EUR"},
        "deposit_id": {"S": deposit["data"]["deposit_id"]},
    }
    # No transfer, no counterparty: no other account is touched.
    assert {item["pk"]["S"] for item in table_items()} == {f"ACCOUNT#{ids.account_a}"}


def test_balances_add_up_over_several_transfers_and_deposits(apply, envelopes, table_items, ids):
    assert (
        apply(
            envelopes.transfer(ids.account_a, ids.account_b, 500),
            envelopes.deposit(ids.account_a, 1000),
            envelopes.transfer(ids.account_b, ids.account_a, 200),
            envelopes.transfer(ids.account_a, ids.account_c, 75),
            envelopes.deposit(ids.account_c, 25),
            envelopes.deposit(ids.account_a, 1),
        )
        == NO_FAILURES
    )

    balances = {
        account: int(_header(table_items, account)["balance_minor"]["N"])
        for account in (ids.account_a, ids.account_b, ids.account_c)
    }
    assert balances == {ids.account_a: 626, ids.account_b: 300, ids.account_c: 100}


def test_an_amount_written_as_a_whole_float_is_stored_as_an_integer(
    apply, envelopes, get_statement, table_items, ids
):
    # JSON Schema counts 1000.0 as an integer, so the contracts accept it: another JSON
    # writer may serialize the same event so. Stored as "1000.0", the entry's amount could not
    # be read back as an integer (moto keeps the text; DynamoDB trims the zeroes).
    deposit = envelopes.deposit(ids.account_a, 1000)
    deposit["data"]["amount_minor"] = 1000.0
    transfer = envelopes.transfer(ids.account_a, ids.account_b, 250)
    transfer["data"]["amount_minor"] = 250.0

    assert apply(envelopes.opened(ids.account_a), deposit, transfer) == NO_FAILURES

    assert _header(table_items, ids.account_a)["balance_minor"] == {"N": "750"}
    amounts = {e["kind"]["S"]: e["amount_minor"] for e in _entries(table_items, ids.account_a)}
    assert amounts == {"opened": {"N": "0"}, "deposit": {"N": "1000"}, "debit": {"N": "250"}}
    response = get_statement(ids.account_a)
    assert response.status == 200
    assert [e["amount_minor"] for e in response.body["entries"]] == [1000, 250, 0]


# --- idempotence ---------------------------------------------------------------------------


@pytest.mark.parametrize("same_message_id", [True, False], ids=["same-message", "redelivered"])
def test_a_duplicate_in_the_same_batch_is_applied_once(
    apply, make_record, envelopes, table_items, ids, same_message_id
):
    apply(envelopes.opened(ids.account_a), envelopes.opened(ids.account_b, owner_sub=ids.other_sub))
    transfer = envelopes.transfer(ids.account_a, ids.account_b, 700)
    first = make_record(transfer)
    second = make_record(transfer, message_id=first["messageId"] if same_message_id else None)

    assert apply(first, second) == NO_FAILURES

    assert len(_entries(table_items, ids.account_a)) == 2  # opened + one debit
    assert len(_entries(table_items, ids.account_b)) == 2  # opened + one credit
    assert _header(table_items, ids.account_a)["balance_minor"] == {"N": "-700"}
    assert _header(table_items, ids.account_b)["balance_minor"] == {"N": "700"}


def test_a_duplicate_in_a_later_batch_changes_nothing(apply, envelopes, table_items, ids, caplog):
    opened = envelopes.opened(ids.account_a)
    transfer = envelopes.transfer(ids.account_a, ids.account_b, 700)
    assert apply(opened, transfer) == NO_FAILURES
    before = table_items()
    caplog.clear()

    assert apply(transfer) == NO_FAILURES
    assert apply(opened, transfer) == NO_FAILURES

    assert table_items() == before
    assert _errors(caplog) == []
    skipped = [
        r for r in caplog.records if r.getMessage() == "event already applied, nothing changed"
    ]
    assert [r.levelno for r in skipped] == [logging.INFO] * 3
    assert [r.event_id for r in skipped] == [
        transfer["event_id"],
        opened["event_id"],
        transfer["event_id"],
    ]


@pytest.mark.parametrize("same_message_id", [True, False], ids=["same-message", "redelivered"])
def test_a_duplicate_deposit_in_the_same_batch_is_applied_once(
    apply, make_record, envelopes, table_items, ids, same_message_id
):
    apply(envelopes.opened(ids.account_a))
    deposit = envelopes.deposit(ids.account_a, 800)
    first = make_record(deposit)
    second = make_record(deposit, message_id=first["messageId"] if same_message_id else None)

    assert apply(first, second) == NO_FAILURES

    assert [e["kind"]["S"] for e in _entries(table_items, ids.account_a)] == ["opened", "deposit"]
    assert _header(table_items, ids.account_a)["balance_minor"] == {"N": "800"}


def test_a_duplicate_deposit_in_a_later_batch_changes_nothing(
    apply, make_record, envelopes, table_items, ids, caplog
):
    deposit = envelopes.deposit(ids.account_a, 800)
    assert apply(envelopes.opened(ids.account_a), deposit) == NO_FAILURES
    before = table_items()
    caplog.clear()

    assert apply(deposit) == NO_FAILURES
    assert apply(make_record(deposit), make_record(deposit)) == NO_FAILURES

    assert table_items() == before
    assert _header(table_items, ids.account_a)["balance_minor"] == {"N": "800"}
    assert _errors(caplog) == []
    skipped = [
        r for r in caplog.records if r.getMessage() == "event already applied, nothing changed"
    ]
    assert [r.event_id for r in skipped] == [deposit["event_id"]] * 3


# --- order independence --------------------------------------------------------------------


def test_a_transfer_before_the_opening_creates_a_header_that_the_opening_completes(
    apply, envelopes, table_items, ids
):
    opened = envelopes.opened(ids.account_a, occurred_at="2025-11-22T14:00:00Z")
    transfer = envelopes.transfer(ids.account_a, ids.account_b, 300)

    apply(transfer)
    header = _header(table_items, ids.account_a)
    assert header["balance_minor"] == {"N": "-300"}
    assert "owner_sub" not in header
    assert "currency" not in header

    apply(opened)
    assert _header(table_items, ids.account_a) == {
        "pk": {"S": f"ACCOUNT#{ids.account_a}"},
        "sk": {"S": "STATEMENT"},
        "type": {"S": "Statement"},
        "account_id": {"S": ids.account_a},
        "owner_sub": {"S": ids.owner_sub},
        "currency": {"S": "EUR"},
        "opened_at": {"S": "2025-11-22T14:00:00Z"},
        "balance_minor": {"N": "-300"},
    }


def test_a_deposit_before_the_opening_creates_a_header_that_the_opening_completes(
    apply, envelopes, table_items, get_statement, ids
):
    opened = envelopes.opened(ids.account_a, occurred_at="2025-11-22T14:00:00Z")
    deposit = envelopes.deposit(ids.account_a, 2500, occurred_at="2025-11-22T14:05:00Z")

    assert apply(deposit) == NO_FAILURES
    assert _header(table_items, ids.account_a) == {
        "pk": {"S": f"ACCOUNT#{ids.account_a}"},
        "sk": {"S": "STATEMENT"},
        "type": {"S": "Statement"},
        "account_id": {"S": ids.account_a},
        "balance_minor": {"N": "2500"},
    }
    assert get_statement(ids.account_a).status == 404  # no owner yet

    assert apply(opened) == NO_FAILURES
    assert _header(table_items, ids.account_a) == {
        "pk": {"S": f"ACCOUNT#{ids.account_a}"},
        "sk": {"S": "STATEMENT"},
        "type": {"S": "Statement"},
        "account_id": {"S": ids.account_a},
        "owner_sub": {"S": ids.owner_sub},
        "currency": {"S": "EUR"},
        "opened_at": {"S": "2025-11-22T14:00:00Z"},
        "balance_minor": {"N": "2500"},
    }
    statement = get_statement(ids.account_a).body
    assert statement["balance_minor"] == 2500
    assert [(e["kind"], e["event_id"]) for e in statement["entries"]] == [
        ("deposit", deposit["event_id"]),
        ("opened", opened["event_id"]),
    ]


def _history(envelopes, ids):
    """Two openings, six transfers between them and three deposits, in the order they happened."""
    return [
        envelopes.opened(ids.account_a, occurred_at="2025-11-22T09:00:00Z"),
        envelopes.opened(
            ids.account_b, owner_sub=ids.other_sub, occurred_at="2025-11-22T09:30:00Z"
        ),
        envelopes.deposit(ids.account_a, 5000, occurred_at="2025-11-22T10:30:00.25Z"),
        *(
            envelopes.transfer(
                *((ids.account_a, ids.account_b) if n % 2 else (ids.account_b, ids.account_a)),
                100 * n,
                occurred_at=f"2025-11-22T1{n}:00:00.{n}Z",
            )
            for n in range(1, 7)
        ),
        envelopes.deposit(ids.account_b, 700, occurred_at="2025-11-22T13:30:00Z"),
        envelopes.deposit(ids.account_a, 50, occurred_at="2025-11-22T17:00:00Z"),
    ]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("batching", ["one-batch", "one-event-per-batch"])
def test_events_in_any_order_give_the_same_statements(
    apply, envelopes, table_items, reset_table, get_statement, ids, seed, batching
):
    history = _history(envelopes, ids)
    assert apply(*history) == NO_FAILURES
    in_order = table_items()
    expected = get_statement(ids.account_a).body
    reset_table()

    shuffled = history[:]
    random.Random(seed).shuffle(shuffled)
    if batching == "one-batch":
        assert apply(*shuffled) == NO_FAILURES
    else:
        assert [apply(event) for event in shuffled] == [NO_FAILURES] * len(shuffled)

    assert table_items() == in_order
    statement = get_statement(ids.account_a).body
    assert statement == expected
    assert [(entry["occurred_at"], entry["kind"]) for entry in statement["entries"]] == [
        ("2025-11-22T17:00:00Z", "deposit"),
        ("2025-11-22T16:00:00.6Z", "credit"),
        ("2025-11-22T15:00:00.5Z", "debit"),
        ("2025-11-22T14:00:00.4Z", "credit"),
        ("2025-11-22T13:00:00.3Z", "debit"),
        ("2025-11-22T12:00:00.2Z", "credit"),
        ("2025-11-22T11:00:00.1Z", "debit"),
        ("2025-11-22T10:30:00.25Z", "deposit"),
        ("2025-11-22T09:00:00Z", "opened"),
    ]
    assert statement["balance_minor"] == 5000 - 100 + 200 - 300 + 400 - 500 + 600 + 50


def test_entries_sort_by_time_whatever_the_precision_of_the_timestamps(
    apply, envelopes, get_statement, ids
):
    # As text, "...:00Z" sorts after "...:00.5Z" although it is half a second earlier.
    apply(
        envelopes.opened(ids.account_a, occurred_at="2025-11-22T10:00:00Z"),
        envelopes.transfer(ids.account_a, ids.account_b, 1, occurred_at="2025-11-22T10:00:00.5Z"),
        envelopes.transfer(ids.account_a, ids.account_b, 2, occurred_at="2025-11-22T10:00:01Z"),
        envelopes.transfer(
            ids.account_a, ids.account_b, 3, occurred_at="2025-11-22T10:00:00.250001Z"
        ),
    )

    entries = get_statement(ids.account_a).body["entries"]

    assert [e["amount_minor"] for e in entries] == [2, 1, 3, 0]


# --- messages that cannot be applied -------------------------------------------------------


def _poison(kind, envelopes, make_record, auto):
    """A record that must fail, and the words its logged reason must contain."""
    transfer = envelopes.transfer()
    if kind == "not-json":
        return make_record("{not json", event_type="TransferCompleted"), "not JSON"
    if kind == "not-an-object":
        return make_record("[1, 2]", event_type="TransferCompleted"), "not a JSON object"
    if kind == "amount-zero":
        transfer["data"]["amount_minor"] = 0
        return make_record(transfer), "amount_minor"
    if kind == "missing-field":
        del transfer["data"]["currency"]
        return make_record(transfer), "currency"
    if kind == "unknown-type":
        transfer["event_type"] = "TransferReversed"
        return make_record(transfer), "no contract for event_type 'TransferReversed'"
    if kind == "unknown-version":
        transfer["event_version"] = 2
        return make_record(transfer), "no contract for event_type 'TransferCompleted' version 2"
    if kind == "attribute-mismatch":
        return make_record(transfer, event_type="AccountOpened"), "does not match"
    if kind == "transfer-to-itself":
        transfer["data"]["to_account_id"] = transfer["data"]["from_account_id"]
        return make_record(transfer), "to itself"
    deposit = envelopes.deposit()  # into the account the good records use
    if kind == "deposit-amount-zero":
        deposit["data"]["amount_minor"] = 0
        return make_record(deposit), "DepositCompleted v1: data.amount_minor"
    if kind == "deposit-missing-account":
        del deposit["data"]["account_id"]
        return make_record(deposit), "DepositCompleted v1: data must contain ['account_id']"
    raise AssertionError(kind)


POISON = [
    "not-json",
    "not-an-object",
    "amount-zero",
    "missing-field",
    "unknown-type",
    "unknown-version",
    "attribute-mismatch",
    "transfer-to-itself",
    "deposit-amount-zero",
    "deposit-missing-account",
]


@pytest.mark.parametrize("kind", POISON)
def test_a_poison_message_fails_alone(
    apply, make_record, envelopes, auto, table_items, get_statement, ids, caplog, kind
):
    poison, reason = _poison(kind, envelopes, make_record, auto)
    good_before = envelopes.opened(ids.account_a, occurred_at="2025-11-22T09:00:00Z")
    good_after = envelopes.transfer(ids.account_a, ids.account_b, 42)

    response = apply(make_record(good_before), poison, make_record(good_after))

    assert response == {"batchItemFailures": [{"itemIdentifier": poison["messageId"]}]}
    statement = get_statement(ids.account_a).body
    assert [e["event_id"] for e in statement["entries"]] == [
        good_after["event_id"],
        good_before["event_id"],
    ]
    assert statement["balance_minor"] == -42
    assert len(table_items()) == 5  # 2 headers, opened, debit, credit
    [error] = _errors(caplog)
    assert error.getMessage() == "rejected message"
    assert error.message_id == poison["messageId"]
    assert reason in error.reason


def test_a_message_without_the_event_type_attribute_is_still_applied(
    apply, make_record, envelopes, table_items, ids
):
    assert apply(make_record(envelopes.opened(ids.account_a), event_type=None)) == NO_FAILURES

    assert _header(table_items, ids.account_a)["owner_sub"] == {"S": ids.owner_sub}


def test_a_valid_event_that_statements_do_not_apply_fails(
    handlers, apply, make_record, envelopes, table_items, ids, caplog, monkeypatch, tmp_path
):
    # A contract the bus may declare later, which this consumer does not know yet.
    contracts = handlers.apply_events.contracts.directory
    for name in ("AccountOpened.v1.json", "DepositCompleted.v1.json", "TransferCompleted.v1.json"):
        (tmp_path / name).write_text((contracts / name).read_text())
    schema = json.loads((contracts / "AccountOpened.v1.json").read_text())
    schema["properties"]["event_version"] = {"const": 2}
    (tmp_path / "AccountOpened.v2.json").write_text(json.dumps(schema))
    registry = type(handlers.apply_events.contracts)(tmp_path)
    monkeypatch.setattr(handlers.apply_events, "contracts", registry)
    good = make_record(envelopes.opened(ids.account_b, owner_sub=ids.other_sub))
    unhandled = make_record({**envelopes.opened(ids.account_a), "event_version": 2})

    response = apply(good, unhandled)

    assert response == {"batchItemFailures": [{"itemIdentifier": unhandled["messageId"]}]}
    assert {item["pk"]["S"] for item in table_items()} == {f"ACCOUNT#{ids.account_b}"}
    [error] = _errors(caplog)
    assert error.message_id == unhandled["messageId"]
    assert error.reason == (
        "statements do not apply AccountOpened v2; "
        "handled: AccountOpened.v1, DepositCompleted.v1, TransferCompleted.v1"
    )


def test_statements_handle_the_opening_transfer_and_deposit_events(handlers):
    assert handlers.statements.repository_from_env().handled == [
        "AccountOpened.v1",
        "DepositCompleted.v1",
        "TransferCompleted.v1",
    ]


def test_when_every_record_fails_powertools_raises_and_nothing_is_written(
    apply, make_record, envelopes, auto, table_items, caplog
):
    records = [_poison(kind, envelopes, make_record, auto)[0] for kind in POISON]

    with pytest.raises(BatchProcessingError) as raised:
        apply(*records)

    assert raised.value.msg.startswith("All records failed processing")
    assert len(raised.value.child_exceptions) == len(POISON)
    assert table_items() == []
    assert sorted(r.message_id for r in _errors(caplog)) == sorted(r["messageId"] for r in records)


def test_a_missing_table_is_a_failure_not_a_duplicate(
    apply, envelopes, dynamodb, table_items, caplog
):
    dynamodb.delete_table(TableName="statements-test")

    with pytest.raises(BatchProcessingError) as raised:
        apply(envelopes.opened(), envelopes.transfer())

    errors = [exception for _type, exception, _tb in raised.value.child_exceptions]
    assert len(errors) == 2
    assert all(isinstance(e, ClientError) for e in errors)
    assert {e.response["Error"]["Code"] for e in errors} == {"ResourceNotFoundException"}
    assert [r.getMessage() for r in _errors(caplog)] == ["could not apply the event"] * 2


def _conflicting(repository, monkeypatch, *, conflicts: int) -> list[dict]:
    """Make the next ``conflicts`` transactions lose a race (TransactionConflict)."""
    real = repository.client.transact_write_items
    calls: list[dict] = []

    def transact(**kwargs):
        calls.append(kwargs)
        if len(calls) <= conflicts:
            reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (
                len(kwargs["TransactItems"]) - 1
            )
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return real(**kwargs)

    monkeypatch.setattr(repository.client, "transact_write_items", transact)
    return calls


def test_a_transaction_conflict_is_retried_in_place_and_applied_once(
    handlers, apply, make_record, envelopes, get_statement, ids, monkeypatch, caplog
):
    apply(envelopes.opened(ids.account_a))
    repository = handlers.statements.repository_from_env()
    pauses: list[float] = []
    monkeypatch.setattr(repository, "sleep", pauses.append)
    calls = _conflicting(repository, monkeypatch, conflicts=2)

    assert apply(envelopes.transfer(ids.account_a, ids.account_b, 99)) == NO_FAILURES

    assert len(calls) == 3
    assert len(pauses) == 2
    assert all(0 <= pause <= 0.1 for pause in pauses)
    assert get_statement(ids.account_a).body["balance_minor"] == -99
    assert _errors(caplog) == []


def test_a_conflict_that_persists_fails_the_record_and_a_redelivery_applies_it(
    handlers, apply, make_record, envelopes, get_statement, ids, monkeypatch, caplog
):
    repository = handlers.statements.repository_from_env()
    monkeypatch.setattr(repository, "sleep", lambda _seconds: None)
    apply(envelopes.opened(ids.account_a))
    calls = _conflicting(repository, monkeypatch, conflicts=handlers.statements.CONFLICT_ATTEMPTS)
    record = make_record(envelopes.transfer(ids.account_a, ids.account_b, 99))
    good = make_record(envelopes.opened(ids.account_b, owner_sub=ids.other_sub))

    assert apply(record, good) == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert len(calls) == handlers.statements.CONFLICT_ATTEMPTS + 1  # every try, then good
    assert get_statement(ids.account_a).body["balance_minor"] == 0
    [error] = _errors(caplog)
    assert error.message_id == record["messageId"]
    assert "TransactionCanceledException" in error.reason

    assert apply(record) == NO_FAILURES  # SQS delivers it again
    assert get_statement(ids.account_a).body["balance_minor"] == -99


def test_an_opening_for_another_owner_never_changes_the_owner(
    apply, make_record, envelopes, table_items, ids, caplog
):
    apply(envelopes.opened(ids.account_a))
    before = table_items()
    hijack = make_record(envelopes.opened(ids.account_a, owner_sub=ids.other_sub))

    with pytest.raises(BatchProcessingError):
        apply(hijack)

    assert table_items() == before
    [error] = _errors(caplog)
    assert error.message_id == hijack["messageId"]
