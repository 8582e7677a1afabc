"""Fixtures for the accounts service's Lambda handlers (``lambda_src/accounts_api``), on moto.

The handler modules are top-level modules (``accounts``, ``open_account``...), as on Lambda.
Other Lambda folders may hold modules with the same names, so ``handlers`` imports them
freshly for each test with the folder first on ``sys.path``, then removes them again and
puts back whatever it displaced: nothing leaks into other tests, whatever their order.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

CODE_DIR = Path(__file__).resolve().parents[3] / "lambda_src" / "accounts_api"
EVENTS_DIR = Path(__file__).parent / "events"
MODULES = ("accounts", "open_account", "get_account", "publish_events")
TABLE_NAME = "accounts-test"
REGION = "us-east-1"

OWNER_SUB = "6f1c2a3e-1111-4c2b-9d8e-0a1b2c3d4e5f"  # the sub in the sample events
OTHER_SUB = "9a8b7c6d-2222-4e3f-8a9b-1c2d3e4f5a6b"
VALID_BODY = {"owner_name": "Alice Example", "email": "Alice@Example.com", "currency": "EUR"}


@dataclass(frozen=True)
class Response:
    """A proxy integration response, decoded."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]


def decode(raw: dict[str, Any]) -> Response:
    assert set(raw) >= {"statusCode", "body"}, raw
    assert isinstance(raw["body"], str), "proxy integration bodies must be strings"
    return Response(raw["statusCode"], raw.get("headers") or {}, json.loads(raw["body"]))


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of a sample event from ``events/``."""
    return copy.deepcopy(json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8")))


def as_caller(event: dict[str, Any], sub: str | None, *, authorizer: bool) -> dict[str, Any]:
    """``event`` from ``sub`` (None: claims without ``sub``; ``authorizer=False``: no claims)."""
    if not authorizer:
        del event["requestContext"]["authorizer"]
    elif sub is None:
        del event["requestContext"]["authorizer"]["claims"]["sub"]
    else:
        event["requestContext"]["authorizer"]["claims"]["sub"] = sub
    return event


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment of the functions, with fake credentials that can reach nothing real."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    monkeypatch.setenv("EVENT_TOPIC_ARN", f"arn:aws:sns:{REGION}:123456789012:accounts-events")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "accounts")


@pytest.fixture
def dynamodb(aws_env: None) -> Iterator[Any]:
    """A moto DynamoDB client, with the service's table (pk/sk strings, on demand)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE_NAME,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture
def table_items(dynamodb: Any) -> Callable[[], list[dict[str, Any]]]:
    """Every item in the table, sorted by key."""

    def scan() -> list[dict[str, Any]]:
        items = dynamodb.scan(TableName=TABLE_NAME, ConsistentRead=True)["Items"]
        return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))

    return scan


def _from_code_dir(module: ModuleType) -> bool:
    file = getattr(module, "__file__", None)
    return file is not None and Path(file).resolve().is_relative_to(CODE_DIR)


@pytest.fixture
def handlers(aws_env: None, dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The handler modules, freshly imported after the environment and moto are set up."""
    displaced = {name: sys.modules.pop(name) for name in MODULES if name in sys.modules}
    # No __pycache__ in the asset folder: it would ship in the Lambda zip and change its hash.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.syspath_prepend(str(CODE_DIR))
    try:
        modules = {name: importlib.import_module(name) for name in MODULES}
        for module in modules.values():
            assert _from_code_dir(module), f"{module.__name__} came from {module.__file__}"
        yield SimpleNamespace(**modules)
    finally:
        for name, module in list(sys.modules.items()):
            if _from_code_dir(module):
                del sys.modules[name]
        sys.modules.update(displaced)


@pytest.fixture
def open_account(handlers: Any, lambda_context: Any) -> Callable[..., Response]:
    """Call ``POST /accounts`` with a JSON ``body`` (or a ``raw`` body string) as ``sub``.

    ``encode_base64`` sends the body base64-encoded, as API Gateway does for binary media
    types; ``is_base64_encoded`` overrides the flag alone.
    """

    def call(
        body: object = VALID_BODY,
        *,
        raw: str | None = None,
        sub: str | None = OWNER_SUB,
        authorizer: bool = True,
        encode_base64: bool = False,
        is_base64_encoded: bool | None = None,
    ) -> Response:
        event = as_caller(load_event("open_account"), sub, authorizer=authorizer)
        text = raw if raw is not None else json.dumps(body)
        if encode_base64:
            text = base64.b64encode(text.encode()).decode()
        event["body"] = text
        event["isBase64Encoded"] = encode_base64 if is_base64_encoded is None else is_base64_encoded
        return decode(handlers.open_account.handler(event, lambda_context))

    return call


@pytest.fixture
def get_account(handlers: Any, lambda_context: Any) -> Callable[..., Response]:
    """Call ``GET /accounts/{id}`` as ``sub`` (``account_id=None``: no path parameters)."""

    def call(
        account_id: str | None, *, sub: str | None = OWNER_SUB, authorizer: bool = True
    ) -> Response:
        event = as_caller(load_event("get_account"), sub, authorizer=authorizer)
        event["pathParameters"] = None if account_id is None else {"id": account_id}
        event["path"] = f"/accounts/{account_id or ''}"
        return decode(handlers.get_account.handler(event, lambda_context))

    return call


@pytest.fixture
def owner_sub() -> str:
    """The caller of the sample events."""
    return OWNER_SUB


@pytest.fixture
def other_sub() -> str:
    """Another signed-in customer."""
    return OTHER_SUB


@pytest.fixture
def valid_body() -> dict[str, str]:
    """A valid ``POST /accounts`` body (a fresh copy)."""
    return dict(VALID_BODY)
