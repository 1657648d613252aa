"""The Redis store's outbox: rows, per-conversation queues, and send leases.

Keys (under the store's prefix): ``ob:{id}`` a hash per row; ``obq:{account}:{peer}``
the conversation's pending row ids in order; ``obc:{account}:{peer}`` and
``ob:all`` every kept row id; ``ob:due`` conversations scored by when their
head row is due; ``ob:done`` finished rows scored by creation, for expiry;
``sent:{sent id}`` the row X created that DM from; ``send:{account}:{peer}``
the send lease.

A head row is handed out only with its conversation's send lease, renewed in
the background while this instance holds the row and released when the row
is sent, retried later or failed; so two instances never send one reply at
once, and a killed instance's rows pass on after ``lock_ttl``.
"""

from __future__ import annotations

import collections
import json
import time
from typing import Any

from dmbot.store import redis_scripts as lua
from dmbot.store.base import OutboxItem, OutboxStatus
from dmbot.store.redis_batch import Batcher
from dmbot.types import ConversationKey


def ms(seconds: float) -> int:
    """Whole milliseconds, at least one (Redis refuses a zero expiry)."""
    return max(1, int(seconds * 1000))


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisOutbox:
    """Outbox rows of one store, and the send leases this instance holds."""

    def __init__(
        self, batch: Batcher, *, prefix: str, token: str, lock_ttl: float, claim_ttl: float
    ) -> None:
        self.batch = batch
        self.prefix = prefix
        self.token = token
        self.lock_ttl = lock_ttl
        self.claim_ttl = claim_ttl
        self.leases: dict[int, str] = {}
        """Row id -> its conversation's send-lease key, while this instance holds it."""
        self._handed: dict[int, OutboxItem] = {}
        """The rows of ``leases``, as handed out."""
        self._finished: set[int] = set()
        """Rows this instance finished in the last minute."""
        self._finished_order: collections.deque[tuple[float, int]] = collections.deque()

    async def due(self, now: float, limit: int) -> list[OutboxItem]:
        found = await self.batch.script(
            lua.DUE,
            [],
            [self.prefix, repr(now), self.token, limit, ms(self.lock_ttl), 4 * limit + 64],
        )
        items: list[OutboxItem] = []
        for found_row in found:
            row_id = int(text(found_row[0]))
            if len(found_row) > 1:
                item = outbox_item(row_id, found_row[1])
            elif row_id in self._handed:
                item = self._handed[row_id]  # already held: unchanged since handed out
            else:
                fields = await self.batch.call("HGETALL", f"{self.prefix}:ob:{row_id}")
                if not fields:
                    continue
                item = outbox_item(row_id, fields)
            items.append(item)
        # A row this instance finished while this call awaited Redis was read as
        # still pending: handing it out again would send it twice. No await below.
        cutoff = time.monotonic() - 60.0
        while self._finished_order and self._finished_order[0][0] < cutoff:
            self._finished.discard(self._finished_order.popleft()[1])
        items = [item for item in items if item.id not in self._finished]
        for item in items:
            self._handed[item.id] = item
            self.leases[item.id] = f"{self.prefix}:send:{item.account}:{item.peer}"
        return sorted(items, key=lambda i: i.id)

    async def finish(self, item_id: int, mode: str, first: str, second: str) -> None:
        """``mode``: sent (sent id), failed (error, code), retry or uncertain (next_at, error)."""
        await self.batch.script(
            lua.FINISH,
            [],
            [self.prefix, item_id, self.token, mode, first, second, ms(self.claim_ttl)],
        )
        self.leases.pop(item_id, None)
        self._handed.pop(item_id, None)
        if mode not in ("retry", "uncertain"):
            self._finished.add(item_id)
            self._finished_order.append((time.monotonic(), item_id))

    async def attempting(self, item_id: int, at: float) -> bool:
        """Record the attempt if this instance still holds the row's send lease."""
        lease = self.leases.get(item_id)
        if lease is None:
            return False  # not handed out here, or its lease was lost while it waited
        ours = await self.batch.script(
            lua.ATTEMPT, [], [self.prefix, item_id, repr(at), lease, self.token, ms(self.lock_ttl)]
        )
        return bool(ours)

    async def rows(self, conversation: ConversationKey | None) -> list[OutboxItem]:
        if conversation is None:
            index = f"{self.prefix}:ob:all"
        else:
            index = f"{self.prefix}:obc:{conversation[0]}:{conversation[1]}"
        ids = [int(text(i)) for i in await self.batch.call("ZRANGE", index, 0, -1)]
        found = [self.batch.call("HGETALL", f"{self.prefix}:ob:{i}") for i in ids]
        results = [await row for row in found]
        return [outbox_item(i, fields) for i, fields in zip(ids, results, strict=True) if fields]

    async def delivered(self, sent_id: str) -> bool:
        if not sent_id:
            return False
        return bool(await self.batch.script(lua.DELIVERED, [], [self.prefix, sent_id]))

    def held(self) -> list[tuple[int, str]]:
        """(row id, lease key) of every send lease to renew."""
        return list(self.leases.items())

    def lost(self, item_id: int, key: str) -> bool:
        """Forget a lease another instance took; True if it was still held here."""
        if self.leases.get(item_id) != key:
            return False  # finished or handed out anew while the renewal ran
        del self.leases[item_id]
        self._handed.pop(item_id, None)
        return True


def outbox_item(row_id: Any, raw: Any) -> OutboxItem:
    """An outbox row from HGETALL (a dict) or from a script (a flat list)."""
    if isinstance(raw, dict):
        fields = {text(k): text(v) for k, v in raw.items()}
    else:
        flat = [text(v) for v in raw]
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
    code = fields.get("code", "")
    return OutboxItem(
        id=int(text(row_id)),
        account=fields["account"],
        peer=fields["peer"],
        kind=fields["kind"],
        payload=json.loads(fields["payload"]),
        created_at=float(fields["created"]),
        attempts=int(fields.get("attempts", "0")),
        next_at=float(fields.get("next_at", "0")),
        source_event_id=fields.get("source", ""),
        status=OutboxStatus(int(fields.get("status", "0"))),
        error=fields.get("error", ""),
        error_code=int(code) if code else None,
        sent_id=fields.get("sent_id", ""),
        attempted_at=float(fields.get("attempted") or 0),
    )
