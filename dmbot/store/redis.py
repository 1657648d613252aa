"""The shared store: Redis, for any number of ``dmbot serve`` instances.

``store: redis://HOST:PORT/DB`` lets several instances behind a load
balancer behave like one. What lives where (every key starts with
``redis.prefix``):

- **inbox**: N partition streams with one consumer group
  (:mod:`dmbot.store.redis_inbox`). The webhook appends each delivery to the
  partition of its conversation; each partition is leased to one instance,
  and pending deliveries of a dead instance are claimed by the next owner.
- **claims**: one sorted set of event ids scored by claim time. The commit is
  one Lua script: claim the id (taken: write nothing), set the conversation's
  JSON document and append its replies to the outbox, so the claim, the state
  and the replies are one transaction. Redis does not undo a script's writes
  when a later command fails, so the script checks every key it writes before
  the first write. Claims older than
  ``claim_ttl`` are dropped as commits go and by ``expire_claims``.
- **conversation locks** (:mod:`dmbot.store.redis_locks`):
  ``SET lock NX PX lock_ttl``, renewed every
  ``lock_ttl / 3`` while held, released only by the holder; a killed
  instance blocks a conversation for ``lock_ttl`` at most.
- **outbox** (:mod:`dmbot.store.redis_outbox`): one hash per row, one queue
  per conversation, and a sorted set of conversations by the time their head
  row is due. ``due`` hands out a head only with the conversation's send
  lease, so two instances never send the same reply at once; finished rows
  are kept ``claim_ttl`` for ``outbox`` and ``delivered``.

Commands are pipelined per turn of the event loop
(:mod:`dmbot.store.redis_batch`), so concurrent lanes share round trips.

Ordering across instances. Events of one conversation are handled one at a
time and in DM id order whichever instance received the POST, because (1)
the partition is chosen from the conversation, so all its deliveries are in
one stream, in arrival order; (2) one instance reads a partition at a time,
and a new owner finishes the previous owner's pending deliveries before
reading new ones; (3) the worker's lane orders a conversation's events by DM
id within its reorder window; (4) the conversation lock serializes the rare
overlap (a slow instance that lost its lease, events of one conversation
whose hints differ, such as a follow and a DM). Partitioning, rather than
one stream read by everyone under a lock, keeps instances from waiting on
each other's conversations and keeps the order without a global lock.

Durability is Redis's: ``append`` returns once Redis holds the delivery;
run Redis with ``appendonly yes`` to keep it across a Redis restart. One
Redis server (or a primary with replicas) is assumed, not Redis Cluster.
Redis errors raise :class:`~dmbot.errors.StorageError` (the webhook answers
503, X retries); the client reconnects by itself when Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError, ResponseError

from dmbot.errors import StorageError
from dmbot.store import redis_scripts as lua
from dmbot.store.base import Commit, InboxItem, OutboxItem, Store, StoreDepth, describe
from dmbot.store.redis_batch import Batcher
from dmbot.store.redis_heartbeat import Heartbeat
from dmbot.store.redis_inbox import PartitionedInbox
from dmbot.store.redis_locks import ConversationLocks
from dmbot.store.redis_outbox import RedisOutbox, ms, text
from dmbot.types import ConversationKey, JSONObject

__all__ = ["RedisStore"]

log = logging.getLogger("dmbot.store.redis")


class RedisStore(Store):
    """The store for several instances: ``store: redis://HOST:PORT/DB``.

    Args:
        url: the Redis URL (``redis://`` or ``rediss://``, with the db number).
        prefix: the namespace of every key, so several bots share a Redis.
        partitions: inbox streams; more than the instances you will run.
        reclaim_idle: seconds after which a delivery handed out but not
            acknowledged is handed out again.
        lock_ttl: seconds a lease or lock outlives an instance that stopped
            renewing it (killed, or cut off from Redis).
        consumer: this instance's name in the consumer group (unique).
        claim_ttl: seconds event ids and finished outbox rows are kept.
        read_block: longest wait of ``read`` for a delivery.
    """

    shared = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "dmbot",
        partitions: int = 16,
        reclaim_idle: float = 30.0,
        lock_ttl: float = 30.0,
        consumer: str = "",
        claim_ttl: float = 7 * 24 * 3600.0,
        read_block: float = 1.0,
        **_: Any,
    ) -> None:
        if partitions < 1:
            raise ValueError(f"partitions is {partitions}; it must be at least 1")
        self.url = url
        self.prefix = prefix
        self.partitions = partitions
        self.lock_ttl = lock_ttl
        self.claim_ttl = claim_ttl
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        # Callers wait for a free connection instead of failing under a burst of POSTs.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=64,
            timeout=5.0,
            socket_connect_timeout=2.0,
            socket_timeout=max(5.0, read_block + 3.0),
            # One quick retry rides over a connection Redis closed while idle.
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), 1),
        )
        self.client: Redis = Redis.from_pool(pool)
        self.batch = Batcher(self.client)
        self.inbox = PartitionedInbox(
            self.client,
            self.batch,
            prefix=prefix,
            partitions=partitions,
            consumer=self.consumer,
            lock_ttl=lock_ttl,
            reclaim_idle=reclaim_idle,
            read_block=read_block,
        )
        self.outbox_rows = RedisOutbox(
            self.batch, prefix=prefix, token=self.consumer, lock_ttl=lock_ttl, claim_ttl=claim_ttl
        )
        self.locks = ConversationLocks(
            self.batch, prefix=prefix, lock_ttl=lock_ttl, describe=self._describe
        )
        self._keepalive: asyncio.Task[None] | None = None
        self.heartbeat = Heartbeat(
            self.batch,
            prefix=prefix,
            consumer=self.consumer,
            lock_ttl=lock_ttl,
            inbox=self.inbox,
            locks=self.locks,
            outbox=self.outbox_rows,
            error=self._error,
            url=describe(url),
        )

    # -- errors --------------------------------------------------------------
    def _error(self, what: str, exc: BaseException) -> StorageError:
        return StorageError(self._describe(what, exc))

    def _describe(self, what: str, exc: BaseException) -> str:
        detail = str(exc)
        password = self.client.connection_pool.connection_kwargs.get("password")
        if password:
            detail = detail.replace(str(password), "***")
        if isinstance(exc, ResponseError):
            fix = (
                "Redis refused the command; dmbot needs Redis 6.2 or later, writable and "
                "below its maxmemory"
            )
        else:
            fix = (
                "check that Redis is running and reachable at that address, or change "
                "`store:` in config.yaml"
            )
        return f"Redis store {describe(self.url)}: could not {what} ({detail}); {fix}"

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            raise self._error(what, exc) from exc

    def _key(self, kind: str, conversation: ConversationKey) -> str:
        return f"{self.prefix}:{kind}:{conversation[0]}:{conversation[1]}"

    # -- lifecycle -----------------------------------------------------------
    async def open(self) -> None:
        if self._keepalive is not None:
            return
        with self._errors("connect"):
            await self.client.ping()
            await self.inbox.create_groups()
            await self.heartbeat.tick()
        self._keepalive = asyncio.create_task(self.heartbeat.run(), name="dmbot-redis-keepalive")

    async def close(self) -> None:
        task, self._keepalive = self._keepalive, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.inbox.release_all()
            leases = sorted({key for _, key in self.outbox_rows.held()})
            if leases:
                await self.batch.script(lua.RELEASE, leases, [self.consumer] * len(leases))
            await self.batch.call("ZREM", f"{self.prefix}:instances", self.consumer)
        except (RedisError, OSError) as exc:
            log.warning("could not hand back leases on close (they expire by themselves): %s", exc)
        self.outbox_rows.leases.clear()
        await self.client.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False

    async def drop(self) -> int:
        """Delete every key under this store's prefix (a bot's whole history); return how many.

        For tests and for retiring a bot; other prefixes in the same Redis stay.
        """
        pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in self.prefix) + ":*"
        removed = 0
        with self._errors("delete the store's keys"):
            keys: list[Any] = []
            async for key in self.client.scan_iter(match=pattern, count=500):
                keys.append(key)
                if len(keys) >= 500:
                    removed += int(await self.client.unlink(*keys))
                    keys = []
            if keys:
                removed += int(await self.client.unlink(*keys))
        return removed

    # -- inbox ---------------------------------------------------------------
    async def append(self, body: bytes, received_at: float, partition: str = "") -> str:
        with self._errors("store a delivery"):
            return await self.inbox.append(body, received_at, partition)

    async def read(self, limit: int = 256) -> list[InboxItem]:
        with self._errors("read the inbox"):
            return await self.inbox.read(limit)

    async def ack(self, ids: Sequence[str]) -> None:
        with self._errors("acknowledge deliveries"):
            await self.inbox.ack(ids)

    async def inbox_size(self) -> int:
        with self._errors("count the inbox"):
            return await self.inbox.size()

    # -- locks ---------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def locked(self, conversation: ConversationKey) -> AsyncIterator[None]:
        """Hold the conversation across instances while one of its events is handled.

        Waits while another instance holds it (at most ``lock_ttl`` when that
        instance is dead), and, when Redis is unreachable, until it is back:
        nothing can be handled without it anyway.
        """
        async with self.locks.locked(conversation):
            yield

    # -- claims and conversations --------------------------------------------
    async def claimed(self, event_id: str) -> bool:
        with self._errors("check an event claim"):
            score = await self.batch.call("ZSCORE", f"{self.prefix}:claims", event_id)
        return score is not None

    async def load(self, conversation: ConversationKey) -> JSONObject:
        with self._errors("load a conversation"):
            raw = await self.batch.call("GET", self._key("doc", conversation))
        return dict(json.loads(raw)) if raw else {}

    async def commit(self, commit: Commit) -> bool:
        now = time.time()
        account, peer = commit.conversation
        state = "" if commit.state is None else json.dumps(commit.state, separators=(",", ":"))
        args: list[Any] = [
            self.prefix,
            repr(now),
            commit.event_id,
            repr(now - self.claim_ttl),
            "0" if commit.state is None else "1",
            state,
            f"{account}:{peer}",
            account,
            peer,
            len(commit.actions),
        ]
        for action in commit.actions:
            args += [action.kind, json.dumps(action.payload, separators=(",", ":"))]
        with self._errors("commit an event"):
            committed = bool(await self.batch.script(lua.COMMIT, [], args))
            if committed and commit.ack:
                # After the commit, not in it: an acknowledgement lost to a crash only
                # replays the delivery, and the claim drops it.
                await self.inbox.ack(commit.ack)
            return committed

    async def expire_claims(self, older_than: float) -> int:
        with self._errors("expire old claims"):
            cutoff = repr(older_than)
            claims, rows = await self.batch.script(lua.EXPIRE, [], [self.prefix, cutoff, "1", 500])
            while int(rows) == 500:
                _, rows = await self.batch.script(lua.EXPIRE, [], [self.prefix, cutoff, "0", 500])
        return int(claims)

    # -- outbox --------------------------------------------------------------
    async def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        with self._errors("read the outbox"):
            return await self.outbox_rows.due(now, limit)

    async def sent(self, item_id: int, sent_id: str) -> None:
        with self._errors("record a send"):
            await self.outbox_rows.finish(item_id, "sent", sent_id, "")

    async def attempting(self, item_id: int, at: float) -> bool:
        with self._errors("record a send starting"):
            return await self.outbox_rows.attempting(item_id, at)

    async def retry_later(
        self, item_id: int, next_at: float, error: str, *, uncertain: bool = False
    ) -> None:
        with self._errors("schedule a retry"):
            mode = "uncertain" if uncertain else "retry"
            await self.outbox_rows.finish(item_id, mode, repr(next_at), error)

    async def failed(self, item_id: int, error: str, code: int | None) -> None:
        with self._errors("record a failed send"):
            await self.outbox_rows.finish(
                item_id, "failed", error, "" if code is None else str(code)
            )

    async def outbox(self, conversation: ConversationKey | None = None) -> list[OutboxItem]:
        with self._errors("read the outbox"):
            return await self.outbox_rows.rows(conversation)

    async def delivered(self, sent_id: str, *, ack: Sequence[str] = ()) -> bool:
        with self._errors("mark a send delivered"):
            found = await self.outbox_rows.delivered(sent_id)
            if found and ack:
                await self.inbox.ack(ack)
            return found

    async def depth(self) -> StoreDepth:
        with self._errors("count what waits"):
            inbox = await self.inbox.size()
            oldest = await self.inbox.oldest()
            kept = await self.batch.call("ZCARD", f"{self.prefix}:ob:all")
            done = await self.batch.call("ZCARD", f"{self.prefix}:ob:done")
        return StoreDepth(inbox, oldest, max(0, int(kept) - int(done)))

    # -- facts ---------------------------------------------------------------
    async def lease(self, name: str, holder: str, ttl: float) -> bool:
        with self._errors(f"take the lease {name}"):
            got = await self.batch.script(
                lua.ACQUIRE, [f"{self.prefix}:lease:{name}"], [holder, ms(ttl), 1]
            )
        return bool(got)

    async def release(self, name: str, holder: str) -> None:
        with self._errors(f"release the lease {name}"):
            await self.batch.script(lua.RELEASE, [f"{self.prefix}:lease:{name}"], [holder])

    async def get_fact(self, key: str) -> str | None:
        with self._errors("read a fact"):
            value = await self.batch.call("HGET", f"{self.prefix}:facts", key)
        return None if value is None else text(value)

    async def set_fact(self, key: str, value: str) -> None:
        with self._errors("write a fact"):
            await self.batch.call("HSET", f"{self.prefix}:facts", key, value)
