"""The balance cache: balances in Redis (Valkey in AWS) for a short time.

Read-through: a miss reads the database and stores the balance with a TTL. Every committed
write that touches an account deletes its entry afterwards, and so does the consumer after
it records an account (which may fill in its owner).

An entry is keyed by account, whoever asks, and holds the account's owner next to its
balance: the service answers from an entry only a caller the entry names as the owner, and
only the owner's reads write entries (see ``TransfersService.balance``); an entry without
an owner (written before entries had one) answers nobody. The cache is an optimization
only: when Redis fails, reads fall back to the database and the failure is logged, and a
deletion that fails leaves a stale entry for at most the TTL. So does a read that races a
write: it may store the balance it read just before the write committed and invalidated.

Every command touches one key, so the cache works in cluster mode, which ElastiCache
Serverless always is: there a command over keys of different hash slots (a ``DEL`` of two
accounts) fails with CROSSSLOT. See :class:`RedisBalanceCache` for why the client is a plain
one and not redis-py's cluster client.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from typing import Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from transfers_service.ledger import Balance

logger = logging.getLogger(__name__)

KEY_PREFIX = "transfers:balance:"


class BalanceCache(Protocol):
    """What the service needs from a balance cache; no method ever raises."""

    def get(self, account_id: uuid.UUID) -> Balance | None: ...

    def put(self, balance: Balance) -> None: ...

    def invalidate(self, *account_ids: uuid.UUID) -> None: ...

    def close(self) -> None: ...


class NoCache:
    """No cache at all (no ``REDIS_URL``)."""

    def get(self, account_id: uuid.UUID) -> Balance | None:
        return None

    def put(self, balance: Balance) -> None:
        return None

    def invalidate(self, *account_ids: uuid.UUID) -> None:
        return None

    def close(self) -> None:
        return None


class RedisBalanceCache:
    """Balances as JSON strings under ``transfers:balance:<account id>``: ``currency``,
    ``balance_minor`` and ``owner_sub``.

    The client is redis-py's plain ``redis.Redis`` and every command names one key
    (``invalidate`` sends one ``DEL`` per account, pipelined without a transaction: one
    round trip, and no MULTI/EXEC, which cluster mode refuses across slots too). Why not
    ``redis.cluster.RedisCluster``:

    - ElastiCache Serverless has one endpoint (TLS, ``rediss://``) that routes each
      single-key command to its shard itself, so slot-aware routing in the client buys
      nothing; and the same client keeps working against a node-based cache with cluster
      mode disabled (``Cache(mode="node")``) and a local standalone Redis, where
      ``RedisCluster`` fails ("Cluster mode is not enabled on this node").
    - ``RedisCluster`` connects and reads the slot map when it is created, so a cache that
      is down at startup would stop the service, and on a connection error it refreshes the
      topology and retries; the plain client with short socket timeouts and no retries
      gives up within about half a second, which is what a cache that is only an
      optimization needs.
    """

    def __init__(self, client: redis.Redis, *, ttl_seconds: int) -> None:
        self._client = client
        self._ttl_seconds = ttl_seconds

    @classmethod
    def from_url(cls, url: str, *, ttl_seconds: int) -> RedisBalanceCache:
        """A client for ``url`` (``rediss://`` for TLS) that gives up fast when Redis is down."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), retries=0),
            health_check_interval=30,
            decode_responses=True,
        )
        return cls(client, ttl_seconds=ttl_seconds)

    def get(self, account_id: uuid.UUID) -> Balance | None:
        try:
            raw = self._client.get(KEY_PREFIX + str(account_id))
        except redis.RedisError as error:
            logger.warning("balance cache read failed, using the database: %s", error)
            return None
        if not isinstance(raw, str):
            return None
        try:
            cached = json.loads(raw)
            owner_sub = cached.get("owner_sub")
            return Balance(
                account_id=account_id,
                currency=str(cached["currency"]),
                balance_minor=int(cached["balance_minor"]),
                owner_sub=owner_sub if isinstance(owner_sub, str) else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("ignoring a malformed balance cache entry for %s", account_id)
            return None

    def put(self, balance: Balance) -> None:
        value = json.dumps(
            {
                "currency": balance.currency,
                "balance_minor": balance.balance_minor,
                "owner_sub": balance.owner_sub,
            }
        )
        try:
            self._client.set(KEY_PREFIX + str(balance.account_id), value, ex=self._ttl_seconds)
        except redis.RedisError as error:
            logger.warning("balance cache write failed: %s", error)

    def invalidate(self, *account_ids: uuid.UUID) -> None:
        if not account_ids:
            return
        try:
            # One DEL per key: the keys of two accounts are in different hash slots.
            pipeline = self._client.pipeline(transaction=False)
            for account_id in account_ids:
                pipeline.delete(KEY_PREFIX + str(account_id))
            pipeline.execute()
        except redis.RedisError as error:
            logger.warning(
                "balance cache invalidation failed (stale for at most the TTL): %s", error
            )

    def close(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self._client.close()
