"""The load generator: a bounded asyncio client that drives the transfers service over HTTP.

``concurrency`` connections (HTTP/1.1 keep-alive, one request at a time each, as an ALB's
connections to a target) run operations drawn from a seeded random workload: transfers
between accounts, deposits and balance reads, each as the account's owner (the
``X-Caller-Sub`` API Gateway sets). Every write carries a new ``Idempotency-Key``.

The client behaves as a careful caller of a payment API: an answer it cannot use (the
connection refused or reset, a timeout, a 503) is retried with the same key after a short
pause, until a definitive answer (2xx, 4xx) arrives or it is told to give up. Every
attempt is recorded (:class:`Attempt`), so that the checks can tell what the service said
and when, and a run's figures (throughput, latency percentiles) come from the same records.

The HTTP is written by hand over asyncio streams (no HTTP library), so that the client
costs little CPU next to the service on the machine's shared cores.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["transfer", "deposit", "balance"]
CALLER_HEADER = "X-Caller-Sub"
REQUEST_TIMEOUT_SECONDS = 10.0
RETRY_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class Account:
    account_id: uuid.UUID
    owner_sub: str
    currency: str = "EUR"


@dataclass
class Attempt:
    """One try of an operation: the status (None: no HTTP answer), when, and why not."""

    started: float
    ended: float
    status: int | None
    error: str | None = None
    code: str | None = None
    replayed: bool = False


@dataclass
class Operation:
    """One request the client wants answered, with every attempt it made."""

    kind: Kind
    caller: str
    method: str
    path: str
    body: dict[str, Any] | None
    key: str | None
    attempts: list[Attempt] = field(default_factory=list)
    answer: dict[str, Any] | None = None

    @property
    def final(self) -> Attempt | None:
        """The definitive attempt (2xx or 4xx), if there was one."""
        last = self.attempts[-1] if self.attempts else None
        return last if last is not None and last.status is not None and last.status < 500 else None

    @property
    def created(self) -> bool:
        final = self.final
        return final is not None and final.status == 201


@dataclass(frozen=True)
class Mix:
    """Shares of the operations (the rest are balance reads) and amounts."""

    transfers: float = 0.6
    deposits: float = 0.2
    max_transfer_minor: int = 500
    max_deposit_minor: int = 1_000


class Workload:
    """Operations drawn from a seeded generator over ``accounts``."""

    def __init__(self, accounts: Sequence[Account], *, mix: Mix, seed: int) -> None:
        if len(accounts) < 2:
            raise ValueError("a workload needs at least two accounts")
        self.accounts = list(accounts)
        self.mix = mix
        self._random = random.Random(seed)

    def next(self) -> Operation:
        draw = self._random.random()
        account = self._random.choice(self.accounts)
        if draw < self.mix.transfers:
            other = account
            while other.account_id == account.account_id:
                other = self._random.choice(self.accounts)
            return transfer_operation(
                account, other, self._random.randint(1, self.mix.max_transfer_minor)
            )
        if draw < self.mix.transfers + self.mix.deposits:
            return deposit_operation(account, self._random.randint(1, self.mix.max_deposit_minor))
        return balance_operation(account)


def balance_operation(account: Account) -> Operation:
    """The account's balance, read as its owner."""
    return Operation(
        kind="balance",
        caller=account.owner_sub,
        method="GET",
        path=f"/transfers/accounts/{account.account_id}/balance",
        body=None,
        key=None,
    )


def transfer_operation(source: Account, target: Account, amount_minor: int) -> Operation:
    return Operation(
        kind="transfer",
        caller=source.owner_sub,
        method="POST",
        path="/transfers",
        body={
            "from_account_id": str(source.account_id),
            "to_account_id": str(target.account_id),
            "amount_minor": amount_minor,
            "currency": source.currency,
        },
        key=str(uuid.uuid4()),
    )


def deposit_operation(account: Account, amount_minor: int) -> Operation:
    return Operation(
        kind="deposit",
        caller=account.owner_sub,
        method="POST",
        path=f"/transfers/accounts/{account.account_id}/deposits",
        body={"amount_minor": amount_minor, "currency": account.currency},
        key=str(uuid.uuid4()),
    )


