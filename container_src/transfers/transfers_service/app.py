"""The HTTP API (FastAPI) and the app factory that wires the service together.

Run it with ``uvicorn transfers_service.app:create_app --factory`` (settings from the
environment). Error bodies are always ``{"message": ..., "code": ...}`` (request validation
errors add ``errors``, one per problem).

Authentication is done by the edge (see ``edge``): API Gateway verifies the customer's token
and overwrites ``X-Caller-Sub`` with its ``sub``. Every customer route requires that header
(exactly one, 1 to 128 characters; else 401 ``unauthenticated``, checked first) and serves
only what the caller owns: an account is the caller's if AccountOpened named them its owner
(one without an owner is nobody's). Whatever is not the caller's is answered 404 exactly as
if it did not exist. The customer routes live under ``/transfers`` (the edge routes
``/api/transfers*`` here); ``STRIP_PATH_PREFIX`` (such as ``/api``, API Gateway's stage)
is removed from the paths that start with it, and ``Location`` keeps it.

- ``POST /transfers``, body ``{from_account_id, to_account_id, amount_minor, currency}``,
  header ``Idempotency-Key``: 201 with the transfer, ``Location: /transfers/{id}`` (the
  same key and body again from the same caller: the first response, with
  ``Idempotent-Replayed: true``; keys are per caller); 400 ``idempotency_key_missing`` or
  ``idempotency_key_invalid``; 401; 404 ``account_not_found`` (the from account unknown or
  not the caller's, the to account unknown: it may be anyone's); 409
  ``insufficient_funds``; 422 ``invalid_request``, ``currency_mismatch`` or
  ``idempotency_key_reused``; 503.
- ``GET /transfers/{transfer_id}``: 200 with the transfer or deposit; 401; 404
  ``transfer_not_found`` (unknown, or neither of its accounts the caller's); 503.
- ``POST /transfers/accounts/{account_id}/deposits``, body ``{amount_minor, currency}``,
  header ``Idempotency-Key``: 201 with the deposit, as for a transfer; 400; 401; 404
  ``account_not_found`` (unknown or not the caller's); 422 ``invalid_request``,
  ``currency_mismatch`` or ``idempotency_key_reused``; 503.
- ``GET /transfers/accounts/{account_id}/balance``: 200 ``{account_id, currency,
  balance_minor}``; 401; 404 ``account_not_found`` (unknown or not the caller's); 503.
- ``GET /health`` (readiness, no caller needed): 200, or 503 ``starting``,
  ``database_unavailable`` or ``migration_failed``. ``GET /health/live`` (liveness): 200.

Every response carries the request's ``X-Correlation-Id`` (the one sent if valid, else a
new one; see ``correlation``), which every log line of the request and the event a write
queues carry too. Logs are JSON lines (see ``logs``).

A 503 has ``Retry-After`` and means nothing was written, except the one with the code
``outcome_unknown``: the database connection was lost while the write was committing, so
it may have been applied; the same request with the same ``Idempotency-Key`` answers
which (its first answer, ``Idempotent-Replayed: true``, or a new write). Any other path is
404 ``not_found`` (405 ``method_not_allowed`` for another method).

The process never exits for want of a database (on a first deploy Aurora's writer comes up
minutes after the cluster, and tasks that exit trip the ECS deployment circuit breaker).
It serves at once: ``/health/live`` answers 200, while ``/health`` and every route that
needs the database answer 503 (``Retry-After``) with the code ``starting``,
``database_unavailable`` or ``migration_failed`` until a background thread has reached the
database and applied the migrations, retrying with a capped backoff
(``database_startup_retry_max_seconds``). Only then are the outbox publisher and the
AccountOpened consumer started. A failing migration is a bug, not an outage: it is logged
at ERROR on every attempt and ``/health`` says ``migration_failed`` until it is fixed.

An idle service leaves the database alone, so that Aurora Serverless v2 at 0 ACU can pause
(it pauses only while no connection is open): the pool closes unused connections (see
``db``), the outbox publisher is woken by commits instead of polling (see ``outbox``), the
consumer touches the database only for a message it received, and ``/health`` checks the
database on a connection of its own that it closes at once (the load balancer and the
container health check use ``/health/live``, which never touches the database).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import anyio.to_thread
import psycopg
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from transfers_service import correlation, edge, idempotency
from transfers_service.cache import BalanceCache, NoCache, RedisBalanceCache
from transfers_service.consumer import AccountEventsConsumer, SqsClient
from transfers_service.db import MigrationError, connect, create_pool, migrate
from transfers_service.edge import StripPathPrefix, UnauthenticatedError, stripped_prefix
from transfers_service.events import ACCOUNT_OPENED, PUBLISHED, ContractRegistry
from transfers_service.ledger import LedgerError
from transfers_service.outbox import OutboxPublisher, SnsClient
from transfers_service.service import Outcome, OutcomeUnknownError, TransfersService
from transfers_service.settings import (
    AURORA_DEFAULT_AUTO_PAUSE_SECONDS,
    Settings,
    configure_logging,
)
from transfers_service.tracing import Tracing, setup_tracing

logger = logging.getLogger(__name__)

Currency = Literal["EUR", "USD", "GBP"]
# JSON's safe integer range: every client can represent every amount exactly.
MAX_AMOUNT_MINOR = 2**53 - 1


class TransferRequest(BaseModel):
    """Body of ``POST /transfers``."""

    model_config = ConfigDict(extra="forbid")

    from_account_id: uuid.UUID
    to_account_id: uuid.UUID
    amount_minor: StrictInt = Field(ge=1, le=MAX_AMOUNT_MINOR)
    currency: Currency

    @model_validator(mode="after")
    def _two_accounts(self) -> TransferRequest:
        if self.from_account_id == self.to_account_id:
            raise ValueError("from_account_id and to_account_id must differ")
        return self


class DepositRequest(BaseModel):
    """Body of ``POST /transfers/accounts/{account_id}/deposits``."""

    model_config = ConfigDict(extra="forbid")

    amount_minor: StrictInt = Field(ge=1, le=MAX_AMOUNT_MINOR)
    currency: Currency


class TransferResponse(BaseModel):
    transfer_id: uuid.UUID
    kind: Literal["transfer", "deposit"]
    from_account_id: uuid.UUID | None
    to_account_id: uuid.UUID
    amount_minor: int
    currency: Currency
    completed_at: str


class BalanceResponse(BaseModel):
    account_id: uuid.UUID
    currency: Currency
    balance_minor: int


class ErrorResponse(BaseModel):
    message: str
    code: str


def error(status_code: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """The service's error response."""
    headers = {"Retry-After": "1"} if status_code == 503 else None
    return JSONResponse({"message": message, "code": code, **extra}, status_code, headers)


