"""The balance cache on a real Redis in cluster mode (as ElastiCache Serverless is): served
from it, invalidated by writes, optional."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.crc import key_slot
from transfers_support import Ledger, ServiceServer

from tools.test_servers import RedisServer, free_port
from transfers_service.cache import KEY_PREFIX, BalanceCache, RedisBalanceCache
from transfers_service.ledger import Balance
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


def _slot(account_id: uuid.UUID) -> int:
    return key_slot((KEY_PREFIX + str(account_id)).encode())


def _accounts_in_two_slots(ledger: Ledger) -> tuple[uuid.UUID, uuid.UUID]:
    """Alice (1 000 EUR) and Bob, whose cache keys hash to different slots."""
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()
    while _slot(bob) == _slot(alice):  # 1 chance in 16384
        bob = ledger.open_account()
    return alice, bob


def test_the_test_cache_is_in_cluster_mode_as_in_aws(redis_client: redis.Redis) -> None:
    a, b = KEY_PREFIX + "a", KEY_PREFIX + "b"
    assert key_slot(a.encode()) != key_slot(b.encode())
    with pytest.raises(redis.ResponseError, match="hash to the same slot"):  # CROSSSLOT
        redis_client.delete(a, b)


def test_invalidating_accounts_of_different_slots_deletes_each(
    cache: BalanceCache,
    ledger: Ledger,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice, bob = _accounts_in_two_slots(ledger)
    for account in (alice, bob):
        cache.put(Balance(account_id=account, currency="EUR", balance_minor=1))
    assert redis_client.get(KEY_PREFIX + str(alice)) is not None
    assert redis_client.get(KEY_PREFIX + str(bob)) is not None

    with caplog.at_level(logging.WARNING, logger="transfers_service.cache"):
        cache.invalidate(alice, bob)

    assert redis_client.get(KEY_PREFIX + str(alice)) is None
    assert redis_client.get(KEY_PREFIX + str(bob)) is None
    assert "invalidation failed" not in caplog.text


def test_after_a_transfer_both_balances_are_fresh_at_once(
    api: ServiceServer,
    ledger: Ledger,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice, bob = _accounts_in_two_slots(ledger)
    assert (api.balance(alice), api.balance(bob)) == (1_000, 0)  # both cached now
    assert redis_client.get(KEY_PREFIX + str(bob)) is not None

    with caplog.at_level(logging.WARNING, logger="transfers_service.cache"):
        assert api.transfer(alice, bob, 300).status_code == 201

    # Not after the TTL: right away.
    assert (api.balance(alice), api.balance(bob)) == (700, 300)
    assert "invalidation failed" not in caplog.text


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
    with RedisServer(cluster=True) as cache_server:
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


def test_a_rediss_url_gives_a_tls_client_that_gives_up_fast() -> None:
    """ElastiCache Serverless: one endpoint, TLS only (no server needed: nothing connects)."""
    cache = RedisBalanceCache.from_url("rediss://cache.example.internal:6379", ttl_seconds=30)
    try:
        pool = cache._client.connection_pool
        assert pool.connection_class is redis.SSLConnection
        assert pool.connection_kwargs["socket_connect_timeout"] == 0.5
        assert pool.connection_kwargs["socket_timeout"] == 0.5
        assert pool.connection_kwargs["retry"].get_retries() == 0
    finally:
        cache.close()
