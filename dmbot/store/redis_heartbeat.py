"""The Redis store's heartbeat: what an instance renews while it lives.

Every ``lock_ttl / 3`` an instance says it is alive (so partitions are
balanced over the live ones), renews the leases of its inbox partitions, its
conversation locks and its send leases, and notices the ones it lost. A
killed instance stops renewing, and everything it held lapses after
``lock_ttl``: nothing blocks a conversation or a partition for longer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from dmbot.errors import StorageError
from dmbot.store import redis_scripts as lua
from dmbot.store.redis_batch import Batcher
from dmbot.store.redis_inbox import PartitionedInbox
from dmbot.store.redis_locks import ConversationLocks
from dmbot.store.redis_outbox import RedisOutbox, ms

__all__ = ["Heartbeat"]

log = logging.getLogger("dmbot.store.redis")


class Heartbeat:
    """Renews one instance's presence, leases and locks until cancelled."""

    def __init__(
        self,
        batch: Batcher,
        *,
        prefix: str,
        consumer: str,
        lock_ttl: float,
        inbox: PartitionedInbox,
        locks: ConversationLocks,
        outbox: RedisOutbox,
        error: Callable[[str, BaseException], StorageError],
        url: str,
    ) -> None:
        self.batch = batch
        self.prefix = prefix
        self.consumer = consumer
        self.lock_ttl = lock_ttl
        self.inbox = inbox
        self.locks = locks
        self.outbox = outbox
        self.error = error
        self.url = url
        self._down = False
        self._last_tick = 0.0
        self._next_sweep = 0.0

    async def run(self) -> None:
        """Renew leases and locks, and rebalance partitions, until cancelled."""
        while True:
            await asyncio.sleep(self.lock_ttl / 3)
            try:
                await self.tick()
            except (RedisError, OSError) as exc:
                if not self._down:
                    log.error(
                        "%s; retrying every %.1f s",
                        self.error("renew leases", exc),
                        self.lock_ttl / 3,
                    )
                self._down = True
            except Exception:
                # Never let the keepalive die: a dead keepalive loses every lease.
                log.exception("the Redis keepalive failed; retrying")
            else:
                if self._down:
                    log.warning("Redis store %s is reachable again", self.url)
                self._down = False

    async def tick(self) -> None:
        """Renew once: the instance's presence, its partition leases, locks and send leases."""
        now = time.monotonic()
        late = now - self._last_tick
        if self._last_tick and late > self.lock_ttl * 2 / 3:
            log.warning(
                "leases renewed %.2f s after the last renewal, with lock_ttl %g s: some may have "
                "lapsed; the machine or the event loop is overloaded, or raise redis.lock_ttl",
                late,
                self.lock_ttl,
            )
        self._last_tick = now
        live = await self.batch.script(
            lua.HEARTBEAT, [f"{self.prefix}:instances"], [self.consumer, ms(self.lock_ttl)]
        )
        partitions = self.inbox.held()
        locks = list(self.locks.held.items())
        sends = self.outbox.held()
        keys = [k for k, _ in partitions] + [k for k, _ in locks] + [k for _, k in sends]
        if keys:
            tokens = [self.consumer] * len(partitions) + [t for _, t in locks]
            tokens += [self.consumer] * len(sends)
            started = time.monotonic()
            results = await self.batch.script(lua.RENEW, keys, [ms(self.lock_ttl), *tokens])
            outcome = dict(zip(keys, (bool(r) for r in results), strict=True))
            for key, partition in partitions:
                if not outcome[key]:
                    log.warning(
                        "lost the lease of inbox partition %d to another instance", partition
                    )
                self.inbox.renewed(partition, outcome[key], started)
            for key, token in locks:
                if not outcome[key] and self.locks.held.get(key) == token:
                    log.warning("lost the lock %s: a handler ran longer than lock_ttl", key)
            for item_id, key in sends:
                if not outcome[key] and self.outbox.lost(item_id, key):
                    log.warning("the send lease %s lapsed: another instance may send it too", key)
        await self.inbox.retry_acks()
        await self.inbox.balance(int(live))
        if now >= self._next_sweep:
            self._next_sweep = now + 600.0
            await self.inbox.sweep()
