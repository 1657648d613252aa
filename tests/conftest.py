from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dmbot.store import Store
from dmbot.store.memory import MemoryStore
from dmbot.store.sqlite import SqliteStore

REDIS_URL = os.environ.get("DMBOT_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _redis_reachable() -> str | None:
    """None if a Redis answers at REDIS_URL, else the reason to skip."""
    try:
        import redis
    except ImportError:
        return "the redis package is not installed: pip install 'dmbot[redis]'"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except Exception as exc:
        return f"no Redis answers at {REDIS_URL} ({exc}); start one with redis-server"
    return None


def require_redis() -> None:
    """Skip locally without Redis; fail in CI (DMBOT_REQUIRE_REDIS=1)."""
    reason = _redis_reachable()
    if reason is None:
        return
    if os.environ.get("DMBOT_REQUIRE_REDIS") == "1":
        pytest.fail(f"Redis is required here (DMBOT_REQUIRE_REDIS=1): {reason}")
    pytest.skip(reason)


STORE_KINDS = ["memory", "sqlite", "sqlite-full"]
try:
    import dmbot.store.redis  # noqa: F401

    STORE_KINDS.append("redis")
except ImportError:
    pass


async def make_store(kind: str, tmp_path: Path) -> Store:
    store: Store
    if kind == "memory":
        store = MemoryStore()
    elif kind == "sqlite":
        store = SqliteStore(tmp_path / "dmbot.db")
    elif kind == "sqlite-full":  # commits on the writer thread, an fsync each
        store = SqliteStore(tmp_path / "dmbot.db", synchronous="full")
    else:
        require_redis()
        from dmbot.store.redis import RedisStore

        store = RedisStore(REDIS_URL, prefix=f"dmbot-test-{os.getpid()}-{tmp_path.name}")
    await store.open()
    return store


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend = await make_store(request.param, tmp_path)
    try:
        yield backend
    finally:
        if request.param == "redis":
            await backend.drop()  # type: ignore[attr-defined]  # leave db 15 as found
        await backend.close()
