"""The transfers service under load on this machine, against real servers, and the faults.

:class:`Environment` starts what the service runs on in AWS, on loopback: PostgreSQL (the
throwaway server of ``tools/test_servers.py``), Redis in cluster mode (as ElastiCache
Serverless always is), an SNS endpoint that records what is published
(``tools/fake_sns.py``, in a process of its own), and the service itself as its image runs
it (``uvicorn transfers_service.app:create_app --factory``) in a process group of its own,
so that it can be killed with SIGKILL. It migrates a database and opens and funds
``accounts`` accounts, each of its own owner.

:func:`run_scenario` drives the load (``tools/loadtest/client.py``) while injecting one
fault, settles every operation, sends a sample of the answered writes again with their
keys, reads every balance through the API, waits for the outbox to drain, and runs the
checks (``tools/loadtest/checks.py``). The scenarios (:data:`SCENARIOS`):

- ``steady``: no fault; the throughput figures.
- ``kill-service``: SIGKILL of the service's process group mid-load, restarted a second
  later; the client retries what went unanswered with the same keys.
- ``restart-postgres``: PostgreSQL stopped in immediate mode (a crash: no checkpoint, the
  connections cut) mid-load and started again two seconds later, the service left running:
  every write answered while it is down must be a 503, and writes must succeed again
  within :data:`RECOVERY_BUDGET_SECONDS` of it being back.
- ``lose-cache``: SIGKILL of Redis mid-load, started again (empty) later: reads go on
  (from the database), every balance stays right.

:func:`pgbench_tpcb` runs PostgreSQL's own TPC-B-like benchmark on the same server, the
reference figure for an ACID money movement on these cores.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tools.loadtest import checks
from tools.loadtest.client import (
    Account,
    Attempt,
    HttpConnection,
    Mix,
    Run,
    Workload,
    attempt,
    balance_operation,
    drive,
    resend,
)
from tools.test_servers import PostgresServer, RedisServer, ServerError, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
TRANSFERS_SRC = REPO_ROOT / "container_src" / "transfers"
CONTRACTS_DIR = REPO_ROOT / "contracts" / "events"
TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:transfers-events"
DATABASE = "transfers"
OPENING_BALANCE_MINOR = 10_000_000
RECOVERY_BUDGET_SECONDS = 15.0
# Longer than the service's pool timeout (2 s): requests that start while it is down end
# while it is still down.
POSTGRES_DOWN_SECONDS = 3.0
OUTBOX_DRAIN_SECONDS = 60.0
# How many answered writes the client sends again with their keys after a run.
REPLAY_SAMPLE = 200

from transfers_service import ledger  # noqa: E402  (the service's code root is on sys.path)
from transfers_service.db import migrate  # noqa: E402
from transfers_service.events import ACCOUNT_OPENED, PUBLISHED, ContractRegistry  # noqa: E402


@dataclass(frozen=True)
class Size:
    """How big a run is: accounts, connections, seconds of load, service processes and
    pool size."""

    accounts: int
    concurrency: int
    seconds: float
    workers: int = 1
    pool_max_size: int = 10
    mix: Mix = field(default_factory=Mix)
    seed: int = 13


SHORT = Size(accounts=100, concurrency=8, seconds=6.0)
LONG = Size(accounts=2_000, concurrency=32, seconds=20.0)


class FakeSnsProcess:
    """``tools/fake_sns.py`` in a process of its own."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.fake_sns",
                "--port",
                str(self.port),
                "--topic-arn",
                TOPIC_ARN,
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log.open("ab"),
            text=True,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != "ready":
            raise ServerError(f"the fake SNS did not start: see {self._log}")

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def messages(self) -> list[dict[str, Any]]:
        import json

        with urllib.request.urlopen(f"{self.url}/_fake/messages", timeout=30) as response:
            found: list[dict[str, Any]] = json.loads(response.read())
        return found

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            process.wait(timeout=10)


