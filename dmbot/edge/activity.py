"""X Activity API (XAA) envelopes: the same typed events as the Account Activity API.

An XAA delivery (a webhook POST, or one line of the activity stream) is
``{"data": {"event_uuid", "filter": {"user_id"}, "event_type", "tag",
"payload", "includes"}}``, or a list of such objects under ``data``. The
receiving account is ``data.filter.user_id``; there is no ``for_user_id``
and no ``apps`` map.

- ``dm.received``, ``dm.sent``, ``dm.read`` and ``dm.indicate_typing`` carry
  the Account Activity payload (``direct_message_events``, ``users``, ...)
  and become the very events an AAA delivery of the same DM becomes, with
  the same DM id: one DM delivered in both shapes is handled once.
- ``follow.*``, ``block.*`` and ``mute.*`` become :class:`~dmbot.edge.events.Relationship`
  events, as their AAA counterparts do.
- ``chat.*`` (encrypted XChat) become :class:`ChatEvent`; everything else
  (``post.mention.create``, ``like.create``, ``profile.update.bio``, ...) an
  :class:`ActivityEvent` whose kind is the event type.

Event types were PascalCase before March 2026 (``DmReceived``); both
spellings are read (:func:`canonical_type`). Like the AAA parser, nothing
here raises: what cannot be understood becomes an ``UnknownEvent``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dmbot.edge.events import (
    Delivery,
    Event,
    Relationship,
    UnknownEvent,
    User,
    digest_key,
)
from dmbot.edge.payload import as_id, as_int, as_obj, as_str
from dmbot.types import JSONObject

__all__ = [
    "DM_EVENT_TYPES",
    "EVENT_TYPES",
    "ActivityEvent",
    "ChatEvent",
    "canonical_type",
    "event_kind",
    "is_activity",
    "parse_activity",
]

DM_EVENT_TYPES = ("dm.received", "dm.sent", "dm.read", "dm.indicate_typing")
"""The legacy (unencrypted) Direct Message event types; their payloads are AAA-shaped."""

EVENT_TYPES = (
    *DM_EVENT_TYPES,
    "chat.received",
    "chat.sent",
    "chat.conversation.join",
    "chat.conversation.member_added",
    "chat.conversation.member_removed",
    "chat.conversation.admin_added",
    "chat.conversation.admin_removed",
    "chat.update.group_name",
    "chat.update.restrictions",
    "follow.follow",
    "follow.unfollow",
    "block.block",
    "block.unblock",
    "mute.mute",
    "mute.unmute",
    "post.create",
    "post.delete",
    "post.mention.create",
    "post.reply.create",
    "post.quote.create",
    "post.repost.create",
    "like.create",
    "profile.update.bio",
    "profile.update.profile_picture",
    "profile.update.banner_picture",
    "profile.update.screenname",
    "profile.update.geo",
    "profile.update.url",
    "profile.update.verified_badge",
    "profile.update.affiliate_badge",
    "profile.update.handle",
    "news.new",
    "spaces.start",
    "spaces.end",
    "broadcast.start",
    "broadcast.end",
    "broadcast.chat",
)
"""Every event type X's OpenAPI spec (v2.167) lets an app subscribe to."""

_ALIASES = {"chat.conversation_join": "chat.conversation.join"}
_RELATIONSHIPS = {
    "follow.follow": "follow",
    "follow.unfollow": "unfollow",
    "block.block": "block",
    "block.unblock": "unblock",
    "mute.mute": "mute",
    "mute.unmute": "unmute",
}


def _squash(name: str) -> str:
    return name.replace(".", "").replace("_", "").lower()


_BY_SQUASHED = {_squash(name): name for name in EVENT_TYPES}
_BY_SQUASHED.update(
    {
        "directmessagereceived": "dm.received",
        "directmessagesent": "dm.sent",
        "directmessageread": "dm.read",
        "directmessageindicatetyping": "dm.indicate_typing",
    }
)


def canonical_type(name: str) -> str:
    """The dot-case name of an event type, whichever spelling X used.

    ``DmReceived``, ``DMReceived`` and ``dm.received`` are all ``dm.received``;
    an unknown type is returned as given.
    """
    if name in _ALIASES:
        return _ALIASES[name]
    return _BY_SQUASHED.get(_squash(name), name)


_AS_AAA = {**_RELATIONSHIPS, "dm.read": "read", "dm.indicate_typing": "typing"}


def event_kind(name: str) -> str:
    """The ``Event.kind`` that events of ``name`` arrive as, for ``@bot.on_event(name)``.

    XAA types that become AAA events answer to both names (``follow.follow`` is
    ``follow``, ``dm.read`` is ``read``); PascalCase names are read as dot-case.
    """
    canonical = canonical_type(name)
    return _AS_AAA.get(canonical, canonical)


