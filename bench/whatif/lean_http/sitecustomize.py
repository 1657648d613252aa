"""What-if: the X client on a lean HTTP/1.1 transport instead of httpcore's pool.

Loaded by Python at start-up when this folder is on PYTHONPATH (see
../README.md). Every ``httpx.AsyncClient`` made without a transport gets
:class:`LeanTransport`: per (host, port), a stack of idle keep-alive
connections (``asyncio`` streams) and the ``h11`` parser that httpcore uses
too. What it leaves out, compared with httpcore: the per-request scan of
every pooled connection (``has_expired``/``is_idle``, each a ``poll`` and an
anyio attribute lookup), anyio's cancel scopes, and HTTP/2 and proxies.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import h11
import httpx

_original_init = httpx.AsyncClient.__init__


class LeanTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int], list[tuple[Any, Any]]] = {}
        self._tls = ssl.create_default_context()

    async def _connect(self, key: tuple[str, str, int]) -> tuple[Any, Any]:
        scheme, host, port = key
        tls = self._tls if scheme == "https" else None
        return await asyncio.open_connection(host, port, ssl=tls)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        key = (url.scheme, url.host, port)
        idle = self._idle.setdefault(key, [])
        body = await request.aread()
        for fresh in (False, True):
            reader, writer = idle.pop() if idle and not fresh else await self._connect(key)
            conn = h11.Connection(h11.CLIENT)
            target = url.raw_path
            headers = list(request.headers.raw)
            data = conn.send(h11.Request(method=request.method, target=target, headers=headers))
            data += conn.send(h11.Data(data=body)) if body else b""
            data += conn.send(h11.EndOfMessage())
            try:
                writer.write(data)
                response, content = await self._receive(conn, reader)
            except (ConnectionError, h11.RemoteProtocolError, asyncio.IncompleteReadError):
                writer.close()
                if fresh:
                    raise httpx.ReadError("connection lost") from None
                continue  # a stale keep-alive connection: once more on a new one
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                idle.append((reader, writer))
            else:
                writer.close()
            return httpx.Response(
                response.status_code,
                headers=[(k, v) for k, v in response.headers],
                content=content,
                request=request,
            )
        raise AssertionError("unreachable")

    async def _receive(self, conn: h11.Connection, reader: Any) -> tuple[Any, bytes]:
        response = None
        chunks: list[bytes] = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("closed")
                conn.receive_data(data)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return response, b"".join(chunks)

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for _, writer in connections:
                writer.close()
        self._idle.clear()


def _init(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
    if kwargs.get("transport") is None:
        kwargs["transport"] = LeanTransport()
    _original_init(self, *args, **kwargs)


httpx.AsyncClient.__init__ = _init  # type: ignore[method-assign]
