"""What only the SQLite backend promises: durability across restarts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dmbot.errors import StorageError
from dmbot.store import Commit, NewAction
from dmbot.store.sqlite import SqliteStore


async def test_unacknowledged_deliveries_come_back_after_reopen(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite")
    await store.open()
    first = await store.append(b'{"a":1}', time.time())
    await store.append(b'{"b":2}', time.time())
    assert len(await store.read()) == 2
    await store.ack([first])
    await store.commit(Commit("e1", ("1", "2"), actions=[NewAction("dm", {"text": "x"})]))
    await store.close()

    reopened = SqliteStore(tmp_path / "db.sqlite")
    await reopened.open()
    try:
        assert [item.body for item in await reopened.read()] == [b'{"b":2}']
        assert await reopened.claimed("e1")
        assert [i.payload for i in await reopened.due(time.time() + 1)] == [{"text": "x"}]
    finally:
        await reopened.close()


async def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "nope" / "db.sqlite")
    with pytest.raises(StorageError, match="does not exist"):
        await store.open()


async def test_calls_before_open_say_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="open"):
        await SqliteStore(tmp_path / "db.sqlite").append(b"{}", 0.0)
