"""Throwaway PostgreSQL and Redis servers on loopback, for the service tests and local runs.

Each server lives in a temporary folder, listens on 127.0.0.1 on a free port, keeps nothing
on disk it needs later and is stopped (and its folder removed) on exit, also after a
failure. The binaries come from the Debian packages ``postgresql`` and ``redis-server``
(``make test-servers`` installs them). PostgreSQL refuses to run as root: as root, its
commands run as the ``postgres`` user (``runuser -u postgres --``).

A Redis server is standalone or, with ``cluster=True``, in cluster mode as ElastiCache
Serverless always is: one node that owns all 16384 hash slots, so that a command over keys
of different slots fails with CROSSSLOT as it does in AWS (a standalone server accepts it).

Usage: ``python tools/test_servers.py`` starts both (Redis in cluster mode), prints
``DATABASE_URL`` and ``REDIS_URL`` and waits for Ctrl-C.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

POSTGRES_LIB = Path("/usr/lib/postgresql")
CLUSTER_SLOTS = 16384
INSTALL_HINT = "run `make test-servers` (installs the Debian packages postgresql and redis-server)"


class ServerError(RuntimeError):
    """A server could not be found, started or stopped; says why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def postgres_bin_dir() -> Path:
    """The bin folder of the newest PostgreSQL installed from Debian's packages."""
    found = sorted(
        (path.parent for path in POSTGRES_LIB.glob("*/bin/initdb")),
        key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
    )
    if not found:
        raise ServerError(f"no PostgreSQL under {POSTGRES_LIB}: {INSTALL_HINT}")
    return found[-1]


def _run(command: list[str], *, what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServerError(f"{what} failed ({result.returncode}): {result.stderr or result.stdout}")


class _ThrowawayServer:
    """A server in a temporary folder: ``with`` starts it, and stops and removes it after."""

    base_dir: Path

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()


class PostgresServer(_ThrowawayServer):
    """A PostgreSQL cluster made by initdb in a temporary folder, trust auth on loopback.

    ``settings`` are more server settings (``-c name=value``), e.g. ``log_statement``.

    With ``password_auth=True``, every role but the superuser ``postgres`` logs in over TCP
    with its password (scram-sha-256), as on Aurora, so a test can change a role's password
    (``ALTER ROLE ... PASSWORD``) and see a login with the old one fail; ``postgres`` keeps
    trust auth (and ``url()`` stays password-less) to administer the cluster.
    """

    user = "postgres"

    def __init__(
        self,
        *,
        port: int | None = None,
        settings: dict[str, str] | None = None,
        password_auth: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.settings = dict(settings or {})
        self.password_auth = password_auth
        self.bin_dir = postgres_bin_dir()
        self._as_root = os.geteuid() == 0
        self.base_dir = Path(tempfile.mkdtemp(prefix="transfers-postgres-"))
        self.data_dir = self.base_dir / "data"
        self.log_file = self.base_dir / "postgres.log"
        if self._as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base_dir, owner.pw_uid, owner.pw_gid)
        self._initialized = False

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def program_command(self, program: str, *args: str) -> list[str]:
        """The command line that runs one of the server's programs (``pg_ctl``, ``pgbench``,
        ...) with ``args``, as ``postgres`` when this process is root."""
        command = [str(self.bin_dir / program), *args]
        return ["runuser", "-u", "postgres", "--", *command] if self._as_root else command

    def start(self) -> None:
        """initdb (the first time), then start and wait until it accepts connections."""
        if not self._initialized:
            _run(
                self.program_command(
                    "initdb",
                    "--pgdata",
                    str(self.data_dir),
                    "--username",
                    self.user,
                    "--auth",
                    "trust",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C",
                    "--no-sync",
                ),
                what="initdb",
            )
            if self.password_auth:
                self._require_passwords()
            self._initialized = True
        # No fsync and no full-page writes: the data need not survive the machine crashing,
        # only the server (commits stay synchronous, so a crash of PostgreSQL loses nothing).
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base_dir}"
            " -c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        for name, value in self.settings.items():
            options += f" -c {name}={shlex.quote(value)}"
        _run(
            self.program_command(
                "pg_ctl",
                "start",
                "--wait",
                "--timeout",
                "60",
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
                "--options",
                options,
            ),
            what=f"pg_ctl start (log: {self.log_file})",
        )

    def _require_passwords(self) -> None:
        # pg_hba.conf is read top down, the first matching line wins: trust over the Unix
        # socket and for postgres on TCP (to administer), passwords for everyone else. As
        # root, the file is given back to postgres, who owns the data folder.
        hba = (
            "local all all trust\n"
            f"host all {self.user} 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        hba_file = self.data_dir / "pg_hba.conf"
        hba_file.write_text(hba, encoding="utf-8")
        if self._as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(hba_file, owner.pw_uid, owner.pw_gid)

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as if it crashed); no-op when not running."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        _run(
            self.program_command(
                "pg_ctl", "stop", "--wait", "--pgdata", str(self.data_dir), "--mode", mode
            ),
            what="pg_ctl stop",
        )