def is_activity(body: JSONObject) -> bool:
    """True for an XAA delivery (``data`` an envelope or a list), False for AAA bodies."""
    data = body.get("data")
    if "for_user_id" in body:
        return False
    first = data[0] if isinstance(data, list) and data else data
    return isinstance(first, dict) and "event_type" in first


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatEvent(Event):
    """An encrypted XChat event (``chat.received``, ``chat.sent``, ...).

    The message itself is ciphertext (``encoded_event``); reading it needs X's
    chat SDK and the conversation keys, which dmbot does not hold.

    Attributes:
        id: the chat event's id.
        conversation_id: ``"<user id>:<user id>"`` for one-to-one chats.
        sender_id: who sent it.
        encoded_event: the encrypted event, as delivered.
        created_ms: when it was sent (``created_at_msec``).
    """

    id: str = ""
    conversation_id: str = ""
    sender_id: str = ""
    encoded_event: str = ""
    created_at_msec: int | None = None

    @property
    def dedupe_key(self) -> str:
        return f"{self.kind}:{self.id}" if self.id else digest_key(self)

    @property
    def created_ms(self) -> int | None:
        return self.created_at_msec


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivityEvent(Event):
    """An X Activity API event dmbot has no closer type for; ``kind`` is its event type.

    Attributes:
        payload: the event's ``payload`` object (a post for ``post.*``, ...).
        includes: the ``includes`` object (expanded users and posts), if any.
        tag: the subscription's tag.
        event_uuid: X's id of this delivery (not of the event: a replay has a new one).
        user: the user who acted, when the payload names one (a post's author).
    """

    payload: JSONObject = field(default_factory=dict, hash=False)
    includes: JSONObject = field(default_factory=dict, hash=False)
    tag: str = ""
    event_uuid: str = ""
    user: User | None = None

    @property
    def dedupe_key(self) -> str:
        event_id = as_id(self.payload.get("id"))
        return f"{self.kind}:{event_id}" if event_id else digest_key(self)

    @property
    def created_ms(self) -> int | None:
        return as_int(self.payload.get("timestamp_ms"))


ParseAaa = Callable[[JSONObject], Delivery]


def parse_activity(body: JSONObject, parse_aaa: ParseAaa) -> Delivery:
    """Parse an XAA delivery into events; never raises.

    Args:
        body: the decoded delivery (:func:`is_activity` is true for it).
        parse_aaa: the Account Activity parser, for the AAA-shaped payloads
            of the DM event types.
    """
    data = body.get("data")
    items = data if isinstance(data, list) else [data]
    events: list[Event] = []
    users: dict[str, User] = {}
    first_account = ""
    for item in items:
        if not isinstance(item, dict):
            events.append(_malformed({"value": item}, "", "an XAA envelope that is not an object"))
            continue
        account = as_id(as_obj(item.get("filter")).get("user_id"))
        first_account = first_account or account
        try:
            found = _envelope(item, account, parse_aaa)
        except Exception as exc:  # never let one odd envelope fail the whole delivery
            found = Delivery(account, (_malformed(item, account, f"{type(exc).__name__}: {exc}"),))
        events.extend(found.events)
        users.update(found.users)
    return Delivery(first_account, tuple(events), users)


def _malformed(raw: JSONObject, account: str, reason: str) -> UnknownEvent:
    kind = canonical_type(as_str(raw.get("event_type"))) or "activity"
    return UnknownEvent(
        kind=kind, for_user_id=account, raw=raw, data=raw, reason=reason, malformed=True
    )


def _envelope(item: JSONObject, account: str, parse_aaa: ParseAaa) -> Delivery:
    kind = canonical_type(as_str(item.get("event_type")))
    payload = item.get("payload")
    if not kind or not isinstance(payload, dict):
        return Delivery(
            account, (_malformed(item, account, "an XAA envelope without event_type or payload"),)
        )
    if kind in DM_EVENT_TYPES:
        inner = parse_aaa({**payload, "for_user_id": account})
        if not inner.events:
            reason = f"a {kind} envelope whose payload holds no Direct Message event"
            return Delivery(account, (_malformed(item, account, reason),))
        return inner
    if kind in _RELATIONSHIPS:
        source, target = payload.get("source"), payload.get("target")
        if not isinstance(source, dict) or not isinstance(target, dict):
            reason = f"a {kind} envelope without source and target users"
            return Delivery(account, (_malformed(item, account, reason),))
        event: Event = Relationship(
            kind=_RELATIONSHIPS[kind],
            for_user_id=account,
            raw=item,
            source=User.from_payload(source),
            target=User.from_payload(target),
        )
        return Delivery(account, (event,))
    if kind.startswith("chat."):
        event = ChatEvent(
            kind=kind,
            for_user_id=account,
            raw=item,
            id=as_str(payload.get("id")),
            conversation_id=as_str(payload.get("conversation_id")),
            sender_id=as_id(payload.get("sender_id")),
            encoded_event=as_str(payload.get("encoded_event")),
            created_at_msec=as_int(payload.get("created_at_msec")),
        )
        return Delivery(account, (event,))
    includes = as_obj(item.get("includes"))
    event = ActivityEvent(
        kind=kind,
        for_user_id=account,
        raw=item,
        payload=payload,
        includes=dict(includes),
        tag=as_str(item.get("tag")),
        event_uuid=as_str(item.get("event_uuid")),
        user=_actor(payload, includes),
    )
    return Delivery(account, (event,))


def _actor(payload: JSONObject, includes: JSONObject) -> User | None:
    """The user who acted: a post's author, from ``includes.users`` when expanded there."""
    author = as_id(payload.get("author_id"))
    if not author:
        return None
    expanded = includes.get("users")
    for user in expanded if isinstance(expanded, list) else ():
        if isinstance(user, dict) and as_id(user.get("id")) == author:
            return User.from_payload(user)
    return User(author)
