"""Plumbing every handler test shares: fake AWS settings, service tables, fresh handler
modules, and API Gateway proxy events and responses.

Handler modules are top-level modules (``accounts``, ``statements``...), as on Lambda, and
two function folders could hold modules of the same name; ``import_handlers`` imports
them freshly with their folders first on ``sys.path``, then removes them again and puts
back whatever they displaced: nothing leaks into other tests, whatever their order.
"""

from __future__ import annotations

import copy
import functools
import importlib
import io
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Response:
    """A proxy integration response, decoded."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]


def decode(raw: dict[str, Any]) -> Response:
    """Check ``raw`` is a proxy integration response and decode its JSON body."""
    assert set(raw) >= {"statusCode", "body"}, raw
    assert isinstance(raw["body"], str), "proxy integration bodies must be strings"
    return Response(raw["statusCode"], raw.get("headers") or {}, json.loads(raw["body"]))


def load_json(path: Path) -> dict[str, Any]:
    """A fresh copy of a sample event."""
    return copy.deepcopy(json.loads(path.read_text(encoding="utf-8")))


def as_caller(event: dict[str, Any], sub: str | None, *, authorizer: bool) -> dict[str, Any]:
    """``event`` from ``sub`` (None: claims without ``sub``; ``authorizer=False``: no claims)."""
    if not authorizer:
        del event["requestContext"]["authorizer"]
    elif sub is None:
        del event["requestContext"]["authorizer"]["claims"]["sub"]
    else:
        event["requestContext"]["authorizer"]["claims"]["sub"] = sub
    return event


def fake_aws_environment(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    """Fake credentials that can reach nothing real, and ``variables``."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def sqs_lambda_event(messages: Sequence[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """What the SQS event source mapping hands a function for ``messages`` received (with
    all attributes and message attributes) from the queue ``queue_arn``."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }


def create_service_table(
    client: Any,
    name: str,
    *,
    stream: bool = False,
    global_secondary_indexes: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A table shaped like ``ServiceTable``'s default: pk/sk strings, on demand.

    ``global_secondary_indexes`` as the low-level API takes them (``IndexName``,
    ``KeySchema``, ``Projection``), with string key attributes, as the stack adds them.
    """
    extra: dict[str, Any] = (
        {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}}
        if stream
        else {}
    )
    key_names = ["pk", "sk"]
    for index in global_secondary_indexes:
        key_names.extend(
            key["AttributeName"]
            for key in index["KeySchema"]
            if key["AttributeName"] not in key_names
        )
    if global_secondary_indexes:
        extra["GlobalSecondaryIndexes"] = [dict(index) for index in global_secondary_indexes]
    description: dict[str, Any] = client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in key_names],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )["TableDescription"]
    return description


def sorted_items(client: Any, table_name: str) -> list[dict[str, Any]]:
    """Every item of the table, sorted by key."""
    items = client.scan(TableName=table_name, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def _from(folders: Sequence[Path], module: ModuleType) -> bool:
    file = getattr(module, "__file__", None)
    return file is not None and any(_resolved(file).is_relative_to(f) for f in folders)


@functools.cache
def _resolved(file: str) -> Path:
    """A module file's real path. Cached: every ``import_handlers`` checks every module in
    ``sys.modules``, and resolving each file (one lstat per path component) every time made
    it the largest cost of a handler test's setup and teardown."""
    return Path(file).resolve()


@contextmanager
def import_handlers(
    monkeypatch: pytest.MonkeyPatch, folders: Sequence[Path], modules: Sequence[str]
) -> Iterator[SimpleNamespace]:
    """``modules`` imported afresh from ``folders``; removed again on exit."""
    displaced = {name: sys.modules.pop(name) for name in modules if name in sys.modules}
    # No __pycache__ in the asset folders: it would ship in the Lambda zip.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    for folder in folders:
        monkeypatch.syspath_prepend(str(folder))
    try:
        imported = {name: importlib.import_module(name) for name in modules}
        for module in imported.values():
            assert _from(folders, module), f"{module.__name__} came from {module.__file__}"
        yield SimpleNamespace(**imported)
    finally:
        for name, module in list(sys.modules.items()):
            if _from(folders, module):
                del sys.modules[name]
        sys.modules.update(displaced)


def subscribed_queue(
    topic_arn: str, event_types: Sequence[str], *, queue_name: str
) -> Callable[[], list[dict[str, Any]]]:
    """A queue subscribed to ``topic_arn`` as ``EventBus.subscribe`` does it (raw delivery,
    filter on ``event_type``); returns a function that drains it (receives and deletes)."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps({"event_type": list(event_types)}),
        },
    )

    def drain() -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while batch := sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages"):
            messages.extend(batch)
            for message in batch:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    return drain


@contextmanager
def json_logs(logger: Any) -> Iterator[list[dict[str, Any]]]:
    """The lines a Powertools ``logger`` writes meanwhile, parsed (one JSON object a line).

    Its handler writes to the stream it was created with (Powertools sets up the handler of
    a service's logger once per process), so the stream is swapped for a buffer."""
    handler = logger.registered_handler
    buffer = io.StringIO()
    lines: list[dict[str, Any]] = []
    previous = handler.setStream(buffer)
    try:
        yield lines
    finally:
        handler.setStream(previous)
        lines.extend(json.loads(line) for line in buffer.getvalue().splitlines())