def _errors(*pairs: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse, "description": text} for status, text in pairs}


def require_caller(
    request: Request,
    x_caller_sub: Annotated[
        str | None,
        Header(
            alias=edge.CALLER_HEADER,
            description="The caller's Cognito sub, set by API Gateway from the verified token.",
        ),
    ] = None,
) -> str:
    """The caller (see ``edge``); 401 ``unauthenticated`` without exactly one valid header.
    (The parameter documents the header; every value the request sent is checked.)"""
    return edge.caller_sub(request.headers.getlist(edge.CALLER_HEADER))


# The caller of a customer route (FastAPI runs require_caller once per request).
Caller = Annotated[str, Depends(require_caller)]
UNAUTHENTICATED_RESPONSE = (401, f"{edge.CALLER_HEADER} missing, empty, repeated or too long")

STARTING = "starting"
DATABASE_UNAVAILABLE = "database_unavailable"
MIGRATION_FAILED = "migration_failed"
DATABASE_UNAVAILABLE_MESSAGE = "the database is unavailable; nothing was written, retry later"
OUTCOME_UNKNOWN = "outcome_unknown"
OUTCOME_UNKNOWN_MESSAGE = (
    "the database connection was lost while this write was committing: it may have been"
    " applied; send the same request with the same Idempotency-Key to learn its outcome"
)
# First pause between two startup attempts; it doubles up to the configured maximum.
STARTUP_FIRST_RETRY_SECONDS = 0.5
# How long /health waits for its connection (libpq counts whole seconds, at least 2).
HEALTH_TIMEOUT_SECONDS = 2.0


