"""``payments_shared.events``: validating messages against the event contracts, and
publishing to an SNS topic whose subscribers filter on the ``event_type`` attribute (moto).
"""

import importlib
import json
import shutil

import boto3
import pytest
from handler_support import REGION, fake_aws_environment, subscribed_queue
from moto import mock_aws

ACCOUNT_ID = "0b5c1e52-9a3f-4d47-8f2e-6f4c1d2b3a90"
OTHER_ACCOUNT_ID = "7d2e4f61-3c5b-4a8e-9f1d-2b3c4d5e6f70"


@pytest.fixture
def events():
    """The module, imported with the shared layer on the path (see tests/handlers/conftest)."""
    return importlib.import_module("payments_shared.events")


@pytest.fixture
def registry(events):
    """The repository's contracts, from ``$CONTRACTS_DIR``."""
    return events.ContractRegistry.from_env()


def account_opened(**changes):
    envelope = {
        "event_id": "c1d2e3f4-0001-4a5b-8c6d-7e8f9a0b1c2d",
        "event_type": "AccountOpened",
        "event_version": 1,
        "occurred_at": "2025-11-22T14:00:00.123Z",
        "data": {
            "account_id": ACCOUNT_ID,
            "owner_sub": "6f1c2a3e-1111-4c2b-9d8e-0a1b2c3d4e5f",
            "currency": "EUR",
            "opened_at": "2025-11-22T14:00:00.123Z",
        },
    }
    return {**envelope, **changes}


def transfer_completed(**data_changes):
    return {
        "event_id": "c1d2e3f4-0003-4a5b-8c6d-7e8f9a0b1c2d",
        "event_type": "TransferCompleted",
        "event_version": 1,
        "occurred_at": "2025-11-22T14:10:00Z",
        "data": {
            "transfer_id": "d4e5f6a7-1111-4b2c-8d3e-4f5a6b7c8d9e",
            "from_account_id": ACCOUNT_ID,
            "to_account_id": OTHER_ACCOUNT_ID,
            "amount_minor": 2500,
            "currency": "EUR",
            "completed_at": "2025-11-22T14:10:00Z",
            **data_changes,
        },
    }


# --- parse ---------------------------------------------------------------------------------


def test_declares_the_repositorys_contracts(registry):
    assert registry.declared == [
        "AccountOpened.v1",
        "DepositCompleted.v1",
        "StatementExported.v1",
        "TransferCompleted.v1",
    ]


@pytest.mark.parametrize(
    "envelope", [account_opened(), transfer_completed()], ids=lambda e: e["event_type"]
)
def test_parses_a_valid_event(events, registry, envelope):
    event = registry.parse(json.dumps(envelope))

    assert event == events.Event(**envelope)
    assert isinstance(event.data, dict)


def test_an_event_round_trips_through_its_wire_form(events, registry):
    event = registry.parse(json.dumps(transfer_completed()))

    text = event.to_json()

    assert json.loads(text) == transfer_completed()
    assert " " not in text  # compact
    assert registry.parse(text) == event


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "message body is not JSON: Expecting value: line 1 column 1 (char 0)"),
        ("{not json", "message body is not JSON: "),
        ('{"event_type": "AccountOpened"', "message body is not JSON: "),
        ("[1, 2]", "message body is not a JSON object"),
        ('"AccountOpened"', "message body is not a JSON object"),
        ("42", "message body is not a JSON object"),
        ("null", "message body is not a JSON object"),
    ],
    ids=["empty", "garbage", "truncated", "array", "string", "number", "null"],
)
def test_rejects_a_body_that_is_not_a_json_object(events, registry, body, message):
    with pytest.raises(events.InvalidEventError) as raised:
        registry.parse(body)

    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event_type": "AccountClosed"}, "no contract for event_type 'AccountClosed' version 1"),
        ({"event_type": None}, "no contract for event_type None version 1"),
        ({"event_version": 2}, "no contract for event_type 'AccountOpened' version 2"),
        ({"event_version": "1"}, "no contract for event_type 'AccountOpened' version '1'"),
        ({"event_version": 1.5}, "no contract for event_type 'AccountOpened' version 1.5"),
        ({"event_version": True}, "no contract for event_type 'AccountOpened' version True"),
    ],
    ids=[
        "unknown-type",
        "null-type",
        "unknown-version",
        "string-version",
        "float-version",
        "bool-version",
    ],
)
def test_rejects_an_event_without_a_contract(events, registry, changes, message):
    with pytest.raises(events.InvalidEventError) as raised:
        registry.parse(json.dumps(account_opened(**changes)))

    assert (
        str(raised.value)
        == f"{message}; declared: AccountOpened.v1, DepositCompleted.v1, StatementExported.v1,"
        " TransferCompleted.v1"
    )


