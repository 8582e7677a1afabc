"""``publish_events.handler`` against moto: stream records of new accounts become
``AccountOpened`` events on the accounts topic, valid against their contract, with an id
that stays the same however often a record is retried; failures are reported per record.
"""

import copy
import json
import os
import uuid
from pathlib import Path

import boto3
import fastjsonschema
import pytest
from handler_support import REGION, load_json, subscribed_queue

HERE = Path(__file__).resolve().parent
CONTRACT = HERE.parents[2] / "contracts" / "events" / "AccountOpened.v1.json"
ACCOUNT_OPENED_SCHEMA = fastjsonschema.compile(json.loads(CONTRACT.read_text(encoding="utf-8")))
STREAM_EVENT = load_json(HERE / "events" / "account_stream_insert.json")


@pytest.fixture
def event_queue(dynamodb):
    """A queue subscribed to the accounts topic as the statements queue is: raw delivery,
    ``AccountOpened`` only. Returns a function that drains it."""
    topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name="accounts-events")
    return subscribed_queue(topic_arn["TopicArn"], ["AccountOpened"], queue_name="subscriber")


def _record(item, sequence_number, event_name="INSERT"):
    record = copy.deepcopy(STREAM_EVENT["Records"][0])
    record["eventName"] = event_name
    record["dynamodb"]["Keys"] = {"pk": item["pk"], "sk": item["sk"]}
    record["dynamodb"]["NewImage"] = item
    record["dynamodb"]["SequenceNumber"] = sequence_number
    return record


@pytest.fixture
def publish(handlers, lambda_context):
    def call(*records):
        return handlers.publish_events.handler({"Records": list(records)}, lambda_context)

    return call


@pytest.fixture
def sample_item():
    return copy.deepcopy(STREAM_EVENT["Records"][0]["dynamodb"]["NewImage"])


def test_an_opened_account_is_published_as_a_valid_account_opened(
    open_account, dynamodb, event_queue, publish, owner_sub
):
    opened = open_account()
    assert opened.status == 201
    account_id = opened.body["account_id"]
    item = dynamodb.get_item(
        TableName=os.environ["TABLE_NAME"],
        Key={"pk": {"S": f"ACCOUNT#{account_id}"}, "sk": {"S": "PROFILE"}},
    )["Item"]

    assert publish(_record(item, "100")) == {"batchItemFailures": []}

    [message] = event_queue()
    event = json.loads(message["Body"])
    ACCOUNT_OPENED_SCHEMA(event)
    assert message["MessageAttributes"]["event_type"]["StringValue"] == "AccountOpened"
    assert event["event_type"] == "AccountOpened"
    assert event["occurred_at"] == opened.body["opened_at"]
    assert event["data"] == {
        "account_id": account_id,
        "owner_sub": owner_sub,
        "currency": opened.body["currency"],
        "opened_at": opened.body["opened_at"],
    }
    assert "email" not in json.dumps(event)  # the contract carries no personal data


def test_a_retried_record_is_published_with_the_same_event_id(event_queue, publish, sample_item):
    publish(_record(sample_item, "100"))
    publish(_record(sample_item, "100"))
    first, second = (json.loads(m["Body"]) for m in event_queue())
    assert first == second
    assert uuid.UUID(first["event_id"]).version == 5


def test_records_that_are_not_account_inserts_publish_nothing(event_queue, publish, sample_item):
    email_claim = {
        "pk": {"S": "EMAIL#alice@example.com"},
        "sk": {"S": "EMAIL"},
        "account_id": sample_item["account_id"],
    }
    response = publish(_record(email_claim, "100"), _record(sample_item, "101", "MODIFY"))
    assert response == {"batchItemFailures": []}
    assert event_queue() == []


def test_a_record_that_breaks_the_contract_fails_alone(event_queue, publish, sample_item):
    bad = copy.deepcopy(sample_item)
    bad["currency"] = {"S": "XXX"}  # not a currency the contract allows
    other = copy.deepcopy(sample_item)
    other_id = str(uuid.uuid4())
    other["account_id"] = {"S": other_id}

    response = publish(_record(sample_item, "100"), _record(bad, "101"), _record(other, "102"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "101"}]}
    published = [json.loads(m["Body"])["data"]["account_id"] for m in event_queue()]
    assert sorted(published) == sorted([sample_item["account_id"]["S"], other_id])


def test_when_the_topic_cannot_be_reached_every_record_is_reported_failed(
    event_queue, publish, sample_item, monkeypatch
):
    monkeypatch.setenv("EVENT_TOPIC_ARN", f"arn:aws:sns:{REGION}:123456789012:no-such-topic")
    other = copy.deepcopy(sample_item)
    other["account_id"] = {"S": str(uuid.uuid4())}
    # Every record failed: Powertools raises, so the whole batch is retried by the stream.
    with pytest.raises(Exception, match="All records failed processing"):
        publish(_record(sample_item, "100"), _record(other, "101"))
    assert event_queue() == []
