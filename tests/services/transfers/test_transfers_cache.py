"""The balance cache on a real Redis in cluster mode (as ElastiCache Serverless is): served
from it, fenced and invalidated by writes, optional."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.crc import key_slot
from transfers_support import (
    CALLER,
    OTHER_CALLER,
    Ledger,
    ServiceServer,
    account_opened,
    body,
)

from tools.test_servers import RedisServer, free_port
from transfers_service.cache import (
    KEY_PREFIX,
    SETTLE_SECONDS,
    WRITE_FENCE_SECONDS,
    WRITING,
    BalanceCache,
    RedisBalanceCache,
)
from transfers_service.consumer import AccountEventsConsumer
from transfers_service.events import ContractRegistry
from transfers_service.ledger import Balance
from transfers_service.service import TransfersService
from transfers_service.settings import Settings


def assert_fenced(client: redis.Redis, account: uuid.UUID, *, seconds: int) -> None:
    """The account's key holds a write's marker, expiring within ``seconds``: no entry."""
    key = KEY_PREFIX + str(account)
    assert client.get(key) == WRITING
    assert 0 < client.ttl(key) <= seconds


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
    assert json.loads(redis_client.get(key)) == {
        "currency": "EUR",
        "balance_minor": 1_000,
        "owner_sub": CALLER,
    }
    assert 0 < redis_client.ttl(key) <= 30
    # Served from the cache: a value planted there is what the API answers.
    redis_client.set(key, _entry(999, CALLER), ex=30)
    assert api.balance(alice) == 999

    assert api.transfer(alice, bob, 300).status_code == 201

    assert_fenced(redis_client, alice, seconds=SETTLE_SECONDS)
    assert api.balance(alice) == 700
    assert api.balance(bob) == 300
    # A read does not store over the marker: the database answers until it expires.
    assert redis_client.get(key) == WRITING


def _entry(balance_minor: int, owner_sub: str | None = None, *, with_owner: bool = True) -> str:
    """A cache entry as the service writes it (``with_owner=False``: as it wrote them
    before entries named the owner)."""
    entry: dict[str, object] = {"currency": "EUR", "balance_minor": balance_minor}
    if with_owner:
        entry["owner_sub"] = owner_sub
    return json.dumps(entry)


def test_a_cached_balance_is_served_to_its_owner_only(
    api: ServiceServer, ledger: Ledger, redis_client: redis.Redis
) -> None:
    alice = ledger.open_account(balance=1_000)
    assert api.balance(alice) == 1_000  # cached now, keyed by the account alone
    key = KEY_PREFIX + str(alice)
    redis_client.set(key, _entry(999, CALLER), ex=30)  # so a cache hit shows

    response = api.get(f"/transfers/accounts/{alice}/balance", caller=OTHER_CALLER)

    assert response.status_code == 404, response.text
    assert response.json() == {
        "message": f"account {alice} does not exist",
        "code": "account_not_found",
    }
    assert api.balance(alice) == 999  # the owner is still served from it, untouched


@pytest.mark.parametrize(
    "entry",
    [_entry(999, None), _entry(999, with_owner=False), _entry(999, OTHER_CALLER)],
    ids=["owner-null", "no-owner-field", "other-owner"],
)
def test_an_entry_not_naming_the_caller_as_owner_is_not_served_and_left_to_expire(
    api: ServiceServer, ledger: Ledger, redis_client: redis.Redis, entry: str
) -> None:
    alice = ledger.open_account(balance=1_000)
    key = KEY_PREFIX + str(alice)
    redis_client.set(key, entry, ex=30)

    assert api.balance(alice) == 1_000  # from the database

    # Reads store only where no key is (a marker or an entry): this one expires by itself.
    assert redis_client.get(key) == entry


def test_an_owner_filled_in_is_served_at_once(
    api: ServiceServer,
    ledger: Ledger,
    registry: ContractRegistry,
    cache: BalanceCache,
    redis_client: redis.Redis,
) -> None:
    alice = ledger.open_account(balance=100)
    legacy = ledger.open_account(owner=None)  # recorded before accounts had owners
    assert api.transfer(alice, legacy, 40).status_code == 201  # to anyone's, even nobody's
    refused = api.get(f"/transfers/accounts/{legacy}/balance")
    assert refused.status_code == 404, refused.text  # nobody's
    assert redis_client.get(KEY_PREFIX + str(legacy)) in (None, WRITING)  # no entry for it
    redis_client.set(KEY_PREFIX + str(legacy), _entry(40, None), ex=30)  # an older entry

    class Sqs:
        def delete_message(self, **kwargs: object) -> dict[str, object]:
            return {}

        def receive_message(self, **kwargs: object) -> dict[str, object]:
            raise AssertionError("not polled")

    consumer = AccountEventsConsumer(api.runtime.pool, Sqs(), "queue", registry, cache)
    event = body(account_opened(legacy, owner=CALLER))
    assert consumer.handle({"MessageId": "m", "Body": event, "ReceiptHandle": "r"}) == "duplicates"

    assert_fenced(redis_client, legacy, seconds=SETTLE_SECONDS)  # the older entry is gone
    assert api.balance(legacy) == 40


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
        cache.begin_write(alice, bob)
        assert_fenced(redis_client, alice, seconds=WRITE_FENCE_SECONDS)
        assert_fenced(redis_client, bob, seconds=WRITE_FENCE_SECONDS)
        cache.invalidate(alice, bob)

    assert_fenced(redis_client, alice, seconds=SETTLE_SECONDS)
    assert_fenced(redis_client, bob, seconds=SETTLE_SECONDS)
    assert "failed" not in caplog.text


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

    assert_fenced(redis_client, account, seconds=SETTLE_SECONDS)
    assert api.balance(account) == 50


def test_a_read_that_queried_before_a_commit_cannot_store_its_older_balance(
    cache: BalanceCache, ledger: Ledger, service: TransfersService, redis_client: redis.Redis
) -> None:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()
    before = Balance(account_id=alice, currency="EUR", balance_minor=1_000, owner_sub=CALLER)
    fenced = TransfersService(service.pool, service._registry, cache)

    # A read missed the cache and read 1,000; meanwhile a transfer commits...
    fenced.create_transfer(
        caller_sub=CALLER,
        idempotency_key=str(uuid.uuid4()),
        from_account_id=alice,
        to_account_id=bob,
        amount_minor=300,
        currency="EUR",
    )
    # ...and the read stores what it read, late: refused by the marker.
    cache.put(before)

    assert cache.get(alice) is None
    assert fenced.balance(alice, caller_sub=CALLER) == Balance(
        account_id=alice, currency="EUR", balance_minor=700, owner_sub=CALLER
    )


def test_a_process_killed_between_commit_and_invalidation_leaves_no_stale_entry(
    cache: BalanceCache,
    ledger: Ledger,
    service: TransfersService,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, bob = ledger.open_account(balance=1_000), ledger.open_account()
    fenced = TransfersService(service.pool, service._registry, cache)
    assert fenced.balance(alice, caller_sub=CALLER) is not None  # cached: 1,000

    class Killed(BaseException):
        """The process dies: nothing after the commit runs, the finally blocks neither."""

    def die_after_commit(*account_ids: uuid.UUID) -> None:
        raise Killed

    monkeypatch.setattr(cache, "invalidate", die_after_commit)
    with pytest.raises(Killed):
        fenced.create_transfer(
            caller_sub=CALLER,
            idempotency_key=str(uuid.uuid4()),
            from_account_id=alice,
            to_account_id=bob,
            amount_minor=300,
            currency="EUR",
        )

    assert ledger.balance(alice) == 700  # committed
    # The entry from before the write is gone; the marker holds reads off the cache, and
    # a read stores nothing until it expires.
    assert_fenced(redis_client, alice, seconds=WRITE_FENCE_SECONDS)
    assert fenced.balance(alice, caller_sub=CALLER) == Balance(
        account_id=alice, currency="EUR", balance_minor=700, owner_sub=CALLER
    )
    assert redis_client.get(KEY_PREFIX + str(alice)) == WRITING


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
