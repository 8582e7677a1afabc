"""What the edge in front of the service does to requests, and how the service copes.

Customers reach the service from the internet through an API Gateway REST API (stage
``api``) with a Cognito authorizer, which forwards to the service's internal load balancer
through a VPC link; the load balancer accepts traffic from that link only. Two things follow:

- API Gateway overwrites the request header :data:`CALLER_HEADER` (``X-Caller-Sub``) with the
  ``sub`` claim of the token it verified, so clients cannot forge it: it is who the caller
  is. Every customer route requires it (:func:`caller_sub`, 401 ``unauthenticated``
  otherwise) and serves only the accounts that caller owns; the health routes do not.
- A private integration puts the stage's name in front of the path it sends: the service
  may receive ``/api/transfers/...`` for ``/transfers/...``. :class:`StripPathPrefix`
  removes that prefix (``STRIP_PATH_PREFIX``), so that the routes are the same with and
  without it (the load balancer's health checks come without it).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

CALLER_HEADER = "X-Caller-Sub"
"""The caller's identity: the Cognito ``sub`` of the verified token, set by API Gateway."""
CALLER_SUB_MAX_LENGTH = 128
"""As AccountOpened's ``owner_sub``: a longer value cannot own an account."""
UNAUTHENTICATED = "unauthenticated"


class UnauthenticatedError(Exception):
    """The request does not say who the caller is (401 ``unauthenticated``)."""

    code = UNAUTHENTICATED


def caller_sub(values: Sequence[str]) -> str:
    """The caller's ``sub`` from the values of every :data:`CALLER_HEADER` header of a
    request; :class:`UnauthenticatedError` unless there is exactly one, 1 to 128 characters.
    (API Gateway sends exactly one; two would leave it open which one is the caller.)"""
    if len(values) > 1:
        raise UnauthenticatedError(f"the {CALLER_HEADER} header must be sent once")
    value = values[0] if values else ""
    if not value:
        raise UnauthenticatedError(
            f"the {CALLER_HEADER} header is required (and not empty): the caller's identity,"
            " which the API gateway sets from the token it verified"
        )
    if len(value) > CALLER_SUB_MAX_LENGTH:
        raise UnauthenticatedError(
            f"the {CALLER_HEADER} header must be at most {CALLER_SUB_MAX_LENGTH} characters"
        )
    return value


# Where StripPathPrefix leaves the prefix it removed, for responses that name a path of the
# service (Location): a path the client can follow is one with the prefix it used.
STRIPPED_PREFIX_SCOPE_KEY = "transfers.stripped_path_prefix"


class StripPathPrefix:
    """ASGI middleware: a request whose path is ``prefix`` or starts with ``prefix`` and
    ``/`` is passed on with the prefix removed from ``path`` (and from ``raw_path`` when it
    starts with it too); any other request is passed on as it came. Only one prefix is
    removed: ``/api/api/x`` becomes ``/api/x``. The prefix removed is in the scope under
    :data:`STRIPPED_PREFIX_SCOPE_KEY` (see :func:`stripped_prefix`).
    """

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        if not prefix.startswith("/") or prefix.endswith("/") or "/" in prefix[1:]:
            raise ValueError(f"a path prefix is '/' and one path segment, not {prefix!r}")
        self.app = app
        self.prefix = prefix
        self._raw_prefix = prefix.encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = _without(scope["path"], self.prefix)
            if path is not None:
                scope = {**scope, "path": path, STRIPPED_PREFIX_SCOPE_KEY: self.prefix}
                raw_path = scope.get("raw_path")
                if isinstance(raw_path, bytes):
                    raw = _raw_without(raw_path, self._raw_prefix)
                    if raw is not None:
                        scope["raw_path"] = raw
        await self.app(scope, receive, send)


def stripped_prefix(scope: Scope) -> str:
    """The prefix :class:`StripPathPrefix` removed from this request's path, or ``""``."""
    prefix = scope.get(STRIPPED_PREFIX_SCOPE_KEY, "")
    return prefix if isinstance(prefix, str) else ""


def _without(path: str, prefix: str) -> str | None:
    """``path`` without ``prefix`` if it is the prefix (``/``) or starts with it and ``/``."""
    if path == prefix:
        return "/"
    if path.startswith(prefix + "/"):
        return path[len(prefix) :]
    return None


def _raw_without(raw_path: bytes, prefix: bytes) -> bytes | None:
    """:func:`_without` for the raw (still percent-encoded) path."""
    if raw_path == prefix:
        return b"/"
    if raw_path.startswith(prefix + b"/"):
        return raw_path[len(prefix) :]
    return None