class RedisServer(_ThrowawayServer):
    """A redis-server without persistence, on loopback, in a temporary folder.

    With ``cluster=True`` it runs in cluster mode (``cluster-enabled yes``, its node file in
    the temporary folder) as a one-node cluster owning every hash slot; ``start`` returns
    once ``CLUSTER INFO`` says ``cluster_state:ok``. ``CLUSTER SLOTS`` and ``CLUSTER
    SHARDS`` then answer with the node's own address, 127.0.0.1 and its port, as an
    ElastiCache Serverless endpoint answers with itself.
    """

    def __init__(self, *, port: int | None = None, cluster: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerError(f"no redis-server on PATH: {INSTALL_HINT}")
        self.binary = binary
        self.port = port or free_port()
        self.cluster = cluster
        self.base_dir = Path(tempfile.mkdtemp(prefix="transfers-redis-"))
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, *, timeout: float = 10.0) -> None:
        """Start and wait until it answers PING (and, in cluster mode, serves every slot)."""
        log = (self.base_dir / "redis.log").open("ab")
        cluster_options = (
            [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(self.base_dir / "nodes.conf"),
                "--cluster-node-timeout",
                "5000",
                # The bus port defaults to port + 10000, which may be taken or above 65535.
                "--cluster-port",
                str(free_port()),
                # Else a lone node does not know its own address and answers CLUSTER SLOTS
                # with an empty host.
                "--cluster-announce-ip",
                "127.0.0.1",
            ]
            if self.cluster
            else []
        )
        self._process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.base_dir),
                "--daemonize",
                "no",
                *cluster_options,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        self._wait(self.answers, deadline, "answer PING")
        if self.cluster:
            # A restart reads the slots back from nodes.conf: assign them only once.
            if f"cluster_slots_assigned:{CLUSTER_SLOTS}" not in self._cluster_info():
                reply = self.command("CLUSTER", "ADDSLOTSRANGE", "0", str(CLUSTER_SLOTS - 1))
                if reply != b"+OK":
                    self.stop()
                    raise ServerError(f"CLUSTER ADDSLOTSRANGE answered {reply!r}")
            self._wait(lambda: "cluster_state:ok" in self._cluster_info(), deadline, "be ok")

    def _wait(self, condition: Callable[[], bool], deadline: float, what: str) -> None:
        assert self._process is not None
        while not condition():
            if self._process.poll() is not None:
                raise ServerError(f"redis-server exited: see {self.base_dir / 'redis.log'}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"redis-server did not {what} in time")
            time.sleep(0.02)

    def _cluster_info(self) -> str:
        try:
            return self.command("CLUSTER", "INFO").decode()
        except OSError:
            return ""

    def command(self, *args: str) -> bytes:
        """Send one command, return its reply: ``+OK``, ``-ERR ...``, ``:1``, the content of
        a bulk string, or an array's header line only (a small RESP client, so that the
        tool needs no redis package)."""
        request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as connection:
            connection.sendall(request.encode())
            reader = connection.makefile("rb")
            line = reader.readline().rstrip(b"\r\n")
            if not line.startswith(b"$"):
                return line
            length = int(line[1:])
            return b"" if length < 0 else reader.read(length + 2)[:length]

    def answers(self) -> bool:
        """Whether the server answers PING right now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: the server is gone at once, with everything it held (no persistence);
        ``start`` brings it back empty (in cluster mode with its slots, from nodes.conf)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); no-op when not running."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def servers(*, redis_cluster: bool = True) -> Iterator[tuple[PostgresServer, RedisServer]]:
    """Both servers, started (Redis in cluster mode unless told); both stopped and removed
    on exit."""
    with PostgresServer() as postgres, RedisServer(cluster=redis_cluster) as redis:
        yield postgres, redis


def main() -> int:
    with servers() as (postgres, redis):
        print(f"export DATABASE_URL={postgres.url()}")
        print(f"export REDIS_URL={redis.url()}")
        print("# Ctrl-C stops both servers and removes their data", flush=True)
        stop = False

        def request_stop(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, request_stop)
        try:
            while not stop:
                signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
