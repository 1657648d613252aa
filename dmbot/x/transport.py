"""A lean HTTP/1.1 transport for the X client: keep-alive connections and h11.

httpx's default transport (httpcore over anyio) spends about 4 ms of CPU per
request on the bench machine: on every request its pool checks each pooled
connection with a syscall, and anyio sets up cancel scopes and locks. The X
client makes one small request per reply, so that overhead was the largest
cost of dmbot end to end (bench/README.md). This transport does only what
the client needs: HTTP/1.1 requests with fully read bodies over asyncio
streams, parsed by h11 (the same parser httpcore uses), with a stack of idle
keep-alive connections per host.

It never retries: a request that fails is reported as httpx's own transport
error, and the sender decides what to do (a transient error, retried with
backoff). Connections idle for longer than ``keepalive`` are closed before
they can go stale, and one the server has closed is never reused. No proxies
and no HTTP/2: with a proxy configured in the environment, the client keeps
httpx's default transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import time
from typing import Any

import h11
import httpx

__all__ = ["LeanTransport", "default_transport"]

_Key = tuple[str, str, int]


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float, keepalive: float) -> bool:
        return (
            now - self.idle_since < keepalive
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        self.writer.close()


class LeanTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive requests over asyncio streams.

    Args:
        keepalive: seconds an idle connection is kept for reuse.
        max_idle: idle connections kept per host.
        ssl_context: for https; httpx's default context (certifi) when None.
    """

    def __init__(
        self,
        *,
        keepalive: float = 5.0,
        max_idle: int = 32,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.keepalive = keepalive
        self.max_idle = max_idle
        self._ssl = ssl_context
        self._idle: dict[_Key, list[_Connection]] = {}

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        return self._ssl

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        body = await request.aread()
        connection = self._take(key) or await self._connect(key, timeouts.get("connect"))
        parser = h11.Connection(h11.CLIENT)
        headers = list(request.headers.raw)
        data = parser.send(h11.Request(method=request.method, target=url.raw_path, headers=headers))
        if body:
            data += parser.send(h11.Data(data=body))
        data += parser.send(h11.EndOfMessage())
        try:
            connection.writer.write(data)
            async with asyncio.timeout(timeouts.get("write")):
                await connection.writer.drain()
            async with asyncio.timeout(timeouts.get("read")):
                response, content = await _receive(parser, connection.reader)
        except TimeoutError as exc:
            connection.close()
            raise httpx.ReadTimeout(f"no answer from {url.host} in time", request=request) from exc
        except (OSError, h11.ProtocolError, ConnectionError) as exc:
            connection.close()
            raise httpx.ReadError(
                f"{url.host}: {exc or type(exc).__name__}", request=request
            ) from exc
        except BaseException:
            connection.close()  # cancelled mid-request: the connection's state is unknown
            raise
        if parser.our_state is h11.DONE and parser.their_state is h11.DONE:
            self._give_back(key, connection)
        else:
            connection.close()
        return httpx.Response(
            response.status_code,
            headers=list(response.headers),
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason},
        )

    def _take(self, key: _Key) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.usable(now, self.keepalive):
                return connection
            connection.close()
        return None

    def _give_back(self, key: _Key, connection: _Connection) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) >= self.max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def _connect(self, key: _Key, limit: float | None) -> _Connection:
        scheme, host, port = key
        try:
            async with asyncio.timeout(limit):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=self._tls() if scheme == "https" else None
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"cannot connect to {host}:{port} in time") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return _Connection(reader, writer)

    async def aclose(self) -> None:
        connections = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        for connection in connections:
            connection.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()


async def _receive(parser: h11.Connection, reader: asyncio.StreamReader) -> tuple[Any, bytes]:
    response: Any = None
    chunks: list[bytes] = []
    while True:
        event = parser.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            parser.receive_data(data)
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            return response, b"".join(chunks)
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("the server closed the connection")


def default_transport() -> httpx.AsyncBaseTransport | None:
    """The transport for an XClient given none: lean, unless a proxy is configured."""
    proxied = any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"))
    return None if proxied else LeanTransport()
