"""The chat page of ``dmbot dev``: talk to the bot as simulated people, in a browser.

The page is plain HTML, CSS and one script in ``static/`` (no build step,
nothing fetched from the internet). It acts through the emulator's admin
endpoints exactly as a person in X's app would (``/_emulator/send``,
``/_emulator/tap`` with the option's metadata, ``/_emulator/media`` for an
attached image, ``/_emulator/users``, ``/_emulator/dm_settings`` for a
person's switches, ``/_emulator/realism``), shows both sides' images from
``/_emulator/media/:id``, and follows everything by long polling
``/_chat/updates``: one request that returns as soon as something changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from dmbot.emulator.state import Indicator, User
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator.facade import Emulator

STATIC = Path(__file__).parent / "static"

MAX_WAIT = 55.0
"""Longest long poll, in seconds (below the usual 60 s proxy and browser limits)."""
LOOK_AGAIN = 1.0
"""People added and realism switched have no signal: look at them this often while waiting."""


class _Recorded(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class TrafficLog(Protocol):
    """HTTP exchanges between the bot and X (``dmbot.dev.sandbox.Traffic``)."""

    @property
    def exchanges(self) -> Sequence[_Recorded]: ...

    async def wait_beyond(self, count: int, timeout: float) -> None: ...  # noqa: ASYNC109


@dataclasses.dataclass(frozen=True)
class Cursor:
    """How much of each list the page has seen; the page sends it back on each poll."""

    messages: int = 0
    indicators: int = 0
    traffic: int = 0
    people: int = 0
    realism: int = 0
    held: int = 0

    def encode(self) -> str:
        return ".".join(str(getattr(self, f.name)) for f in dataclasses.fields(self))

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """The cursor ``text`` encodes; None for a missing or malformed one."""
        parts = text.split(".")
        if len(parts) != len(dataclasses.fields(cls)) or not all(p.isdigit() for p in parts):
            return None
        return cls(*(int(p) for p in parts))

    def behind(self, now: Cursor) -> bool:
        """True when a list shrank since (the emulator was reset): start over."""
        return (
            self.messages > now.messages
            or self.indicators > now.indicators
            or self.traffic > now.traffic
        )


class ChatFeed:
    """What the page shows, read from one emulator and the bot's traffic.

    Args:
        emu: the emulator.
        account_id: the bot account the people talk to.
        traffic: the exchanges between the bot and the emulator.
    """

    def __init__(self, emu: Emulator, account_id: str, traffic: TrafficLog) -> None:
        self.emu = emu
        self.account_id = account_id
        self.traffic = traffic
        self._closed = asyncio.Event()

    def close(self) -> None:
        """End every long poll now (the server is shutting down), and any later one at once."""
        self._closed.set()

    def stop(self) -> None:
        """The server is stopping: end the long polls and the emulator's activity streams
        (uvicorn waits for every open response before it stops)."""
        self.close()
        self.emu.close_streams()

    def people(self) -> list[User]:
        """The simulated people (users the app holds no tokens for)."""
        return [u for u in self.emu.world.users.values() if not u.is_account]

    def cursor(self) -> Cursor:
        """Where every list stands now."""
        realism = json.dumps(self.emu.realism.to_json(), sort_keys=True).encode()
        held = ",".join(f"{h.url}|{h.event_id}|{h.until}" for h in self.emu.held).encode()
        # People come and change their DM settings without a signal: a checksum of them all.
        people = json.dumps([_person(u) for u in self.people()]).encode()
        return Cursor(
            len(self.emu.messages),
            len(self.emu.indicators),
            len(self.traffic.exchanges),
            zlib.crc32(people),
            zlib.crc32(realism),
            zlib.crc32(held),
        )

    async def wait(self, since: Cursor, timeout: float) -> None:  # noqa: ASYNC109
        """Return once anything moved past ``since``, or after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.cursor() == since and not self._closed.is_set():
            left = deadline - loop.time()
            if left <= 0:
                return
            step = min(left, LOOK_AGAIN)
            waits = {
                asyncio.ensure_future(self._closed.wait()),
                asyncio.ensure_future(self.emu.wait_changed(self.emu.version, step)),
                asyncio.ensure_future(self.traffic.wait_beyond(len(self.traffic.exchanges), step)),
            }
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def update(self, since: Cursor | None) -> JSONObject:
        """Everything new since ``since`` (everything, with ``reset``, when None or stale)."""
        now = self.cursor()
        reset = since is None or since.behind(now)
        start = Cursor() if reset or since is None else since
        account = self.emu.world.user(self.account_id)
        return {
            "cursor": now.encode(),
            "reset": reset,
            "account": _person(account) if account else {"id": self.account_id},
            "people": [_person(u) for u in self.people()],
            "realism": self.emu.realism.to_json(),
            "held": [h.to_json(asyncio.get_running_loop().time()) for h in self.emu.held],
            "messages": [m.to_json() for m in self.emu.messages[start.messages :]],
            "indicators": [_indicator(i) for i in self.emu.indicators[start.indicators :]],
            "traffic": [e.to_json() for e in self.traffic.exchanges[start.traffic :]],
        }


def _person(user: User) -> JSONObject:
    return {
        "id": user.id,
        "screen_name": user.screen_name,
        "name": user.name,
        "accepts_requests": user.accepts_requests,
        "follows": sorted(user.follows, key=int),
    }


def _indicator(indicator: Indicator) -> JSONObject:
    return dataclasses.asdict(indicator)


def chat_routes(feed: ChatFeed) -> list[BaseRoute]:
    """The page at ``/``, its files under ``/_chat/static/``, and ``/_chat/updates``.

    ``GET /_chat/updates?cursor=C&timeout=S`` answers at once when something
    changed since the cursor ``C`` (or when ``C`` is empty: a full snapshot),
    else waits up to ``S`` seconds (25 by default) for a change. Call
    ``feed.close()`` before a server shuts down, so waiting polls answer.
    """

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "chat.html", headers={"cache-control": "no-store"})

    async def updates(request: Request) -> Response:
        query = request.query_params
        since = Cursor.parse(query.get("cursor", ""))
        try:
            timeout = min(max(float(query.get("timeout", "25")), 0.0), MAX_WAIT)
        except ValueError:
            return JSONResponse({"error": "timeout must be a number of seconds."}, 400)
        if since is not None and since == feed.cursor():
            await feed.wait(since, timeout)
        return JSONResponse(feed.update(since), headers={"cache-control": "no-store"})

    return [
        Route("/", page, methods=["GET"]),
        Route("/_chat/updates", updates, methods=["GET"]),
        Mount("/_chat/static", StaticFiles(directory=STATIC), name="chat-static"),
    ]
