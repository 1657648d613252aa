"""Serving an ASGI app from the command line: ``serve``, ``dev`` and ``emulator`` share it.

:func:`bind_socket` binds the port before anything starts, so a port in use is
one clear line; :func:`run_uvicorn` serves until SIGTERM or SIGINT and exits 0
on a clean stop.
"""

from __future__ import annotations

import errno
import gc
import socket
from collections.abc import Callable
from typing import Any

from dmbot.errors import ConfigError

__all__ = ["GC_YOUNG_THRESHOLD", "bind_socket", "run_uvicorn", "settle_heap"]


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the server socket up front, so a port in use is one clear line.

    Raises:
        ConfigError: the port is out of range, taken, or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OverflowError as exc:
        sock.close()
        raise ConfigError(f"--port must be an integer from 1 to 65535 (got {port})") from exc
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another dmbot?); stop that process "
                "or pick another port with --port"
            ) from exc
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


# Young-generation threshold of the cyclic GC while serving (CPython's default: 700).
GC_YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Tune the cyclic garbage collector for a long-running server, once it has started.

    Everything alive after start-up (modules, the bot, its flows) lives as long
    as the process: ``gc.freeze`` takes it out of every later collection. And
    with CPython's default threshold, objects held by the requests in flight
    survive a young collection every few hundred allocations, get promoted,
    and make full collections frequent: under a burst of deliveries they took
    a fifth of the CPU and stalled acknowledgements for tens of milliseconds
    (bench/README.md). A larger young generation lets those objects die young.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def run_uvicorn(
    app: Any,
    sock: socket.socket,
    *,
    access_log: bool,
    level: str,
    before_shutdown: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down cleanly and return.

    ``before_shutdown`` runs first on shutdown (e.g. to answer open long polls).
    """
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            # uvicorn re-raises the signal after shutting down; a requested stop
            # that completed cleanly is a success, so exit 0 instead.
            self._captured_signals.clear()

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            settle_heap()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if before_shutdown is not None:
                before_shutdown()
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        log_level=level,
        access_log=access_log,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    Server(config).run(sockets=[sock])
