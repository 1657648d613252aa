"""HTTP between a bot and the emulated X, recorded both ways for the chat page's panel.

A :class:`Recorder` is an httpx transport that records each exchange it
carries: to an ASGI app (the sandbox wires the bot and the emulator to each
other in-process) or over the network (``dmbot emulator`` delivering to a
``dmbot serve`` elsewhere). :func:`recording` wraps an ASGI app so that the
calls it *receives* are recorded too: the standalone emulator's API.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dmbot.emulator.delivery import SIGNATURE_HEADER

__all__ = ["Direction", "Exchange", "Recorder", "Traffic", "recording"]

Direction = Literal["to_bot", "to_x"]
"""``to_bot``: X calling the webhook (CRC, deliveries); ``to_x``: the bot calling X's API."""

# Only these request headers are kept: the OAuth header holds the access token.
_KEPT_HEADERS = ("content-type", SIGNATURE_HEADER)


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One HTTP request between the bot and X, and its answer.

    Attributes:
        seq: its place in the traffic, from 1.
        at: when the request was made (seconds since the epoch).
        direction: ``to_bot`` (a CRC check or delivery) or ``to_x`` (an API call).
        method: the HTTP method.
        path: the path, with the query string when there is one.
        headers: the content type and the delivery signature, when present.
        body: the exact request body.
        status: the HTTP status of the answer; None when there was none.
        response: the answer's body.
        error: why no answer came (a timeout, a crash), if so.
    """

    seq: int
    at: float
    direction: Direction
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    status: int | None
    response: bytes
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON form: bodies decoded as JSON, a form, or text."""
        return {
            "seq": self.seq,
            "at": self.at,
            "direction": self.direction,
            "method": self.method,
            "path": self.path,
            "headers": dict(self.headers),
            "body": _decoded(self.body, self.headers.get("content-type", "")),
            "status": self.status,
            "response": _decoded(self.response, "application/json"),
            "error": self.error,
        }


def _decoded(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        return json.loads(text)
    except ValueError:
        return text


class Traffic:
    """Every exchange between the bot and the emulated X, both ways, in order."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self._changed = asyncio.Event()

    def add(self, exchange: Exchange) -> None:
        """Record an exchange and wake whoever waits for one."""
        self.exchanges.append(exchange)
        # A fresh event per change: waiters hold the one that was current.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_beyond(self, count: int, timeout: float) -> None:  # noqa: ASYNC109
        """Return once more than ``count`` exchanges are recorded, or after ``timeout``."""
        while len(self.exchanges) <= count:
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait()
            except TimeoutError:
                return

    def clear(self) -> None:
        """Forget every exchange."""
        self.exchanges.clear()


class Recorder(httpx.AsyncBaseTransport):
    """A transport that records each exchange it carries.

    Args:
        traffic: where exchanges are recorded.
        direction: which way the requests go.
        inner: the transport to carry them; None until :meth:`connect` names an
            ASGI app (the sandbox's two apps call each other, so one of them
            cannot exist yet when the other's transport is made).
    """

    def __init__(
        self, traffic: Traffic, direction: Direction, inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.traffic = traffic
        self.direction = direction
        self._inner = inner

    def connect(self, app: Any) -> None:
        """Carry requests to the ASGI ``app``."""
        self._inner = httpx.ASGITransport(app=app)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert self._inner is not None, "connect() names the app before any request"
        at = time.time()
        body = await request.aread()
        status: int | None = None
        answer = b""
        error: str | None = None
        try:
            response = await self._inner.handle_async_request(request)
            answer = await response.aread()
            status = response.status_code
            return httpx.Response(status, headers=response.headers, content=answer)
        except asyncio.CancelledError:
            # X gave up waiting (its delivery timeout): the request had no answer.
            error = "X stopped waiting for an answer"
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            url = urlsplit(str(request.url))
            self.traffic.add(
                Exchange(
                    len(self.traffic.exchanges) + 1,
                    at,
                    self.direction,
                    request.method,
                    f"{url.path}?{url.query}" if url.query else url.path,
                    {k: request.headers[k] for k in _KEPT_HEADERS if k in request.headers},
                    body,
                    status,
                    answer,
                    error,
                )
            )


def recording(
    app: ASGIApp, traffic: Traffic, *, direction: Direction, skip: tuple[str, ...] = ()
) -> ASGIApp:
    """``app``, recording every HTTP request it receives except paths under ``skip``.

    The standalone emulator records the API calls a bot makes to it this way,
    as the sandbox's :class:`Recorder` does on the bot's side.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(skip):
            await app(scope, receive, send)
            return
        at = time.time()
        body = bytearray()
        answer = bytearray()
        status: list[int] = []

        async def receive_recorded() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def send_recorded(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            elif message["type"] == "http.response.body":
                answer.extend(message.get("body", b""))
            await send(message)

        error: str | None = None
        try:
            await app(scope, receive_recorded, send_recorded)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            headers = {
                k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])
            }
            query = scope.get("query_string", b"").decode("latin-1")
            traffic.add(
                Exchange(
                    len(traffic.exchanges) + 1,
                    at,
                    direction,
                    scope["method"],
                    f"{scope['path']}?{query}" if query else scope["path"],
                    {k: headers[k] for k in _KEPT_HEADERS if k in headers},
                    bytes(body),
                    status[0] if status else None,
                    bytes(answer),
                    error,
                )
            )

    return wrapped
