"""The HTTP API (FastAPI) and the app factory that wires the service together.

Run it with ``uvicorn transfers_service.app:create_app --factory`` (settings from the
environment). Error bodies are always ``{"message": ..., "code": ...}`` (request validation
errors add ``errors``, one per problem). Authentication is not done here: the service sits
behind an internal load balancer, reachable only by the platform's own callers.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import psycopg
from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from transfers_service import idempotency
from transfers_service.cache import BalanceCache, NoCache, RedisBalanceCache
from transfers_service.consumer import AccountEventsConsumer, SqsClient
from transfers_service.db import create_pool, migrate
from transfers_service.events import ACCOUNT_OPENED, PUBLISHED, ContractRegistry
from transfers_service.ledger import LedgerError
from transfers_service.outbox import OutboxPublisher, SnsClient
from transfers_service.service import Outcome, TransfersService
from transfers_service.settings import Settings, configure_logging

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
    """Body of ``POST /accounts/{account_id}/deposits``."""

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
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Open the pool (waiting for the database), migrate, start the loops."""
        self.pool.open(wait=True, timeout=self.settings.database_startup_timeout_seconds)
        with self.pool.connection() as conn:
            migrate(conn)
        publisher, consumer = self.publisher, self.consumer
        if publisher is None:
            logger.warning("EVENT_TOPIC_ARN is not set: the outbox is not published")
        else:
            poll_seconds = self.settings.outbox_poll_seconds
            self._spawn(
                "outbox-publisher", lambda: publisher.run(self._stop, poll_seconds=poll_seconds)
            )
        if consumer is None:
            logger.warning("ACCOUNT_EVENTS_QUEUE_URL is not set: no AccountOpened is consumed")
        else:
            self._spawn("account-events", lambda: consumer.run(self._stop))
        if not self.settings.redis_url:
            logger.warning("REDIS_URL is not set: balances are not cached")

    def stop(self) -> None:
        """Stop the loops (a long poll may take its time), close the pool and the cache."""
        self._stop.set()
        if self.publisher is not None:
            self.publisher.wake.set()
        for thread in self._threads:
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


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """The FastAPI app; without arguments, configured from the environment."""
    if runtime is None:
        settings = settings or Settings.from_env(os.environ)
        configure_logging(settings.log_level)
        runtime = Runtime(settings)
    service = runtime.service

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(
        title="transfers",
        summary="Moves money between accounts on a double-entry ledger.",
        version="1",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    _exception_handlers(app)

    @app.post(
        "/transfers",
        status_code=201,
        response_model=TransferResponse,
        responses=_errors(
            (400, "Idempotency-Key missing or invalid"),
            (404, "an account is unknown"),
            (409, "insufficient funds"),
            (422, "invalid body, currency mismatch, same account, or key reused"),
            (503, "database unavailable: nothing was written"),
        ),
    )
    def create_transfer(
        body: TransferRequest,
        idempotency_key: Annotated[str | None, Header(alias=idempotency.HEADER)] = None,
    ) -> JSONResponse:
        """Move money between two accounts of one currency, once per Idempotency-Key."""
        key = idempotency.check_key(idempotency_key)
        outcome = service.create_transfer(
            idempotency_key=key,
            from_account_id=body.from_account_id,
            to_account_id=body.to_account_id,
            amount_minor=body.amount_minor,
            currency=body.currency,
        )
        return _created(outcome)

    @app.get(
        "/transfers/{transfer_id}",
        response_model=TransferResponse,
        responses=_errors((404, "no such transfer"), (503, "database unavailable")),
    )
    def get_transfer(transfer_id: str) -> JSONResponse:
        """One transfer or deposit."""
        parsed = _uuid(transfer_id)
        transfer = service.transfer(parsed) if parsed else None
        if transfer is None:
            return error(404, "transfer_not_found", f"transfer {transfer_id} does not exist")
        return JSONResponse(transfer.to_json())

    @app.get(
        "/accounts/{account_id}/balance",
        response_model=BalanceResponse,
        responses=_errors((404, "no such account"), (503, "database unavailable")),
    )
    def get_balance(account_id: str) -> JSONResponse:
        """An account's balance in its currency's minor unit."""
        parsed = _uuid(account_id)
        balance = service.balance(parsed) if parsed else None
        if balance is None:
            return error(404, "account_not_found", f"account {account_id} does not exist")
        return JSONResponse(balance.to_json())

    @app.post(
        "/accounts/{account_id}/deposits",
        status_code=201,
        response_model=TransferResponse,
        responses=_errors(
            (400, "Idempotency-Key missing or invalid"),
            (404, "no such account"),
            (422, "invalid body, currency mismatch, or key reused"),
            (503, "database unavailable: nothing was written"),
        ),
    )
    def create_deposit(
        account_id: str,
        body: DepositRequest,
        idempotency_key: Annotated[str | None, Header(alias=idempotency.HEADER)] = None,
    ) -> JSONResponse:
        """Credit an account from outside the ledger, once per Idempotency-Key."""
        key = idempotency.check_key(idempotency_key)
        parsed = _uuid(account_id)
        if parsed is None:
            return error(404, "account_not_found", f"account {account_id} does not exist")
        outcome = service.create_deposit(
            idempotency_key=key,
            account_id=parsed,
            amount_minor=body.amount_minor,
            currency=body.currency,
        )
        return _created(outcome)

    @app.get("/health", responses=_errors((503, "database unavailable")))
    def health() -> JSONResponse:
        """Readiness: 200 when the database answers, 503 otherwise."""
        service.check_database()
        return JSONResponse({"status": "ok"})

    @app.get("/health/live")
    def live() -> JSONResponse:
        """Liveness: 200 while the process serves requests, whatever the database does.

        The load balancer and the container health check use this one: a database outage
        must give callers 503s, not make ECS replace every task over and over.
        """
        return JSONResponse({"status": "alive"})

    return app


def _created(outcome: Outcome) -> JSONResponse:
    headers = {"Location": f"/transfers/{outcome.body['transfer_id']}"}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
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
        return error(
            503,
            "database_unavailable",
            "the database is unavailable; nothing was written, retry later",
        )

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
