"""Stand-in for the ``sniffio`` package (what-if measurement only; see ../README.md).

httpcore asks ``sniffio.current_async_library()`` on every lock and event
it sets up; dmbot runs only under asyncio, which is what the real package
would answer.
"""

from __future__ import annotations


def current_async_library() -> str:
    return "asyncio"
