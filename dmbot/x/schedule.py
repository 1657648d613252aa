"""The sender's bookkeeping: when to read the outbox, and what it must remember.

- :class:`Followups`: the sender reads ``store.due()`` when the worker
  commits, and used to read it again after every finished send in case that
  conversation had a next action; most of those reads found nothing, and at
  200 events/s they were the sender's largest cost. It counts the actions
  the worker said it committed, per conversation, so a finished send asks
  for a read only when its conversation has more, or when the sender cannot
  know (rows of an earlier run until a read finds nothing pending, rows held
  back, a store other instances write to); and it says when a commit's first
  row may start without any read (nothing of its conversation pending, not
  even a row waiting for a retry).
- :class:`Ended`: the rows whose send ended, so a ``due()`` list read while
  one was in flight does not start it again.
- :class:`RecentIds`: the ids X gave the latest sends (their echoes are
  settled at the webhook).
- :class:`Indicators`: a conversation's next send waits for the typing
  indicator shown before it, so "typing…" never follows the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Iterator

from dmbot.pressure import TIMER_GRAIN
from dmbot.store.base import OutboxItem
from dmbot.types import ConversationKey

__all__ = [
    "ENDED_MEMORY",
    "Ended",
    "Followups",
    "Indicators",
    "NotBefore",
    "RecentIds",
    "Started",
]

ENDED_MEMORY = 60.0
"""Seconds an ended row is remembered, against due() lists read while it was sent."""


class Followups:
    """Actions committed and not yet sent, by conversation, as far as this process knows.

    Args:
        shared: other processes write to the outbox too: always read again.
    """

    def __init__(self, *, shared: bool = False) -> None:
        self.shared = shared
        self._pending: dict[ConversationKey, int] = {}
        self._unsure = True
        """Rows may exist that no commit told of (an earlier run's, or an untold commit)."""
        self.look = True
        """The outbox has something new: read ``due()`` at the next turn."""

    def idle(self, conversation: ConversationKey) -> bool:
        """Whether ``conversation`` surely has no action pending (so a new one is its first)."""
        return not (self.shared or self._unsure) and conversation not in self._pending

    def committed(
        self, conversation: ConversationKey | None, actions: int, *, look: bool = True
    ) -> None:
        """Actions were committed: for ``conversation``, or for one not said (None).

        ``look=False``: the sender started the first of them itself.
        """
        if conversation is None:
            self._unsure = True
        elif actions > 0:
            self._pending[conversation] = self._pending.get(conversation, 0) + actions
        self.look = self.look or look

    def read(self, found: int, held_back: bool, pending: int | None = None) -> None:
        """A ``due()`` read found ``found`` rows, some of which could not start yet;
        ``pending``: how many rows the outbox holds in all, due or scheduled later
        (None: not counted). Only an outbox with nothing pending is surely known."""
        if found == 0 and pending == 0:
            self._unsure = False
            self._pending.clear()
        if held_back:
            self._unsure = True

    def finished(self, conversation: ConversationKey, *, still_pending: bool = False) -> None:
        """A send of ``conversation`` ended: sent or failed, or ``still_pending`` (its
        row waits for a retry, and the conversation stays busy until it goes)."""
        if still_pending:
            left = max(1, self._pending.get(conversation, 0))
        else:
            left = self._pending.get(conversation, 0) - 1
        if left > 0:
            self._pending[conversation] = left
        else:
            self._pending.pop(conversation, None)
        if left > 0 or self._unsure or self.shared:
            self.look = True


class Ended:
    """Rows whose send ended (sent, failed, rescheduled), by the epoch it ended in."""

    def __init__(self) -> None:
        self.epoch = 0
        """Counts ended sends; a ``due()`` list is as new as the epoch it was read in."""
        self._rows: OrderedDict[int, tuple[int, float]] = OrderedDict()

    def end(self, item_id: int) -> None:
        """The send of ``item_id`` ended now."""
        self.epoch += 1
        self._rows[item_id] = (self.epoch, time.monotonic())
        self._rows.move_to_end(item_id)  # kept in ending order

    def since(self, item_id: int, epoch: int) -> bool:
        """Whether ``item_id`` ended after ``epoch`` (a list read then is stale for it)."""
        return self._rows.get(item_id, (-1, 0.0))[0] > epoch

    def forget(self) -> None:
        """Drop rows no read in progress can still hold (reads take far less)."""
        horizon = time.monotonic() - ENDED_MEMORY
        rows = self._rows
        # Oldest first: stop at the first one still remembered (O(forgotten), not O(all)).
        while rows and next(iter(rows.values()))[1] <= horizon:
            rows.popitem(last=False)


class RecentIds:
    """The last ``size`` ids added (empty ones are not), oldest forgotten first.

    4,096 sent ids cover far more than the seconds in which a send's echo comes back.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, item: str) -> None:
        if not item:
            return
        self._ids[item] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)  # O(1), where a dict's first key takes a scan

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def __len__(self) -> int:
        return len(self._ids)


class Indicators:
    """Typing indicators on their way to X, by conversation."""

    def __init__(self) -> None:
        self._showing: dict[ConversationKey, asyncio.Future[None]] = {}

    @contextlib.contextmanager
    def showing(self, conversation: ConversationKey) -> Iterator[None]:
        """While the indicator of ``conversation`` is being sent."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._showing[conversation] = done
        try:
            yield
        finally:
            done.set_result(None)
            if self._showing.get(conversation) is done:
                del self._showing[conversation]

    async def shown(self, conversation: ConversationKey) -> None:
        """Return once no indicator of ``conversation`` is on its way."""
        showing = self._showing.get(conversation)
        if showing is not None:
            await asyncio.shield(showing)


class Started:
    """Rows whose send was recorded as started by their own commit (``Commit.attempting``),
    before this sender called X for them: not uncertain, only not sent yet.

    After a crash, the settlement asks X about a row ``settle_grace`` after its
    recorded start, time for a send under way to land. A send that really starts
    more than ``fresh`` seconds after its commit (it waited for a slot, or gave way
    to the webhook) records its start again, or a crash could have X asked before
    that send landed, and the reply sent twice. So ``fresh`` stays a small part of
    the grace.
    """

    def __init__(self, fresh: float) -> None:
        self.fresh = fresh
        self._at: dict[int, float] = {}

    def add(self, item: OutboxItem) -> None:
        if item.attempted_at > 0:
            self._at[item.id] = item.attempted_at

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._at

    def take(self, item_id: int, now: float) -> bool:
        """Whether the commit's mark stands for the send of ``item_id`` starting ``now``."""
        at = self._at.pop(item_id, None)
        return at is not None and now - at <= self.fresh


class NotBefore(dict[int, float]):
    """Rows the sender will not start before a time (by row id): retries, store hiccups."""

    def next(self, now: float) -> float | None:
        """The next time a held row becomes startable (None: none is held)."""
        # A time already passed is now the store's to report as due; waking for it
        # again would spin while every slot is busy.
        for item_id in [i for i, at in self.items() if at <= now]:
            del self[item_id]
        return min(self.values(), default=None)

    def wait(self, now: float, longest: float) -> float:
        """How long the sender may sleep: until the next retry, ``longest`` at most."""
        next_retry = self.next(now)
        if next_retry is None:
            return longest
        return max(0.0, min(longest, next_retry - now + TIMER_GRAIN))
