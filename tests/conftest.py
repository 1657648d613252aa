from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from clock import Clock

from dmbot.emulator import Emulator
from dmbot.store import Store
from dmbot.store.memory import MemoryStore
from dmbot.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from test_emulator_api import Receiver

REDIS_URL = os.environ.get("DMBOT_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _redis_reachable() -> str | None:
    """None if a Redis answers at REDIS_URL, else the reason to skip."""
    try:
        import redis
        import redis.asyncio
    except ImportError:
        return "the redis package is not installed: pip install 'dmbot[redis]'"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except Exception as exc:
        return f"no Redis answers at {REDIS_URL} ({exc}); start one with redis-server"
    return None


def require_redis() -> None:
    """Skip locally without Redis; fail in CI (DMBOT_REQUIRE_REDIS=1).

    Without the redis package as without a server: a CI run that cannot
    import it must fail, not pass with the Redis tests skipped.
    """
    reason = _redis_reachable()
    if reason is None:
        return
    if os.environ.get("DMBOT_REQUIRE_REDIS") == "1":
        pytest.fail(f"Redis is required here (DMBOT_REQUIRE_REDIS=1): {reason}")
    pytest.skip(reason)


def require_redis_module() -> None:
    """At the top of a module of Redis tests: skip it without Redis, fail it in CI."""
    reason = _redis_reachable()
    if reason is None:
        return
    if os.environ.get("DMBOT_REQUIRE_REDIS") == "1":
        pytest.fail(f"Redis is required here (DMBOT_REQUIRE_REDIS=1): {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


STORE_KINDS = ["memory", "sqlite", "sqlite-full", "redis"]


def redis_prefix(tmp_path: Path) -> str:
    return f"dmbot-test-{os.getpid()}-{tmp_path.name}"


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

        store = RedisStore(REDIS_URL, prefix=redis_prefix(tmp_path))
    await store.open()
    return store


async def restart(kind: str, store: Store, tmp_path: Path) -> Store:
    """``store`` closed, and the same data opened anew: what a restarted process finds.

    The memory store has no file to open again: it stands for its own restart.
    """
    if kind == "memory":
        return store
    await store.close()
    return await make_store(kind, tmp_path)


async def wipe(kind: str, tmp_path: Path) -> None:
    """Leave Redis's db 15 as found: every key of the test's prefix deleted."""
    if kind == "redis":
        from dmbot.store.redis import RedisStore

        cleaner = RedisStore(REDIS_URL, prefix=redis_prefix(tmp_path))
        await cleaner.drop()
        await cleaner.client.aclose()


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend = await make_store(request.param, tmp_path)
    try:
        yield backend
    finally:
        await backend.close()
        await wipe(request.param, tmp_path)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """The backend the ``store`` fixture of this test runs on."""
    kind: str = request.node.callspec.params["store"]
    return kind


# -- the emulator, for the tests of its endpoints (modules may define their own) --------


@pytest.fixture
def clock() -> Clock:
    """Fake time at the real time, moved by hand (modules may start it elsewhere)."""
    return Clock()


@pytest.fixture
def receiver() -> Receiver:
    """A bot's webhook that records what the emulator delivers."""
    from test_emulator_api import Receiver

    return Receiver()


@pytest.fixture
async def emu(receiver: Receiver) -> AsyncIterator[Emulator]:
    """The emulator of ``v2api.emulator``: the bot, a support account and alice."""
    import v2api

    emulator = v2api.emulator(receiver)
    yield emulator
    await emulator.aclose()
