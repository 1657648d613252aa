"""A lean HTTP/1.1 transport for the X client: keep-alive connections, nothing else.

httpx's default transport (httpcore over anyio) spent about 4 ms of CPU per
request on the bench machine: on every request its pool checks each pooled
connection with a syscall, and anyio sets up cancel scopes and locks. The X
client makes one small request per reply, so that overhead was the largest
cost of dmbot end to end (bench/README.md). This transport does only what
the client needs: HTTP/1.1 requests with fully read bodies over asyncio
streams, with a stack of idle keep-alive connections per host.
:meth:`LeanTransport.exchange` is the whole of it; the X client calls it
directly for its own requests, and :meth:`~LeanTransport.handle_async_request`
serves any other httpx request through it.

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
from typing import NamedTuple

import httpx

__all__ = ["Answer", "LeanTransport", "Origin", "default_transport"]

_HEAD_LIMIT = 64 * 1024
"""The longest status line and headers accepted, as asyncio's stream buffer."""


class Origin(NamedTuple):
    """Where requests go: scheme, host and port."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: httpx.URL) -> Origin:
        return cls(url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


class Answer(NamedTuple):
    """One HTTP answer, read whole."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    content: bytes


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


class _Malformed(Exception):
    """The server's answer is not HTTP/1.1 this transport can read."""


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
        self._idle: dict[Origin, list[_Connection]] = {}

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        return self._ssl

    async def exchange(
        self,
        method: str,
        origin: Origin,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        connect_timeout: float | None,
        answer_timeout: float | None,
    ) -> Answer:
        """Send one request and read its whole answer.

        ``target`` is the path and query; ``headers`` go out as given, after
        ``Host`` and ``Content-Length``.

        Raises:
            httpx.ConnectError, httpx.ConnectTimeout: no connection.
            httpx.ReadError, httpx.ReadTimeout: no complete answer (the
                request may have reached the server).
        """
        data = _request_head(method, origin, target, headers, len(body)) + body
        connection = self._take(origin) or await self._connect(origin, connect_timeout)
        try:
            async with asyncio.timeout(answer_timeout):
                connection.writer.write(data)
                await connection.writer.drain()
                answer, reusable = await _receive(connection.reader, method)
        except TimeoutError as exc:
            connection.close()
            raise httpx.ReadTimeout(f"no answer from {origin.host} in time") from exc
        except (OSError, ConnectionError, asyncio.IncompleteReadError, _Malformed) as exc:
            connection.close()
            raise httpx.ReadError(f"{origin.host}: {exc or type(exc).__name__}") from exc
        except asyncio.LimitOverrunError as exc:
            connection.close()
            too_long = f"{origin.host}: answer headers over {_HEAD_LIMIT} bytes"
            raise httpx.ReadError(too_long) from exc
        except BaseException:
            connection.close()  # cancelled mid-request: the connection's state is unknown
            raise
        if reusable:
            self._give_back(origin, connection)
        else:
            connection.close()
        return answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        body = await request.aread()
        skip = {"host", "content-length", "transfer-encoding"}
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in skip]
        try:
            answer = await self.exchange(
                request.method,
                Origin.of(request.url),
                request.url.raw_path.decode("ascii"),
                headers,
                body,
                connect_timeout=timeouts.get("connect"),
                answer_timeout=timeouts.get("read"),
            )
        except httpx.TransportError as exc:
            exc.request = request
            raise
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            content=answer.content,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason.encode()},
        )

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.usable(now, self.keepalive):
                return connection
            connection.close()
        return None

    def _give_back(self, origin: Origin, connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) >= self.max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def _connect(self, origin: Origin, limit: float | None) -> _Connection:
        scheme, host, port = origin
        try:
            async with asyncio.timeout(limit):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=self._tls() if scheme == "https" else None, limit=_HEAD_LIMIT
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


def _request_head(
    method: str, origin: Origin, target: str, headers: list[tuple[str, str]], size: int
) -> bytes:
    if " " in target or "\r" in target or "\n" in target:
        raise ValueError(f"request target {target[:80]!r} has a space or a line break")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {origin.host_header}"]
    lines.append(f"Content-Length: {size}")
    for name, value in headers:
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"header {name!r} has a line break or a colon in its name")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


async def _receive(reader: asyncio.StreamReader, method: str) -> tuple[Answer, bool]:
    """The answer to the request just written, and whether the connection can be reused."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise _Malformed(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
        status = int(code)
        if not 100 <= status < 200:
            break  # a 1xx is an interim answer: the real one follows
    headers: list[tuple[str, str]] = []
    length: int | None = None
    chunked = False
    close = version == "HTTP/1.0"
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise _Malformed(f"not a header line: {line[:80]!r}")
        name, value = name.strip(), value.strip()
        lower = name.lower()
        if lower == "content-length":
            if not value.isdigit():
                raise _Malformed(f"Content-Length is {value[:40]!r}")
            length = int(value)
        elif lower == "transfer-encoding":
            chunked = value.lower().endswith("chunked")
        elif lower == "connection":
            tokens = {token.strip().lower() for token in value.split(",")}
            close = "close" in tokens or (close and "keep-alive" not in tokens)
        headers.append((name, value))
    if method == "HEAD" or status in (204, 304):
        content = b""
    elif chunked:
        content = await _chunks(reader)
    elif length is not None:
        content = await reader.readexactly(length)
    else:
        content = await reader.read()  # the body runs to the end of the connection
        close = True
    return Answer(status, reason, headers, content), not close


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _Malformed(f"a chunk size of {size_text[:20]!r}") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers: not used
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise _Malformed("a chunk not followed by CRLF")


def default_transport() -> httpx.AsyncBaseTransport | None:
    """The transport for an XClient given none: lean, unless a proxy is configured."""
    proxied = any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"))
    return None if proxied else LeanTransport()
