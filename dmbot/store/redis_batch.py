"""Redis commands issued during one turn of the event loop, sent as one pipeline.

Under load, the webhook, the worker's lanes and the sender issue many small
commands at once. Sent one by one, each costs a connection checkout, a write
and a read; gathered into one pipeline per turn of the event loop, they share
them, and none waits longer than that turn. Commands run in the order they
were issued; each caller gets its own result or its own error.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

Command = tuple[Any, ...]


class Batcher:
    """Sends the commands given to :meth:`call` in one pipeline per loop turn."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._pending: list[tuple[Command, asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._shas: dict[str, str] = {}

    def call(self, *command: Any) -> asyncio.Future[Any]:
        """Queue one command; the future resolves to its reply."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((command, future))
        return future

    async def script(self, source: str, keys: list[Any], args: list[Any]) -> Any:
        """Run a Lua script by its SHA, loading it first if Redis does not know it."""
        sha = self._shas.get(source)
        if sha is None:
            sha = self._shas[source] = hashlib.sha1(source.encode()).hexdigest()
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            # A restarted or flushed Redis forgot its scripts.
            await self.client.script_load(source)
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[Command, asyncio.Future[Any]]]) -> None:
        try:
            if len(batch) == 1:
                command = batch[0][0]
                results: list[Any] = [await self.client.execute_command(*command)]  # type: ignore[no-untyped-call]
            else:
                async with self.client.pipeline(transaction=False) as pipe:
                    for command, _ in batch:
                        pipe.execute_command(*command)
                    results = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
