"""tools/redrive_dlq.py against botocore's Stubber: every call is checked against the SQS API
model (names, types, required parameters), and answers are shaped as SQS answers them."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from tools.redrive_dlq import main

REGION = "eu-west-1"
ACCOUNT = "111111111111"
DLQ_NAME = "orders-dead-letters"
DLQ_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{DLQ_NAME}"
DLQ_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{DLQ_NAME}"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"


@pytest.fixture
def sqs() -> Iterator[tuple[object, Stubber]]:
    client = boto3.client(
        "sqs", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _find_dlq(stubber: Stubber) -> None:
    stubber.add_response("get_queue_url", {"QueueUrl": DLQ_URL}, {"QueueName": DLQ_NAME})
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": DLQ_ARN}},
        {"QueueUrl": DLQ_URL, "AttributeNames": ["QueueArn"]},
    )


def _source_is_the_queue(stubber: Stubber) -> None:
    stubber.add_response(
        "list_dead_letter_source_queues", {"queueUrls": [QUEUE_URL]}, {"QueueUrl": DLQ_URL}
    )
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": QUEUE_ARN}},
        {"QueueUrl": QUEUE_URL, "AttributeNames": ["QueueArn"]},
    )


def _waiting(stubber: Stubber, count: int) -> None:
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"ApproximateNumberOfMessages": str(count)}},
        {"QueueUrl": DLQ_URL, "AttributeNames": ["ApproximateNumberOfMessages"]},
    )


def test_moves_the_messages_back_to_the_queue_the_dead_letter_queue_serves(sqs, capsys):
    client, stubber = sqs
    _find_dlq(stubber)
    _source_is_the_queue(stubber)
    _waiting(stubber, 3)
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-1"},
        {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN, "MaxNumberOfMessagesPerSecond": 10},
    )
    running = {"TaskHandle": "handle-1", "Status": "RUNNING", "SourceArn": DLQ_ARN}
    stubber.add_response(
        "list_message_move_tasks",
        {"Results": [{**running, "ApproximateNumberOfMessagesMoved": 1}]},
        {"SourceArn": DLQ_ARN, "MaxResults": 1},
    )
    # A finished task no longer carries its handle.
    stubber.add_response(
        "list_message_move_tasks",
        {
            "Results": [
                {
                    "Status": "COMPLETED",
                    "SourceArn": DLQ_ARN,
                    "DestinationArn": QUEUE_ARN,
                    "ApproximateNumberOfMessagesMoved": 3,
                    "ApproximateNumberOfMessagesToMove": 3,
                }
            ]
        },
        {"SourceArn": DLQ_ARN, "MaxResults": 1},
    )

    code = main([DLQ_NAME, "--rate", "10", "--poll-seconds", "0"], sqs=client)

    assert code == 0
    output = capsys.readouterr().out
    assert "about 3 message(s) to move to orders" in output
    assert "COMPLETED: moved 3 of 3 message(s) from orders-dead-letters to orders" in output


def test_a_failed_task_is_reported_with_its_reason_and_exits_non_zero(sqs, capsys):
    client, stubber = sqs
    # Named by its URL: no lookup of the URL.
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": DLQ_ARN}},
        {"QueueUrl": DLQ_URL, "AttributeNames": ["QueueArn"]},
    )
    _source_is_the_queue(stubber)
    _waiting(stubber, 2)
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-2"},
        {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN},
    )
    stubber.add_response(
        "list_message_move_tasks",
        {
            "Results": [
                {
                    "Status": "FAILED",
                    "ApproximateNumberOfMessagesMoved": 1,
                    "ApproximateNumberOfMessagesToMove": 2,
                    "FailureReason": "AccessDenied",
                }
            ]
        },
        {"SourceArn": DLQ_ARN, "MaxResults": 1},
    )

    assert main([DLQ_URL, "--poll-seconds", "0"], sqs=client) == 1
    assert "FAILED: moved 1 of 2 message(s)" in capsys.readouterr().out


def test_dry_run_and_an_empty_queue_move_nothing(sqs, capsys):
    client, stubber = sqs
    for arguments, waiting in (([DLQ_NAME, "--dry-run"], 5), ([DLQ_NAME], 0)):
        _find_dlq(stubber)
        _source_is_the_queue(stubber)
        _waiting(stubber, waiting)
        assert main(arguments, sqs=client) == 0  # no start_message_move_task stubbed
    assert "about 5 message(s) to move" in capsys.readouterr().out


def test_a_queue_serving_several_queues_needs_a_destination(sqs, capsys):
    client, stubber = sqs
    _find_dlq(stubber)
    stubber.add_response(
        "list_dead_letter_source_queues",
        {"queueUrls": [QUEUE_URL, QUEUE_URL + "-b"]},
        {"QueueUrl": DLQ_URL},
    )
    assert main([DLQ_NAME], sqs=client) == 1
    assert "choose one with --to" in capsys.readouterr().err


def test_an_explicit_destination_and_an_arn_are_accepted(sqs, capsys):
    client, stubber = sqs
    stubber.add_response(
        "get_queue_url",
        {"QueueUrl": DLQ_URL},
        {"QueueName": DLQ_NAME, "QueueOwnerAWSAccountId": ACCOUNT},
    )
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": DLQ_ARN}},
        {"QueueUrl": DLQ_URL, "AttributeNames": ["QueueArn"]},
    )
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": QUEUE_ARN}},
        {"QueueUrl": QUEUE_URL, "AttributeNames": ["QueueArn"]},
    )
    _waiting(stubber, 0)
    assert main([DLQ_ARN, "--to", QUEUE_URL], sqs=client) == 0


def test_sqs_refusing_the_task_is_explained(sqs, capsys):
    client, stubber = sqs
    _find_dlq(stubber)
    _source_is_the_queue(stubber)
    _waiting(stubber, 1)
    stubber.add_client_error(
        "start_message_move_task",
        service_error_code="InvalidParameterValue",
        service_message="Source queue must be configured as a Dead Letter Queue.",
    )
    assert main([DLQ_NAME], sqs=client) == 1
    assert "SQS refused the move task" in capsys.readouterr().err


@pytest.mark.parametrize("arguments", [["q", "--rate", "0"], ["q", "--rate", "501"]])
def test_a_rate_sqs_would_refuse_is_a_usage_error(arguments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(arguments, sqs=object())
    assert exit_info.value.code == 2
    assert "1 to 500" in capsys.readouterr().err


def test_a_malformed_arn_is_refused(sqs, capsys):
    client, _ = sqs
    assert main(["arn:aws:sns:eu-west-1:111111111111:topic"], sqs=client) == 1
    assert "is not an SQS queue ARN" in capsys.readouterr().err
