"""The balance cache on a real Redis: served from it, invalidated by writes, optional."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
import redis
from transfers_support import Ledger, ServiceServer

from tools.test_servers import RedisServer, free_port
from transfers_service.cache import KEY_PREFIX
from transfers_service.settings import Settings


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    assert settings.redis_url
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    yield client
    client.close()


def test_balances_are_served_from_the_cache_and_invalidated_by_transfers(
    api: ServiceServer, ledger: Ledger, redis_client: redis.Redis
) -> None:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()

    assert api.balance(alice) == 1_000
    key = KEY_PREFIX + str(alice)
    assert json.loads(redis_client.get(key)) == {"currency": "EUR", "balance_minor": 1_000}
    assert 0 < redis_client.ttl(key) <= 30
    # Served from the cache: a value planted there is what the API answers.
    redis_client.set(key, json.dumps({"currency": "EUR", "balance_minor": 999}), ex=30)
    assert api.balance(alice) == 999

    assert api.transfer(alice, bob, 300).status_code == 201

    assert redis_client.get(key) is None
    assert api.balance(alice) == 700
    assert api.balance(bob) == 300


def test_deposits_invalidate_the_cache_too(
    api: ServiceServer, ledger: Ledger, redis_client: redis.Redis
) -> None:
    account = ledger.open_account()
    assert api.balance(account) == 0

    assert api.deposit(account, 50).status_code == 201

    assert redis_client.get(KEY_PREFIX + str(account)) is None
    assert api.balance(account) == 50


def test_a_cache_outage_falls_back_to_the_database(
    serve: Callable[..., ServiceServer],
    settings: Settings,
    ledger: Ledger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with RedisServer() as cache_server:
        api = serve(Settings(**{**settings.__dict__, "redis_url": cache_server.url()}))
        alice, bob = ledger.open_account(balance=100), ledger.open_account()
        assert api.balance(alice) == 100  # now cached

        cache_server.stop()

        assert api.transfer(alice, bob, 60).status_code == 201
        assert (api.balance(alice), api.balance(bob)) == (40, 60)
        assert api.get("/health").status_code == 200
    assert "balance cache" in caplog.text


def test_an_unreachable_cache_from_the_start_is_no_problem(
    serve: Callable[..., ServiceServer], settings: Settings, ledger: Ledger
) -> None:
    api = serve(
        Settings(**{**settings.__dict__, "redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    )
    alice, bob = ledger.open_account(balance=100), ledger.open_account()

    assert api.transfer(alice, bob, 10).status_code == 201
    assert (api.balance(alice), api.balance(bob)) == (90, 10)


def test_without_redis_url_there_is_no_cache(
    serve: Callable[..., ServiceServer], settings: Settings, ledger: Ledger
) -> None:
    api = serve(Settings(**{**settings.__dict__, "redis_url": None}))
    account = ledger.open_account(balance=5)
    assert api.balance(account) == 5
