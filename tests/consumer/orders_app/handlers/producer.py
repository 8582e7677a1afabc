"""The consumer app's producer, behind AWS Solutions Constructs' LambdaToSqs (never run)."""

from typing import Any


def handler(event: dict[str, Any], context: object) -> None:
    return None
