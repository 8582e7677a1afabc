"""Local stand-ins for the web UI's world: CloudFront + S3, Cognito's managed login, the APIs.

Two HTTP servers on 127.0.0.1, each on a free port (or given ones):

- the **site** serves ``web_src/`` and a generated ``/config.json`` as the edge stack does:
  any path without an extension (``/auth/callback``) is answered with ``index.html``, and
  every response carries the site's Content-Security-Policy, so a page that breaks it breaks
  here too. Under ``/api/...`` the same server stands in for the payments APIs (accounts,
  statements, transfers) with in-memory fakes of their contracts, behind a check of the
  ``Authorization`` header like API Gateway's Cognito authorizer (a token the fake Cognito
  issued, unexpired, else 401 ``{"message": "Unauthorized"}``);
- the **auth domain** answers ``/oauth2/authorize`` at once with a code for its one user,
  ``/oauth2/token`` only for the PKCE verifier of that code's challenge (S256), with CORS
  headers, and ``/logout`` with a redirect to the ``logout_uri``.

Both record every request (method, path, query, headers, body). The statements fake is
eventually consistent like the real read model: a new event appears in an account's
statement only after ``statement_lag`` further reads of it. ``GET /api/accounts`` lists the
caller's accounts newest first with the real contract (``limit`` 1 to 100, default 25, and
an opaque ``cursor``; 400 for either when bad); unlike the real index it is never behind.

Used by tests/browser, by ``make screenshot`` (tools/web_screenshot.py) and by
``make web-dev``: ``python tools/web_fakes.py [--port 8000]`` serves the UI with demo data
until Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import mimetypes
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit

WEB_ROOT = Path(__file__).resolve().parent.parent / "web_src"
CURRENCIES = ("EUR", "USD", "GBP")
CLIENT_ID = "web-ui-client"
USER_POOL_ID = "us-east-1_Fake"
REGION = "us-east-1"
API_PATHS = {
    "accounts": "/api/accounts",
    "statements": "/api/statements",
    "transfers": "/api/transfers",
}
UNAUTHORIZED = {"message": "Unauthorized"}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EMAIL = re.compile(r"^\s*[^\s@]+@[^\s@]+\.[^\s@]+\s*$")
_LIMIT = re.compile(r"[0-9]{1,4}")
_OPENED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}

JsonObject = dict[str, Any]


def content_security_policy(auth_domain: str) -> str:
    """The site's Content-Security-Policy, as CloudFront sends it."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {auth_domain}; form-action 'self' {auth_domain}; "
        "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    )


def now_iso() -> str:
    return _iso(datetime.now(UTC))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE code verifier (RFC 7636)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def jwt_claims(token: str) -> JsonObject:
    """The payload of a JWT, unverified."""
    payload = token.split(".")[1]
    claims: JsonObject = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def _unsigned_jwt(claims: JsonObject) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": "fake"}
    parts = [json.dumps(part, separators=(",", ":")).encode() for part in (header, claims)]
    return ".".join([*(_b64url(part) for part in parts), _b64url(secrets.token_bytes(16))])


# ------------------------------------------------------------------------------ HTTP plumbing


