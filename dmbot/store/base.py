"""The store interface: inbox, event claims, conversation state and outbox.

Every backend (memory, SQLite, Redis) implements :class:`Store`, and one
contract suite (``tests/test_store_contract.py``) runs against all of them.

The pieces and their guarantees:

- **inbox**: raw webhook deliveries. ``append`` returns only once the delivery
  is durable; ``read`` hands out deliveries not yet handed to this consumer;
  ``ack`` removes them once every event in them is committed. Deliveries read
  but not acknowledged are handed out again after a restart.
- **claims**: the ids of events already handled. A claim is written in the
  same transaction as the state change and the replies it caused
  (:meth:`Store.commit`), so an event is handled effectively once.
- **conversation state**: one JSON document per (account, peer).
- **outbox**: the actions (DMs, read receipts) that handlers produced,
  sent by the sender in order per conversation.
"""

from __future__ import annotations

import abc
import contextlib
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dmbot.types import ConversationKey, JSONObject


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A stored webhook delivery: the raw body as X sent it."""

    id: str
    body: bytes
    received_at: float
    partition: str = ""


class OutboxStatus(enum.IntEnum):
    PENDING = 0
    SENT = 1
    FAILED = 2
    DELIVERED = 3
    """Sent, and X echoed it back to the webhook."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One action to perform on X for a conversation.

    ``kind`` is ``"dm"`` (payload: the ``message_data`` object of
    ``direct_messages/events/new``) or ``"read"`` (payload:
    ``{"last_read_event_id": ...}``).
    """

    id: int
    account: str
    peer: str
    kind: str
    payload: JSONObject
    created_at: float
    attempts: int = 0
    next_at: float = 0.0
    source_event_id: str = ""
    status: OutboxStatus = OutboxStatus.PENDING
    error: str = ""
    error_code: int | None = None
    sent_id: str = ""
    attempted_at: float = 0.0
    """When a send of it to X started and got no answer yet (0: none did): while it is
    set and the row is pending, X may have it, and the row is settled before any resend."""

    @property
    def conversation(self) -> ConversationKey:
        return (self.account, self.peer)


@dataclass(frozen=True, slots=True)
class NewAction:
    """An action a handler produced, before it has an outbox id."""

    kind: str
    payload: JSONObject


@dataclass(frozen=True, slots=True)
class StoreDepth:
    """What waits in the store: deliveries not yet handled, replies not yet sent.

    Attributes:
        inbox: deliveries stored and not acknowledged.
        oldest_received_at: when the oldest of them arrived (None when there are none).
        outbox: actions pending (to send, to retry, or to settle).
    """

    inbox: int
    oldest_received_at: float | None
    outbox: int


@dataclass(slots=True)
class Commit:
    """What handling one event changes, written in one transaction.

    Attributes:
        event_id: the claim to write (empty: nothing to claim).
        status: ``"done"``, ``"failed"`` or ``"ignored"``; kept with the claim.
        conversation: whose state and outbox change.
        state: the new conversation document, or None to leave it unchanged.
        actions: actions appended to the outbox, in order.
        ack: inbox deliveries to acknowledge with it (the last event of a delivery
            commits its acknowledgement too: one write instead of two).
        created: filled in by a store that can: the outbox rows the actions
            became, once committed, so the sender can start the first without
            reading the outbox (empty: it reads).
        attempting: when not 0, the first action's send is recorded as started
            at this time (as :meth:`Store.attempting` would), in this same
            transaction: the sender sets it when it will start that row straight
            from the commit. Honoured by the stores that fill ``created``.
    """

    event_id: str
    conversation: ConversationKey
    status: str = "done"
    state: JSONObject | None = None
    actions: list[NewAction] = field(default_factory=list)
    ack: Sequence[str] = ()
    created: list[OutboxItem] = field(default_factory=list)
    attempting: float = 0.0


_UNLOCKED: contextlib.nullcontext[None] = contextlib.nullcontext()


class Store(abc.ABC):
    """Durable storage behind the webhook, the worker and the sender."""

    #: True when several processes may share this store (Redis).
    shared: bool = False

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect, create tables; called once before use."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release resources."""

    async def ping(self) -> bool:
        """True while the store can take writes."""
        return True

    def locked(self, conversation: ConversationKey) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the conversation while one event of it is handled.

        One process needs nothing here (its lanes serialize conversations): a
        context that does nothing, made once. A shared store takes a lock with
        an expiry, renewed while held, so a killed instance never blocks a
        conversation for longer than that.
        """
        return _UNLOCKED

    async def lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the lease ``name`` for ``holder``, for ``ttl`` seconds.

        Returns False while another holder has it. One process needs no lease
        (always True); a shared store gives it to one instance at a time and
        lets it lapse when its holder stops renewing (a killed instance).
        """
        return True

    async def release(self, name: str, holder: str) -> None:  # noqa: B027 - optional hook
        """Give up the lease ``name`` if ``holder`` has it."""

    # -- inbox -------------------------------------------------------------
    @abc.abstractmethod
    async def append(self, body: bytes, received_at: float, partition: str = "") -> str:
        """Store one delivery durably and return its inbox id."""

    @abc.abstractmethod
    async def read(self, limit: int = 256) -> list[InboxItem]:
        """Deliveries not yet handed to this consumer, oldest first."""

    def take(self, item: InboxItem) -> bool:
        """Count ``item``, which this process just appended, as read without reading it.

        True when it is the very next delivery :meth:`read` would return (the
        consumer then handles it at once); False to let :meth:`read` return it.
        A shared store always says False: its reads hand out partitions.
        """
        return False

    @abc.abstractmethod
    async def ack(self, ids: Sequence[str]) -> None:
        """Forget deliveries whose events are all committed."""

    @abc.abstractmethod
    async def inbox_size(self) -> int:
        """Deliveries stored and not yet acknowledged."""

    # -- claims and conversations ------------------------------------------
    @abc.abstractmethod
    async def claimed(self, event_id: str) -> bool:
        """True if a commit already claimed this event id."""

    @abc.abstractmethod
    async def load(self, conversation: ConversationKey) -> JSONObject:
        """The conversation's document ({} for a new conversation)."""

    async def load_unclaimed(
        self, conversation: ConversationKey, event_id: str
    ) -> JSONObject | None:
        """The conversation's document, or None if ``event_id`` is claimed already.

        One call where the worker needs both answers; a backend may do it in
        one round trip.
        """
        if await self.claimed(event_id):
            return None
        return await self.load(conversation)

    @abc.abstractmethod
    async def commit(self, commit: Commit) -> bool:
        """Write claim, state, outbox actions and acknowledgements in one transaction.

        Returns False, and writes nothing, when ``commit.event_id`` is already
        claimed.
        """

    @abc.abstractmethod
    async def expire_claims(self, older_than: float) -> int:
        """Drop claims written before ``older_than``; return how many."""

    # -- outbox ------------------------------------------------------------
    @abc.abstractmethod
    async def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        """The first pending action of each conversation whose ``next_at`` has come."""

    @abc.abstractmethod
    async def sent(self, item_id: int, sent_id: str) -> None:
        """Record that X accepted the action (``sent_id``: the DM id X gave it)."""

    @abc.abstractmethod
    async def attempting(self, item_id: int, at: float) -> bool:
        """Record that a send of the action to X starts now (``at``); 0 clears it.

        Written before the call to X, so a process killed before recording the
        answer leaves a trace: the next sender settles the row (its echo, or X's
        own list of sent DMs) instead of sending it blindly again.

        Returns False when the row is no longer this sender's to send (a shared
        store: another instance took its conversation over, or it is gone); the
        caller must then not call X.
        """

    @abc.abstractmethod
    async def retry_later(
        self, item_id: int, next_at: float, error: str, *, uncertain: bool = False
    ) -> None:
        """Record a failure to retry at ``next_at``.

        ``uncertain``: no answer came (a timeout, a dropped connection), so X may
        have the DM; the attempt stays recorded and the row is settled first.
        Otherwise X answered that it did not take it, and the attempt is cleared.
        """

    @abc.abstractmethod
    async def failed(self, item_id: int, error: str, code: int | None) -> None:
        """Record a permanent failure; the action is not tried again."""

    @abc.abstractmethod
    async def outbox(self, conversation: ConversationKey | None = None) -> list[OutboxItem]:
        """Every action kept in the outbox (for a conversation), oldest first."""

    @abc.abstractmethod
    async def delivered(self, sent_id: str, *, ack: Sequence[str] = ()) -> bool:
        """Mark the action X created as ``sent_id`` echoed back; False if unknown.

        ``ack``: inbox deliveries to acknowledge too, when it was one of ours (the
        echo's own delivery: one write instead of two).
        """

    async def delivered_soon(self, sent_id: str) -> None:
        """:meth:`delivered` for an echo of a send this process recorded sent as
        ``sent_id``, written with a later transaction that nobody waits for (SQLite:
        the next group commit takes it along). A crash may lose the mark; the row
        then stays sent, which is all exactly-once needs. By default, at once."""
        await self.delivered(sent_id)

    async def depth(self) -> StoreDepth:
        """What waits in the store, for ``/metrics`` (a backend may count faster)."""
        pending = [i for i in await self.outbox() if i.status == OutboxStatus.PENDING]
        return StoreDepth(await self.inbox_size(), None, len(pending))

    # -- small key/value facts (learned app id, ...) -----------------------
    @abc.abstractmethod
    async def get_fact(self, key: str) -> str | None: ...

    @abc.abstractmethod
    async def set_fact(self, key: str, value: str) -> None: ...


def describe(value: Any) -> str:
    """A short, secret-free description of a store URL for logs."""
    text = str(value)
    if "@" in text:
        scheme, _, rest = text.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return text
