"""The embedded default store: one SQLite file in WAL mode.

Every operation queued since the last round runs in ONE transaction (a group
commit): under load, hundreds of webhook appends share a single commit, and
each caller's future resolves only once its transaction is committed. Where
the rounds run (on the event loop, or on a writer thread when every commit
waits for an fsync) is :mod:`dmbot.store.sqlite_commit`'s business.

Durability: WAL with ``synchronous=NORMAL`` keeps every committed
transaction across ``kill -9`` of the process; ``synchronous=FULL`` also
across power loss, at the price of an fsync per group commit.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from dmbot.errors import StorageError
from dmbot.store.base import Commit, InboxItem, OutboxItem, OutboxStatus, Store, StoreDepth
from dmbot.store.sqlite_commit import (
    CHECKPOINT_INTERVAL,
    WAL_RESTART_PAGES,
    AlreadyClaimed,
    Committer,
    LoopCommitter,
    ThreadCommitter,
)
from dmbot.types import ConversationKey, JSONObject

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    received REAL NOT NULL,
    partition TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS claims (
    id TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    status INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conversations (
    account TEXT NOT NULL,
    peer TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (account, peer)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    peer TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    code INTEGER,
    sent_id TEXT NOT NULL DEFAULT '',
    attempted REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (account, peer, id) WHERE status = 0;
CREATE INDEX IF NOT EXISTS outbox_sent_id ON outbox (sent_id) WHERE sent_id != '';
CREATE TABLE IF NOT EXISTS facts (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""

_STATUS_CODES = {"done": 0, "failed": 1, "ignored": 2}
_INSERT_ACTION = (
    "INSERT INTO outbox (account, peer, kind, payload, created, next_at, source, attempted)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_LOAD_UNCLAIMED = (
    "SELECT EXISTS (SELECT 1 FROM claims WHERE id = ?),"
    " (SELECT doc FROM conversations WHERE account = ? AND peer = ?)"
)
_DELIVERED = "UPDATE outbox SET status = ? WHERE sent_id = ? AND sent_id != ''"
_OUTBOX_COLUMNS = (
    "id, account, peer, kind, payload, created, attempts, next_at, source, status, error, code,"
    " sent_id, attempted"
)
_MIGRATIONS = (
    # Stores made before sends recorded their start (exactly-once replies across crashes).
    ("outbox", "attempted", "ALTER TABLE outbox ADD COLUMN attempted REAL NOT NULL DEFAULT 0"),
)


class SqliteStore(Store):
    """The durable default: ``store: sqlite:///dmbot.db``.

    Args:
        path: the database file; its directory must exist.
        synchronous: ``normal`` survives ``kill -9``; ``full`` also a power loss.
        checkpoint_every: seconds between background WAL checkpoints (tuning).
        wal_pages: WAL length in 4 KiB pages past which a checkpoint is finished
            between two commit rounds, so the log starts over (tuning).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "normal",
        checkpoint_every: float = CHECKPOINT_INTERVAL,
        wal_pages: int = WAL_RESTART_PAGES,
    ) -> None:
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self._committer: Committer
        if self.synchronous == "FULL":
            self._committer = ThreadCommitter(self._connect, self._error)
        else:
            self._committer = LoopCommitter(
                self._connect, self._error, checkpoint_every=checkpoint_every, wal_pages=wal_pages
            )
        self._cursor = 0

    # -- lifecycle ---------------------------------------------------------
    async def open(self) -> None:
        await self._committer.open()
        self._cursor = 0

    async def close(self) -> None:
        await self._committer.close()

    async def ping(self) -> bool:
        try:
            await self._read(lambda db: db.execute("SELECT 1").fetchone())
        except StorageError:
            return False
        return True

    def _connect(self) -> sqlite3.Connection:
        if self.path.parent and not self.path.parent.exists():
            raise StorageError(
                f"cannot open SQLite store {self.path}: directory {self.path.parent} does not "
                "exist; create it or change `store:` in config.yaml"
            )
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if self.synchronous == 'FULL' else 'NORMAL'}")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(_SCHEMA)
        for table, column, statement in _MIGRATIONS:
            if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                db.execute(statement)
        return db

    def _error(self, what: str, exc: BaseException) -> StorageError:
        return StorageError(
            f"SQLite store {self.path}: {what} failed ({exc}); check the disk space and the "
            "file permissions"
        )

    async def _read(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op``, which only reads (at once on the loop; see the committer)."""
        return await self._committer.read(op)

    async def _call(self, op: Callable[[sqlite3.Connection], T], *, savepoint: bool = True) -> T:
        """Run ``op`` in the next group commit (see :mod:`dmbot.store.sqlite_commit`).

        ``savepoint=False`` is for an insert that can only fail with the whole
        transaction; it saves two statements per webhook append.
        """
        return await self._committer.call(op, savepoint)

    # -- inbox -------------------------------------------------------------
    async def append(self, body: bytes, received_at: float, partition: str = "") -> str:
        def op(db: sqlite3.Connection) -> str:
            cur = db.execute(
                "INSERT INTO inbox (body, received, partition) VALUES (?, ?, ?)",
                (body, received_at, partition),
            )
            return str(cur.lastrowid)

        return await self._call(op, savepoint=False)

    async def read(self, limit: int = 256) -> list[InboxItem]:
        cursor = self._cursor

        def op(db: sqlite3.Connection) -> list[InboxItem]:
            rows = db.execute(
                "SELECT id, body, received, partition FROM inbox WHERE id > ? ORDER BY id LIMIT ?",
                (cursor, limit),
            ).fetchall()
            return [InboxItem(str(r[0]), bytes(r[1]), r[2], r[3]) for r in rows]

        items = await self._read(op)
        if items:
            self._cursor = max(self._cursor, int(items[-1].id))
        return items

    def take(self, item: InboxItem) -> bool:
        # Rows are numbered in commit order: the next one to read is the cursor's next.
        if int(item.id) != self._cursor + 1:
            return False
        self._cursor += 1
        return True

    async def ack(self, ids: Sequence[str]) -> None:
        rows = [(int(i),) for i in ids]
        await self._call(lambda db: db.executemany("DELETE FROM inbox WHERE id = ?", rows))

    async def inbox_size(self) -> int:
        row = await self._read(lambda db: db.execute("SELECT COUNT(*) FROM inbox").fetchone())
        return int(row[0])

    # -- claims and conversations ------------------------------------------
    async def claimed(self, event_id: str) -> bool:
        row = await self._read(
            lambda db: db.execute("SELECT 1 FROM claims WHERE id = ?", (event_id,)).fetchone()
        )
        return row is not None

    async def load(self, conversation: ConversationKey) -> JSONObject:
        row = await self._read(
            lambda db: db.execute(
                "SELECT doc FROM conversations WHERE account = ? AND peer = ?", conversation
            ).fetchone()
        )
        return dict(json.loads(row[0])) if row else {}

    async def load_unclaimed(
        self, conversation: ConversationKey, event_id: str
    ) -> JSONObject | None:
        def op(db: sqlite3.Connection) -> JSONObject | None:
            # One statement, so one read of the log's snapshot rather than two.
            claimed, doc = db.execute(_LOAD_UNCLAIMED, (event_id, *conversation)).fetchone()
            if claimed:
                return None
            return dict(json.loads(doc)) if doc is not None else {}

        return await self._read(op)

    async def commit(self, commit: Commit) -> bool:
        now = time.time()
        state = None if commit.state is None else json.dumps(commit.state, separators=(",", ":"))
        account, peer = commit.conversation
        started = [0.0] * len(commit.actions)
        if started:
            started[0] = commit.attempting  # the send that starts straight from the commit
        actions = [
            (account, peer, a.kind, json.dumps(a.payload), now, now, commit.event_id, at)
            for a, at in zip(commit.actions, started, strict=True)
        ]
        acked = [(int(i),) for i in commit.ack]

        def op(db: sqlite3.Connection) -> list[int]:
            if commit.event_id:
                cur = db.execute(
                    "INSERT OR IGNORE INTO claims (id, at, status) VALUES (?, ?, ?)",
                    (commit.event_id, int(now), _STATUS_CODES.get(commit.status, 0)),
                )
                if cur.rowcount == 0:
                    raise AlreadyClaimed
            if state is not None:
                db.execute(
                    "INSERT OR REPLACE INTO conversations (account, peer, doc) VALUES (?, ?, ?)",
                    (account, peer, state),
                )
            ids = [int(db.execute(_INSERT_ACTION, action).lastrowid or 0) for action in actions]
            if acked:
                db.executemany("DELETE FROM inbox WHERE id = ?", acked)
            return ids

        ids = await self._call(op)
        if not isinstance(ids, list):
            return False  # already claimed: the round gave False
        commit.created = [
            OutboxItem(
                id=item_id,
                account=account,
                peer=peer,
                kind=action.kind,
                payload=action.payload,
                created_at=now,
                next_at=now,
                source_event_id=commit.event_id,
                attempted_at=at,
            )
            for item_id, action, at in zip(ids, commit.actions, started, strict=True)
        ]
        return True

    async def expire_claims(self, older_than: float) -> int:
        def op(db: sqlite3.Connection) -> int:
            removed = db.execute("DELETE FROM claims WHERE at < ?", (int(older_than),)).rowcount
            db.execute("DELETE FROM outbox WHERE status != 0 AND created < ?", (older_than,))
            return int(removed)

        return await self._call(op)

    # -- outbox ------------------------------------------------------------
    async def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        def op(db: sqlite3.Connection) -> list[OutboxItem]:
            rows = db.execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id IN ("
                " SELECT MIN(id) FROM outbox WHERE status = 0 GROUP BY account, peer)"
                " AND next_at <= ? ORDER BY id LIMIT ?",
                (now, limit),
            ).fetchall()
            return [_outbox_item(r) for r in rows]

        return await self._read(op)

    async def sent(self, item_id: int, sent_id: str) -> None:
        await self._call(
            lambda db: db.execute(
                "UPDATE outbox SET status = ?, sent_id = ?, error = '' WHERE id = ?",
                (int(OutboxStatus.SENT), sent_id, item_id),
            )
        )

    async def attempting(self, item_id: int, at: float) -> bool:
        def op(db: sqlite3.Connection) -> bool:
            update = "UPDATE outbox SET attempted = ? WHERE id = ?"
            return db.execute(update, (at, item_id)).rowcount == 1

        return await self._call(op)

    async def retry_later(
        self, item_id: int, next_at: float, error: str, *, uncertain: bool = False
    ) -> None:
        await self._call(
            lambda db: db.execute(
                "UPDATE outbox SET next_at = ?, error = ?, attempts = attempts + 1,"
                " attempted = CASE WHEN ? THEN attempted ELSE 0 END WHERE id = ?",
                (next_at, error, uncertain, item_id),
            )
        )

    async def failed(self, item_id: int, error: str, code: int | None) -> None:
        await self._call(
            lambda db: db.execute(
                "UPDATE outbox SET status = ?, error = ?, code = ?, attempts = attempts + 1"
                " WHERE id = ?",
                (int(OutboxStatus.FAILED), error, code, item_id),
            )
        )

    async def outbox(self, conversation: ConversationKey | None = None) -> list[OutboxItem]:
        def op(db: sqlite3.Connection) -> list[OutboxItem]:
            if conversation is None:
                rows = db.execute(f"SELECT {_OUTBOX_COLUMNS} FROM outbox ORDER BY id").fetchall()
            else:
                rows = db.execute(
                    f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE account = ? AND peer = ?"
                    " ORDER BY id",
                    conversation,
                ).fetchall()
            return [_outbox_item(r) for r in rows]

        return await self._read(op)

    async def delivered(self, sent_id: str, *, ack: Sequence[str] = ()) -> bool:
        acked = [(int(i),) for i in ack]

        def op(db: sqlite3.Connection) -> bool:
            cur = db.execute(_DELIVERED, (int(OutboxStatus.DELIVERED), sent_id))
            if cur.rowcount > 0 and acked:
                db.executemany("DELETE FROM inbox WHERE id = ?", acked)
            return cur.rowcount > 0

        return await self._call(op)

    async def delivered_soon(self, sent_id: str) -> None:
        mark = (int(OutboxStatus.DELIVERED), sent_id)
        self._committer.later(lambda db: db.execute(_DELIVERED, mark))

    async def depth(self) -> StoreDepth:
        def op(db: sqlite3.Connection) -> StoreDepth:
            inbox, oldest = db.execute("SELECT COUNT(*), MIN(received) FROM inbox").fetchone()
            (outbox,) = db.execute("SELECT COUNT(*) FROM outbox WHERE status = 0").fetchone()
            return StoreDepth(int(inbox), oldest, int(outbox))

        return await self._read(op)

    async def get_fact(self, key: str) -> str | None:
        row = await self._read(
            lambda db: db.execute("SELECT value FROM facts WHERE key = ?", (key,)).fetchone()
        )
        return None if row is None else str(row[0])

    async def set_fact(self, key: str, value: str) -> None:
        await self._call(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO facts (key, value) VALUES (?, ?)", (key, value)
            )
        )


def _outbox_item(row: Sequence[Any]) -> OutboxItem:
    return OutboxItem(
        id=row[0],
        account=row[1],
        peer=row[2],
        kind=row[3],
        payload=json.loads(row[4]),
        created_at=row[5],
        attempts=row[6],
        next_at=row[7],
        source_event_id=row[8],
        status=OutboxStatus(row[9]),
        error=row[10],
        error_code=row[11],
        attempted_at=row[13],
        sent_id=row[12],
    )
