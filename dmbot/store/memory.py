"""An in-process store: fast, and gone when the process ends. For tests."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Sequence
from dataclasses import replace

from dmbot.store.base import Commit, InboxItem, OutboxItem, OutboxStatus, Store, StoreDepth
from dmbot.types import ConversationKey, JSONObject


class MemoryStore(Store):
    """Everything in dictionaries; same semantics as the durable backends."""

    def __init__(self) -> None:
        self._inbox: dict[int, InboxItem] = {}
        self._inbox_ids = itertools.count(1)
        self._cursor = 0
        self._claims: dict[str, tuple[float, str]] = {}
        self._docs: dict[ConversationKey, JSONObject] = {}
        self._outbox: dict[int, OutboxItem] = {}
        self._outbox_ids = itertools.count(1)
        self._by_sent_id: dict[str, int] = {}
        """Outbox rows by the id X gave their DM: an echo finds its row in O(1)."""
        self._facts: dict[str, str] = {}

    async def open(self) -> None:
        # A new consumer is handed every unacknowledged delivery again.
        self._cursor = 0

    async def append(self, body: bytes, received_at: float, partition: str = "") -> str:
        seq = next(self._inbox_ids)
        self._inbox[seq] = InboxItem(str(seq), body, received_at, partition)
        return str(seq)

    async def read(self, limit: int = 256) -> list[InboxItem]:
        items = [item for seq, item in self._inbox.items() if seq > self._cursor][:limit]
        if items:
            self._cursor = int(items[-1].id)
        return items

    def take(self, item: InboxItem) -> bool:
        # Rows are numbered in commit order: the next one to read is the cursor's next.
        if int(item.id) != self._cursor + 1:
            return False
        self._cursor += 1
        return True

    async def ack(self, ids: Sequence[str]) -> None:
        for item_id in ids:
            self._inbox.pop(int(item_id), None)

    async def inbox_size(self) -> int:
        return len(self._inbox)

    async def claimed(self, event_id: str) -> bool:
        return event_id in self._claims

    async def load(self, conversation: ConversationKey) -> JSONObject:
        return copy.deepcopy(self._docs.get(conversation, {}))

    async def commit(self, commit: Commit) -> bool:
        if commit.event_id and commit.event_id in self._claims:
            return False
        # All or nothing: whatever can fail (copying what a handler produced) is done
        # before the first write, as a durable backend's transaction would roll back.
        state = None if commit.state is None else copy.deepcopy(commit.state)
        payloads = [copy.deepcopy(action.payload) for action in commit.actions]
        acked = [int(item_id) for item_id in commit.ack]
        now = time.time()
        if commit.event_id:
            self._claims[commit.event_id] = (now, commit.status)
        if state is not None:
            self._docs[commit.conversation] = state
        account, peer = commit.conversation
        commit.created = []
        started = commit.attempting
        for action, payload in zip(commit.actions, payloads, strict=True):
            item_id = next(self._outbox_ids)
            self._outbox[item_id] = item = OutboxItem(
                id=item_id,
                account=account,
                peer=peer,
                kind=action.kind,
                payload=payload,
                created_at=now,
                next_at=now,
                source_event_id=commit.event_id,
                attempted_at=started,
            )
            started = 0.0  # only the first action's send starts now
            commit.created.append(item)
        for seq in acked:
            self._inbox.pop(seq, None)
        return True

    async def expire_claims(self, older_than: float) -> int:
        old = [key for key, (at, _) in self._claims.items() if at < older_than]
        for key in old:
            del self._claims[key]
        done = [
            item.id
            for item in self._outbox.values()
            if item.status != OutboxStatus.PENDING and item.created_at < older_than
        ]
        for item_id in done:
            self._by_sent_id.pop(self._outbox.pop(item_id).sent_id, None)
        return len(old)

    async def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        firsts: dict[ConversationKey, OutboxItem] = {}
        for item in self._outbox.values():
            if item.status == OutboxStatus.PENDING and item.conversation not in firsts:
                firsts[item.conversation] = item
        ready = sorted((i for i in firsts.values() if i.next_at <= now), key=lambda i: i.id)
        return ready[:limit]

    async def sent(self, item_id: int, sent_id: str) -> None:
        self._update(item_id, status=OutboxStatus.SENT, sent_id=sent_id, error="")
        if sent_id and item_id in self._outbox:
            self._by_sent_id[sent_id] = item_id

    async def attempting(self, item_id: int, at: float) -> bool:
        self._update(item_id, attempted_at=at)
        return item_id in self._outbox

    async def retry_later(
        self, item_id: int, next_at: float, error: str, *, uncertain: bool = False
    ) -> None:
        item = self._outbox.get(item_id)
        if item is not None:
            self._update(
                item_id,
                next_at=next_at,
                error=error,
                attempts=item.attempts + 1,
                attempted_at=item.attempted_at if uncertain else 0.0,
            )

    async def failed(self, item_id: int, error: str, code: int | None) -> None:
        item = self._outbox.get(item_id)
        if item is not None:
            self._update(
                item_id,
                status=OutboxStatus.FAILED,
                error=error,
                error_code=code,
                attempts=item.attempts + 1,
            )

    def _update(self, item_id: int, **changes: object) -> None:
        item = self._outbox.get(item_id)
        if item is not None:
            self._outbox[item_id] = replace(item, **changes)  # type: ignore[arg-type]

    async def outbox(self, conversation: ConversationKey | None = None) -> list[OutboxItem]:
        return [
            item
            for item in self._outbox.values()
            if conversation is None or item.conversation == conversation
        ]

    async def delivered(self, sent_id: str, *, ack: Sequence[str] = ()) -> bool:
        item = self._outbox.get(self._by_sent_id.get(sent_id, 0)) if sent_id else None
        if item is None or item.sent_id != sent_id:
            return False
        self._update(item.id, status=OutboxStatus.DELIVERED)
        await self.ack(ack)
        return True

    async def depth(self) -> StoreDepth:
        oldest = min((i.received_at for i in self._inbox.values()), default=None)
        pending = sum(i.status == OutboxStatus.PENDING for i in self._outbox.values())
        return StoreDepth(len(self._inbox), oldest, pending)

    async def get_fact(self, key: str) -> str | None:
        return self._facts.get(key)

    async def set_fact(self, key: str, value: str) -> None:
        self._facts[key] = value
