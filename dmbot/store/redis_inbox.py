"""The Redis store's inbox: partitioned streams, leased to instances.

A delivery goes to stream ``{prefix}:inbox:{p}`` with ``p = crc32(hint) % N``;
the webhook's hint keeps every copy of a conversation's events in one
partition. Each partition is read by one instance at a time: the holder of
the lease ``{prefix}:lease:{p}``. Leases expire unless renewed, so the
partitions of a killed instance pass to the others, and are shared out
evenly: an instance holds at most ``ceil(N / live instances)``. One reader
per partition keeps each conversation's events in arrival order. Live
instances are the members of ``{prefix}:instances``, a sorted set scored by
when each one's heartbeat expires (``lock_ttl`` after its last renewal).

Handing a partition over:

- An instance above its share stops reading the partition, and releases its
  lease once every delivery it read from it is acknowledged (or after
  ``lock_ttl`` at most), so the next owner starts after it.
- A new owner first claims every delivery still pending in the partition
  (those of a dead or slow previous owner) and only then reads new ones, so
  a conversation's older events are not overtaken by its newer ones.
- An instance reads a partition only while its lease is certain to outlast
  the read, so two instances never read one partition at once.

Deliveries another consumer left pending longer than ``reclaim_idle`` (a
dead or stuck instance) are claimed by the partition's owner (XAUTOCLAIM) and
handed to its worker; the worker's event-id claims make a second handling
harmless. Deliveries this instance handed out stay with its worker until
acknowledged, and an acknowledgement Redis missed is sent again.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from dmbot.store import redis_scripts as lua
from dmbot.store.base import InboxItem
from dmbot.store.redis_batch import Batcher

GROUP = "dmbot"


def _seq(entry_id: str) -> int:
    return int(entry_id.partition("-")[0])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _stream_entries(response: Any) -> Iterable[tuple[Any, Any]]:
    """(stream, entries) pairs from XREADGROUP in RESP2 or RESP3 shape."""
    if not response:
        return []
    if isinstance(response, dict):
        pairs = list(response.items())
        # RESP3 wraps each stream's entries in one more list.
        return [
            (key, value[0] if value and isinstance(value[0], list) else value)
            for key, value in pairs
        ]
    return [(item[0], item[1]) for item in response]


class PartitionedInbox:
    """Streams, leases and the reading position of one instance."""

    def __init__(
        self,
        client: Redis,
        batch: Batcher,
        *,
        prefix: str,
        partitions: int,
        consumer: str,
        lock_ttl: float,
        reclaim_idle: float,
        read_block: float,
    ) -> None:
        self.client = client
        self.batch = batch
        self.prefix = prefix
        self.count = partitions
        self.consumer = consumer
        self.lock_ttl = lock_ttl
        self.reclaim_idle = reclaim_idle
        # A read must end before the lease it relies on could lapse.
        self.block = max(0.001, min(read_block, lock_ttl / 4))
        self.forget_consumers_after = max(600.0, 10 * lock_ttl, 10 * reclaim_idle)
        """Seconds a departed consumer with nothing pending stays in the group."""
        self._owned: dict[int, float] = {}
        """Partition -> monotonic time until which its lease is surely ours."""
        self._draining: dict[int, float] = {}
        """Partitions being handed over -> when to release them at the latest."""
        self._fresh: set[int] = set()
        """Newly leased partitions whose pending deliveries are not all claimed yet."""
        self._cursor: dict[int, str] = {}
        self._next_reclaim: dict[int, float] = {}
        self._outstanding: dict[int, set[str]] = {}
        """Partition -> entry ids handed out and not acknowledged yet."""
        self._unacked: dict[int, set[str]] = {}
        """Partition -> entry ids the worker acknowledged while Redis was unreachable."""
        self._buffer: list[InboxItem] = []
        self._round_robin = random.randrange(partitions)

    # -- keys --------------------------------------------------------------
    def stream(self, partition: int) -> str:
        return f"{self.prefix}:inbox:{partition}"

    def lease(self, partition: int) -> str:
        return f"{self.prefix}:lease:{partition}"

    @property
    def owned(self) -> list[int]:
        """The partitions this instance reads, in order."""
        return sorted(self._owned)

    async def create_groups(self) -> None:
        """Create the consumer group on every partition (kept when it exists)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for partition in range(self.count):
                pipe.xgroup_create(self.stream(partition), GROUP, id="0", mkstream=True)
            results = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                raise result

    # -- writing -----------------------------------------------------------
    def partition_of(self, hint: str) -> int:
        """The partition of a conversation hint; no hint: the next one in turn."""
        if hint:
            return zlib.crc32(hint.encode()) % self.count
        self._round_robin = (self._round_robin + 1) % self.count
        return self._round_robin

    async def append(self, body: bytes, received_at: float, hint: str) -> str:
        partition = self.partition_of(hint)
        entry = await self.batch.script(
            lua.APPEND,
            [f"{self.prefix}:inbox:seq", self.stream(partition)],
            [body, repr(received_at), hint],
        )
        return f"{partition}:{_text(entry)}"

    # -- reading -----------------------------------------------------------
    async def read(self, limit: int) -> list[InboxItem]:
        if self._buffer:
            items, self._buffer = self._buffer[:limit], self._buffer[limit:]
            return items
        try:
            entries = await self._reclaim(limit)
            now = time.monotonic()
            readable = [
                p
                for p, until in self._owned.items()
                if p not in self._fresh and until - now > self.block
            ]
            if readable:
                response = await self.client.xreadgroup(
                    GROUP,
                    self.consumer,
                    {self.stream(p): ">" for p in sorted(readable)},
                    count=limit,
                    block=None if entries else max(1, int(self.block * 1000)),
                )
                for stream, found in _stream_entries(response):
                    partition = int(_text(stream).rpartition(":")[2])
                    entries.extend((partition, entry_id, fields) for entry_id, fields in found)
            elif not entries:
                # Nothing leased yet (more instances than partitions, or a takeover
                # pending): wait as a read would, instead of spinning.
                await asyncio.sleep(self.block)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Redis lost its data (restarted without persistence): start over.
            await self.create_groups()
            return []
        return self._hand_out(entries, limit)

    def _hand_out(self, entries: list[tuple[int, Any, Any]], limit: int) -> list[InboxItem]:
        items: list[tuple[int, InboxItem]] = []
        for partition, raw_id, fields in entries:
            if raw_id is None or not fields:
                continue
            entry_id = _text(raw_id)
            self._outstanding.setdefault(partition, set()).add(entry_id)
            body = fields.get(b"b", b"")
            received = float(_text(fields.get(b"t", b"0")))
            hint = _text(fields.get(b"h", b""))
            items.append(
                (_seq(entry_id), InboxItem(f"{partition}:{entry_id}", body, received, hint))
            )
        items.sort(key=lambda pair: pair[0])
        ordered = [item for _, item in items]
        self._buffer = ordered[limit:]
        return ordered[:limit]

    async def _reclaim(self, limit: int) -> list[tuple[int, Any, Any]]:
        """Claim deliveries pending too long (or, on a new lease, all of them)."""
        now = time.monotonic()
        targets = [
            p for p in self._owned if p in self._fresh or now >= self._next_reclaim.get(p, 0.0)
        ]
        if not targets:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for p in targets:
                idle = 0 if p in self._fresh else int(self.reclaim_idle * 1000)
                pipe.xautoclaim(
                    self.stream(p), GROUP, self.consumer, idle, self._cursor.get(p, "0-0"), limit
                )
            results = await pipe.execute()
        entries: list[tuple[int, Any, Any]] = []
        for p, result in zip(targets, results, strict=True):
            cursor = _text(result[0])
            if cursor == "0-0":
                self._fresh.discard(p)
                self._next_reclaim[p] = now + self.reclaim_idle / 2
            self._cursor[p] = cursor
            mine = self._outstanding.get(p, set())
            for entry_id, fields in result[1]:
                # Handed out here and not acknowledged yet: the worker still has it
                # (a backlog can keep it waiting in its lane for long).
                if entry_id is not None and _text(entry_id) not in mine:
                    entries.append((p, entry_id, fields))
        return entries

    async def ack(self, ids: Sequence[str]) -> None:
        by_partition: dict[int, list[str]] = {}
        for item_id in ids:
            head, _, entry_id = item_id.partition(":")
            by_partition.setdefault(int(head), []).append(entry_id)
        if by_partition:
            await self._ack(by_partition)

    async def _ack(self, by_partition: dict[int, list[str]]) -> None:
        try:
            await asyncio.gather(
                *(
                    self.batch.call(command, self.stream(partition), *group, *entry_ids)
                    for partition, entry_ids in by_partition.items()
                    for command, group in (("XACK", (GROUP,)), ("XDEL", ()))
                )
            )
        except BaseException:
            # Acknowledged by the worker, not by Redis yet: the keepalive retries.
            for partition, entry_ids in by_partition.items():
                self._unacked.setdefault(partition, set()).update(entry_ids)
            raise
        for partition, entry_ids in by_partition.items():
            mine = self._outstanding.get(partition)
            if mine is not None:
                mine.difference_update(entry_ids)
            left = self._unacked.get(partition)
            if left is not None:
                left.difference_update(entry_ids)
                if not left:
                    del self._unacked[partition]

    async def retry_acks(self) -> None:
        """Acknowledge again what Redis did not take the first time."""
        if self._unacked:
            await self._ack({p: sorted(ids) for p, ids in self._unacked.items()})

    async def oldest(self) -> float | None:
        """When the oldest delivery not yet acknowledged arrived (acknowledged ones are deleted)."""
        firsts = await asyncio.gather(
            *(
                self.batch.call("XRANGE", self.stream(p), "-", "+", "COUNT", 1)
                for p in range(self.count)
            )
        )
        times = []
        for entries in firsts:
            for _, fields in entries or ():
                values = {_text(k): _text(v) for k, v in dict(fields).items()}
                if "t" in values:
                    times.append(float(values["t"]))
        return min(times, default=None)

    async def size(self) -> int:
        lengths = await asyncio.gather(
            *(self.batch.call("XLEN", self.stream(p)) for p in range(self.count))
        )
        return sum(int(n) for n in lengths)

    # -- leases ------------------------------------------------------------
    def held(self) -> list[tuple[str, int]]:
        """(lease key, partition) of every lease to renew."""
        return [(self.lease(p), p) for p in sorted({*self._owned, *self._draining})]

    def renewed(self, partition: int, ok: bool, started: float) -> None:
        """Record a renewal's outcome; a lost lease stops reading at once."""
        if ok:
            if partition in self._owned:
                self._owned[partition] = started + self.lock_ttl
            return
        self._owned.pop(partition, None)
        self._draining.pop(partition, None)
        self._fresh.discard(partition)

    async def balance(self, live: int) -> None:
        """Give up partitions above this instance's share, take free ones below it."""
        quota = math.ceil(self.count / max(1, live))
        now = time.monotonic()
        extra = len(self._owned) - quota
        if extra > 0:
            for partition in random.sample(sorted(self._owned), extra):
                del self._owned[partition]
                self._fresh.discard(partition)
                self._draining[partition] = now + self.lock_ttl
        drained = [
            p for p, until in self._draining.items() if not self._outstanding.get(p) or now > until
        ]
        if drained:
            keys = [self.lease(p) for p in drained]
            await self.batch.script(lua.RELEASE, keys, [self.consumer] * len(keys))
            for partition in drained:
                del self._draining[partition]
        want = quota - len(self._owned)
        if want <= 0:
            return
        start = random.randrange(self.count)
        candidates = [
            p
            for p in ((start + i) % self.count for i in range(self.count))
            if p not in self._owned and p not in self._draining
        ]
        if not candidates:
            return
        started = time.monotonic()
        got = await self.batch.script(
            lua.ACQUIRE,
            [self.lease(p) for p in candidates],
            [self.consumer, int(self.lock_ttl * 1000), want],
        )
        for position in got:
            partition = candidates[int(position) - 1]
            self._owned[partition] = started + self.lock_ttl
            self._fresh.add(partition)
            self._cursor[partition] = "0-0"

    async def sweep(self) -> int:
        """Forget consumers of owned partitions that left long ago with nothing pending.

        Each instance start adds a consumer name to the group; without this
        the group would list every instance that ever ran. Safe while the
        lease is held: no other consumer can gain pending deliveries here.
        """
        owned = sorted(self._owned)
        if not owned:
            return 0
        threshold = self.forget_consumers_after * 1000
        async with self.client.pipeline(transaction=False) as pipe:
            for p in owned:
                pipe.xinfo_consumers(self.stream(p), GROUP)
            listings = await pipe.execute(raise_on_error=False)
        gone = [
            (p, info["name"])
            for p, listing in zip(owned, listings, strict=True)
            if not isinstance(listing, Exception)
            for info in listing
            if _text(info["name"]) != self.consumer
            and int(info["pending"]) == 0
            and int(info["idle"]) > threshold
        ]
        if gone:
            async with self.client.pipeline(transaction=False) as pipe:
                for p, name in gone:
                    pipe.xgroup_delconsumer(self.stream(p), GROUP, name)
                await pipe.execute(raise_on_error=False)
        return len(gone)

    async def release_all(self) -> None:
        """Hand every partition back now (a clean shutdown)."""
        held = [key for key, _ in self.held()]
        self._owned.clear()
        self._draining.clear()
        self._fresh.clear()
        if held:
            await self.batch.script(lua.RELEASE, held, [self.consumer] * len(held))
