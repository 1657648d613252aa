"""Where an event comes from, and which conversation it belongs to.

The Account Activity API delivers more than the messages a bot should
answer: the echo of every DM the account sends, one copy per subscribed
account in a conversation, DMs between two accounts the app manages. This
module sorts them (DESIGN.md §2) before anything is routed.
"""

from __future__ import annotations

import enum
from collections.abc import Set

from dmbot.edge.activity import ActivityEvent, ChatEvent
from dmbot.edge.events import (
    DirectMessage,
    Event,
    Favorite,
    ReadReceipt,
    Relationship,
    Revoke,
    TweetCreate,
    TweetDelete,
    TypingIndicator,
    UnknownEvent,
)
from dmbot.types import ConversationKey, is_id


class Origin(enum.Enum):
    INCOMING = "incoming"
    """A person wrote to a managed account: route it."""
    OWN = "own"
    """The managed account sent it: our echo, or the owner typing elsewhere."""
    LOOP = "loop"
    """Between two managed accounts: never answered."""
    SENDER_COPY = "sender-copy"
    """The copy delivered for the sender's own subscription: not ours to claim."""
    FOREIGN = "foreign"
    """Neither side is an account dmbot answers for."""


def classify(dm: DirectMessage, for_user_id: str, accounts: Set[str]) -> Origin:
    """Sort a DM by its sender, recipient and the subscription it was delivered for.

    ``accounts`` are the managed account ids; when empty, the account the
    delivery is for is taken as managed (a bot configured with one account
    whose id is not known yet).
    """
    managed = accounts or {for_user_id} if for_user_id else accounts
    sender_managed = dm.sender_id in managed
    recipient_managed = dm.recipient_id in managed
    if sender_managed and recipient_managed:
        return Origin.LOOP
    if sender_managed:
        return Origin.OWN if dm.sender_id == for_user_id or not for_user_id else Origin.FOREIGN
    if recipient_managed:
        return Origin.SENDER_COPY if dm.sender_id == for_user_id else Origin.INCOMING
    return Origin.FOREIGN


def refusal(event: Event, for_user_id: str) -> str | None:
    """Why X could never have sent ``event``, or None when it could.

    X's ids are numbers; an event naming a user by anything else (null, "xxxx",
    " ") was forged or mangled, and answering it would send a DM to nobody.
    """
    if isinstance(event, UnknownEvent) and event.malformed:
        return event.reason
    ids: list[tuple[str, str]] = [("for_user_id", for_user_id)] if for_user_id else []
    if isinstance(event, DirectMessage):
        ids += [("id", event.id), ("sender_id", event.sender_id)]
        ids.append(("recipient_id", event.recipient_id))
    elif isinstance(event, TypingIndicator | ReadReceipt):
        ids += [("sender_id", event.sender_id), ("recipient_id", event.recipient_id)]
    elif isinstance(event, Relationship):
        ids += [("source.id", event.source.id), ("target.id", event.target.id)]
    elif isinstance(event, Favorite | TweetCreate):
        user = event.user  # a post's author may be missing; a like's never is
        if user is not None:
            ids.append(("user.id", user.id))
    elif isinstance(event, TweetDelete | Revoke) and event.user_id:
        ids.append(("user_id", event.user_id))
    elif isinstance(event, ChatEvent) and event.sender_id:
        ids.append(("sender_id", event.sender_id))
    elif isinstance(event, ActivityEvent) and event.user is not None:
        ids.append(("user.id", event.user.id))
    for name, value in ids:
        if not is_id(value):
            shown = repr(value) if len(value) <= 24 else repr(value[:24]) + "..."
            return f"{name} {shown} is not a numeric X id"
    return None


def conversation_of(event: Event, for_user_id: str, accounts: Set[str]) -> ConversationKey:
    """(managed account, other user) for any event; the peer is "" when there is none."""
    managed = accounts or ({for_user_id} if for_user_id else set())
    if isinstance(event, DirectMessage | TypingIndicator | ReadReceipt):
        if event.recipient_id in managed or event.sender_id not in managed:
            return (event.recipient_id or for_user_id, event.sender_id)
        return (event.sender_id, event.recipient_id)
    if isinstance(event, Relationship):
        if event.target.id == for_user_id:
            return (for_user_id, event.source.id)
        return (for_user_id, event.target.id)
    if isinstance(event, Favorite):
        return (for_user_id, event.user.id)
    if isinstance(event, TweetCreate):
        return (for_user_id, event.user.id if event.user else "")
    if isinstance(event, TweetDelete):
        return (for_user_id, event.user_id)
    if isinstance(event, Revoke):
        return (for_user_id, event.user_id)
    if isinstance(event, ChatEvent):
        if event.sender_id and event.sender_id != for_user_id:
            return (for_user_id, event.sender_id)
        # One-to-one chats are "<user id>:<user id>": the other half is the peer.
        others = [p for p in event.conversation_id.split(":") if p and p != for_user_id]
        return (for_user_id, others[0] if len(others) == 1 else "")
    if isinstance(event, ActivityEvent):
        return (for_user_id, event.user.id if event.user and event.user.id != for_user_id else "")
    return (for_user_id, "")
