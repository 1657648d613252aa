"""Conversation locks across instances: ``SET NX PX``, renewed while held, released by the holder.

A lock is ``{prefix}:lock:{account}:{peer}`` holding a token unique to one
acquisition. The store's keepalive renews every held lock each
``lock_ttl / 3``; release deletes the key only if it still holds the token.
A killed holder stops renewing, so its locks lapse after ``lock_ttl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator, Callable

from redis.exceptions import RedisError

from dmbot.store import redis_scripts as lua
from dmbot.store.redis_batch import Batcher
from dmbot.store.redis_outbox import ms
from dmbot.types import ConversationKey

log = logging.getLogger("dmbot.store.redis")


class ConversationLocks:
    """The conversation locks this instance takes and holds."""

    def __init__(
        self,
        batch: Batcher,
        *,
        prefix: str,
        lock_ttl: float,
        describe: Callable[[str, Exception], str],
    ) -> None:
        self.batch = batch
        self.prefix = prefix
        self.lock_ttl = lock_ttl
        self._describe = describe
        self.held: dict[str, str] = {}
        """Lock key -> token, while held (renewed by the store's keepalive)."""

    @contextlib.asynccontextmanager
    async def locked(self, conversation: ConversationKey) -> AsyncIterator[None]:
        key = f"{self.prefix}:lock:{conversation[0]}:{conversation[1]}"
        token = uuid.uuid4().hex
        await self._acquire(key, token)
        self.held[key] = token
        try:
            yield
        finally:
            self.held.pop(key, None)
            try:
                await self.batch.script(lua.RELEASE, [key], [token])
            except (RedisError, OSError) as exc:
                log.warning(
                    "could not release %s (it expires in %g s): %s", key, self.lock_ttl, exc
                )

    async def _acquire(self, key: str, token: str) -> None:
        delay = 0.002
        failing = False
        while True:
            try:
                # Held under our token counts too: a reply lost on the way back.
                if await self.batch.script(lua.ACQUIRE, [key], [token, ms(self.lock_ttl), 1]):
                    return
                failing = False
            except (RedisError, OSError) as exc:
                if not failing:
                    log.error("%s; waiting for Redis", self._describe(f"take the lock {key}", exc))
                failing = True
                delay = max(delay, 0.5)
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0 if failing else 0.1)
