"""What correctness costs in space: event-id claims, conversation state, limiter memory.

The tables are filled in bulk with SQL (one transaction, as fast as SQLite
goes) in a file whose schema the real :class:`~dmbot.store.sqlite.SqliteStore`
created, then measured with SQLite's ``dbstat`` (pages each table and its
indexes use) and by the file size.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from payloads import BOT_ID, PEER_BASE

from dmbot.store.sqlite import SqliteStore
from dmbot.x.ratelimit import RateLimiter

FIRST_DM_ID = 2_126_000_000_000_000_000
"""Claims are DM ids: 19-digit snowflakes."""

DEFAULT_DOCS = ('{"last_dm_id":2126052605430857728}',)


def _fresh(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)

    async def create() -> None:
        store = SqliteStore(path)
        await store.open()
        await store.close()

    asyncio.run(create())


def _table_bytes(conn: sqlite3.Connection, table: str) -> tuple[int, int]:
    """(pages in bytes, payload bytes) of ``table`` and its indexes."""
    rows = conn.execute(
        "SELECT SUM(pgsize), SUM(payload) FROM dbstat WHERE name = ?"
        " OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?)",
        (table, table),
    ).fetchone()
    return int(rows[0] or 0), int(rows[1] or 0)


def _fill(path: Path, table: str, sql: str, rows: Iterator[tuple[Any, ...]]) -> dict[str, Any]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = path.stat().st_size
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        seconds = time.perf_counter() - start
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        after = path.stat().st_size
        pages, payload = _table_bytes(conn, table)
        count = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()
    return {
        "rows": count,
        "table_bytes": pages,
        "bytes_per_row": pages / count if count else 0.0,
        "payload_per_row": payload / count if count else 0.0,
        "file_growth_per_row": (after - before) / count if count else 0.0,
        "fill_rows_per_s": count / seconds if seconds else 0.0,
    }


def claims_size(path: Path, count: int) -> dict[str, Any]:
    """Bytes per claimed event id after ``count`` claims (rows as ``SqliteStore.commit`` writes)."""
    _fresh(path)
    now = int(time.time())
    rows = ((str(FIRST_DM_ID + (i << 22)), now, 0) for i in range(count))
    result = _fill(path, "claims", "INSERT INTO claims (id, at, status) VALUES (?, ?, ?)", rows)
    result["count"] = count
    return result


def state_size(path: Path, count: int, docs: list[str]) -> dict[str, Any]:
    """Bytes per conversation after ``count`` conversation documents (cycling ``docs``)."""
    _fresh(path)
    samples = docs or list(DEFAULT_DOCS)
    rows = ((BOT_ID, str(PEER_BASE + i), samples[i % len(samples)]) for i in range(count))
    result = _fill(
        path,
        "conversations",
        "INSERT INTO conversations (account, peer, doc) VALUES (?, ?, ?)",
        rows,
    )
    result["count"] = count
    result["doc_bytes_mean"] = sum(len(d) for d in samples) / len(samples)
    return result


def prefill_conversations(path: Path, count: int, docs: list[str]) -> None:
    """A store holding ``count`` conversations already, for the growth runs."""
    state_size(path, count, docs)


def sample_docs(db: Path, limit: int = 2000) -> list[str]:
    """Conversation documents a real run left in ``db`` (empty if none)."""
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT doc FROM conversations LIMIT ?", (limit,)).fetchall()
    return [str(row[0]) for row in rows]


def limiter_bytes_per_conversation(count: int) -> dict[str, Any]:
    """Python heap the sender's rate limiter keeps per conversation answered in the last 24 h.

    The worker reports every handled incoming DM (``RateLimiter.received``)
    so that X's five free replies are credited; each report is kept for 24 h.
    """
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    limiter = RateLimiter()
    for i in range(count):
        limiter.received(BOT_ID, str(PEER_BASE + i))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    del limiter
    # A conversation that goes on: each received message answered once, all within 24 h.
    messages = 100
    peers = max(count // messages, 1)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    limiter = RateLimiter()
    for peer in range(peers):
        for _ in range(messages):
            limiter.received(BOT_ID, str(PEER_BASE + peer))
            limiter.sent_dm(BOT_ID, str(PEER_BASE + peer))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    chatty = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return {
        "conversations": count,
        "bytes_per_conversation": grown / count,
        "bytes_per_message": chatty / (peers * messages),
        "messages_per_conversation": messages,
    }


def doc_summary(docs: list[str]) -> dict[str, Any]:
    """Sizes of sampled documents, and one example."""
    if not docs:
        return {"samples": 0}
    sizes = sorted(len(d) for d in docs)
    return {
        "samples": len(docs),
        "mean_bytes": sum(sizes) / len(sizes),
        "max_bytes": sizes[-1],
        "example": json.loads(max(docs, key=len)),
    }
