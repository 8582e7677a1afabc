"""Runbook: move the messages of a dead-letter queue back to the queue they came from.

Usage::

    python tools/redrive_dlq.py <dead-letter queue: name, URL or ARN> [--to <queue>]
        [--rate <messages per second>] [--dry-run] [--region <region>]

It uses SQS's own message move task (``StartMessageMoveTask``), which moves every message
the queue holds when the task starts, in order, without our code touching a message. By
default the destination is the one SQS queue whose redrive policy names this dead-letter
queue (the worker's queue: messages SNS could not deliver sit in the same dead-letter queue,
and belong in that queue too); with several such queues, name one with ``--to``. It waits
for the task, prints how many messages moved, and exits 0 only when the task completed.

Look at a dead-lettered message before you redrive it: one that failed for a reason the code
still has (a poison message) will only come back. ``--dry-run`` prints what would move.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

FINISHED = {"COMPLETED", "FAILED", "CANCELLED"}
MAX_RATE = 500
"""Most messages per second a move task accepts (``MaxNumberOfMessagesPerSecond``)."""


class RedriveError(Exception):
    """The redrive cannot start or did not complete; the message says why and what to do."""


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class Outcome:
    status: str
    moved: int
    to_move: int
    failure: str | None


def find_queue(sqs: Any, queue: str) -> Queue:
    """A queue named by its name, URL or ARN."""
    if queue.startswith("arn:"):
        parts = queue.split(":")
        if len(parts) != 6 or parts[2] != "sqs":
            raise RedriveError(
                f"{queue!r} is not an SQS queue ARN (arn:aws:sqs:<region>:<account>:<name>)"
            )
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
    elif queue.startswith("https://"):
        url = queue
    else:
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return Queue(url=url, arn=attributes["Attributes"]["QueueArn"])


def source_queue(sqs: Any, dead_letters: Queue) -> Queue:
    """The one queue whose redrive policy sends its failures to ``dead_letters``."""
    urls: list[str] = []
    for page in sqs.get_paginator("list_dead_letter_source_queues").paginate(
        QueueUrl=dead_letters.url
    ):
        urls.extend(page.get("queueUrls", []))
    if not urls:
        raise RedriveError(
            f"no queue names {dead_letters.name} as its dead-letter queue; pass the queue the "
            "messages belong in with --to"
        )
    if len(urls) > 1:
        raise RedriveError(
            f"{len(urls)} queues send their failures to {dead_letters.name}: "
            + ", ".join(sorted(urls))
            + "; choose one with --to"
        )
    return find_queue(sqs, urls[0])


def waiting_messages(sqs: Any, queue: Queue) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def redrive(
    sqs: Any,
    dead_letters: Queue,
    destination: Queue,
    *,
    rate: int | None = None,
    poll_seconds: float = 5,
    timeout_seconds: float = 3600,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Start the move task and wait until it finishes (or ``timeout_seconds`` pass)."""
    request: dict[str, Any] = {"SourceArn": dead_letters.arn, "DestinationArn": destination.arn}
    if rate is not None:
        request["MaxNumberOfMessagesPerSecond"] = rate
    try:
        handle = sqs.start_message_move_task(**request)["TaskHandle"]
    except ClientError as error:
        raise RedriveError(f"SQS refused the move task: {error}") from error
    waited = 0.0
    while True:
        task = _task(sqs, dead_letters, handle)
        if task["Status"] in FINISHED:
            return Outcome(
                status=task["Status"],
                moved=int(task.get("ApproximateNumberOfMessagesMoved", 0)),
                to_move=int(task.get("ApproximateNumberOfMessagesToMove", 0)),
                failure=task.get("FailureReason"),
            )
        if waited >= timeout_seconds:
            raise RedriveError(
                f"the move task is still {task['Status']} after {timeout_seconds:g} s "
                f"({task.get('ApproximateNumberOfMessagesMoved', 0)} moved so far); it goes "
                f"on without this command: aws sqs list-message-move-tasks --source-arn "
                f"{dead_letters.arn}"
            )
        sleep(poll_seconds)
        waited += poll_seconds


def _task(sqs: Any, dead_letters: Queue, handle: str) -> dict[str, Any]:
    """Our task: the most recent of the queue (SQS runs one at a time per queue and lists
    the newest first; only a running task still carries its handle)."""
    tasks = sqs.list_message_move_tasks(SourceArn=dead_letters.arn, MaxResults=1)["Results"]
    if not tasks:
        raise RedriveError(f"SQS lists no move task for {dead_letters.arn}")
    task = dict(tasks[0])
    if task.get("TaskHandle", handle) != handle:
        raise RedriveError("another move task started on this queue meanwhile; check it in SQS")
    return task


def _rate(value: str) -> int:
    rate = int(value)
    if not 1 <= rate <= MAX_RATE:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_RATE} messages per second")
    return rate


def main(argv: list[str] | None = None, sqs: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("queue", help="the dead-letter queue: name, URL or ARN")
    parser.add_argument("--to", help="destination queue (default: the one queue it serves)")
    parser.add_argument("--rate", type=_rate, help=f"messages per second, 1 to {MAX_RATE}")
    parser.add_argument("--dry-run", action="store_true", help="say what would move, move nothing")
    parser.add_argument("--region", help="AWS region (default: the CLI's)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait (3600)")
    parser.add_argument("--poll-seconds", type=float, default=5, help="seconds between checks")
    arguments = parser.parse_args(argv)
    sqs = sqs or boto3.client("sqs", region_name=arguments.region)
    try:
        dead_letters = find_queue(sqs, arguments.queue)
        destination = (
            find_queue(sqs, arguments.to) if arguments.to else source_queue(sqs, dead_letters)
        )
        waiting = waiting_messages(sqs, dead_letters)
        print(f"{dead_letters.name}: about {waiting} message(s) to move to {destination.name}")
        if arguments.dry_run or waiting == 0:
            return 0
        outcome = redrive(
            sqs,
            dead_letters,
            destination,
            rate=arguments.rate,
            poll_seconds=arguments.poll_seconds,
            timeout_seconds=arguments.timeout,
        )
    except RedriveError as error:
        print(f"redrive: {error}", file=sys.stderr)
        return 1
    print(
        f"{outcome.status}: moved {outcome.moved} of {outcome.to_move} message(s) from "
        f"{dead_letters.name} to {destination.name}"
        + (f" ({outcome.failure})" if outcome.failure else "")
    )
    return 0 if outcome.status == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())