class ServiceProcess:
    """The transfers service as its image runs it, on a fixed loopback port, in a process
    group of its own (uvicorn's workers die with it)."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int,
        log: Path,
        source: Path = TRANSFERS_SRC,
        uvicorn_args: Sequence[str] = (),
    ) -> None:
        self.port = free_port()
        self._source = source
        self._uvicorn_args = list(uvicorn_args)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._env = env
        self._workers = workers
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Spawn it (returns at once; see :meth:`wait_ready`)."""
        command = [
            sys.executable, "-m", "uvicorn", "transfers_service.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--no-server-header",
            "--timeout-keep-alive", "75", "--log-level", "warning",
        ]  # fmt: skip
        if self._workers > 1:
            command += ["--workers", str(self._workers)]
        command += self._uvicorn_args
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self._source,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Wait until ``/health`` answers 200; the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self._process is not None and self._process.poll() is not None:
                raise ServerError(f"the service exited ({self._process.returncode}): {self._log}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.05)
        raise ServerError(f"the service was not ready within {timeout:.0f}s: {self._log}")

    def kill(self) -> None:
        """SIGKILL to the whole process group: no shutdown, no cleanup."""
        process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Environment:
    """Servers, a migrated and seeded database, and the service; all stopped on exit."""

    def __init__(
        self,
        size: Size,
        workdir: Path,
        *,
        postgres_settings: dict[str, str] | None = None,
        service_source: Path = TRANSFERS_SRC,
        uvicorn_args: Sequence[str] = (),
    ) -> None:
        self.size = size
        self.service_source = service_source
        self.uvicorn_args = uvicorn_args
        self.workdir = workdir
        self.postgres_settings = postgres_settings or {}
        self._stack = ExitStack()
        self.accounts: list[Account] = []
        self.seed_transfer_ids: set[str] = set()

    def __enter__(self) -> Environment:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.postgres = self._stack.enter_context(PostgresServer(settings=self.postgres_settings))
        self.redis = self._stack.enter_context(RedisServer(cluster=True))
        self.sns = FakeSnsProcess(self.workdir / "fake-sns.log")
        self.sns.start()
        self._stack.callback(self.sns.stop)
        with psycopg.connect(self.postgres.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        self.database_url = self.postgres.url(DATABASE)
        self._seed()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(self.service_source),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url(),
            "EVENT_TOPIC_ARN": TOPIC_ARN,
            "AWS_ENDPOINT_URL_SNS": self.sns.url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "loadtest",
            "AWS_SECRET_ACCESS_KEY": "loadtest",
            "CONTRACTS_DIR": str(CONTRACTS_DIR),
            "DATABASE_POOL_MAX_SIZE": str(self.size.pool_max_size),
            "LOG_LEVEL": "INFO",
        }
        self.service = ServiceProcess(
            env,
            workers=self.size.workers,
            log=self.workdir / "service.log",
            source=self.service_source,
            uvicorn_args=self.uvicorn_args,
        )
        self._stack.callback(self.service.stop)
        self.service.start()
        self.service.wait_ready()

    def _seed(self) -> None:
        registry = ContractRegistry(CONTRACTS_DIR, required=(ACCOUNT_OPENED, *PUBLISHED))
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            migrate(conn)
            for index in range(self.size.accounts):
                account = Account(uuid.uuid4(), f"owner-{index:05d}-{uuid.uuid4()}")
                with conn.transaction():
                    ledger.open_account(
                        conn,
                        account_id=account.account_id,
                        owner_sub=account.owner_sub,
                        currency=account.currency,
                        opened_at="2026-01-05T09:30:00.000000Z",
                        event_id=uuid.uuid4(),
                    )
                    funded = ledger.deposit(
                        conn,
                        caller_sub=account.owner_sub,
                        account_id=account.account_id,
                        amount_minor=OPENING_BALANCE_MINOR,
                        currency=account.currency,
                        registry=registry,
                    )
                self.accounts.append(account)
                self.seed_transfer_ids.add(str(funded.transfer_id))

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.database_url, autocommit=True)

    def kill_redis(self) -> None:
        self.redis.kill()

    def wait_outbox_drained(self, timeout: float = OUTBOX_DRAIN_SECONDS) -> int:
        """Wait until no outbox row is unsent; the number still unsent when it gives up."""
        deadline = time.monotonic() + timeout
        while True:
            with self.connect() as conn:
                row = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()
            unsent = int(row[0]) if row else 0
            if unsent == 0 or time.monotonic() > deadline:
                return unsent
            time.sleep(0.2)


@dataclass
class Timeline:
    """When the fault happened, seconds after the load started (monotonic clock)."""

    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        self.marks[name] = time.monotonic()


