"""Group commit for the SQLite store: where the SQL runs, and in which transaction.

Every operation queued since the last round runs in ONE transaction, each in
its own savepoint so one that fails (a claim that already exists) does not
undo its neighbours, and each caller's future resolves only once the
transaction holding its operation is committed. Under load, hundreds of
webhook appends share a single commit.

Two places to run the rounds, chosen by the durability asked for:

- :class:`LoopCommitter` (``synchronous=NORMAL``, the default) runs each
  round on the event loop, right after the turn that queued its operations.
  A WAL commit at NORMAL is a write into the OS's page cache, no fsync: a few
  microseconds per row, cheaper than handing the row to another thread and
  waking the loop again (and no thread fights the loop for the GIL under
  load). The one slow part of WAL, the checkpoint that copies the log back
  into the database and fsyncs, runs on a thread of its own with its own
  connection, so the loop does not wait on the disk. That thread can never
  finish a checkpoint while commits keep coming, and the log only starts over
  after a finished one: so once the log passes ``WAL_RESTART_PAGES``, the loop
  finishes one itself between two rounds (copying only what the thread has
  not copied yet), and a burst cannot fill the disk.
- :class:`ThreadCommitter` (``synchronous=FULL``) runs the rounds on a writer
  thread, because each commit then waits for an fsync.

A write nobody waits for (an echo's delivered mark: :meth:`Committer.later`)
starts no round of its own unless none comes within ``LATER_WITHIN``: it
rides in the next one, and a clean close writes it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from dmbot.errors import StorageError

log = logging.getLogger("dmbot.store")

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]
Connect = Callable[[], sqlite3.Connection]
Pending = tuple[Operation, "asyncio.Future[Any]", bool]
Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]

# The round's size cap: a round is one transaction, and the loop runs it in one go.
MAX_ROUND = 1000
# The longest a write nobody waits for (Committer.later) waits for a round to join.
LATER_WITHIN = 0.2
# How often the checkpointer copies the WAL back into the database file.
CHECKPOINT_INTERVAL = 0.5
# Past this many WAL pages (4 KiB each), the loop finishes a checkpoint itself so the
# log starts over; and the file is cut back to this size when it does.
WAL_RESTART_PAGES = 16_384
WAL_SIZE_LIMIT = 64 * 1024 * 1024
_STOP = object()


class AlreadyClaimed(Exception):
    """Raised by an operation, inside its savepoint, to undo it and yield ``False``."""


class Committer:
    """Runs operations in group commits; subclasses decide on which thread."""

    def __init__(self, connect: Connect, describe: Callable[[str, BaseException], StorageError]):
        self._connect = connect
        self._error = describe

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def call(self, op: Callable[[sqlite3.Connection], T], savepoint: bool) -> T:
        raise NotImplementedError

    async def read(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op``, which only reads; by default in the next round like a write."""
        return await self.call(op, False)

    def later(self, op: Operation) -> None:
        """Queue ``op``, a write no caller waits for, to join a round soon (another
        caller's when one comes): one transaction less. A failure is logged."""
        raise NotImplementedError

    def run_round(self, db: sqlite3.Connection, batch: list[Pending]) -> list[Outcome]:
        """Run ``batch`` in one transaction; what each caller's future gets."""
        if len(batch) == 1:
            return [self._run_alone(db, *batch[0])]
        results: list[Outcome] = []
        try:
            db.execute("BEGIN IMMEDIATE")
            for op, future, savepoint in batch:
                if not savepoint:
                    # An insert that can only fail with the whole transaction: no savepoint.
                    try:
                        results.append((future, op(db), None))
                    except sqlite3.Error as exc:
                        results.append((future, None, self._error("write", exc)))
                    except Exception as exc:
                        results.append((future, None, exc))
                    continue
                db.execute("SAVEPOINT op")
                try:
                    value = op(db)
                except AlreadyClaimed:
                    db.execute("ROLLBACK TO op")
                    value = False
                except sqlite3.Error as exc:
                    db.execute("ROLLBACK TO op")
                    results.append((future, None, self._error("write", exc)))
                    continue
                except Exception as exc:  # a bug or a damaged row: that caller's error alone
                    db.execute("ROLLBACK TO op")
                    results.append((future, None, exc))
                    continue
                db.execute("RELEASE op")
                results.append((future, value, None))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.rollback()
            error = self._error("commit", exc)
            results = [(future, None, error) for _, future, _ in batch]
        return results

    def _run_alone(
        self, db: sqlite3.Connection, op: Operation, future: asyncio.Future[Any], _: bool
    ) -> Outcome:
        """A round of one: no savepoint, the transaction itself undoes a failure."""
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                value = op(db)
            except AlreadyClaimed:
                db.rollback()
                return (future, False, None)
            except sqlite3.Error as exc:
                db.rollback()
                return (future, None, self._error("write", exc))
            except Exception as exc:  # a bug or a damaged row: that caller's error alone
                db.rollback()
                return (future, None, exc)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.rollback()
            return (future, None, self._error("commit", exc))
        return (future, value, None)

    def _not_open(self) -> StorageError:
        return StorageError("the SQLite store is not open; call `await store.open()` first")


