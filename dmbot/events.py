"""Typed, frozen events parsed once from an Account Activity API delivery.

A delivery is one JSON object: ``for_user_id``, the ``users`` and ``apps``
maps, and one or more event keys (``direct_message_events``,
``follow_events``, ...). :func:`parse_delivery` turns it into a
:class:`Delivery` of :class:`Event` objects, in the order X delivered them.

Parsing is lenient because X adds fields and event kinds over time: unknown
fields are ignored, missing optional fields get defaults, and anything that
cannot be understood becomes an :class:`UnknownEvent` instead of an error.
:func:`parse_delivery` never raises.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dmbot.types import JSON, JSONObject

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
    "parse_delivery",
]

RELATIONSHIP_KINDS = frozenset({"follow", "unfollow", "block", "unblock", "mute", "unmute"})
"""The ``type`` values of follow, block and mute events."""

_SUMMARY_LIMIT = 10
_EMPTY: JSONObject = {}  # read-only stand-in while walking; never handed out


def _id(value: JSON) -> str:
    """An id as a string: X sends strings, but ints (and bools by mistake) happen."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _int(value: JSON) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _str(value: JSON) -> str:
    return value if isinstance(value, str) else ""


def _obj(value: JSON) -> JSONObject:
    return value if isinstance(value, dict) else _EMPTY


