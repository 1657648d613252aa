"""The service hands each part its section of config.yaml: what is set there is what runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faults import Reads
from payloads import RECIPIENT, dm

from dmbot import Bot, Context
from dmbot.config.settings import Settings, settings_from_mapping
from dmbot.edge import signature
from dmbot.service import Service
from dmbot.store.memory import MemoryStore

BOT = RECIPIENT


def settings(**engine: Any) -> Settings:
    return settings_from_mapping(
        {
            "twitter": {
                "consumer_secret": "s",
                "access_token": f"{BOT}-abc",
                "access_token_secret": "ts",
            },
            "store": "memory://",
            "engine": {"reorder_window": 0, **engine},
        },
        env={},
    )


class Recorder:
    """A bot whose handler notes each text, then waits until released."""

    def __init__(self) -> None:
        self.bot = Bot("recorder")
        self.texts: list[str] = []
        self._counts: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.release = asyncio.Event()
        self.done = 0

        @self.bot.on_message()
        async def note(ctx: Context) -> None:
            self.texts.append(ctx.text)
            self._counts[len(self.texts)].set()
            await self.release.wait()
            self.done += 1

    async def handled(self, count: int) -> None:
        """Wait until the handler has been called ``count`` times."""
        await self._counts[count].wait()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@contextlib.asynccontextmanager
async def running(service: Service) -> AsyncIterator[Service]:
    """The service started and idle: the inbox read to its end."""
    await service.start()
    try:
        assert service.worker is not None
        await asyncio.wait_for(service.worker.caught_up(), 5)
        yield service
    finally:
        await service.stop()


async def store(service: Service, *texts: str) -> None:
    """Deliveries stored as another process would store them: the worker is not told."""
    for i, text in enumerate(texts):
        payload = dm(text, sender=f"30000000{i:02d}", recipient=BOT)
        await service.store.append(json.dumps(payload).encode(), time.time())


async def test_engine_max_queued_bounds_what_the_worker_reads_ahead(recorder: Recorder) -> None:
    reads = Reads(MemoryStore(), lambda: recorder.done)
    async with running(Service(settings(max_queued=8), bot=recorder.bot, store=reads)) as service:
        assert service.worker is not None
        await store(service, *(f"m{i}" for i in range(40)))
        service.worker.notify()
        await asyncio.wait_for(recorder.handled(8), 5)
        recorder.release.set()
        service.worker.notify()
        await asyncio.wait_for(service.worker.caught_up(), 10)
        assert len(recorder.texts) == 40
    # 40 conversations were waiting, but never more than 8 events out of the store at once.
    assert (reads.taken, reads.most_out) == (40, 8)


async def test_engine_poll_interval_is_how_soon_an_unannounced_event_is_read() -> None:
    slow, quick = Recorder(), Recorder()
    slow.release.set()
    quick.release.set()
    # The slow one starts waiting first: were both on one interval, it would read first.
    async with (
        running(Service(settings(poll_interval="10s"), bot=slow.bot)) as waits_10s,
        running(Service(settings(poll_interval="50ms"), bot=quick.bot)) as waits_50ms,
    ):
        await store(waits_10s, "hello")
        await store(waits_50ms, "hello")
        await asyncio.wait_for(quick.handled(1), 5)  # 50 ms has come round
        assert slow.texts == []  # 10 s has not


async def test_the_200_never_waits_for_a_handler(recorder: Recorder) -> None:
    async with (
        running(Service(settings(), bot=recorder.bot)) as service,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.app), base_url="http://bot.test"
        ) as x,
    ):

        async def deliver(text: str) -> int:
            body = json.dumps(dm(text, sender="3000000000001", recipient=BOT)).encode()
            headers = {signature.HEADER: signature.sign("s", body)}
            response = await asyncio.wait_for(
                x.post("/webhooks/twitter", content=body, headers=headers), 5
            )
            return response.status_code

        assert await deliver("first") == 200
        await asyncio.wait_for(recorder.handled(1), 5)  # its handler runs, and does not return
        assert await deliver("second") == 200
        assert recorder.texts == ["first"]
        recorder.release.set()


async def test_the_worker_and_the_sender_run_with_the_sections_as_loaded() -> None:
    loaded = settings(concurrency=3)
    async with running(Service(loaded, bot=None)) as service:
        assert service.worker is not None and service.sender is not None
        assert service.worker.options is loaded.engine
        assert service.sender.options is loaded.sender
