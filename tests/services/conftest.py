"""What every service test needs: the services' code roots on the path, and real servers.

Each ``container_src/<service>/`` folder is a code root (``/app`` in its image): it goes
first on ``sys.path`` and its packages are imported here, without writing ``__pycache__``
into the folder (the folder is the image's build input).

The servers are a throwaway PostgreSQL cluster and a Redis server, each on a free loopback
port, started once per test session and stopped afterwards (also when tests fail). Redis
runs in cluster mode, as ElastiCache Serverless does: a command over keys of two hash slots
fails there (CROSSSLOT) as it would in AWS.
``make test-servers`` installs the Debian packages they come from.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.test_servers import PostgresServer, RedisServer

ROOT = Path(__file__).resolve().parents[2]


def _import_service_code() -> None:
    bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        for code_root in sorted((ROOT / "container_src").glob("*/")):
            if str(code_root) not in sys.path:
                sys.path.insert(0, str(code_root))
            for package in pkgutil.iter_modules([str(code_root)]):
                module = importlib.import_module(package.name)
                for sub in pkgutil.walk_packages(module.__path__, f"{package.name}."):
                    importlib.import_module(sub.name)
    finally:
        sys.dont_write_bytecode = bytecode


_import_service_code()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer(cluster=True) as server:
        yield server
