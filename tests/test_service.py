"""The service hands each part its section of config.yaml: what is set there is what runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest
from payloads import RECIPIENT, dm

from dmbot import Bot, Context
from dmbot.config.settings import Settings, settings_from_mapping
from dmbot.service import Service

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

        @self.bot.on_message()
        async def note(ctx: Context) -> None:
            self.texts.append(ctx.text)
            self._counts[len(self.texts)].set()
            await self.release.wait()

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
    async with running(Service(settings(max_queued=8), bot=recorder.bot)) as service:
        assert service.worker is not None
        await store(service, *(f"m{i}" for i in range(40)))
        service.worker.notify()
        await asyncio.wait_for(recorder.handled(8), 5)
        for _ in range(200):  # let the worker run on: it must not take more
            await asyncio.sleep(0)
        # 40 conversations are waiting, but only 8 events were taken out of the store.
        assert len(recorder.texts) == 8
        recorder.release.set()
        service.worker.notify()
        await asyncio.wait_for(service.worker.caught_up(), 10)
        assert len(recorder.texts) == 40


@pytest.mark.parametrize(("poll_interval", "picked_up"), [("50ms", True), (None, False)])
async def test_engine_poll_interval_is_how_soon_an_unannounced_event_is_read(
    recorder: Recorder, poll_interval: str | None, picked_up: bool
) -> None:
    engine = {} if poll_interval is None else {"poll_interval": poll_interval}
    recorder.release.set()
    async with running(Service(settings(**engine), bot=recorder.bot)) as service:
        await store(service, "hello")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(recorder.handled(1), 0.3)
        # The default (1 s) has not come round yet; 50ms has, several times.
        assert recorder.texts == (["hello"] if picked_up else [])


async def test_the_worker_and_the_sender_run_with_the_sections_as_loaded() -> None:
    loaded = settings(concurrency=3)
    async with running(Service(loaded, bot=None)) as service:
        assert service.worker is not None and service.sender is not None
        assert service.worker.options is loaded.engine
        assert service.sender.options is loaded.sender