class LoopCommitter(Committer):
    """Rounds on the event loop, checkpoints on a thread (``synchronous=NORMAL``).

    Args:
        checkpoint_every: seconds between the thread's checkpoints.
        wal_pages: log length (pages) past which the loop finishes a checkpoint.
    """

    def __init__(
        self,
        connect: Connect,
        describe: Callable[[str, BaseException], StorageError],
        *,
        checkpoint_every: float = CHECKPOINT_INTERVAL,
        wal_pages: int = WAL_RESTART_PAGES,
    ):
        super().__init__(connect, describe)
        self.checkpoint_every = checkpoint_every
        self.wal_pages = wal_pages
        self._db: sqlite3.Connection | None = None
        self._pending: list[Pending] = []
        self._scheduled = False
        self._later: list[Pending] = []
        self._later_timer: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._restart_log = False
        """Set by the checkpointer thread: the log is long, finish a checkpoint on the loop."""
        self._next_restart = 0.0

    async def open(self) -> None:
        if self._db is not None:
            return
        try:
            db = self._connect()
            # Checkpoints are the checkpointer thread's job, never a commit's on the loop.
            db.execute("PRAGMA wal_autocheckpoint=0")
            db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        except sqlite3.Error as exc:
            raise self._error("open", exc) from exc
        self._db = db
        self._restart_log = False
        self._stop.clear()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="dmbot-sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is None:
            return
        if self._pending or self._later:
            self._flush_into(db)
        self._stop.set()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.join)
            self._checkpointer = None
        db.close()  # the last connection to close checkpoints what is left

    async def call(self, op: Callable[[sqlite3.Connection], T], savepoint: bool) -> T:
        if self._db is None:
            raise self._not_open()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((op, future, savepoint))
        if not self._scheduled:
            # After the callbacks already ready: every caller of this turn joins the round.
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    async def read(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read at once, outside any round: this connection is the only writer,
        no transaction is open between two turns of the loop, and a read needs none
        of its own (SQLite reads a consistent snapshot per statement)."""
        if self._db is None:
            raise self._not_open()
        try:
            return op(self._db)
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc

    def later(self, op: Operation) -> None:
        if self._db is None:
            raise self._not_open()
        loop = asyncio.get_running_loop()
        self._later.append((op, _unwaited(loop), False))
        if self._later_timer is None:
            self._later_timer = loop.call_later(LATER_WITHIN, self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if self._db is None:
            error = self._not_open()
            for _, future, _ in self._pending:
                if not future.done():
                    future.set_exception(error)
            self._pending = []
            return
        self._flush_into(self._db)

    def _flush_into(self, db: sqlite3.Connection) -> None:
        if self._later:
            self._pending += self._later  # they ride in this round
            self._later = []
        if self._later_timer is not None:
            self._later_timer.cancel()
            self._later_timer = None
        while self._pending:
            batch = self._pending[:MAX_ROUND]
            del self._pending[:MAX_ROUND]
            settle(self.run_round(db, batch))
        if self._restart_log and time.monotonic() >= self._next_restart:
            # No commit can land during this one, so it finishes, and the next commit
            # starts the log over. Busy while the thread is mid-checkpoint, or held
            # back by another process's long read: try again a tenth of an interval later.
            self._next_restart = time.monotonic() + self.checkpoint_every / 10
            try:
                [(busy, pages, copied)] = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                return
            self._restart_log = bool(busy) or copied < pages

    def _checkpoint_loop(self) -> None:
        try:
            db = self._connect()
        except (sqlite3.Error, StorageError) as exc:
            log.warning(
                "SQLite checkpoints fall back to the commits themselves (slower under load): "
                "cannot open a second connection: %s",
                exc,
            )
            db = None
        try:
            while not self._stop.wait(self.checkpoint_every):
                if db is None:
                    self._restart_log = True  # every commit round checkpoints now and then
                    continue
                try:
                    # fetchall: a statement left unfinished would hold a reader on the log.
                    [(_, pages, _)] = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    continue  # busy or a disk hiccup: the next one catches up
                if pages >= self.wal_pages:
                    self._restart_log = True
        finally:
            if db is not None:
                db.close()


class ThreadCommitter(Committer):
    """Rounds on a writer thread that owns the connection (``synchronous=FULL``)."""

    def __init__(self, connect: Connect, describe: Callable[[str, BaseException], StorageError]):
        super().__init__(connect, describe)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def open(self) -> None:
        if self._thread is not None:
            return
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(
            target=self._run, args=(loop, ready), name="dmbot-sqlite-writer", daemon=True
        )
        self._thread.start()
        try:
            await ready
        except BaseException:
            self._thread = None
            raise

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.to_thread(thread.join)

    async def call(self, op: Callable[[sqlite3.Connection], T], savepoint: bool) -> T:
        if self._thread is None:
            raise self._not_open()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put((op, future, savepoint))
        return await future

    def later(self, op: Operation) -> None:
        if self._thread is None:
            raise self._not_open()
        self._queue.put((op, _unwaited(asyncio.get_running_loop()), False))

    def _run(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        try:
            db = self._connect()
        except (sqlite3.Error, StorageError, OSError) as exc:
            error = exc if isinstance(exc, StorageError) else self._error("open", exc)
            opened: list[Outcome] = [(ready, None, error)]
            loop.call_soon_threadsafe(settle, opened)
            return
        opened = [(ready, None, None)]
        loop.call_soon_threadsafe(settle, opened)
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch = [first]
                while len(batch) < MAX_ROUND:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        self._queue.put(_STOP)
                        break
                    batch.append(item)
                loop.call_soon_threadsafe(settle, self.run_round(db, batch))
        finally:
            db.close()


def settle(results: list[Outcome]) -> None:
    """Resolve each caller's future with its value or error (unless it gave up)."""
    for future, value, error in results:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


def _unwaited(loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
    """A future for a write nobody awaits: its failure is logged, not left unread."""
    future: asyncio.Future[Any] = loop.create_future()
    future.add_done_callback(_log_failure)
    return future


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and (exc := future.exception()) is not None:
        log.warning("a deferred bookkeeping write failed (nothing depends on it): %s", exc)