@dataclass(frozen=True)
class RecordedRequest:
    """One request as a server saw it; header names are lower case."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw_body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.raw_body) if self.raw_body else None

    def form(self) -> dict[str, str]:
        """A form-encoded body, one value per field."""
        return {key: values[-1] for key, values in parse_qs(self.raw_body.decode()).items()}

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(value).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(HTTPStatus.FOUND, b"", {"Location": location})

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


class RequestLog:
    """Every request a server received, in order; safe to read while the server runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    def add(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def all(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def matching(self, method: str, path: str | re.Pattern[str]) -> list[RecordedRequest]:
        """Requests with this method whose path equals ``path`` or fully matches the pattern."""
        return [
            request
            for request in self.all()
            if request.method == method
            and (
                request.path == path
                if isinstance(path, str)
                else path.fullmatch(request.path) is not None
            )
        ]


Handler = Callable[[RecordedRequest], Response]


class _Server:
    """A threaded HTTP/1.1 server on 127.0.0.1 that records requests and calls ``handler``."""

    def __init__(self, handler: Handler, port: int = 0) -> None:
        self.requests = RequestLog()
        log = self.requests

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = RecordedRequest(
                    method=self.command,
                    path=url.path,
                    query=parse_qs(url.query),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    raw_body=self.rfile.read(length) if length else b"",
                )
                log.add(request)
                try:
                    response = handler(request)
                except Exception as error:  # a fake's bug: answer, and say what it was
                    response = Response.text(500, f"fake server error: {error!r}")
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            # BaseHTTPRequestHandler calls do_<METHOD>: every method goes to _serve.
            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the request log has it all."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), RequestHandler)
        self._httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


# ------------------------------------------------------------------------------ identity


@dataclass(frozen=True)
class User:
    sub: str
    email: str


DEFAULT_USER = User(sub="0c8f6b7e-6a1d-4d0e-9d7a-4b3c2a1f0e9d", email="alex.morgan@example.com")


class Tokens:
    """The tokens the fake Cognito issued; the fake APIs accept an ID token while it is valid."""

    def __init__(self, lifetime_seconds: int = 3600) -> None:
        self.lifetime_seconds = lifetime_seconds
        self._lock = threading.Lock()
        self._id_tokens: dict[str, JsonObject] = {}
        self._expired: set[str] = set()

    def issue(self, user: User, client_id: str, issuer: str) -> JsonObject:
        now = int(time.time())
        claims: JsonObject = {
            "sub": user.sub,
            "email": user.email,
            "email_verified": True,
            "iss": issuer,
            "aud": client_id,
            "token_use": "id",
            "auth_time": now,
            "iat": now,
            "exp": now + self.lifetime_seconds,
        }
        id_token = _unsigned_jwt(claims)
        access_token = _unsigned_jwt(
            {**claims, "token_use": "access", "client_id": client_id, "scope": "openid email"}
        )
        with self._lock:
            self._id_tokens[id_token] = claims
        return {
            "id_token": id_token,
            "access_token": access_token,
            "expires_in": self.lifetime_seconds,
            "token_type": "Bearer",
        }

    def caller(self, id_token: str | None) -> User | None:
        """The user of a valid, unexpired ID token, else None."""
        with self._lock:
            claims = self._id_tokens.get(id_token or "")
            if claims is None or id_token in self._expired or claims["exp"] <= time.time():
                return None
            return User(sub=claims["sub"], email=claims["email"])

    def issued(self) -> list[str]:
        with self._lock:
            return list(self._id_tokens)

    def expire_all(self) -> None:
        """From now on every token issued so far is expired for the APIs (the browser's copy
        still says otherwise, as when a token runs out between two requests)."""
        with self._lock:
            self._expired.update(self._id_tokens)

    def reset(self) -> None:
        with self._lock:
            self._id_tokens.clear()
            self._expired.clear()


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    user: User


class FakeCognito:
    """Cognito's managed login for one app client and one user, who is always signed in."""

    def __init__(
        self,
        tokens: Tokens,
        client_id: str = CLIENT_ID,
        user: User = DEFAULT_USER,
        port: int = 0,
    ) -> None:
        self.tokens = tokens
        self.client_id = client_id
        self.user = user
        self.redirect_uris: set[str] = set()
        self.logout_uris: set[str] = set()
        self.verified_exchanges = 0
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        self._server = _Server(self.handle, port)
        self.origin = self._server.origin
        self.requests = self._server.requests

    def handle(self, request: RecordedRequest) -> Response:
        if request.path == "/oauth2/authorize" and request.method == "GET":
            return self._authorize(request)
        if request.path == "/oauth2/token":
            if request.method == "OPTIONS":
                return Response(HTTPStatus.NO_CONTENT, headers=self._cors(request))
            if request.method == "POST":
                return self._token(request)
        if request.path == "/logout" and request.method == "GET":
            return self._logout(request)
        return Response.text(HTTPStatus.NOT_FOUND, "not found")

    def _cors(self, request: RecordedRequest) -> dict[str, str]:
        origin = request.header("origin") or ""
        allowed = {urlsplit(uri)._replace(path="").geturl() for uri in self.redirect_uris}
        if origin not in allowed:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Vary": "Origin",
        }

    def _authorize(self, request: RecordedRequest) -> Response:
        problems = []
        if request.param("response_type") != "code":
            problems.append("response_type must be code")
        if request.param("client_id") != self.client_id:
            problems.append("unknown client_id")
        redirect_uri = request.param("redirect_uri") or ""
        if redirect_uri not in self.redirect_uris:
            problems.append("redirect_uri is not a callback URL of the client")
        if "openid" not in (request.param("scope") or "").split():
            problems.append("scope must include openid")
        challenge = request.param("code_challenge") or ""
        if not re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge):
            problems.append("code_challenge must be an S256 challenge (43 base64url characters)")
        if request.param("code_challenge_method") != "S256":
            problems.append("code_challenge_method must be S256")
        state = request.param("state")
        if not state:
            problems.append("state is required")
        if problems:
            return Response.text(HTTPStatus.BAD_REQUEST, "invalid_request: " + "; ".join(problems))
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(self.client_id, redirect_uri, challenge, self.user)
        return Response.redirect(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")

    def _token(self, request: RecordedRequest) -> Response:
        cors = self._cors(request)

        def error(code: str) -> Response:
            return Response.json(HTTPStatus.BAD_REQUEST, {"error": code}, cors)

        if not (request.header("content-type") or "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return error("invalid_request")
        form = request.form()
        if form.get("grant_type") != "authorization_code":
            return error("unsupported_grant_type")
        if form.get("client_id") != self.client_id or "client_secret" in form:
            return error("invalid_client")
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != grant.redirect_uri:
            return error("invalid_grant")
        if pkce_challenge(form.get("code_verifier", "")) != grant.code_challenge:
            return error("invalid_grant")
        with self._lock:
            self.verified_exchanges += 1
        issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}"
        return Response.json(
            HTTPStatus.OK, self.tokens.issue(grant.user, self.client_id, issuer), cors
        )

    def _logout(self, request: RecordedRequest) -> Response:
        logout_uri = request.param("logout_uri") or ""
        if request.param("client_id") != self.client_id or logout_uri not in self.logout_uris:
            return Response.text(HTTPStatus.BAD_REQUEST, "invalid_request")
        return Response.redirect(logout_uri)

    def reset(self) -> None:
        with self._lock:
            self._grants.clear()
            self.verified_exchanges = 0
        self.user = DEFAULT_USER
        self.requests.clear()

    def start(self) -> None:
        self._server.start()

    def close(self) -> None:
        self._server.close()


# ------------------------------------------------------------------------------ the APIs


class ApiError(Exception):
    """An error response of a fake API: ``{"message": ..., "code": ...}``."""

    def __init__(self, status: int, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class _Statement:
    """An account's read model: events become visible ``lag`` reads after they happened."""

    account_id: str
    entries: list[tuple[int, JsonObject]] = field(default_factory=list)  # (visible_at, entry)
    reads: int = 0

    def add(self, entry: JsonObject, lag: int) -> None:
        """The next ``lag`` reads do not show the entry; the one after does."""
        self.entries.append((self.reads + lag + 1, entry))

    def visible(self) -> list[JsonObject]:
        return [entry for visible_at, entry in self.entries if visible_at <= self.reads]


@dataclass
class _Injected:
    method: str
    path: re.Pattern[str]
    status: int
    body: JsonObject


class FakePayments:
    """The accounts, statements and transfers APIs, in memory, as the site's ``/api/...``."""

    def __init__(self, tokens: Tokens, statement_lag: int = 0) -> None:
        self.tokens = tokens
        self.statement_lag = statement_lag
        self._lock = threading.RLock()
        self.reset()

    def reset(self, statement_lag: int | None = None) -> None:
        with self._lock:
            if statement_lag is not None:
                self.statement_lag = statement_lag
            self.accounts: dict[str, JsonObject] = {}
            self.owners: dict[str, str] = {}  # account id -> owner's sub
            self.balances: dict[str, int] = {}
            self.transfers: dict[str, JsonObject] = {}
            self.statements: dict[str, _Statement] = {}
            self._idempotency: dict[tuple[str, str], tuple[str, Response]] = {}
            self._injected: list[_Injected] = []
            self._last_opened_at = ""

    # --- test hooks and seeding -------------------------------------------------------

    def fail_next(
        self, method: str, path: str, status: int, message: str, code: str = "error"
    ) -> None:
        """Answer the next ``method`` request whose path fully matches ``path`` (a regular
        expression) with this error, once."""
        with self._lock:
            self._injected.append(
                _Injected(method, re.compile(path), status, {"message": message, "code": code})
            )

    def open_account(
        self,
        owner: User,
        owner_name: str,
        email: str,
        currency: str,
        *,
        account_id: str | None = None,
        opened_at: str | None = None,
        lag: int | None = None,
    ) -> JsonObject:
        with self._lock:
            email_key = email.strip().lower()
            if any(account["email"] == email_key for account in self.accounts.values()):
                raise ApiError(409, f"email {email_key} already has an account", "email_taken")
            account = {
                "account_id": account_id or str(uuid.uuid4()),
                "owner_name": owner_name.strip(),
                "email": email_key,
                "currency": currency,
                "status": "OPEN",
                "opened_at": opened_at or self._next_opened_at(),
            }
            account_id = account["account_id"]
            self.accounts[account_id] = account
            self.owners[account_id] = owner.sub
            self.balances[account_id] = 0
            self.statements[account_id] = _Statement(account_id)
            self._record(
                account_id,
                "opened",
                0,
                currency,
                account["opened_at"],
                lag=lag,
            )
            return dict(account)

    def _next_opened_at(self) -> str:
        """Now, or a millisecond after the last account opened now: accounts opened one after
        the other list in that order (the real service orders ties by id instead)."""
        opened_at = now_iso()
        if opened_at <= self._last_opened_at:
            last = datetime.fromisoformat(self._last_opened_at.replace("Z", "+00:00"))
            opened_at = _iso(last + timedelta(milliseconds=1))
        self._last_opened_at = opened_at
        return opened_at

    def deposit(
        self, account_id: str, amount_minor: int, *, at: str | None = None, lag: int | None = None
    ) -> JsonObject:
        with self._lock:
            account = self.accounts[account_id]
            transfer = {
                "transfer_id": str(uuid.uuid4()),
                "kind": "deposit",
                "from_account_id": None,
                "to_account_id": account_id,
                "amount_minor": amount_minor,
                "currency": account["currency"],
                "completed_at": at or now_iso(),
            }
            self.transfers[transfer["transfer_id"]] = transfer
            self.balances[account_id] += amount_minor
            self._record(
                account_id,
                "deposit",
                amount_minor,
                account["currency"],
                transfer["completed_at"],
                deposit_id=transfer["transfer_id"],
                lag=lag,
            )
            return dict(transfer)

    def transfer(
        self,
        from_account_id: str,
        to_account_id: str,
        amount_minor: int,
        *,
        at: str | None = None,
        lag: int | None = None,
    ) -> JsonObject:
        with self._lock:
            currency = self.accounts[from_account_id]["currency"]
            transfer = {
                "transfer_id": str(uuid.uuid4()),
                "kind": "transfer",
                "from_account_id": from_account_id,
                "to_account_id": to_account_id,
                "amount_minor": amount_minor,
                "currency": currency,
                "completed_at": at or now_iso(),
            }
            self.transfers[transfer["transfer_id"]] = transfer
            self.balances[from_account_id] -= amount_minor
            self.balances[to_account_id] += amount_minor
            for account_id, kind, other in (
                (from_account_id, "debit", to_account_id),
                (to_account_id, "credit", from_account_id),
            ):
                self._record(
                    account_id,
                    kind,
                    amount_minor,
                    currency,
                    transfer["completed_at"],
                    transfer_id=transfer["transfer_id"],
                    counterparty=other,
                    lag=lag,
                )
            return dict(transfer)

    def _record(
        self,
        account_id: str,
        kind: str,
        amount_minor: int,
        currency: str,
        occurred_at: str,
        *,
        transfer_id: str | None = None,
        counterparty: str | None = None,
        deposit_id: str | None = None,
        lag: int | None = None,
    ) -> None:
        entry = {
            "event_id": str(uuid.uuid4()),
            "occurred_at": occurred_at,
            "kind": kind,
            "amount_minor": amount_minor,
            "currency": currency,
            "transfer_id": transfer_id,
            "counterparty_account_id": counterparty,
            "deposit_id": deposit_id,
        }
        self.statements[account_id].add(entry, self.statement_lag if lag is None else lag)

    # --- HTTP ---------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Response:
        caller = self.tokens.caller(request.header("authorization"))
        if caller is None:
            return Response.json(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED)
        with self._lock:
            for injected in self._injected:
                if injected.method == request.method and injected.path.fullmatch(request.path):
                    self._injected.remove(injected)
                    headers = {"Retry-After": "1"} if injected.status == 503 else None
                    return Response.json(injected.status, injected.body, headers)
            try:
                return self._route(request, caller)
            except ApiError as failure:
                return Response.json(
                    failure.status, {"message": str(failure), "code": failure.code}
                )

    def _route(self, request: RecordedRequest, caller: User) -> Response:
        method, path = request.method, request.path
        parts = path.removeprefix("/api/").split("/")
        match (method, parts):
            case ("POST", ["accounts"]):
                return self._open_account(request, caller)
            case ("GET", ["accounts"]):
                return self._list_accounts(request, caller)
            case ("GET", ["accounts", account_id]):
                return Response.json(200, self._owned_account(account_id, caller))
            case ("GET", ["statements", account_id]):
                return self._statement(request, account_id, caller)
            case ("POST", ["transfers"]):
                return self._idempotent(request, caller, self._transfer)
            case ("POST", ["transfers", "accounts", account_id, "deposits"]):
                return self._idempotent(
                    request, caller, lambda body, who: self._deposit(account_id, body, who)
                )
            case ("GET", ["transfers", "accounts", account_id, "balance"]):
                account = self._owned_account(account_id, caller)
                return Response.json(
                    200,
                    {
                        "account_id": account_id,
                        "currency": account["currency"],
                        "balance_minor": self.balances[account_id],
                    },
                )
            case ("GET", ["transfers", transfer_id]):
                transfer = self.transfers.get(transfer_id)
                parties = (
                    (transfer["from_account_id"], transfer["to_account_id"]) if transfer else ()
                )
                if transfer is None or not any(
                    self.owners.get(account_id or "") == caller.sub for account_id in parties
                ):
                    raise ApiError(404, f"transfer {transfer_id} not found", "not_found")
                return Response.json(200, transfer)
        raise ApiError(404, f"no route for {method} {path}", "not_found")

    def _owned_account(self, account_id: str, caller: User) -> JsonObject:
        account_id = _uuid(account_id, "id", status=400)
        if self.owners.get(account_id) != caller.sub:
            raise ApiError(404, f"account {account_id} not found", "not_found")
        return dict(self.accounts[account_id])

    def _list_accounts(self, request: RecordedRequest, caller: User) -> Response:
        raw_limit = request.param("limit")
        if raw_limit is not None and not (
            _LIMIT.fullmatch(raw_limit) and 1 <= int(raw_limit) <= 100
        ):
            raise ApiError(
                400,
                f"query parameter 'limit' must be an integer from 1 to 100, got {raw_limit!r}",
                "invalid",
            )
        limit = 25 if raw_limit is None else int(raw_limit)
        raw_cursor = request.param("cursor")
        after = None if raw_cursor is None else _account_position(raw_cursor)
        # Newest first by opening time, then by id, as the owner index and its table keys order
        # them; a page continues strictly after the cursor's position.
        mine = sorted(
            (
                dict(account)
                for account_id, account in self.accounts.items()
                if self.owners[account_id] == caller.sub
            ),
            key=lambda account: (account["opened_at"], account["account_id"]),
            reverse=True,
        )
        if after is not None:
            mine = [a for a in mine if (a["opened_at"], a["account_id"]) < after]
        page = mine[:limit]
        next_cursor = account_cursor(page[-1]) if len(mine) > limit else None
        return Response.json(200, {"accounts": page, "next_cursor": next_cursor})

    def _open_account(self, request: RecordedRequest, caller: User) -> Response:
        body = _json_object(request)
        problems = []
        unknown = sorted(set(body) - {"owner_name", "email", "currency"})
        if unknown:
            problems.append("unknown field(s): " + ", ".join(unknown))
        name, email, currency = body.get("owner_name"), body.get("email"), body.get("currency")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            problems.append("owner_name must not be blank")
        if not isinstance(email, str) or not _EMAIL.match(email):
            problems.append("email must be an email address such as name@example.com")
        if currency not in CURRENCIES:
            problems.append("currency must be one of EUR, USD, GBP")
        if problems:
            raise ApiError(400, "invalid request body: " + "; ".join(problems), "invalid")
        account = self.open_account(caller, str(name), str(email), str(currency))
        return Response.json(201, account, {"Location": f"/accounts/{account['account_id']}"})

    def _statement(self, request: RecordedRequest, account_id: str, caller: User) -> Response:
        account_id = _uuid(account_id, "id", status=400)
        statement = self.statements.get(account_id)
        if statement is None or self.owners.get(account_id) != caller.sub:
            raise ApiError(404, f"statement of account {account_id} not found", "not_found")
        statement.reads += 1
        # Newest first; events of the same instant in the order they happened, reversed.
        entries = [
            entry
            for _, entry in sorted(
                enumerate(statement.visible()),
                key=lambda item: (item[1]["occurred_at"], item[0]),
                reverse=True,
            )
        ]
        if not any(entry["kind"] == "opened" for entry in entries):
            raise ApiError(404, f"statement of account {account_id} not found", "not_found")
        try:
            limit = int(request.param("limit") or 25)
            offset = int(request.param("cursor") or 0)
        except ValueError as error:
            raise ApiError(400, "limit and cursor must be the ones this service issued") from error
        if not 1 <= limit <= 100 or offset < 0:
            raise ApiError(400, "limit must be an integer from 1 to 100", "invalid")
        page = entries[offset : offset + limit]
        account = self.accounts[account_id]
        balance = sum(
            -entry["amount_minor"] if entry["kind"] == "debit" else entry["amount_minor"]
            for entry in entries
        )
        return Response.json(
            200,
            {
                "account_id": account_id,
                "currency": account["currency"],
                "opened_at": account["opened_at"],
                "balance_minor": balance,
                "entries": page,
                "next_cursor": str(offset + limit) if offset + limit < len(entries) else None,
            },
        )

    def _idempotent(
        self,
        request: RecordedRequest,
        caller: User,
        action: Callable[[JsonObject, User], JsonObject],
    ) -> Response:
        key = (request.header("idempotency-key") or "").strip().lower()
        if not _UUID.fullmatch(key):
            raise ApiError(400, "Idempotency-Key must be a UUID", "idempotency_key_invalid")
        fingerprint = f"{request.path} {request.raw_body.decode(errors='replace')}"
        stored = self._idempotency.get((caller.sub, key))
        if stored is not None:
            if stored[0] != fingerprint:
                raise ApiError(
                    422,
                    f"the Idempotency-Key {key} was used for a different request",
                    "idempotency_key_reused",
                )
            return stored[1]
        try:
            response = Response.json(201, action(_json_object(request), caller))
        except ApiError as failure:
            response = Response.json(
                failure.status, {"message": str(failure), "code": failure.code}
            )
        if response.status < 500:
            self._idempotency[(caller.sub, key)] = (fingerprint, response)
        return response

    def _check_amount(self, body: JsonObject) -> tuple[int, str]:
        amount, currency = body.get("amount_minor"), body.get("currency")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ApiError(422, "amount_minor must be a positive integer", "invalid")
        if currency not in CURRENCIES:
            raise ApiError(422, "currency must be one of EUR, USD, GBP", "invalid")
        return amount, str(currency)

    def _deposit(self, account_id: str, body: JsonObject, caller: User) -> JsonObject:
        amount, currency = self._check_amount(body)
        account_id = _uuid(account_id, "account_id")
        if self.owners.get(account_id) != caller.sub:
            raise ApiError(404, f"account {account_id} does not exist", "account_not_found")
        held = self.accounts[account_id]["currency"]
        if held != currency:
            raise ApiError(
                422,
                f"account {account_id} holds {held}, the deposit is in {currency}",
                "currency_mismatch",
            )
        return self.deposit(account_id, amount)

    def _transfer(self, body: JsonObject, caller: User) -> JsonObject:
        amount, currency = self._check_amount(body)
        source = _uuid(body.get("from_account_id"), "from_account_id")
        target = _uuid(body.get("to_account_id"), "to_account_id")
        if source == target:
            raise ApiError(422, "a transfer needs two different accounts", "same_account")
        for account_id in (source, target):
            if account_id not in self.accounts or (
                account_id == source and self.owners[account_id] != caller.sub
            ):
                raise ApiError(404, f"account {account_id} does not exist", "account_not_found")
            held = self.accounts[account_id]["currency"]
            if held != currency:
                raise ApiError(
                    422,
                    f"account {account_id} holds {held}, the transfer is in {currency}",
                    "currency_mismatch",
                )
        available = self.balances[source]
        if available < amount:
            raise ApiError(
                409,
                f"account {source} has {available} {currency} (minor units) available, "
                f"the transfer needs {amount}",
                "insufficient_funds",
            )
        return self.transfer(source, target, amount)


def _json_object(request: RecordedRequest) -> JsonObject:
    try:
        body = request.json()
    except ValueError as error:
        raise ApiError(400, f"request body is not valid JSON: {error}", "invalid") from error
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object", "invalid")
    return body


def _uuid(value: Any, name: str, status: int = 422) -> str:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise ApiError(status, f"{name} must be a UUID", "invalid")
    return value


def account_cursor(account: JsonObject) -> str:
    """The accounts API's cursor after ``account``: its opening time and id, as the real
    service encodes them (compact JSON, url-safe base64 without padding)."""
    text = json.dumps(
        {"opened_at": account["opened_at"], "account_id": account["account_id"]},
        separators=(",", ":"),
    )
    return _b64url(text.encode())


def _account_position(cursor: str) -> tuple[str, str]:
    """(opened_at, account_id) of a cursor from :func:`account_cursor`, else a 400."""
    invalid = ApiError(400, "invalid cursor", "invalid")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as error:
        raise invalid from error
    if not isinstance(data, dict) or set(data) != {"opened_at", "account_id"}:
        raise invalid
    position = (data["opened_at"], data["account_id"])
    if not isinstance(position[0], str) or not _OPENED_AT.fullmatch(position[0]):
        raise invalid
    if not isinstance(position[1], str) or not _UUID.fullmatch(position[1]):
        raise invalid
    if account_cursor({"opened_at": position[0], "account_id": position[1]}) != cursor:
        raise invalid
    return position


# ------------------------------------------------------------------------------ the site


class FakeSite:
    """``web_src/`` and ``/config.json`` as CloudFront serves them, and ``/api/...``."""

    def __init__(self, payments: FakePayments, web_root: Path = WEB_ROOT, port: int = 0) -> None:
        self.payments = payments
        self.web_root = web_root.resolve()
        self.config: JsonObject = {}
        self.csp = ""
        self._server = _Server(self.handle, port)
        self.origin = self._server.origin
        self.requests = self._server.requests

    def configure(self, config: JsonObject) -> None:
        self.config = config
        self.csp = content_security_policy(config["authDomain"])

    def handle(self, request: RecordedRequest) -> Response:
        if request.path.startswith("/api/"):
            return self.payments.handle(request)
        response = self._static(request)
        response.headers.update(
            {
                "Content-Security-Policy": self.csp,
                "X-Content-Type-Options": "nosniff",
                "X-Frame-Options": "DENY",
                "Referrer-Policy": "strict-origin-when-cross-origin",
                "Cache-Control": "no-store",
            }
        )
        return response

    def _static(self, request: RecordedRequest) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response.text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed")
        if request.path == "/config.json":
            return Response.json(HTTPStatus.OK, self.config)
        name = request.path.rsplit("/", 1)[-1]
        # CloudFront's SPA rewrite: a path without an extension is the app.
        relative = "index.html" if "." not in name else request.path.lstrip("/")
        target = (self.web_root / relative).resolve()
        if not target.is_relative_to(self.web_root) or not target.is_file():
            return Response.text(HTTPStatus.NOT_FOUND, "not found")
        content_type = _CONTENT_TYPES.get(target.suffix) or (
            mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        )
        return Response(HTTPStatus.OK, target.read_bytes(), {"Content-Type": content_type})

    def start(self) -> None:
        self._server.start()

    def close(self) -> None:
        self._server.close()


class WebFakes:
    """The site, the APIs and the managed login together, wired to each other.

    ``statement_poll_ms`` goes into ``config.json`` as ``statementPollMs`` (the UI's interval
    between two reads of a statement it waits on), ``account_page_size`` as
    ``accountPageSize`` (the ``limit`` the UI lists its accounts with; 100 when unset).
    """

    def __init__(
        self,
        *,
        statement_lag: int = 0,
        statement_poll_ms: int | None = None,
        account_page_size: int | None = None,
        site_port: int = 0,
        auth_port: int = 0,
        web_root: Path = WEB_ROOT,
    ) -> None:
        self.tokens = Tokens()
        self.cognito = FakeCognito(self.tokens, port=auth_port)
        self.payments = FakePayments(self.tokens, statement_lag)
        self.site = FakeSite(self.payments, web_root, site_port)
        self.origin = self.site.origin
        self.auth_domain = self.cognito.origin
        self.config: JsonObject = {
            "region": REGION,
            "userPoolId": USER_POOL_ID,
            "clientId": self.cognito.client_id,
            "authDomain": self.auth_domain,
            "scopes": ["openid", "email"],
            "api": dict(API_PATHS),
        }
        if statement_poll_ms is not None:
            self.config["statementPollMs"] = statement_poll_ms
        if account_page_size is not None:
            self.config["accountPageSize"] = account_page_size
        self._initial_config = dict(self.config)
        self.site.configure(self.config)
        self.cognito.redirect_uris = {f"{self.origin}/auth/callback"}
        self.cognito.logout_uris = {f"{self.origin}/"}
        self._initial_lag = statement_lag

    @property
    def requests(self) -> RequestLog:
        """What the site received (pages, config.json and API calls)."""
        return self.site.requests

    def api_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests.all() if request.path.startswith("/api/")]

    def reset(self) -> None:
        """Forget every account, token and recorded request, and any change to ``config``
        (between two tests)."""
        self.config.clear()
        self.config.update(self._initial_config)
        self.payments.reset(statement_lag=self._initial_lag)
        self.tokens.reset()
        self.cognito.reset()
        self.requests.clear()

    def start(self) -> Self:
        self.cognito.start()
        self.site.start()
        return self

    def close(self) -> None:
        self.site.close()
        self.cognito.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# ------------------------------------------------------------------------------ demo data


@dataclass(frozen=True)
class DemoAccounts:
    everyday: str
    savings: str
    other_customer: str


def seed_demo(payments: FakePayments, user: User = DEFAULT_USER) -> DemoAccounts:
    """Two accounts of ``user`` with a few weeks of history, and another customer's account.

    Ids and times are fixed, so a screenshot of them is the same from run to run.
    """
    other = User(sub="5d7e0a92-3c1b-4f6e-8a2d-9b0c1d2e3f40", email="sam.lee@example.com")
    everyday = payments.open_account(
        user, "Alex Morgan", user.email, "EUR",
        account_id="3f2b9c1e-8d4a-4b6f-9a7e-1c2d3e4f5a6b",
        opened_at="2026-10-01T09:12:00.000Z", lag=0,
    )["account_id"]  # fmt: skip
    savings = payments.open_account(
        user, "Alex Morgan (savings)", "alex.savings@example.com", "EUR",
        account_id="8a1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
        opened_at="2026-10-01T09:15:00.000Z", lag=0,
    )["account_id"]  # fmt: skip
    other_account = payments.open_account(
        other, "Sam Lee", other.email, "EUR",
        account_id="c4d5e6f7-0a1b-4c2d-9e3f-4a5b6c7d8e9f",
        opened_at="2026-09-20T10:00:00.000Z", lag=0,
    )["account_id"]  # fmt: skip
    payments.deposit(everyday, 250_000, at="2026-10-01T09:20:00.000Z", lag=0)
    payments.deposit(other_account, 80_000, at="2026-09-21T08:00:00.000Z", lag=0)
    payments.transfer(everyday, savings, 40_000, at="2026-10-03T18:02:00.000Z", lag=0)
    payments.transfer(other_account, everyday, 12_050, at="2026-10-08T12:45:00.000Z", lag=0)
    payments.transfer(everyday, other_account, 6_499, at="2026-10-12T20:31:00.000Z", lag=0)
    payments.deposit(savings, 15_000, at="2026-10-15T07:05:00.000Z", lag=0)
    return DemoAccounts(everyday=everyday, savings=savings, other_customer=other_account)


def main() -> None:  # pragma: no cover - interactive
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8000, help="the site's port (default 8000)")
    parser.add_argument(
        "--auth-port", type=int, default=0, help="the auth domain's port (default: the next one)"
    )
    parser.add_argument(
        "--statement-lag",
        type=int,
        default=2,
        help="reads of a statement before a new event shows in it (default 2)",
    )
    args = parser.parse_args()
    with WebFakes(
        statement_lag=args.statement_lag,
        site_port=args.port,
        auth_port=args.auth_port or args.port + 1,
    ) as fakes:
        demo = seed_demo(fakes.payments)
        print(f"Web UI: {fakes.origin}/  (auth domain {fakes.auth_domain}; Ctrl-C stops)")
        print(f"Signed-in user: {DEFAULT_USER.email}, who owns the demo accounts:")
        print(f"  {demo.everyday}  (Alex Morgan, EUR)")
        print(f"  {demo.savings}  (Alex Morgan (savings), EUR)")
        print(f"  another customer's account to transfer to: {demo.other_customer}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
