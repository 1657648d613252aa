"""``GET /2/activity/stream``: the X Activity API stream over HTTP.

A 200 whose body never ends on its own (``content-type: application/json``):
one XAA envelope per line, keep-alive lines between them. What a
connection is sent, X's limit of connections and the controls that make it
misbehave are :class:`~dmbot.emulator.stream.ActivityStream`'s; here the
query is checked and the connection is carried to the client.

httpx's ``ASGITransport`` hands a response over only once it is complete, so
a stream needs a real socket: serve the emulator's app with uvicorn (``dmbot
emulator``, ``dmbot dev``, or a test's own server on loopback). Errors (403,
429, 400) are plain answers and work over any transport.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from dmbot.emulator.oauth import Caller
from dmbot.emulator.problems import invalid_request
from dmbot.emulator.stream import MAX_BACKFILL_MINUTES, StreamConnection, StreamWindow
from dmbot.emulator.validation import v2_integer, v2_query

if TYPE_CHECKING:
    from dmbot.emulator.stream import ActivityStream

PARAMETERS = ("backfill_minutes", "start_time", "end_time")


class StreamApi:
    """The handler of ``GET /2/activity/stream`` over one emulator."""

    def __init__(self, stream: ActivityStream) -> None:
        self.stream = stream

    async def connect(self, request: Request, caller: Caller) -> Response:
        """Open a connection and stream it until it ends or the client goes away."""
        window = stream_window(request.query_params)
        return StreamResponse(self.stream, self.stream.connect(window))


def stream_window(query: Mapping[str, str]) -> StreamWindow:
    """The :class:`StreamWindow` a query asks for.

    Raises:
        Problem: 400 for an unknown parameter, ``backfill_minutes`` outside 0..5,
            a time that is not RFC 3339, or ``start_time`` after ``end_time``.
    """
    params = v2_query(query, PARAMETERS)
    backfill = v2_integer(params, "backfill_minutes", 0, MAX_BACKFILL_MINUTES, 0)
    start, end = _time(params, "start_time"), _time(params, "end_time")
    if start is not None and end is not None and start > end:
        raise invalid_request(
            f"start_time ({params['start_time']}) is after end_time ({params['end_time']}); "
            "give a start_time before the end_time.",
            "start_time",
            params["start_time"],
        )
    return StreamWindow(backfill, start, end)


def _time(params: dict[str, str], name: str) -> float | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise invalid_request(
            f"{name} must be an RFC 3339 UTC time such as 2026-01-15T12:00:00Z, not {value!r}.",
            name,
            value,
        )
    return moment.timestamp()


class StreamResponse(StreamingResponse):
    """A stream connection carried to the client, released when either side ends it.

    Starlette's own streaming response notices a client that went away only
    when it next writes (a keep-alive later, with ASGI 2.4 servers); this one
    listens for the disconnect, so the connection is freed at once and a
    reconnecting client is not refused as a third connection.
    """

    def __init__(self, stream: ActivityStream, connection: StreamConnection) -> None:
        super().__init__(connection.lines(), media_type="application/json")
        self._stream = stream
        self._connection = connection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = asyncio.create_task(self._watch(receive))
        try:
            await self.stream_response(send)
        except OSError:
            pass  # the client went away between two lines
        finally:
            self._stream.release(self._connection)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._stream.release(self._connection)