class HttpConnection:
    """One keep-alive HTTP/1.1 connection to ``host:port``, opened on demand."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        try:
            status_line = await self._reader.readuntil(b"\r\n")
            if not status_line:
                raise ConnectionResetError("the server closed the connection")
            status = int(status_line.split(b" ", 2)[1])
            response_headers: dict[str, str] = {}
            while (line := await self._reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.decode("latin-1").partition(":")
                response_headers[name.strip().lower()] = value.strip()
            length = int(response_headers.get("content-length", "0"))
            content = await self._reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if response_headers.get("connection", "").lower() == "close":
            self.close()
        return status, response_headers, content

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def attempt(
    connection: HttpConnection, operation: Operation
) -> tuple[Attempt, dict[str, Any] | None]:
    """Send ``operation`` once: the attempt (the status, or why there was none) and the
    answer's JSON object, if any."""
    headers = {CALLER_HEADER: operation.caller}
    if operation.key is not None:
        headers["Idempotency-Key"] = operation.key
    body = None if operation.body is None else json.dumps(operation.body).encode()
    started = time.monotonic()
    try:
        status, response_headers, content = await asyncio.wait_for(
            connection.request(operation.method, operation.path, headers, body),
            REQUEST_TIMEOUT_SECONDS,
        )
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as error:
        connection.close()
        return Attempt(started, time.monotonic(), None, error=type(error).__name__), None
    ended = time.monotonic()
    try:
        parsed = json.loads(content) if content else None
    except ValueError:
        parsed = None
    answer = parsed if isinstance(parsed, dict) else None
    result = Attempt(
        started,
        ended,
        status,
        code=None if answer is None else answer.get("code"),
        replayed=response_headers.get("idempotent-replayed") == "true",
    )
    return result, answer


async def settle(
    connection: HttpConnection, operation: Operation, *, give_up_at: float
) -> Operation:
    """Try ``operation`` until it has a definitive answer or ``give_up_at`` has passed."""
    while True:
        try_, answer = await attempt(connection, operation)
        operation.attempts.append(try_)
        if try_.status is not None and try_.status < 500:
            operation.answer = answer
        if operation.final is not None or time.monotonic() >= give_up_at:
            return operation
        await asyncio.sleep(RETRY_PAUSE_SECONDS)


@dataclass
class Run:
    """What one load run did: its operations, and when it started and stopped."""

    operations: list[Operation]
    started: float
    stopped: float

    def window(self, start: float | None = None, end: float | None = None) -> list[Attempt]:
        start = self.started if start is None else start
        end = self.stopped if end is None else end
        return [a for op in self.operations for a in op.attempts if start <= a.ended <= end]


async def drive(
    host: str,
    port: int,
    workload: Workload,
    *,
    concurrency: int,
    seconds: float,
    give_up_seconds: float = 60.0,
    events: Sequence[tuple[float, Callable[[], Any]]] = (),
) -> Run:
    """Run the workload for ``seconds`` on ``concurrency`` connections; each operation
    started is settled (retried up to ``give_up_seconds`` after the load stops).

    ``events`` are (seconds after the start, callable) pairs, run in a thread at their time
    (the fault injections: a kill, a restart), so that the load goes on meanwhile.
    """
    operations: list[Operation] = []
    started = time.monotonic()
    stop_at = started + seconds

    async def worker() -> None:
        connection = HttpConnection(host, port)
        try:
            while time.monotonic() < stop_at:
                operation = workload.next()
                operations.append(operation)
                await settle(connection, operation, give_up_at=stop_at + give_up_seconds)
        finally:
            connection.close()

    async def scheduled(delay: float, action: Callable[[], Any]) -> None:
        await asyncio.sleep(max(0.0, started + delay - time.monotonic()))
        await asyncio.to_thread(action)

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    tasks += [asyncio.create_task(scheduled(delay, action)) for delay, action in events]
    await asyncio.gather(*tasks)
    return Run(operations, started, max(time.monotonic(), stop_at))


async def resend(
    host: str, port: int, operations: Sequence[Operation]
) -> list[tuple[Attempt, dict[str, Any] | None]]:
    """Send each operation once more with its key (the client retrying after an answer it
    lost): the attempts and answers, in order."""
    connection = HttpConnection(host, port)
    try:
        return [await attempt(connection, operation) for operation in operations]
    finally:
        connection.close()
