"""Fixtures for the operations functions (``lambda_src/operations``), on moto.

The handler modules (``dead_letters``, ``dead_letter_report``) are top-level modules,
imported freshly for each test after its environment is set (``DEAD_LETTER_QUEUE_URLS`` is
read at import, as at a cold start), and removed again afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from handler_support import REGION, fake_aws_environment, import_handlers
from moto import mock_aws

CODE_DIR = Path(__file__).resolve().parents[3] / "lambda_src" / "operations"
MODULES = ("dead_letters", "dead_letter_report")
SERVICE_NAME = "operations"


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto SQS client, with fake credentials that can reach nothing real."""
    fake_aws_environment(monkeypatch, POWERTOOLS_SERVICE_NAME=SERVICE_NAME)
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def load_operations(
    sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., AbstractContextManager[SimpleNamespace]]:
    """``with load_operations(queues) as modules:`` the handler modules, imported with
    ``DEAD_LETTER_QUEUE_URLS`` set to ``queues`` (a mapping, dumped as JSON; a string, as
    is; None: unset)."""

    def load(queues: Mapping[str, str] | str | None) -> AbstractContextManager[SimpleNamespace]:
        if queues is None:
            monkeypatch.delenv("DEAD_LETTER_QUEUE_URLS", raising=False)
        else:
            text = queues if isinstance(queues, str) else json.dumps(dict(queues))
            monkeypatch.setenv("DEAD_LETTER_QUEUE_URLS", text)
        return import_handlers(monkeypatch, [CODE_DIR], MODULES)

    return load


@pytest.fixture
def dead_letter_queue(sqs: Any) -> Callable[..., str]:
    """Create a queue holding ``visible`` messages, ``in_flight`` of them received (not
    visible) and ``delayed`` more; its URL."""

    def create(name: str, *, visible: int = 0, in_flight: int = 0, delayed: int = 0) -> str:
        url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
        for number in range(visible + in_flight):
            sqs.send_message(QueueUrl=url, MessageBody=f"message {number}")
        for number in range(delayed):
            sqs.send_message(QueueUrl=url, MessageBody=f"later {number}", DelaySeconds=900)
        received = 0
        while received < in_flight:
            batch = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, in_flight - received),
                VisibilityTimeout=900,
            ).get("Messages", [])
            assert batch, "moto gave no message to receive"
            received += len(batch)
        return url

    return create
