"""The X client's lean HTTP/1.1 transport, against a real server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from dmbot.x.transport import LeanTransport


class Server:
    """A tiny HTTP/1.1 server that counts connections and can misbehave on purpose."""

    def __init__(self) -> None:
        self.connections = 0
        self.mode = "ok"
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                if self.mode == "hang":
                    await asyncio.sleep(10)
                if self.mode == "drop":
                    writer.close()
                    return
                payload = b'{"echo":' + str(len(body)).encode() + b"}"
                close = self.mode == "close"
                writer.write(
                    b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n"
                    + b"x-rate-limit-remaining: 7\r\n"
                    + (b"connection: close\r\n" if close else b"")
                    + b"content-length: "
                    + str(len(payload)).encode()
                    + b"\r\n\r\n"
                    + payload
                )
                await writer.drain()
                if close:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    srv.server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    srv.port = srv.server.sockets[0].getsockname()[1]
    yield srv
    srv.server.close()
    for writer in srv.writers:
        writer.close()
    await srv.server.wait_closed()


async def test_requests_share_one_keep_alive_connection(server: Server) -> None:
    async with httpx.AsyncClient(
        transport=LeanTransport(), base_url=f"http://127.0.0.1:{server.port}"
    ) as client:
        for _ in range(5):
            response = await client.post("/send", json={"text": "hi"})
            assert response.status_code == 201
            assert response.json() == {"echo": 13}  # the compact JSON body's length
            assert response.headers["x-rate-limit-remaining"] == "7"
    assert server.connections == 1


async def test_a_connection_the_server_closed_is_not_reused(server: Server) -> None:
    server.mode = "close"
    async with httpx.AsyncClient(
        transport=LeanTransport(), base_url=f"http://127.0.0.1:{server.port}"
    ) as client:
        for _ in range(3):
            assert (await client.post("/send", content=b"x")).status_code == 201
    assert server.connections == 3


async def test_an_idle_connection_past_keepalive_is_not_reused(server: Server) -> None:
    transport = LeanTransport(keepalive=0.0)
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://127.0.0.1:{server.port}"
    ) as client:
        await client.get("/a")
        await client.get("/b")
    assert server.connections == 2


async def test_a_dropped_connection_is_httpx_read_error_and_not_retried(server: Server) -> None:
    server.mode = "drop"
    async with httpx.AsyncClient(
        transport=LeanTransport(), base_url=f"http://127.0.0.1:{server.port}"
    ) as client:
        with pytest.raises(httpx.ReadError):
            await client.post("/send", content=b"once")
    assert server.connections == 1  # never sent a second time


async def test_a_slow_server_is_a_read_timeout(server: Server) -> None:
    server.mode = "hang"
    async with httpx.AsyncClient(
        transport=LeanTransport(), base_url=f"http://127.0.0.1:{server.port}", timeout=0.2
    ) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/slow")


async def test_nobody_listening_is_a_connect_error() -> None:
    async with httpx.AsyncClient(
        transport=LeanTransport(), base_url="http://127.0.0.1:1"
    ) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/")


# -- answers as servers write them ----------------------------------------------------


async def answer_with(raw: bytes) -> tuple[asyncio.Server, int]:
    """A server that reads one request head and writes ``raw`` back, then closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(raw)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(
    ("raw", "content"),
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n",
            b"hello, world",
            id="chunked, with an extension and a trailer",
        ),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            b"ok",
            id="an interim 100 first",
        ),
        pytest.param(
            b"HTTP/1.0 200 OK\r\n\r\nto the end of the connection",
            b"to the end of the connection",
            id="no length: the body runs to the close",
        ),
        pytest.param(b"HTTP/1.1 204 No Content\r\n\r\n", b"", id="204 has no body"),
    ],
)
async def test_answers_are_read_whole_however_they_are_framed(raw: bytes, content: bytes) -> None:
    server, port = await answer_with(raw)
    async with server, httpx.AsyncClient(transport=LeanTransport()) as client:
        response = await client.post(f"http://127.0.0.1:{port}/x", content=b"{}")
    assert response.content == content


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"SMTP ready\r\n\r\n", id="not HTTP"),
        pytest.param(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", id="cut short"),
        pytest.param(b"HTTP/1.1 200 OK\r\ncontent-length: ten\r\n\r\n", id="bad length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", id="bad header"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", id="bad chunk size"
        ),
    ],
)
async def test_a_malformed_answer_is_a_read_error(raw: bytes) -> None:
    server, port = await answer_with(raw)
    async with server, httpx.AsyncClient(transport=LeanTransport()) as client:
        with pytest.raises(httpx.ReadError):
            await client.post(f"http://127.0.0.1:{port}/x", content=b"{}")


async def test_a_header_with_a_line_break_is_never_written(server: Server) -> None:
    async with httpx.AsyncClient(
        transport=LeanTransport(), base_url=f"http://127.0.0.1:{server.port}"
    ) as client:
        request = client.build_request("GET", "/a")
        request.headers["x-note"] = "ok"
        request.headers._list[-1] = (b"x-note", b"x-note", b"a\r\nInjected: yes")
        with pytest.raises(ValueError, match="line break"):
            await client.send(request)
    assert server.connections == 0
