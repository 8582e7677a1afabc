"""The balance cache: balances in Redis (Valkey in AWS) for a short time.

Read-through: a miss reads the database and stores the balance with a TTL, but only where
no key is (``SET NX``). A write that touches an account fences its key for the time of the
write: before its transaction it replaces the entry by a marker (:data:`WRITING`) that
expires after :data:`WRITE_FENCE_SECONDS`, and after the commit by one that expires after
:data:`SETTLE_SECONDS`; the consumer does the same around recording an account (which may
fill in its owner). A marker reads as a miss and no read can store over it, so:

- a read that read the database before a commit cannot store its older balance after the
  commit (its ``SET NX`` finds the marker; it would have to take longer than
  :data:`SETTLE_SECONDS` between its query and its store to slip through);
- a process killed between its commit and the marker after it (the kill-service fault run,
  bench/faults.md, found the stale balance that a plain delete after the commit left
  there) leaves its account fenced for :data:`WRITE_FENCE_SECONDS`, served from the
  database, then cached afresh.

A cache that was unreachable for a write but kept its data (a network partition, not a
restart: a restarted cache is empty) may serve that account's older balance for up to the
TTL: the write does not wait for the cache.

An entry is keyed by account, whoever asks, and holds the account's owner next to its
balance: the service answers from an entry only a caller the entry names as the owner, and
only the owner's reads write entries (see ``TransfersService.balance``); an entry without
an owner (written before entries had one) answers nobody and stays until it expires. The
cache is an optimization only: when Redis fails, reads fall back to the database and the
failure is logged.

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
# The marker a write leaves in an account's key (not JSON: no entry looks like it).
WRITING = "writing"
# How long a write's marker stands before its commit: longer than any transaction takes
# (the pool gives up on a connection after seconds), so that a process killed after its
# commit cannot leave an older balance to be stored.
WRITE_FENCE_SECONDS = 10
# How long the marker stands after the commit: longer than a read takes between its query
# and its store.
SETTLE_SECONDS = 2


class BalanceCache(Protocol):
    """What the service needs from a balance cache; no method ever raises."""

    def get(self, account_id: uuid.UUID) -> Balance | None: ...

    def put(self, balance: Balance) -> None: ...

    def begin_write(self, *account_ids: uuid.UUID) -> None: ...

    def invalidate(self, *account_ids: uuid.UUID) -> None: ...

    def close(self) -> None: ...


class NoCache:
    """No cache at all (no ``REDIS_URL``)."""

    def get(self, account_id: uuid.UUID) -> Balance | None:
        return None

    def put(self, balance: Balance) -> None:
        return None

    def begin_write(self, *account_ids: uuid.UUID) -> None:
        return None

    def invalidate(self, *account_ids: uuid.UUID) -> None:
        return None

    def close(self) -> None:
        return None


class RedisBalanceCache:
    """Balances as JSON strings under ``transfers:balance:<account id>``: ``currency``,
    ``balance_minor`` and ``owner_sub``.

    The client is redis-py's plain ``redis.Redis`` and every command names one key
    (``begin_write`` and ``invalidate`` send one ``SET`` per account, pipelined without a
    transaction: one round trip, and no MULTI/EXEC, which cluster mode refuses across slots
    too). Why not
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
        if not isinstance(raw, str) or raw == WRITING:
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
            # NX: never over a write's marker (nor over another entry: it expires).
            self._client.set(
                KEY_PREFIX + str(balance.account_id), value, ex=self._ttl_seconds, nx=True
            )
        except redis.RedisError as error:
            logger.warning("balance cache write failed: %s", error)

    def begin_write(self, *account_ids: uuid.UUID) -> None:
        """Fence the accounts' keys before a write (see the module)."""
        self._mark(account_ids, WRITE_FENCE_SECONDS, "fencing")

    def invalidate(self, *account_ids: uuid.UUID) -> None:
        """After a write's commit: drop the accounts' entries, fenced a moment longer."""
        self._mark(account_ids, SETTLE_SECONDS, "invalidation")

    def _mark(self, account_ids: tuple[uuid.UUID, ...], seconds: int, what: str) -> None:
        if not account_ids:
            return
        try:
            # One SET per key: the keys of two accounts are in different hash slots.
            pipeline = self._client.pipeline(transaction=False)
            for account_id in account_ids:
                pipeline.set(KEY_PREFIX + str(account_id), WRITING, ex=seconds)
            pipeline.execute()
        except redis.RedisError as error:
            logger.warning("balance cache %s failed (stale for at most the TTL): %s", what, error)

    def close(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self._client.close()