@dataclass
class ScenarioResult:
    """A scenario's figures and checks."""

    name: str
    fault: str
    size: Size
    figures: dict[str, Any]
    checks: list[checks.Check]

    @property
    def violations(self) -> list[str]:
        return [f"{c.name}: {v}" for c in self.checks for v in c.violations]


Fault = Callable[[Environment, Timeline], list[tuple[float, Callable[[], Any]]]]


def _no_fault(env: Environment, timeline: Timeline) -> list[tuple[float, Callable[[], Any]]]:
    return []


def _kill_service(env: Environment, timeline: Timeline) -> list[tuple[float, Callable[[], Any]]]:
    def kill_and_restart() -> None:
        timeline.mark("killed")
        env.service.kill()
        time.sleep(1.0)
        timeline.mark("restarted")
        env.service.start()
        env.service.wait_ready()
        timeline.mark("ready")

    return [(env.size.seconds * 0.4, kill_and_restart)]


def _restart_postgres(
    env: Environment, timeline: Timeline
) -> list[tuple[float, Callable[[], Any]]]:
    def crash_and_restart() -> None:
        timeline.mark("postgres_stopping")
        env.postgres.stop(mode="immediate")
        timeline.mark("postgres_down")
        time.sleep(POSTGRES_DOWN_SECONDS)
        timeline.mark("postgres_starting")
        env.postgres.start()
        timeline.mark("postgres_up")

    return [(env.size.seconds * 0.35, crash_and_restart)]


def _lose_cache(env: Environment, timeline: Timeline) -> list[tuple[float, Callable[[], Any]]]:
    def kill() -> None:
        timeline.mark("cache_killed")
        env.kill_redis()

    def restart() -> None:
        timeline.mark("cache_restarting")
        env.redis.start()
        timeline.mark("cache_back")

    return [(env.size.seconds * 0.3, kill), (env.size.seconds * 0.7, restart)]


SCENARIOS: dict[str, tuple[str, Fault]] = {
    "steady": ("none", _no_fault),
    "kill-service": ("SIGKILL of the service mid-load, restarted 1 s later", _kill_service),
    "restart-postgres": (
        "PostgreSQL stopped in immediate mode (a crash) mid-load, started"
        f" {POSTGRES_DOWN_SECONDS:.0f} s later",
        _restart_postgres,
    ),
    "lose-cache": ("SIGKILL of Redis mid-load, started again (empty) later", _lose_cache),
}