def test_rejects_a_missing_event_type(events, registry):
    envelope = account_opened()
    del envelope["event_type"]

    with pytest.raises(events.InvalidEventError, match="no contract for event_type None version 1"):
        registry.parse(json.dumps(envelope))


def test_a_bool_version_is_not_version_1(events, registry):
    # In Python True == 1 and hash(True) == hash(1): the lookup alone would accept it.
    with pytest.raises(events.InvalidEventError, match="version True"):
        registry.validate(account_opened(event_version=True))

    assert registry.validate(account_opened(event_version=1)).event_version == 1


@pytest.mark.parametrize(
    ("envelope", "words"),
    [
        (transfer_completed(amount_minor=0), ["TransferCompleted v1", "amount_minor", "1"]),
        (transfer_completed(amount_minor=-5), ["TransferCompleted v1", "amount_minor"]),
        (
            transfer_completed(amount_minor=10.5),
            ["TransferCompleted v1", "amount_minor", "integer"],
        ),
        (transfer_completed(currency="JPY"), ["TransferCompleted v1", "currency"]),
        (
            transfer_completed(from_account_id="not-a-uuid"),
            ["TransferCompleted v1", "from_account_id"],
        ),
        (transfer_completed(note="hi"), ["TransferCompleted v1", "data", "note"]),
        (
            account_opened(event_id="C1D2E3F4-0001-4A5B-8C6D-7E8F9A0B1C2D"),
            ["AccountOpened v1", "event_id"],
        ),
        (account_opened(occurred_at="2025-11-22 14:00:00"), ["AccountOpened v1", "occurred_at"]),
        (account_opened(data=[]), ["AccountOpened v1", "data", "object"]),
        (account_opened(extra=1), ["AccountOpened v1", "envelope", "extra"]),
    ],
    ids=[
        "amount-zero",
        "amount-negative",
        "amount-fraction",
        "unknown-currency",
        "bad-account-id",
        "extra-data-field",
        "uppercase-event-id",
        "bad-timestamp",
        "data-not-object",
        "extra-envelope-field",
    ],
)
def test_rejects_a_schema_violation_saying_where(events, registry, envelope, words):
    with pytest.raises(events.InvalidEventError) as raised:
        registry.parse(json.dumps(envelope))

    for word in words:
        assert word in str(raised.value)
    assert "data.data" not in str(raised.value)


@pytest.mark.parametrize(
    ("envelope", "message"),
    [
        (account_opened(data=[]), "AccountOpened v1: data must be object"),
        (transfer_completed(note="hi"), "TransferCompleted v1: data must not contain {'note'}"),
        (account_opened(extra=1), "AccountOpened v1: the envelope must not contain {'extra'}"),
    ],
    ids=["data-not-object", "extra-data-field", "extra-envelope-field"],
)
def test_says_whether_the_envelope_or_its_data_is_wrong(events, registry, envelope, message):
    with pytest.raises(events.InvalidEventError) as raised:
        registry.parse(json.dumps(envelope))

    assert str(raised.value).startswith(message)