class NotReadyError(Exception):
    """The service cannot serve requests that need the database yet (503)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Runtime:
    """The pool, cache, service and background loops of one running app."""

    def __init__(
        self,
        settings: Settings,
        *,
        sns: SnsClient | None = None,
        sqs: SqsClient | None = None,
        cache: BalanceCache | None = None,
    ) -> None:
        self.settings = settings
        self.registry = ContractRegistry(
            settings.contracts_dir, required=(ACCOUNT_OPENED, *PUBLISHED)
        )
        self.pool = create_pool(settings)
        self.cache: BalanceCache = cache or (
            RedisBalanceCache.from_url(
                settings.redis_url, ttl_seconds=settings.balance_cache_ttl_seconds
            )
            if settings.redis_url
            else NoCache()
        )
        self.publisher: OutboxPublisher | None = None
        if settings.event_topic_arn:
            self.publisher = OutboxPublisher(
                self.pool,
                sns or _boto3_client("sns"),
                settings.event_topic_arn,
                batch_size=settings.outbox_batch_size,
            )
        self.consumer: AccountEventsConsumer | None = None
        if settings.account_events_queue_url:
            self.consumer = AccountEventsConsumer(
                self.pool,
                sqs or _boto3_client("sqs"),
                settings.account_events_queue_url,
                self.registry,
                self.cache,
                wait_seconds=settings.account_events_wait_seconds,
            )
        publisher = self.publisher
        self.service = TransfersService(
            self.pool,
            self.registry,
            self.cache,
            on_outbox_written=publisher.wake.set if publisher else lambda: None,
        )
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.ready = threading.Event()
        self._not_ready = NotReadyError(
            STARTING,
            "the service is starting (connecting to the database, applying migrations);"
            " retry later",
        )

    def start(self) -> None:
        """Start getting ready in the background, and return at once (see the module)."""
        if self.publisher is None:
            logger.warning("EVENT_TOPIC_ARN is not set: the outbox is not published")
        if self.consumer is None:
            logger.warning("ACCOUNT_EVENTS_QUEUE_URL is not set: no AccountOpened is consumed")
        if not self.settings.redis_url:
            logger.warning("REDIS_URL is not set: balances are not cached")
        if (
            self.publisher is not None
            and self.settings.outbox_sweep_seconds < AURORA_DEFAULT_AUTO_PAUSE_SECONDS
        ):
            logger.warning(
                "OUTBOX_SWEEP_SECONDS is %.0f: an Aurora Serverless v2 database that pauses"
                " after %d s of no connection never pauses",
                self.settings.outbox_sweep_seconds,
                AURORA_DEFAULT_AUTO_PAUSE_SECONDS,
            )
        self._spawn("startup", self._get_ready)

    def check_ready(self) -> None:
        """Raise :class:`NotReadyError` (saying why) unless the database is ready for use."""
        if not self.ready.is_set():
            raise self._not_ready

    def check_database(self) -> None:
        """Raise unless the database answers, on a connection of its own, closed at once:
        not a pooled one, which would stay open up to the pool's max idle time."""
        with connect(self.settings, timeout_seconds=HEALTH_TIMEOUT_SECONDS) as conn:
            conn.execute("SELECT 1").fetchone()

    def _get_ready(self) -> None:
        """Connect and migrate until it works (or the runtime stops), then start the loops."""
        delay = STARTUP_FIRST_RETRY_SECONDS
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            if self._connect_and_migrate(attempt, delay):
                self._start_loops()
                return
            self._stop.wait(delay)
            delay = min(delay * 2, self.settings.database_startup_retry_max_seconds)

    def _connect_and_migrate(self, attempt: int, delay: float) -> bool:
        try:
            conn = connect(self.settings)
        except Exception as error:  # refused, timed out, the secret unreadable, ...
            self._not_ready = NotReadyError(DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE)
            logger.warning(
                "database not reachable (attempt %d), retrying in %.1fs: %s: %s",
                attempt,
                delay,
                type(error).__name__,
                error,
            )
            return False
        try:
            with conn:
                applied = migrate(conn)
        except psycopg.OperationalError as error:  # the connection failed meanwhile
            self._not_ready = NotReadyError(DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE)
            logger.warning(
                "database lost while migrating (attempt %d), retrying in %.1fs: %s",
                attempt,
                delay,
                error,
            )
            return False
        except Exception as error:  # a bug: it will not go away by itself
            detail = str(error) if isinstance(error, MigrationError) else type(error).__name__
            self._not_ready = NotReadyError(
                MIGRATION_FAILED, f"the schema migrations failed: {detail}; see the log"
            )
            logger.error(
                "schema migrations failed (attempt %d), retrying in %.1fs: %s",
                attempt,
                delay,
                error,
                exc_info=not isinstance(error, MigrationError),
            )
            return False
        logger.info(
            "database ready after %d attempt(s); migrations applied now: %s",
            attempt,
            ", ".join(f"{version:04d}" for version in applied) or "none",
        )
        return True

    def _start_loops(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self.pool.open(wait=False)
            self.ready.set()
            publisher, consumer = self.publisher, self.consumer
            if publisher is not None:
                sweep_seconds = self.settings.outbox_sweep_seconds
                self._spawn(
                    "outbox-publisher",
                    lambda: publisher.run(self._stop, sweep_seconds=sweep_seconds),
                )
            if consumer is not None:
                self._spawn("account-events", lambda: consumer.run(self._stop))

    def stop(self) -> None:
        """Stop the loops (a long poll may take its time), close the pool and the cache."""
        with self._lock:
            self._stop.set()
            threads = list(self._threads)
        if self.publisher is not None:
            self.publisher.wake.set()
        for thread in threads:
            thread.join(timeout=self.settings.account_events_wait_seconds + 5)
        self.pool.close()
        self.cache.close()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)