def _bool(value: JSON) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _digest(raw: JSONObject) -> str:
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class User:
    """An X account as described in a delivery."""

    id: str
    screen_name: str = ""
    name: str = ""

    @classmethod
    def from_payload(cls, obj: JSONObject, default_id: str = "") -> User:
        """Build a user from an X user object; ``id_str`` wins over a (lossy) int ``id``.

        Args:
            obj: the user object (anything else gives a user with empty fields).
            default_id: the id when the object has none, e.g. its key in ``users``.
        """
        obj = _obj(obj)
        return cls(
            id=_id(obj.get("id_str")) or _id(obj.get("id")) or default_id,
            screen_name=_str(obj.get("screen_name")),
            name=_str(obj.get("name")),
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
        obj = _obj(obj)
        return cls(
            id=_id(obj.get("id")) or default_id,
            name=_str(obj.get("name")),
            url=_str(obj.get("url")),
        )


@dataclass(frozen=True, slots=True)
class Attachment:
    """A DM attachment; ``media`` is X's media object as delivered."""

    type: str
    media: JSONObject = field(default_factory=dict, hash=False)

    @property
    def media_id(self) -> str | None:
        """The media id, or None when X did not say."""
        return _id(self.media.get("id_str")) or _id(self.media.get("id")) or None


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
        return _digest_key(self)

    @property
    def created_ms(self) -> int | None:
        """When the event happened, in ms since the epoch, if the payload says."""
        return _int(self.raw.get("created_timestamp")) or _int(self.raw.get("timestamp_ms"))


def _digest_key(event: Event) -> str:
    # Zero-argument super() does not work in slots dataclasses, hence a function.
    return f"{event.kind}:{_digest(event.raw)}"


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
        return int(self.id) if self.id.isascii() and self.id.isdigit() else 0

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
            return _digest_key(self)
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
            return _digest_key(self)
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
        return f"favorite:{self.id}" if self.id else _digest_key(self)

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
            return _digest_key(self)
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
    """

    kind: str = "unknown"
    data: JSONObject = field(default_factory=dict, hash=False)
    reason: str = ""


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


class _UnparseableError(ValueError):
    """An event item lacks what its kind needs; it becomes an UnknownEvent."""


@dataclass(frozen=True, slots=True)
class _Envelope:
    body: JSONObject
    for_user_id: str
    users: dict[str, User]
    apps: dict[str, App]


def _direct_message(item: JSONObject, env: _Envelope) -> Event:
    if item.get("type") != "message_create":
        raise _UnparseableError(f"direct message event of type {item.get('type')!r}")
    create = _obj(item.get("message_create"))
    event_id = _id(item.get("id"))
    sender_id = _id(create.get("sender_id"))
    if not event_id or not sender_id:
        raise _UnparseableError("message_create event without an id or a sender_id")
    data = _obj(create.get("message_data"))
    recipient_id = _id(_obj(create.get("target")).get("recipient_id"))
    app_id = _id(create.get("source_app_id")) or None
    quick_reply = data.get("quick_reply_response")
    metadata = quick_reply.get("metadata") if isinstance(quick_reply, dict) else None
    attachment = data.get("attachment")
    media = _obj(attachment).get("media")
    ctas = data.get("ctas")
    entities = data.get("entities")
    initiated_via = item.get("initiated_via")
    return DirectMessage(
        for_user_id=env.for_user_id,
        raw=item,
        id=event_id,
        created_timestamp=_int(item.get("created_timestamp")) or 0,
        sender_id=sender_id,
        recipient_id=recipient_id,
        source_app_id=app_id,
        text=_str(data.get("text")),
        entities=entities if isinstance(entities, dict) else {},
        quick_reply_metadata=metadata if isinstance(metadata, str) else None,
        attachment=(
            Attachment(_str(attachment.get("type")), media if isinstance(media, dict) else {})
            if isinstance(attachment, dict)
            else None
        ),
        ctas=tuple(
            Button(
                label=_str(cta.get("label")),
                url=_str(cta.get("url")),
                type=_str(cta.get("type")) or "web_url",
                tco_url=_str(cta.get("tco_url")),
            )
            for cta in (ctas if isinstance(ctas, list) else ())
            if isinstance(cta, dict)
        ),
        initiated_via=initiated_via if isinstance(initiated_via, dict) else None,
        sender=env.users.get(sender_id),
        recipient=env.users.get(recipient_id),
        app=env.apps.get(app_id) if app_id else None,
    )


def _typing(item: JSONObject, env: _Envelope) -> Event:
    sender_id = _id(item.get("sender_id"))
    if not sender_id:
        raise _UnparseableError("typing indicator without a sender_id")
    recipient_id = _id(_obj(item.get("target")).get("recipient_id"))
    return TypingIndicator(
        for_user_id=env.for_user_id,
        raw=item,
        sender_id=sender_id,
        recipient_id=recipient_id,
        created_timestamp=_int(item.get("created_timestamp")),
        sender=env.users.get(sender_id),
        recipient=env.users.get(recipient_id),
    )


def _read(item: JSONObject, env: _Envelope) -> Event:
    sender_id = _id(item.get("sender_id"))
    if not sender_id:
        raise _UnparseableError("read receipt without a sender_id")
    recipient_id = _id(_obj(item.get("target")).get("recipient_id"))
    return ReadReceipt(
        for_user_id=env.for_user_id,
        raw=item,
        sender_id=sender_id,
        recipient_id=recipient_id,
        last_read_event_id=_id(item.get("last_read_event_id")),
        created_timestamp=_int(item.get("created_timestamp")),
        sender=env.users.get(sender_id),
        recipient=env.users.get(recipient_id),
    )


def _favorite(item: JSONObject, env: _Envelope) -> Event:
    user = item.get("user")
    if not isinstance(user, dict):
        raise _UnparseableError("favorite event without a user object")
    tweet = item.get("favorited_status")
    tweet = tweet if isinstance(tweet, dict) else {}
    return Favorite(
        for_user_id=env.for_user_id,
        raw=item,
        id=_id(item.get("id")),
        user=User.from_payload(user),
        tweet=tweet,
        tweet_id=_id(tweet.get("id_str")) or _id(tweet.get("id")),
        timestamp_ms=_int(item.get("timestamp_ms")),
    )


def _relationship(item: JSONObject, env: _Envelope) -> Event:
    kind = item.get("type")
    source, target = item.get("source"), item.get("target")
    if kind not in RELATIONSHIP_KINDS:
        raise _UnparseableError(f"relationship event of type {kind!r}")
    if not isinstance(source, dict) or not isinstance(target, dict):
        raise _UnparseableError(f"{kind} event without source and target user objects")
    return Relationship(
        kind=kind,
        for_user_id=env.for_user_id,
        raw=item,
        source=User.from_payload(source),
        target=User.from_payload(target),
        created_timestamp=_int(item.get("created_timestamp")),
    )


def _tweet_create(item: JSONObject, env: _Envelope) -> Event:
    tweet_id = _id(item.get("id_str")) or _id(item.get("id"))
    if not tweet_id:
        raise _UnparseableError("tweet_create event without an id")
    full_text = _obj(item.get("extended_tweet")).get("full_text")
    user = item.get("user")
    blocked = env.body.get("user_has_blocked", env.body.get("is_blocked_by"))
    return TweetCreate(
        for_user_id=env.for_user_id,
        raw=item,
        id=tweet_id,
        text=_str(full_text) or _str(item.get("full_text")) or _str(item.get("text")),
        user=User.from_payload(user) if isinstance(user, dict) else None,
        user_has_blocked=_bool(blocked),
        timestamp_ms=_int(item.get("timestamp_ms")),
    )


def _tweet_delete(item: JSONObject, env: _Envelope) -> Event:
    status = _obj(item.get("status"))
    tweet_id = _id(status.get("id_str")) or _id(status.get("id"))
    if not tweet_id:
        raise _UnparseableError("tweet_delete event without status.id")
    return TweetDelete(
        for_user_id=env.for_user_id,
        raw=item,
        tweet_id=tweet_id,
        user_id=_id(status.get("user_id_str")) or _id(status.get("user_id")),
        timestamp_ms=_int(item.get("timestamp_ms")),
    )


def _revoke(item: JSONObject, env: _Envelope) -> Event:
    return Revoke(
        for_user_id=env.for_user_id,
        raw=item,
        app_id=_id(_obj(item.get("target")).get("app_id")),
        user_id=_id(_obj(item.get("source")).get("user_id")),
        date_time=_str(item.get("date_time")),
    )


_Parser = Callable[[JSONObject, _Envelope], Event]

_LIST_KEYS: dict[str, _Parser] = {
    "direct_message_events": _direct_message,
    "direct_message_indicate_typing_events": _typing,
    "direct_message_mark_read_events": _read,
    "favorite_events": _favorite,
    "follow_events": _relationship,
    "block_events": _relationship,
    "mute_events": _relationship,
    "tweet_create_events": _tweet_create,
    "tweet_delete_events": _tweet_delete,
}
_USER_EVENT_KEYS: dict[str, _Parser] = {"revoke": _revoke}
_ENVELOPE_FIELDS = frozenset({"for_user_id", "users", "apps", "user_has_blocked", "is_blocked_by"})


def _unknown(kind: str, value: Any, env: _Envelope, reason: str) -> UnknownEvent:
    data = value if isinstance(value, dict) else {"value": value}
    return UnknownEvent(kind=kind, for_user_id=env.for_user_id, raw=data, data=data, reason=reason)


def _parse_item(key: str, parser: _Parser, item: Any, env: _Envelope) -> Event:
    if not isinstance(item, dict):
        return _unknown(key, item, env, f"an item of {key} is not a JSON object")
    try:
        return parser(item, env)
    except Exception as exc:  # never let one odd event fail the whole delivery
        reason = str(exc) if isinstance(exc, _UnparseableError) else f"{type(exc).__name__}: {exc}"
        return _unknown(key, item, env, reason)


def _user_event(value: JSONObject, env: _Envelope) -> list[Event]:
    events: list[Event] = []
    for name, inner in value.items():
        parser = _USER_EVENT_KEYS.get(name)
        if parser is None:
            events.append(_unknown("user_event", {name: inner}, env, f"user_event {name!r}"))
        else:
            events.append(_parse_item("user_event", parser, inner, env))
    return events


def parse_delivery(obj: JSONObject) -> Delivery:
    """Parse one webhook delivery. Never raises.

    Args:
        obj: the decoded JSON body of the POST.

    Returns:
        The delivery; events X did not describe, or that are malformed, are
        :class:`UnknownEvent` objects in their place.
    """
    if not isinstance(obj, dict):
        unknown = UnknownEvent(raw={"value": obj}, data={"value": obj}, reason="not a JSON object")
        return Delivery("", (unknown,))
    users = {key: User.from_payload(v, key) for key, v in _obj(obj.get("users")).items()}
    apps = {key: App.from_payload(v, key) for key, v in _obj(obj.get("apps")).items()}
    env = _Envelope(obj, _id(obj.get("for_user_id")), users, apps)
    events: list[Event] = []
    for key, value in obj.items():
        if key in _ENVELOPE_FIELDS:
            continue
        parser = _LIST_KEYS.get(key)
        known = parser is not None or key == "user_event"
        if key == "user_event" and isinstance(value, dict):
            events.extend(_user_event(value, env))
        elif parser is not None and isinstance(value, list):
            events.extend(_parse_item(key, parser, item, env) for item in value)
        elif not known and isinstance(value, list):
            events.extend(_unknown(key, item, env, f"unknown key {key!r}") for item in value)
        else:
            reason = f"{key} has an unexpected shape" if known else f"unknown key {key!r}"
            events.append(_unknown(key, value, env, reason))
    return Delivery(env.for_user_id, tuple(events), users, apps)
