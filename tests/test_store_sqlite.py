"""What only the SQLite backend promises: durability across restarts."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from dmbot.errors import StorageError
from dmbot.store import Commit, NewAction, OutboxStatus
from dmbot.store.sqlite import SqliteStore
from dmbot.store.sqlite_commit import LATER_WITHIN


@pytest.mark.parametrize("synchronous", ["normal", "full"])
async def test_unacknowledged_deliveries_come_back_after_reopen(
    tmp_path: Path, synchronous: str
) -> None:
    store = SqliteStore(tmp_path / "db.sqlite", synchronous=synchronous)
    await store.open()
    first = await store.append(b'{"a":1}', time.time())
    await store.append(b'{"b":2}', time.time())
    assert len(await store.read()) == 2
    await store.ack([first])
    await store.commit(Commit("e1", ("1", "2"), actions=[NewAction("dm", {"text": "x"})]))
    await store.close()

    reopened = SqliteStore(tmp_path / "db.sqlite", synchronous=synchronous)
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


async def test_the_log_is_copied_into_the_database_while_serving(tmp_path: Path) -> None:
    # Commits on the event loop never checkpoint; a thread of the store does.
    path = tmp_path / "db.sqlite"
    store = SqliteStore(path)
    await store.open()
    try:
        empty = _size(path)
        await asyncio.gather(*(store.append(b"x" * 1000, time.time()) for _ in range(200)))
        assert _size(Path(f"{path}-wal")) > 200 * 1000
        deadline = time.monotonic() + 10
        while _size(path) <= empty + 200 * 1000:
            assert time.monotonic() < deadline, "the WAL was never checkpointed"
            await asyncio.sleep(0.05)
    finally:
        await store.close()
    assert len(await _read_all(path)) == 200


def _size(path: Path) -> int:
    return path.stat().st_size


async def _read_all(path: Path) -> list[object]:
    store = SqliteStore(path)
    await store.open()
    try:
        return list(await store.read(1000))
    finally:
        await store.close()


@pytest.mark.parametrize("synchronous", ["normal", "full"])
async def test_a_damaged_row_fails_its_own_call_and_no_other(
    tmp_path: Path, synchronous: str
) -> None:
    path = tmp_path / "db.sqlite"
    store = SqliteStore(path, synchronous=synchronous)
    await store.open()
    try:
        with sqlite3.connect(path) as other:
            other.execute("INSERT INTO conversations VALUES ('1', '2', 'not json')")
        async with asyncio.timeout(10):  # a lost future would hang here
            damaged, appended = await asyncio.gather(
                store.load_unclaimed(("1", "2"), "e1"),
                store.append(b"{}", time.time()),
                return_exceptions=True,
            )
        assert isinstance(damaged, ValueError)
        assert [item.id for item in await store.read()] == [appended]
        assert await store.load(("1", "3")) == {}
    finally:
        await store.close()


async def test_the_log_starts_over_while_deliveries_keep_coming(tmp_path: Path) -> None:
    # A checkpoint on another connection never finishes while commits keep landing;
    # without the loop finishing one now and then, the WAL would grow with every byte.
    path = tmp_path / "db.sqlite"
    store = SqliteStore(path, checkpoint_every=0.01, wal_pages=64)
    await store.open()
    body = b"x" * 3000
    largest = 0
    try:
        for _ in range(400):  # back to back, 400 rounds of 32 rows: about 50 MB of log
            await asyncio.gather(*(store.append(body, time.time()) for _ in range(32)))
            largest = max(largest, _size(Path(f"{path}-wal")))
    finally:
        await store.close()
    assert largest < 24 * 1024 * 1024, f"the WAL grew to {largest} bytes"


async def test_an_echo_mark_is_written_without_another_write_and_at_close(
    tmp_path: Path,
) -> None:
    """A mark queued for the next round does not wait for one forever, nor die with a
    clean stop."""
    store = SqliteStore(tmp_path / "dmbot.db")
    await store.open()
    conv = ("1", "a")
    await store.commit(Commit("e1", conv, actions=[NewAction("dm", {"text": "hi"})]))
    await store.commit(Commit("e2", conv, actions=[NewAction("dm", {"text": "again"})]))
    first, second = await store.outbox(conv)
    await store.sent(first.id, "900")
    await store.sent(second.id, "901")
    await store.delivered_soon("900")
    # Its own round is a timer of the loop: one sleep past it on the same loop sees it.
    await asyncio.sleep(LATER_WITHIN * 1.5)
    assert (await store.outbox(conv))[0].status == OutboxStatus.DELIVERED
    await store.delivered_soon("901")
    await store.close()
    reopened = SqliteStore(tmp_path / "dmbot.db")
    await reopened.open()
    try:
        assert [r.status for r in await reopened.outbox(conv)] == [OutboxStatus.DELIVERED] * 2
    finally:
        await reopened.close()
