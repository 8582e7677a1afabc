"""Handlers of the consumer app's API (never run: the app is only synthesized)."""

from typing import Any


def get_order(event: dict[str, Any], context: object) -> dict[str, Any]:
    return {"statusCode": 200, "body": "{}"}
