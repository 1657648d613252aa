"""Typed, frozen events: what dmbot makes of an Account Activity API delivery.

A :class:`Delivery` holds the :class:`Event` objects of one webhook POST, in the
order X delivered them: :class:`DirectMessage`, :class:`TypingIndicator`,
:class:`ReadReceipt`, :class:`Favorite`, :class:`Relationship` (follow, block,
mute and their undoing), :class:`TweetCreate`, :class:`TweetDelete`,
:class:`Revoke`, and :class:`UnknownEvent` for anything else.
:func:`dmbot.edge.envelope.parse_delivery` builds them and never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from dmbot.edge.digest import digest
from dmbot.edge.payload import as_id, as_int, as_obj, as_str
from dmbot.types import JSONObject, is_id

__all__ = [
    "RELATIONSHIP_KINDS",
    "App",
    "Attachment",
    "Button",
    "Delivery",
    "DirectMessage",
    "Event",
    "Favorite",
    "ReadReceipt",
    "Relationship",
    "Revoke",
    "TweetCreate",
    "TweetDelete",
    "TypingIndicator",
    "UnknownEvent",
    "User",
    "digest_key",
]

RELATIONSHIP_KINDS = frozenset({"follow", "unfollow", "block", "unblock", "mute", "unmute"})
"""The ``type`` values of follow, block and mute events."""

_SUMMARY_LIMIT = 10


@dataclass(frozen=True, slots=True)
class User:
    """An X account as described in a delivery."""

    id: str
    screen_name: str = ""
    name: str = ""

    @classmethod
    def from_payload(cls, obj: JSONObject, default_id: str = "") -> User:
        """Build a user from an X user object, v1.1 or v2.

        ``id_str`` wins over a (lossy) int ``id``; a v2 object (``username``,
        possibly wrapped as ``{"data": {...}}`` in an XAA ``users`` map) gives
        the same user as its v1.1 form.

        Args:
            obj: the user object (anything else gives a user with empty fields).
            default_id: the id when the object has none, e.g. its key in ``users``.
        """
        obj = as_obj(obj)
        inner = obj.get("data")
        if isinstance(inner, dict) and "id" not in obj:
            obj = inner
        return cls(
            id=as_id(obj.get("id_str")) or as_id(obj.get("id")) or default_id,
            screen_name=as_str(obj.get("screen_name")) or as_str(obj.get("username")),
            name=as_str(obj.get("name")),
        )


@dataclass(frozen=True, slots=True)
class App:
    """The app that sent a Direct Message (from the delivery's ``apps`` map)."""

    id: str
    name: str = ""
    url: str = ""

    @classmethod
    def from_payload(cls, obj: JSONObject, default_id: str = "") -> App:
        """Build an app from an entry of the ``apps`` map (``default_id``: its key)."""
        obj = as_obj(obj)
        return cls(
            id=as_id(obj.get("id")) or default_id,
            name=as_str(obj.get("name")),
            url=as_str(obj.get("url")),
        )


@dataclass(frozen=True, slots=True)
class Attachment:
    """A DM attachment; ``media`` is X's media object as delivered."""

    type: str
    media: JSONObject = field(default_factory=dict, hash=False)

    @property
    def media_id(self) -> str | None:
        """The media id, or None when X did not say."""
        return as_id(self.media.get("id_str")) or as_id(self.media.get("id")) or None


@dataclass(frozen=True, slots=True)
class Button:
    """A call-to-action button (``ctas``) of a DM."""

    label: str
    url: str
    type: str = "web_url"
    tco_url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event.

    Attributes:
        kind: what happened: ``"message"``, ``"typing"``, ``"read"``,
            ``"favorite"``, a relationship type such as ``"follow"``,
            ``"tweet_create"``, ``"tweet_delete"``, ``"revoke"``, or for an
            :class:`UnknownEvent` the envelope key it came under.
        for_user_id: the subscribed account the delivery was for ("" if none).
        raw: the event's own JSON object as delivered.
    """

    kind: str
    for_user_id: str = ""
    raw: JSONObject = field(default_factory=dict, repr=False, hash=False)

    @property
    def dedupe_key(self) -> str:
        """A key equal for every copy of the same event, whichever account it came for."""
        return digest_key(self)

    @property
    def created_ms(self) -> int | None:
        """When the event happened, in ms since the epoch, if the payload says."""
        return as_int(self.raw.get("created_timestamp")) or as_int(self.raw.get("timestamp_ms"))


def digest_key(event: Event) -> str:
    """The dedupe key of an event that has no id: its kind and a digest of its JSON."""
    # Zero-argument super() does not work in slots dataclasses, hence a function.
    return f"{event.kind}:{digest(event.raw)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectMessage(Event):
    """A Direct Message (``message_create``), incoming or sent by the account."""

    kind: str = field(default="message", init=False)
    id: str
    created_timestamp: int = 0
    sender_id: str
    recipient_id: str = ""
    source_app_id: str | None = None
    text: str = ""
    entities: JSONObject = field(default_factory=dict, hash=False)
    quick_reply_metadata: str | None = None
    attachment: Attachment | None = None
    ctas: tuple[Button, ...] = ()
    initiated_via: JSONObject | None = field(default=None, hash=False)
    sender: User | None = None
    recipient: User | None = None
    app: App | None = None

    @property
    def dedupe_key(self) -> str:
        return self.id

    @property
    def created_ms(self) -> int | None:
        return self.created_timestamp or None

    @property
    def sort_key(self) -> int:
        """The id as a number: DM ids are snowflakes, so this orders by time."""
        return int(self.id) if is_id(self.id) else 0

    @property
    def is_quick_reply(self) -> bool:
        """Whether the DM carries Quick Reply metadata (a tap on an option)."""
        return self.quick_reply_metadata is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class TypingIndicator(Event):
    """Someone is typing a DM."""

    kind: str = field(default="typing", init=False)
    sender_id: str
    recipient_id: str = ""
    created_timestamp: int | None = None
    sender: User | None = None
    recipient: User | None = None

    @property
    def dedupe_key(self) -> str:
        if self.created_timestamp is None:
            return digest_key(self)
        return f"typing:{self.sender_id}:{self.recipient_id}:{self.created_timestamp}"

    @property
    def created_ms(self) -> int | None:
        return self.created_timestamp


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadReceipt(Event):
    """Someone read the DMs up to ``last_read_event_id``."""

    kind: str = field(default="read", init=False)
    sender_id: str
    recipient_id: str = ""
    last_read_event_id: str = ""
    created_timestamp: int | None = None
    sender: User | None = None
    recipient: User | None = None

    @property
    def dedupe_key(self) -> str:
        if self.created_timestamp is None and not self.last_read_event_id:
            return digest_key(self)
        return (
            f"read:{self.sender_id}:{self.recipient_id}:"
            f"{self.last_read_event_id}:{self.created_timestamp}"
        )

    @property
    def created_ms(self) -> int | None:
        return self.created_timestamp


@dataclass(frozen=True, slots=True, kw_only=True)
class Favorite(Event):
    """``user`` liked ``tweet``."""

    kind: str = field(default="favorite", init=False)
    id: str = ""
    user: User
    tweet: JSONObject = field(default_factory=dict, hash=False)
    tweet_id: str = ""
    timestamp_ms: int | None = None

    @property
    def dedupe_key(self) -> str:
        return f"favorite:{self.id}" if self.id else digest_key(self)

    @property
    def created_ms(self) -> int | None:
        return self.timestamp_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class Relationship(Event):
    """A follow, unfollow, block, unblock, mute or unmute: ``source`` acted on ``target``."""

    source: User
    target: User
    created_timestamp: int | None = None

    @property
    def dedupe_key(self) -> str:
        if self.created_timestamp is None:
            return digest_key(self)
        return f"{self.kind}:{self.source.id}:{self.target.id}:{self.created_timestamp}"

    @property
    def created_ms(self) -> int | None:
        return self.created_timestamp


@dataclass(frozen=True, slots=True, kw_only=True)
class TweetCreate(Event):
    """A post by, mentioning, replying to or quoting the subscribed account."""

    kind: str = field(default="tweet_create", init=False)
    id: str
    text: str = ""
    user: User | None = None
    user_has_blocked: bool | None = None
    timestamp_ms: int | None = None

    @property
    def dedupe_key(self) -> str:
        return f"tweet_create:{self.id}"

    @property
    def created_ms(self) -> int | None:
        return self.timestamp_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class TweetDelete(Event):
    """A post was deleted."""

    kind: str = field(default="tweet_delete", init=False)
    tweet_id: str
    user_id: str = ""
    timestamp_ms: int | None = None

    @property
    def dedupe_key(self) -> str:
        return f"tweet_delete:{self.tweet_id}"

    @property
    def created_ms(self) -> int | None:
        return self.timestamp_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class Revoke(Event):
    """``user_id`` revoked ``app_id``'s access; X has already unsubscribed them."""

    kind: str = field(default="revoke", init=False)
    app_id: str = ""
    user_id: str = ""
    date_time: str = ""

    @property
    def dedupe_key(self) -> str:
        return f"revoke:{self.app_id}:{self.user_id}:{self.date_time}"

    @property
    def created_ms(self) -> int | None:
        """``date_time`` (ISO 8601) in ms, if it parses."""
        try:
            return int(datetime.fromisoformat(self.date_time).timestamp() * 1000)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(Event):
    """An event dmbot does not understand; acknowledged and passed to ``on_event``.

    Attributes:
        data: the JSON as delivered (a non-object item is wrapped as ``{"value": item}``).
        reason: why it is unknown, for a debug log line.
        malformed: a kind X documents, in a shape X never sends (a DM without a
            sender, ...): refused, not passed to handlers.
    """

    kind: str = "unknown"
    data: JSONObject = field(default_factory=dict, hash=False)
    reason: str = ""
    malformed: bool = False


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery, parsed.

    Attributes:
        for_user_id: the subscribed account the delivery is for ("" if none).
        events: the events, in the order delivered.
        users: the ``users`` map (id to :class:`User`).
        apps: the ``apps`` map (id to :class:`App`).
    """

    for_user_id: str
    events: tuple[Event, ...]
    users: Mapping[str, User] = field(default_factory=dict, hash=False)
    apps: Mapping[str, App] = field(default_factory=dict, hash=False)

    @property
    def summary(self) -> str:
        """A short, secret-free description for one log line: kinds and ids, no text."""
        if not self.events:
            return "no events"
        labels = [_label(event) for event in self.events[:_SUMMARY_LIMIT]]
        more = len(self.events) - _SUMMARY_LIMIT
        if more > 0:
            labels.append(f"and {more} more")
        return ", ".join(labels)


def _label(event: Event) -> str:
    if isinstance(event, DirectMessage | TweetCreate | Favorite) and event.id:
        return f"{event.kind} {event.id}"
    if isinstance(event, TweetDelete):
        return f"{event.kind} {event.tweet_id}"
    return event.kind