@pytest.mark.parametrize("field", ["transfer_id", "amount_minor", "completed_at"])
def test_rejects_a_missing_field_naming_it(events, registry, field):
    envelope = transfer_completed()
    del envelope["data"][field]

    with pytest.raises(events.InvalidEventError) as raised:
        registry.parse(json.dumps(envelope))

    assert str(raised.value).startswith("TransferCompleted v1: ")
    assert field in str(raised.value)


@pytest.mark.parametrize("field", ["event_id", "occurred_at", "data"])
def test_rejects_a_missing_envelope_field(events, registry, field):
    envelope = account_opened()
    del envelope[field]

    with pytest.raises(events.InvalidEventError, match=field):
        registry.parse(json.dumps(envelope))


def test_an_invalid_event_error_is_a_value_error(events):
    assert issubclass(events.InvalidEventError, ValueError)


def test_reads_the_contracts_from_contracts_dir(events, monkeypatch, tmp_path, registry):
    shutil.copy(registry.directory / "AccountOpened.v1.json", tmp_path)
    (tmp_path / "README.json").write_text("{}")  # not a contract file name: ignored
    monkeypatch.setenv("CONTRACTS_DIR", str(tmp_path))

    only_accounts = events.ContractRegistry.from_env()

    assert only_accounts.declared == ["AccountOpened.v1"]
    with pytest.raises(events.InvalidEventError, match=r"declared: AccountOpened\.v1$"):
        only_accounts.parse(json.dumps(transfer_completed()))


def test_a_folder_without_contracts_is_an_error(events, tmp_path):
    with pytest.raises(RuntimeError, match="no event contracts"):
        events.ContractRegistry(tmp_path)


# --- publish -------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch):
    """moto, with fake credentials that can reach nothing real."""
    fake_aws_environment(monkeypatch)
    with mock_aws():
        yield


@pytest.fixture
def bus(aws):
    """A topic with one queue subscribed raw, filtered on ``event_type`` = AccountOpened."""
    sns = boto3.client("sns", region_name=REGION)
    topic_arn = sns.create_topic(Name="accounts-events")["TopicArn"]
    receive = subscribed_queue(topic_arn, ["AccountOpened"], queue_name="statements-events")
    return sns, topic_arn, receive


def test_publish_delivers_the_envelope_and_its_type_attribute(events, registry, bus):
    sns, topic_arn, receive = bus
    event = registry.parse(json.dumps(account_opened()))

    message_id = events.publish(sns, topic_arn, event)

    [message] = receive()
    assert isinstance(message_id, str)
    assert message_id
    assert message["Body"] == event.to_json()
    assert registry.parse(message["Body"]) == event
    assert message["MessageAttributes"]["event_type"] == {
        "DataType": "String",
        "StringValue": "AccountOpened",
    }
    assert message["MessageAttributes"]["event_version"] == {
        "DataType": "Number",
        "StringValue": "1",
    }


def test_the_subscription_filters_on_the_event_type(events, registry, bus):
    sns, topic_arn, receive = bus
    opened = registry.parse(json.dumps(account_opened()))
    transfer = registry.parse(json.dumps(transfer_completed()))

    events.publish(sns, topic_arn, transfer)
    events.publish(sns, topic_arn, opened)
    events.publish(sns, topic_arn, transfer)

    assert [message["Body"] for message in receive()] == [opened.to_json()]


def test_publish_uses_the_given_client(events, registry):
    calls = []

    class Recorder:
        def publish(self, **kwargs):
            calls.append(kwargs)
            return {"MessageId": "m-1"}

    event = registry.parse(json.dumps(transfer_completed()))

    assert events.publish(Recorder(), "arn:aws:sns:us-east-1:123456789012:t", event) == "m-1"
    assert calls == [
        {
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
            "Message": event.to_json(),
            "MessageAttributes": {
                "event_type": {"DataType": "String", "StringValue": "TransferCompleted"},
                "event_version": {"DataType": "Number", "StringValue": "1"},
            },
        }
    ]