def run_scenario(
    name: str,
    size: Size,
    workdir: Path,
    *,
    postgres_settings: dict[str, str] | None = None,
    service_source: Path = TRANSFERS_SRC,
    uvicorn_args: Sequence[str] = (),
) -> ScenarioResult:
    """Run one scenario of :data:`SCENARIOS` at ``size`` (PostgreSQL with more
    ``postgres_settings``; the service's code from ``service_source``, uvicorn with more
    ``uvicorn_args``); servers are stopped after."""
    fault_text, fault = SCENARIOS[name]
    timeline = Timeline()
    with Environment(
        size,
        workdir / name,
        postgres_settings=postgres_settings,
        service_source=service_source,
        uvicorn_args=uvicorn_args,
    ) as env:
        workload = Workload(env.accounts, mix=size.mix, seed=size.seed)
        service_pid = env.service.pid
        meter = CpuMeter(env)
        meter.start()
        run = asyncio.run(
            drive(
                "127.0.0.1",
                env.service.port,
                workload,
                concurrency=size.concurrency,
                seconds=size.seconds,
                events=fault(env, timeline),
            )
        )
        cpu = meter.stop()
        env.service.wait_ready()
        created = [op for op in run.operations if op.created]
        sample = created[:: max(1, len(created) // REPLAY_SAMPLE)][:REPLAY_SAMPLE]
        replays = asyncio.run(resend("127.0.0.1", env.service.port, sample))
        balances = asyncio.run(_read_balances(env))
        unsent = env.wait_outbox_drained()
        published = env.sns.messages()
        with env.connect() as conn:
            found = [
                *checks.ledger_checks(conn),
                *checks.client_checks(
                    conn, run.operations, seed_transfer_ids=env.seed_transfer_ids
                ),
                checks.replay_check(
                    (op, try_, answer) for op, (try_, answer) in zip(sample, replays, strict=True)
                ),
                *checks.outbox_checks(conn, published),
                checks.balance_check(conn, balances, label="after the run"),
            ]
        figures = _figures(run, timeline)
        figures["cpu_seconds"] = cpu
        figures["cpu_ms_per_operation"] = {
            part: round(seconds * 1000 / max(1, len(run.operations)), 2)
            for part, seconds in cpu.items()
        }
        figures["unsent_after_drain"] = unsent
        figures["published"] = len(published)
        found += _fault_checks(name, run, timeline, env, service_pid=service_pid)
    return ScenarioResult(name, fault_text, size, figures, found)


async def _read_balances(env: Environment) -> dict[str, int | None]:
    """Every account's balance through the API, as its owner (None: not answered 200)."""
    connection = HttpConnection("127.0.0.1", env.service.port)
    read: dict[str, int | None] = {}
    try:
        for account in env.accounts:
            try_, answer = await attempt(connection, balance_operation(account))
            ok = try_.status == 200 and answer is not None
            read[str(account.account_id)] = int(answer["balance_minor"]) if ok and answer else None
    finally:
        connection.close()
    return read


def _fault_checks(
    name: str, run: Run, timeline: Timeline, env: Environment, *, service_pid: int | None
) -> list[checks.Check]:
    marks = timeline.marks
    if name == "restart-postgres":
        # A write that started once it was down and was answered before it was started
        # again cannot have committed: a 503 that says why. And some writes get that 503 while it
        # is down: the service answers, it does not hold every request until it is back
        # (requests queued for a request thread wait their turn, then the pool's timeout).
        down = checks.Check("while PostgreSQL was down, writes were answered 503, nothing else")
        refused_while_down = 0
        for op in run.operations:
            if op.key is None:
                continue
            for try_ in op.attempts:
                if try_.status is None:
                    continue
                if try_.status == 503 and (
                    marks["postgres_down"] <= try_.ended <= marks["postgres_starting"]
                ):
                    refused_while_down += 1
                # (Until it is being started: it accepts connections a moment before
                # pg_ctl, and so the "postgres_up" mark, knows it.)
                if (
                    marks["postgres_down"] <= try_.started
                    and try_.ended <= marks["postgres_starting"]
                ):
                    down.expect(
                        try_.status == 503
                        and try_.code in ("database_unavailable", "outcome_unknown"),
                        f"{op.kind} {op.key}: {try_.status} ({try_.code})",
                    )
        down.expect(refused_while_down > 0, "no write was answered 503 while it was down")
        recovered = checks.Check(
            f"writes succeed again within {RECOVERY_BUDGET_SECONDS:.0f}s of PostgreSQL being"
            " back, without restarting the service"
        )
        recovered.expect(
            env.service.starts == 1 and env.service.pid == service_pid,
            "the service was restarted",
        )
        back = marks["postgres_up"]
        first = _first_created_after(run, back)
        recovered.expect(
            first is not None and first - back <= RECOVERY_BUDGET_SECONDS,
            (
                "no write succeeded after it was back"
                if first is None
                else f"the first write succeeded {first - back:.1f}s after it was back"
            ),
        )
        return [down, recovered]
    if name == "lose-cache":
        reads = checks.Check("while the cache was gone, every balance read was answered 200")
        for op in run.operations:
            if op.kind != "balance":
                continue
            for try_ in op.attempts:
                if (
                    marks["cache_killed"] <= try_.started
                    and try_.ended <= marks["cache_restarting"]
                ):
                    reads.expect(try_.status == 200, f"{op.path}: {try_.status or try_.error}")
        return [reads]
    if name == "kill-service":
        restarted = checks.Check("the killed service came back and served again")
        first = _first_created_after(run, marks.get("ready", float("inf")))
        restarted.expect(first is not None, "no write succeeded after the restart")
        return [restarted]
    return []


def _first_created_after(run: Run, moment: float) -> float | None:
    ends = [
        try_.ended
        for op in run.operations
        for try_ in op.attempts
        if try_.status == 201 and try_.started >= moment
    ]
    return min(ends, default=None)


def _percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def latency_ms(attempts: Sequence[Attempt]) -> dict[str, float | None]:
    times = [(a.ended - a.started) * 1000 for a in attempts]
    p50, p99 = _percentile(times, 0.50), _percentile(times, 0.99)
    return {
        "p50": None if p50 is None else round(p50, 1),
        "p99": None if p99 is None else round(p99, 1),
    }


def _figures(run: Run, timeline: Timeline) -> dict[str, Any]:
    duration = run.stopped - run.started
    in_window = [
        (op, try_)
        for op in run.operations
        for try_ in op.attempts
        if run.started <= try_.ended <= run.stopped
    ]
    written = [
        t for op, t in in_window if op.key is not None and t.status == 201 and not t.replayed
    ]
    transfers = [
        t for op, t in in_window if op.kind == "transfer" and t.status == 201 and not t.replayed
    ]
    reads = [t for op, t in in_window if op.kind == "balance" and t.status == 200]
    statuses: dict[str, int] = {}
    for _, try_ in in_window:
        label = str(try_.status) if try_.status is not None else f"no answer ({try_.error})"
        statuses[label] = statuses.get(label, 0) + 1
    return {
        "seconds": round(duration, 1),
        "operations": len(run.operations),
        "writes_per_second": round(len(written) / duration, 1),
        "transfers_per_second": round(len(transfers) / duration, 1),
        "reads_per_second": round(len(reads) / duration, 1),
        "write_latency_ms": latency_ms(written),
        "read_latency_ms": latency_ms(reads),
        "statuses": dict(sorted(statuses.items())),
        "timeline": {
            name: round(moment - run.started, 2) for name, moment in sorted(timeline.marks.items())
        },
    }


_TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")
_LATENCY = re.compile(r"latency average = ([0-9.]+) ms")


def pgbench_tpcb(
    postgres: PostgresServer, *, clients: int, seconds: int, scale: int = 10
) -> dict[str, float]:
    """pgbench's built-in TPC-B-like script on ``postgres``: transactions per second and
    average latency (ms)."""
    database = "pgbench"
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {database}")

    def pgbench(*args: str) -> str:
        command = postgres.program_command(
            "pgbench",
            "-h",
            "127.0.0.1",
            "-p",
            str(postgres.port),
            "-U",
            postgres.user,
            *args,
            database,
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServerError(f"pgbench failed: {result.stderr}")
        return result.stdout

    pgbench("-i", "-q", "-s", str(scale))
    output = pgbench(
        "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)), "-T", str(seconds)
    )
    tps, latency = _TPS.search(output), _LATENCY.search(output)
    if tps is None or latency is None:
        raise ServerError(f"unexpected pgbench output: {output}")
    return {"tps": float(tps.group(1)), "latency_ms": float(latency.group(1)), "clients": clients}


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    # utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3 (state).
    return int(fields[11]) + int(fields[12])


def _pids(match: Callable[[int], bool]) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and match(int(p.name))]


class CpuMeter:
    """CPU seconds used by the service (its process group), PostgreSQL (every process of
    its binary), the fake SNS and this process (the load client) between ``start`` and
    ``stop``: where the cores went. Processes that exit meanwhile are not counted."""

    def __init__(self, env: Environment) -> None:
        self._env = env
        self._before: dict[str, dict[int, int]] = {}
        self.seconds: dict[str, float] = {}

    def _groups(self) -> dict[str, list[int]]:
        service_group = self._env.service.pid
        postgres = str(self._env.postgres.bin_dir / "postgres")

        def in_service(pid: int) -> bool:
            try:
                return os.getpgid(pid) == service_group
            except OSError:
                return False

        def is_postgres(pid: int) -> bool:
            try:
                return os.readlink(f"/proc/{pid}/exe") == postgres
            except OSError:
                return False

        return {
            "service": _pids(in_service),
            "postgres": _pids(is_postgres),
            "fake_sns": [self._env.sns.pid] if self._env.sns.pid else [],
            "load_client": [os.getpid()],
        }

    def start(self) -> None:
        self._before = {
            name: {pid: _ticks(pid) for pid in pids} for name, pids in self._groups().items()
        }

    def stop(self) -> dict[str, float]:
        tick = os.sysconf("SC_CLK_TCK")
        for name, pids in self._groups().items():
            before = self._before.get(name, {})
            used = sum(_ticks(pid) - before.get(pid, 0) for pid in pids)
            self.seconds[name] = round(used / tick, 2)
        return self.seconds
