"""The shared store: Redis, for any number of ``dmbot serve`` instances.

``store: redis://HOST:PORT/DB`` lets several instances behind a load
balancer behave like one. What lives where (every key starts with
``redis.prefix``):

- **inbox**: N partition streams with one consumer group
  (:mod:`dmbot.store.redis_inbox`). The webhook appends each delivery to the
  partition of its conversation; each partition is leased to one instance,
  and pending deliveries of a dead instance are claimed by the next owner.
- **claims**: one sorted set of event ids scored by claim time. The commit is
  one Lua script: claim the id (``ZADD NX``; taken: write nothing), set the
  conversation's JSON document and append its replies to the outbox, so the
  claim, the state and the replies are one transaction. Claims older than
  ``claim_ttl`` are dropped as commits go and by ``expire_claims``.
- **conversation locks**: ``SET lock NX PX lock_ttl``, renewed every
  ``lock_ttl / 3`` while held, released only by the holder; a killed
  instance blocks a conversation for ``lock_ttl`` at most.
- **outbox**: one hash per row, one queue per conversation, and a sorted set
  of conversations by the time their head row is due. ``due`` hands out a
  head only with the conversation's send lease, so two instances never send
  the same reply at once; finished rows are kept ``claim_ttl`` for
  ``outbox`` and ``delivered``.

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
import collections
import contextlib
import json
import logging
import os
import random
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
from dmbot.store.base import Commit, InboxItem, OutboxItem, OutboxStatus, Store, describe
from dmbot.store.redis_inbox import PartitionedInbox
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
        self.reclaim_idle = reclaim_idle
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
        self.inbox = PartitionedInbox(
            self.client,
            prefix=prefix,
            partitions=partitions,
            consumer=self.consumer,
            lock_ttl=lock_ttl,
            reclaim_idle=reclaim_idle,
            read_block=read_block,
        )
        script = self.client.register_script
        self._commit, self._expire, self._due = (
            script(lua.COMMIT),
            script(lua.EXPIRE),
            script(lua.DUE),
        )
        self._finish, self._delivered = script(lua.FINISH), script(lua.DELIVERED)
        self._renew, self._release = script(lua.RENEW), script(lua.RELEASE)
        self._heartbeat, self._acquire = script(lua.HEARTBEAT), script(lua.ACQUIRE)
        self._locks: dict[str, str] = {}
        """Conversation lock key -> token, while held (renewed in the background)."""
        self._send_leases: dict[int, str] = {}
        """Outbox row id -> its conversation's send-lease key, while held."""
        self._finished: set[int] = set()
        """Outbox rows this instance finished in the last minute."""
        self._finished_order: collections.deque[tuple[float, int]] = collections.deque()
        self._keepalive: asyncio.Task[None] | None = None
        self._down = False
        self._last_tick = 0.0
        self._next_sweep = 0.0

    # -- errors --------------------------------------------------------------
    def _error(self, what: str, exc: BaseException) -> StorageError:
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
        return StorageError(f"Redis store {describe(self.url)}: could not {what} ({detail}); {fix}")

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
            await self._tick()
        self._keepalive = asyncio.create_task(self._keep_alive(), name="dmbot-redis-keepalive")

    async def close(self) -> None:
        task, self._keepalive = self._keepalive, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.inbox.release_all()
            leases = sorted(set(self._send_leases.values()))
            if leases:
                await self._release(keys=leases, args=[self.consumer] * len(leases))
            await self.client.zrem(f"{self.prefix}:instances", self.consumer)
        except (RedisError, OSError) as exc:
            log.warning("could not hand back leases on close (they expire by themselves): %s", exc)
        self._send_leases.clear()
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
            batch: list[Any] = []
            async for key in self.client.scan_iter(match=pattern, count=500):
                batch.append(key)
                if len(batch) >= 500:
                    removed += int(await self.client.unlink(*batch))
                    batch = []
            if batch:
                removed += int(await self.client.unlink(*batch))
        return removed

    async def _keep_alive(self) -> None:
        """Renew leases and locks, and rebalance partitions, until cancelled."""
        while True:
            await asyncio.sleep(self.lock_ttl / 3)
            try:
                await self._tick()
            except (RedisError, OSError) as exc:
                if not self._down:
                    log.error(
                        "%s; retrying every %.1f s",
                        self._error("renew leases", exc),
                        self.lock_ttl / 3,
                    )
                self._down = True
            except Exception:
                # Never let the keepalive die: a dead keepalive loses every lease.
                log.exception("the Redis keepalive failed; retrying")
            else:
                if self._down:
                    log.warning("Redis store %s is reachable again", describe(self.url))
                self._down = False

    async def _tick(self) -> None:
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
        live = await self._heartbeat(
            keys=[f"{self.prefix}:instances"], args=[self.consumer, _ms(self.lock_ttl)]
        )
        partitions = self.inbox.held()
        locks = list(self._locks.items())
        held = dict(self._send_leases)
        sends = sorted(set(held.values()))
        keys = [key for key, _ in partitions] + [key for key, _ in locks] + sends
        if keys:
            tokens = [self.consumer] * len(partitions) + [t for _, t in locks]
            tokens += [self.consumer] * len(sends)
            started = time.monotonic()
            results = await self._renew(keys=keys, args=[_ms(self.lock_ttl), *tokens])
            outcome = dict(zip(keys, (bool(r) for r in results), strict=True))
            for key, partition in partitions:
                if not outcome[key]:
                    log.warning(
                        "lost the lease of inbox partition %d to another instance", partition
                    )
                self.inbox.renewed(partition, outcome[key], started)
            for key, token in locks:
                if not outcome[key] and self._locks.get(key) == token:
                    log.warning("lost the lock %s: a handler ran longer than lock_ttl", key)
            # Only rows held before the renewal was sent: a row finished meanwhile
            # released the lease itself, and a row handed out meanwhile took it anew.
            for item_id, key in held.items():
                if not outcome[key] and self._send_leases.get(item_id) == key:
                    del self._send_leases[item_id]
                    log.warning("the send lease %s lapsed: another instance may send it too", key)
        await self.inbox.balance(int(live))
        if now >= self._next_sweep:
            self._next_sweep = now + 600.0
            await self.inbox.sweep()

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
        key = self._key("lock", conversation)
        token = uuid.uuid4().hex
        await self._acquire_lock(key, token)
        self._locks[key] = token
        try:
            yield
        finally:
            self._locks.pop(key, None)
            try:
                await self._release(keys=[key], args=[token])
            except (RedisError, OSError) as exc:
                log.warning(
                    "could not release %s (it expires in %g s): %s", key, self.lock_ttl, exc
                )

    async def _acquire_lock(self, key: str, token: str) -> None:
        delay = 0.002
        failing = False
        while True:
            try:
                # Held under our token counts too: a reply lost on the way back.
                if await self._acquire(keys=[key], args=[token, _ms(self.lock_ttl), 1]):
                    return
                failing = False
            except (RedisError, OSError) as exc:
                if not failing:
                    log.error("%s; waiting for Redis", self._error(f"take the lock {key}", exc))
                failing = True
                delay = max(delay, 0.5)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0 if failing else 0.1)

    # -- claims and conversations --------------------------------------------
    async def claimed(self, event_id: str) -> bool:
        with self._errors("check an event claim"):
            return await self.client.zscore(f"{self.prefix}:claims", event_id) is not None

    async def load(self, conversation: ConversationKey) -> JSONObject:
        with self._errors("load a conversation"):
            raw = await self.client.get(self._key("doc", conversation))
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
            return bool(await self._commit(keys=[], args=args))

    async def expire_claims(self, older_than: float) -> int:
        removed = 0
        with self._errors("expire old claims"):
            claims, rows = await self._expire(
                keys=[], args=[self.prefix, repr(older_than), "1", 500]
            )
            removed = int(claims)
            while int(rows) == 500:
                _, rows = await self._expire(
                    keys=[], args=[self.prefix, repr(older_than), "0", 500]
                )
        return removed

    # -- outbox --------------------------------------------------------------
    async def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        with self._errors("read the outbox"):
            found = await self._due(
                keys=[],
                args=[
                    self.prefix,
                    repr(now),
                    self.consumer,
                    limit,
                    _ms(self.lock_ttl),
                    4 * limit + 64,
                ],
            )
        # A row this instance finished while the script ran was read as still pending:
        # handing it out again would send it twice.
        cutoff = time.monotonic() - 60.0
        while self._finished_order and self._finished_order[0][0] < cutoff:
            self._finished.discard(self._finished_order.popleft()[1])
        items = sorted(
            (
                item
                for item in (_outbox_item(row_id, fields) for row_id, fields in found)
                if item.id not in self._finished
            ),
            key=lambda i: i.id,
        )
        for item in items:
            self._send_leases[item.id] = f"{self.prefix}:send:{item.account}:{item.peer}"
        return items

    async def _finish_row(self, item_id: int, mode: str, *args: Any) -> None:
        with self._errors("update the outbox"):
            await self._finish(
                keys=[],
                args=[self.prefix, item_id, self.consumer, mode, *args, _ms(self.claim_ttl)],
            )
        self._send_leases.pop(item_id, None)
        if mode != "retry":
            self._finished.add(item_id)
            self._finished_order.append((time.monotonic(), item_id))

    async def sent(self, item_id: int, sent_id: str) -> None:
        await self._finish_row(item_id, "sent", sent_id, "")

    async def retry_later(self, item_id: int, next_at: float, error: str) -> None:
        await self._finish_row(item_id, "retry", repr(next_at), error)

    async def failed(self, item_id: int, error: str, code: int | None) -> None:
        await self._finish_row(item_id, "failed", error, "" if code is None else str(code))

    async def outbox(self, conversation: ConversationKey | None = None) -> list[OutboxItem]:
        index = f"{self.prefix}:ob:all" if conversation is None else self._key("obc", conversation)
        with self._errors("read the outbox"):
            ids = [int(_text(i)) for i in await self.client.zrange(index, 0, -1)]
            async with self.client.pipeline(transaction=False) as pipe:
                for item_id in ids:
                    pipe.hgetall(f"{self.prefix}:ob:{item_id}")
                rows = await pipe.execute()
        return [_outbox_item(i, fields) for i, fields in zip(ids, rows, strict=True) if fields]

    async def delivered(self, sent_id: str) -> bool:
        if not sent_id:
            return False
        with self._errors("mark a send delivered"):
            return bool(await self._delivered(keys=[], args=[self.prefix, sent_id]))

    # -- facts ---------------------------------------------------------------
    async def get_fact(self, key: str) -> str | None:
        with self._errors("read a fact"):
            value = await self.client.hget(f"{self.prefix}:facts", key)
        return None if value is None else _text(value)

    async def set_fact(self, key: str, value: str) -> None:
        with self._errors("write a fact"):
            await self.client.hset(f"{self.prefix}:facts", key, value)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _outbox_item(row_id: Any, raw: Any) -> OutboxItem:
    if isinstance(raw, dict):
        fields = {_text(k): _text(v) for k, v in raw.items()}
    else:  # a script returns HGETALL as a flat list
        flat = [_text(v) for v in raw]
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
    code = fields.get("code", "")
    return OutboxItem(
        id=int(_text(row_id)),
        account=fields["account"],
        peer=fields["peer"],
        kind=fields["kind"],
        payload=json.loads(fields["payload"]),
        created_at=float(fields["created"]),
        attempts=int(fields.get("attempts", "0")),
        next_at=float(fields.get("next_at", "0")),
        source_event_id=fields.get("source", ""),
        status=OutboxStatus(int(fields.get("status", "0"))),
        error=fields.get("error", ""),
        error_code=int(code) if code else None,
        sent_id=fields.get("sent_id", ""),
    )
