"""Stores that fail on purpose, wrapping any backend (memory, SQLite, Redis).

Each wrapper passes every call to the store it wraps and breaks one thing, as
a real outage would: a commit refused, a send X took but the store could not
record, a read held back, a store that is down. Run over every backend, they
show SQLite and Redis meet those failures as the memory store does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from dmbot.errors import StorageError
from dmbot.store import Commit, InboxItem, OutboxItem, Store
from dmbot.types import ConversationKey, JSONObject


class Wrapped(Store):
    """Every call passed on to ``inner``; subclasses override what they break."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.shared = inner.shared

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def ping(self) -> bool:
        return await self.inner.ping()

    @contextlib.asynccontextmanager
    async def locked(self, conversation: ConversationKey) -> AsyncIterator[None]:
        async with self.inner.locked(conversation):
            yield

    async def lease(self, name: str, holder: str, ttl: float) -> bool:
        return await self.inner.lease(name, holder, ttl)

    async def release(self, name: str, holder: str) -> None:
        await self.inner.release(name, holder)

    async def append(self, body: bytes, received_at: float, partition: str = "") -> str:
        return await self.inner.append(body, received_at, partition)

    async def read(self, limit: int = 256) -> list[InboxItem]:
        return await self.inner.read(limit)

    async def ack(self, ids: Sequence[str]) -> None:
        await self.inner.ack(ids)

    async def inbox_size(self) -> int:
        return await self.inner.inbox_size()

    async def claimed(self, event_id: str) -> bool:
        return await self.inner.claimed(event_id)

    async def load(self, conversation: ConversationKey) -> JSONObject:
        return await self.inner.load(conversation)

    async def load_unclaimed(
        self, conversation: ConversationKey, event_id: str
    ) -> JSONObject | None:
        return await self.inner.load_unclaimed(conversation, event_id)

    async def commit(self, commit: Commit) -> bool:
        return await self.inner.commit(commit)

    async def expire_claims(self, older_than: float) -> int:
        return await self.inner.expire_claims(older_than)

    async def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        return await self.inner.due(now, limit)

    async def sent(self, item_id: int, sent_id: str) -> None:
        await self.inner.sent(item_id, sent_id)

    async def attempting(self, item_id: int, at: float) -> bool:
        return await self.inner.attempting(item_id, at)

    async def retry_later(
        self, item_id: int, next_at: float, error: str, *, uncertain: bool = False
    ) -> None:
        await self.inner.retry_later(item_id, next_at, error, uncertain=uncertain)

    async def failed(self, item_id: int, error: str, code: int | None) -> None:
        await self.inner.failed(item_id, error, code)

    async def outbox(self, conversation: ConversationKey | None = None) -> list[OutboxItem]:
        return await self.inner.outbox(conversation)

    async def delivered(self, sent_id: str, *, ack: Sequence[str] = ()) -> bool:
        return await self.inner.delivered(sent_id, ack=ack)

    async def get_fact(self, key: str) -> str | None:
        return await self.inner.get_fact(key)

    async def set_fact(self, key: str, value: str) -> None:
        await self.inner.set_fact(key, value)


class Flaky(Wrapped):
    """Commits fail ``failures`` times, as a store in an outage refuses them."""

    def __init__(self, inner: Store, failures: int) -> None:
        super().__init__(inner)
        self.failures = failures

    async def commit(self, commit: Commit) -> bool:
        if self.failures > 0:
            self.failures -= 1
            raise StorageError("the store is down (test)")
        return await super().commit(commit)


class Forgetful(Wrapped):
    """Cannot record sends while ``down``: a crash right after X's 200."""

    down = True

    async def sent(self, item_id: int, sent_id: str) -> None:
        if self.down:
            raise OSError("disk I/O error")
        await super().sent(item_id, sent_id)


class Gated(Wrapped):
    """The next due() read, once ``gate`` is set, is held until the test opens the gate."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.gate: asyncio.Event | None = None
        self.read_held = asyncio.Event()

    async def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        items = await super().due(now, limit)
        gate, self.gate = self.gate, None
        if gate is not None:
            self.read_held.set()
            await gate.wait()
        return items


class Down(Wrapped):
    """A store that cannot take writes while ``down`` (a full disk, Redis unreachable)."""

    down = True

    async def ping(self) -> bool:
        return not self.down and await super().ping()

    async def append(self, body: bytes, received_at: float, partition: str = "") -> str:
        if self.down:
            raise StorageError("the store is unreachable (test)")
        return await super().append(body, received_at, partition)


class HeldAppends(Wrapped):
    """Each append waits, once it has started, until the test lets it finish."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.started = asyncio.Event()
        self.finish = asyncio.Event()

    async def append(self, body: bytes, received_at: float, partition: str = "") -> str:
        self.started.set()
        await self.finish.wait()
        return await super().append(body, received_at, partition)


class Reads(Wrapped):
    """Notes how many deliveries were out of the store at once: read, not yet handled."""

    def __init__(self, inner: Store, handled: Callable[[], int]) -> None:
        super().__init__(inner)
        self.handled = handled
        self.taken = 0
        self.most_out = 0

    async def read(self, limit: int = 256) -> list[InboxItem]:
        items = await super().read(limit)
        self.taken += len(items)
        self.most_out = max(self.most_out, self.taken - self.handled())
        return items
