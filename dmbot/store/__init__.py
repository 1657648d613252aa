"""Storage backends, chosen by URL: ``memory://``, ``sqlite:///PATH``, ``redis://HOST:PORT/DB``."""

from __future__ import annotations

from typing import Any

from dmbot.errors import ConfigError
from dmbot.store.base import (
    Commit,
    InboxItem,
    NewAction,
    OutboxItem,
    OutboxStatus,
    Store,
    StoreDepth,
)

__all__ = [
    "Commit",
    "InboxItem",
    "NewAction",
    "OutboxItem",
    "OutboxStatus",
    "Store",
    "StoreDepth",
    "open_store",
]


def open_store(url: str, **options: Any) -> Store:
    """The backend for ``url``; call ``await store.open()`` before use.

    Raises:
        ConfigError: the URL names no known backend.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(
            f"store {url!r} is not a store URL; use memory://, sqlite:///PATH or redis://HOST:PORT/DB"
        )
    if scheme == "memory":
        from dmbot.store.memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        from dmbot.store.sqlite import SqliteStore

        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise ConfigError("store sqlite:/// needs a file path, e.g. sqlite:///dmbot.db")
        return SqliteStore(path, synchronous=str(options.get("synchronous", "normal")))
    if scheme in ("redis", "rediss"):
        try:
            from dmbot.store.redis import RedisStore  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise ConfigError(
                f"store {scheme}:// needs the redis extra: pip install 'dmbot[redis]' ({exc})"
            ) from exc
        store: Store = RedisStore(url, **options)
        return store
    raise ConfigError(
        f"store {url!r} has an unknown scheme {scheme!r}; use memory://, sqlite:///PATH "
        "or redis://HOST:PORT/DB"
    )