def _boto3_client(service_name: str) -> Any:
    import boto3  # type: ignore[import-untyped]

    return boto3.client(service_name)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    tracing: Tracing | None = None,
) -> FastAPI:
    """The FastAPI app; without arguments, configured from the environment (tracing too:
    see ``tracing``). A ``tracing`` passed in stays the caller's to shut down."""
    own_tracing: Tracing | None = None
    if runtime is None:
        settings = settings or Settings.from_env(os.environ)
        configure_logging(settings.log_level)
        if tracing is None:
            tracing = own_tracing = setup_tracing(os.environ)
        runtime = Runtime(settings)
    service = runtime.service

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The synchronous routes run in anyio's default thread pool (40 threads): as many
        # as the settings say (see REQUEST_THREADS).
        threads = runtime.settings.request_threads or runtime.settings.database_pool_max_size
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()
            if own_tracing is not None:
                own_tracing.shutdown()

    app = FastAPI(
        title="transfers",
        summary="Moves money between accounts on a double-entry ledger.",
        version="1",
        lifespan=lifespan,
        telemetry=tracing.fastapi_telemetry() if tracing is not None else None,
    )
    app.state.runtime = runtime
    if runtime.settings.strip_path_prefix:
        app.add_middleware(StripPathPrefix, prefix=runtime.settings.strip_path_prefix)
    # Outermost: every log line of a request, and its response, carry its correlation id.
    app.add_middleware(correlation.CorrelationMiddleware)
    _exception_handlers(app)
    # Every customer route needs the caller (401 without it, whether the database is ready
    # or not) and the database (503 until it is ready).
    customer_route = [Depends(require_caller), Depends(runtime.check_ready)]

    @app.post(
        "/transfers",
        status_code=201,
        dependencies=customer_route,
        response_model=TransferResponse,
        responses=_errors(
            UNAUTHENTICATED_RESPONSE,
            (400, "Idempotency-Key missing or invalid"),
            (404, "the from account is unknown or not the caller's, or the to account unknown"),
            (409, "insufficient funds"),
            (422, "invalid body, currency mismatch, same account, or key reused"),
            (503, "database unavailable: nothing was written (outcome_unknown: retry to learn)"),
        ),
    )
    def create_transfer(
        request: Request,
        caller: Caller,
        body: TransferRequest,
        idempotency_key: Annotated[str | None, Header(alias=idempotency.HEADER)] = None,
    ) -> JSONResponse:
        """Move money from an account of the caller's to any account of the same currency,
        once per Idempotency-Key."""
        key = idempotency.check_key(idempotency_key)
        outcome = service.create_transfer(
            caller_sub=caller,
            idempotency_key=key,
            from_account_id=body.from_account_id,
            to_account_id=body.to_account_id,
            amount_minor=body.amount_minor,
            currency=body.currency,
            correlation_id=correlation.current(),
        )
        return _created(outcome, request)

    @app.get(
        "/transfers/{transfer_id}",
        dependencies=customer_route,
        response_model=TransferResponse,
        responses=_errors(
            UNAUTHENTICATED_RESPONSE,
            (404, "no such transfer to or from an account of the caller's"),
            (503, "database unavailable"),
        ),
    )
    def get_transfer(caller: Caller, transfer_id: str) -> JSONResponse:
        """One transfer or deposit to or from an account of the caller's."""
        parsed = _uuid(transfer_id)
        transfer = service.transfer(parsed, caller_sub=caller) if parsed else None
        if transfer is None:
            return error(404, "transfer_not_found", f"transfer {transfer_id} does not exist")
        return JSONResponse(transfer.to_json())

    @app.get(
        "/transfers/accounts/{account_id}/balance",
        dependencies=customer_route,
        response_model=BalanceResponse,
        responses=_errors(
            UNAUTHENTICATED_RESPONSE,
            (404, "no such account of the caller's"),
            (503, "database unavailable"),
        ),
    )
    def get_balance(caller: Caller, account_id: str) -> JSONResponse:
        """The balance of an account of the caller's, in its currency's minor unit."""
        parsed = _uuid(account_id)
        balance = service.balance(parsed, caller_sub=caller) if parsed else None
        if balance is None:
            return error(404, "account_not_found", f"account {account_id} does not exist")
        return JSONResponse(balance.to_json())

    @app.post(
        "/transfers/accounts/{account_id}/deposits",
        status_code=201,
        dependencies=customer_route,
        response_model=TransferResponse,
        responses=_errors(
            UNAUTHENTICATED_RESPONSE,
            (400, "Idempotency-Key missing or invalid"),
            (404, "no such account of the caller's"),
            (422, "invalid body, currency mismatch, or key reused"),
            (503, "database unavailable: nothing was written (outcome_unknown: retry to learn)"),
        ),
    )
    def create_deposit(
        request: Request,
        caller: Caller,
        account_id: str,
        body: DepositRequest,
        idempotency_key: Annotated[str | None, Header(alias=idempotency.HEADER)] = None,
    ) -> JSONResponse:
        """Credit an account of the caller's from outside the ledger, once per
        Idempotency-Key."""
        key = idempotency.check_key(idempotency_key)
        parsed = _uuid(account_id)
        if parsed is None:
            return error(404, "account_not_found", f"account {account_id} does not exist")
        outcome = service.create_deposit(
            caller_sub=caller,
            idempotency_key=key,
            account_id=parsed,
            amount_minor=body.amount_minor,
            currency=body.currency,
            correlation_id=correlation.current(),
        )
        return _created(outcome, request)

    @app.get(
        "/health",
        responses=_errors((503, "starting, database unavailable, or migrations failed")),
    )
    def health() -> JSONResponse:
        """Readiness: 200 once the database was reached and migrated and while it answers;
        503 otherwise, with a code that says why."""
        runtime.check_ready()
        runtime.check_database()
        return JSONResponse({"status": "ok"})

    @app.get("/health/live")
    def live() -> JSONResponse:
        """Liveness: 200 while the process serves requests, whatever the database does.

        The load balancer and the container health check use this one: a database outage
        must give callers 503s, not make ECS replace every task over and over.
        """
        return JSONResponse({"status": "alive"})

    return app


