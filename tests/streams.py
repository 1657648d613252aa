"""A live emulator on loopback and stream readers, for tests of ``GET /2/activity/stream``.

httpx's ASGI transport hands a response over only once it is complete, so a
stream is tested over a real socket: ``served(emu)`` runs uvicorn on a free
loopback port, ``connect(http)`` opens a stream and reads it in the
background, line by line (split on ``\\r\\n`` only, as X delimits them), with
the time each line arrived.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn

from dmbot.emulator import Emulator

STREAM = "/2/activity/stream"


@asynccontextmanager
async def served(emu: Emulator) -> AsyncIterator[str]:
    """``emu.app`` served by uvicorn on a free loopback port; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    config = uvicorn.Config(emu.app, lifespan="off", ws="none", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        # uvicorn waits for open responses before it stops: end the streams first.
        emu.close_streams()
        server.should_exit = True
        await serving
        sock.close()


@asynccontextmanager
async def app_client(base: str, key: str, secret: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``base`` acting as the app, with the bearer token from ``/oauth2/token``."""
    basic = base64.b64encode(f"{key}:{secret}".encode()).decode()
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        answer = await http.post(
            "/oauth2/token",
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials"},
        )
        http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield http


class Reader:
    """Reads a stream in the background: each ``\\r\\n``-ended line, with when it arrived."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.error: Exception | None = None
        self.leftover = b""
        """Bytes after the last \r\n when the stream ended (a line cut short)."""
        self._lines: asyncio.Queue[tuple[float, str] | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        buffer = b""
        try:
            async for chunk in self.response.aiter_raw():
                buffer += chunk
                while b"\r\n" in buffer:
                    line, buffer = buffer.split(b"\r\n", 1)
                    self._lines.put_nowait((time.monotonic(), line.decode("utf-8")))
        except httpx.HTTPError as exc:
            self.error = exc
        finally:
            self.leftover = buffer
            self._lines.put_nowait(None)

    async def line(self, within: float = 5.0) -> tuple[float, str]:
        """The next line and when it arrived (a keep-alive is ``""``).

        Raises:
            AssertionError: the stream ended first.
        """
        async with asyncio.timeout(within):
            item = await self._lines.get()
        assert item is not None, "the stream ended"
        return item

    async def event(self, within: float = 5.0) -> dict[str, Any]:
        """The next JSON line, keep-alives skipped."""
        async with asyncio.timeout(within):
            while True:
                _, text = await self.line(within)
                if text:
                    body: dict[str, Any] = json.loads(text)
                    return body

    async def rest(self, within: float = 5.0) -> list[str]:
        """Every line until the stream ends (it must end within ``within`` seconds, cleanly)."""
        lines: list[str] = []
        async with asyncio.timeout(within):
            while (item := await self._lines.get()) is not None:
                lines.append(item[1])
        assert self.leftover == b"", f"the stream ended inside a line: {self.leftover!r}"
        return lines

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@asynccontextmanager
async def connect(http: httpx.AsyncClient, **params: Any) -> AsyncIterator[Reader]:
    """A stream connection that must be accepted (200), read in the background."""
    async with http.stream("GET", STREAM, params=params) as response:
        if response.status_code != 200:
            await response.aread()
            raise AssertionError(f"stream refused: {response.status_code} {response.text}")
        reader = Reader(response)
        try:
            yield reader
        finally:
            await reader.close()


async def refused(http: httpx.AsyncClient, **params: Any) -> httpx.Response:
    """The answer to a connection that must be refused (a 200 would never end: bounded)."""
    async with asyncio.timeout(5):
        return await http.get(STREAM, params=params)


async def until(check: Callable[[], object], within: float = 5.0) -> None:
    """Poll ``check`` every 10 ms until it is true (or fail after ``within`` s)."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - what changes here signals no event
            await asyncio.sleep(0.01)


def text_of(envelope: dict[str, Any]) -> str:
    """The DM text of an XAA envelope."""
    [event] = envelope["data"]["payload"]["direct_message_events"]
    return str(event["message_create"]["message_data"]["text"])


class Consumer:
    """A stream client that connects again whenever its connection ends or is refused,
    as a bot holding the stream does (a short fixed pause between attempts).

    Attributes:
        statuses: the status of every connection attempt, in order.
        events: every envelope received, on any connection.
        ends: how many accepted connections ended.
    """

    def __init__(self, http: httpx.AsyncClient, pause: float = 0.05) -> None:
        self.http = http
        self.pause = pause
        self.statuses: list[int] = []
        self.events: list[dict[str, Any]] = []
        self.ends = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Consumer:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            async with self.http.stream("GET", STREAM) as response:
                self.statuses.append(response.status_code)
                if response.status_code == 200:
                    async for line in response.aiter_lines():
                        if line:
                            self.events.append(json.loads(line))
                    self.ends += 1
                else:
                    await response.aread()
            await asyncio.sleep(self.pause)
