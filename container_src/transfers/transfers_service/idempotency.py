"""Idempotency keys: a retried request gets the first response, and moves money once.

Keys are per caller (``X-Caller-Sub``): the same key from two callers is two requests, and
only the caller who sent a request is ever answered with its stored response. A key is
claimed inside the transaction of the transfer it protects: a transaction-level advisory
lock on (scope, caller, key) makes concurrent requests with one key of one caller wait for
each other, then the stored response of that caller's key (if any) is read. The key's
record is written in that same transaction, only when the transfer commits: a refused
request (401, 404, 409, 422) records nothing, so it may be retried with the same key once
its cause is fixed.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import Connection

HEADER = "Idempotency-Key"
# Printable ASCII without spaces, up to 255 characters (a UUID is the usual choice).
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# First key of the two-key advisory locks: "idem" in ASCII (the second is the key's hash).
_LOCK_CLASS = int.from_bytes(b"idem", "big")


class InvalidKeyError(ValueError):
    """The Idempotency-Key header is missing or malformed."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class KeyReusedError(Exception):
    """The key was used before for a different request."""


@dataclass(frozen=True)
class StoredResponse:
    """The response first given to a key."""

    status_code: int
    body: dict[str, Any]


def check_key(value: str | None) -> str:
    """The header's value, checked (:class:`InvalidKeyError` says what is wrong)."""
    if value is None or value == "":
        raise InvalidKeyError(f"the {HEADER} header is required", "idempotency_key_missing")
    if not _VALID_KEY.fullmatch(value):
        raise InvalidKeyError(
            f"the {HEADER} header must be 1 to 255 printable ASCII characters without spaces",
            "idempotency_key_invalid",
        )
    return value


def fingerprint(scope: str, request: Mapping[str, Any]) -> str:
    """A hash of what the request asks for (its scope, path parameters and parsed body)."""
    canonical = json.dumps(
        {"scope": scope, "request": request}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(
    conn: Connection[Any], *, scope: str, caller_sub: str, key: str, request_fingerprint: str
) -> StoredResponse | None:
    """Lock the caller's ``key`` for this transaction; its stored response if the caller
    used it before.

    Raises :class:`KeyReusedError` if the caller used it for a request with another
    fingerprint.
    """
    conn.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
        (_LOCK_CLASS, json.dumps([scope, caller_sub, key])),
    )
    row = conn.execute(
        "SELECT request_fingerprint, status_code, response_body FROM idempotency_keys"
        " WHERE caller_sub = %s AND scope = %s AND idempotency_key = %s",
        (caller_sub, scope, key),
    ).fetchone()
    if row is None:
        return None
    stored_fingerprint, status_code, body = row
    if stored_fingerprint != request_fingerprint:
        raise KeyReusedError(
            f"this {HEADER} was used for a different request; use a new key for a new request"
        )
    return StoredResponse(int(status_code), dict(body))


def record(
    conn: Connection[Any],
    *,
    scope: str,
    caller_sub: str,
    key: str,
    request_fingerprint: str,
    response: StoredResponse,
    transfer_id: uuid.UUID,
) -> None:
    """Store the response to the caller's ``key`` (in the transaction that created
    ``transfer_id``)."""
    conn.execute(
        "INSERT INTO idempotency_keys (scope, caller_sub, idempotency_key,"
        " request_fingerprint, status_code, response_body, transfer_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            scope,
            caller_sub,
            key,
            request_fingerprint,
            response.status_code,
            json.dumps(response.body),
            transfer_id,
        ),
    )