def _created(outcome: Outcome, request: Request) -> JSONResponse:
    # With the prefix the request came with (see edge): the path the client can follow.
    location = f"{stripped_prefix(request.scope)}/transfers/{outcome.body['transfer_id']}"
    headers = {"Location": location}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    logger.info(
        "%s %s %s",
        outcome.body["kind"],
        outcome.body["transfer_id"],
        "replayed" if outcome.replayed else "created",
        extra={"transfer_id": outcome.body["transfer_id"], "replayed": outcome.replayed},
    )
    return JSONResponse(outcome.body, outcome.status_code, headers)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, exc: LedgerError) -> JSONResponse:
        return error(exc.status, exc.code, str(exc))

    @app.exception_handler(UnauthenticatedError)
    async def unauthenticated(_: Request, exc: UnauthenticatedError) -> JSONResponse:
        return error(401, exc.code, str(exc))

    @app.exception_handler(idempotency.InvalidKeyError)
    async def invalid_key(_: Request, exc: idempotency.InvalidKeyError) -> JSONResponse:
        return error(400, exc.code, str(exc))

    @app.exception_handler(idempotency.KeyReusedError)
    async def key_reused(_: Request, exc: idempotency.KeyReusedError) -> JSONResponse:
        return error(422, "idempotency_key_reused", str(exc))

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        logger.error("database unavailable: %s: %s", type(exc).__name__, exc)
        return error(503, DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_MESSAGE)

    @app.exception_handler(OutcomeUnknownError)
    async def outcome_unknown(_: Request, exc: OutcomeUnknownError) -> JSONResponse:
        logger.error("connection lost while a write was committing: %s", exc)
        return error(503, OUTCOME_UNKNOWN, OUTCOME_UNKNOWN_MESSAGE)

    @app.exception_handler(NotReadyError)
    async def not_ready(_: Request, exc: NotReadyError) -> JSONResponse:
        return error(503, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": ".".join(str(part) for part in item["loc"]), "message": item["msg"]}
            for item in exc.errors()
        ]
        summary = "; ".join(f"{p['location']}: {p['message']}" for p in problems)
        return error(422, "invalid_request", f"invalid request: {summary}", errors=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error(exc.status_code, code, str(exc.detail))
