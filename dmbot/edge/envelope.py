"""Parsing a delivery (the envelope) into typed events: Account Activity API bodies here,
X Activity API envelopes in :mod:`dmbot.edge.activity`.

A delivery is one JSON object: ``for_user_id``, the ``users`` and ``apps``
maps, and one or more event keys (``direct_message_events``,
``follow_events``, ...). :func:`parse_delivery` turns it into a
:class:`~dmbot.edge.events.Delivery` of :class:`~dmbot.edge.events.Event` objects, in
the order X delivered them.

Parsing is lenient because X adds fields and event kinds over time: unknown
fields are ignored, missing optional fields get defaults, and anything that
cannot be understood becomes an :class:`~dmbot.edge.events.UnknownEvent` instead
of an error. :func:`parse_delivery` never raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dmbot.edge.activity import is_activity, parse_activity
from dmbot.edge.events import (
    RELATIONSHIP_KINDS,
    App,
    Attachment,
    Button,
    Delivery,
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
    User,
)
from dmbot.edge.payload import as_bool, as_id, as_int, as_obj, as_str
from dmbot.types import JSONObject

__all__ = ["parse_delivery"]


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
    create = as_obj(item.get("message_create"))
    event_id = as_id(item.get("id"))
    sender_id = as_id(create.get("sender_id"))
    if not event_id or not sender_id:
        raise _UnparseableError("message_create event without an id or a sender_id")
    data = as_obj(create.get("message_data"))
    recipient_id = as_id(as_obj(create.get("target")).get("recipient_id"))
    app_id = as_id(create.get("source_app_id")) or None
    quick_reply = data.get("quick_reply_response")
    metadata = quick_reply.get("metadata") if isinstance(quick_reply, dict) else None
    attachment = data.get("attachment")
    media = as_obj(attachment).get("media")
    ctas = data.get("ctas")
    entities = data.get("entities")
    initiated_via = item.get("initiated_via")
    return DirectMessage(
        for_user_id=env.for_user_id,
        raw=item,
        id=event_id,
        created_timestamp=as_int(item.get("created_timestamp")) or 0,
        sender_id=sender_id,
        recipient_id=recipient_id,
        source_app_id=app_id,
        text=as_str(data.get("text")),
        entities=entities if isinstance(entities, dict) else {},
        quick_reply_metadata=metadata if isinstance(metadata, str) else None,
        attachment=(
            Attachment(as_str(attachment.get("type")), media if isinstance(media, dict) else {})
            if isinstance(attachment, dict)
            else None
        ),
        ctas=tuple(
            Button(
                label=as_str(cta.get("label")),
                url=as_str(cta.get("url")),
                type=as_str(cta.get("type")) or "web_url",
                tco_url=as_str(cta.get("tco_url")),
            )
            for cta in (ctas if isinstance(ctas, list) else ())
            if isinstance(cta, dict)
        ),
        initiated_via=initiated_via if isinstance(initiated_via, dict) else None,
        sender=env.users.get(sender_id),
        recipient=env.users.get(recipient_id),
        app=env.apps.get(app_id) if app_id else None,
    )


def _between(item: JSONObject, env: _Envelope, what: str) -> dict[str, Any]:
    """What typing indicators and read receipts share: who, to whom, when."""
    sender_id = as_id(item.get("sender_id"))
    if not sender_id:
        raise _UnparseableError(f"{what} without a sender_id")
    recipient_id = as_id(as_obj(item.get("target")).get("recipient_id"))
    return {
        "for_user_id": env.for_user_id,
        "raw": item,
        "sender_id": sender_id,
        "recipient_id": recipient_id,
        "created_timestamp": as_int(item.get("created_timestamp")),
        "sender": env.users.get(sender_id),
        "recipient": env.users.get(recipient_id),
    }


def _typing(item: JSONObject, env: _Envelope) -> Event:
    return TypingIndicator(**_between(item, env, "typing indicator"))


def _read(item: JSONObject, env: _Envelope) -> Event:
    last_read = as_id(item.get("last_read_event_id"))
    return ReadReceipt(**_between(item, env, "read receipt"), last_read_event_id=last_read)


def _favorite(item: JSONObject, env: _Envelope) -> Event:
    user = item.get("user")
    if not isinstance(user, dict):
        raise _UnparseableError("favorite event without a user object")
    tweet = item.get("favorited_status")
    tweet = tweet if isinstance(tweet, dict) else {}
    return Favorite(
        for_user_id=env.for_user_id,
        raw=item,
        id=as_id(item.get("id")),
        user=User.from_payload(user),
        tweet=tweet,
        tweet_id=as_id(tweet.get("id_str")) or as_id(tweet.get("id")),
        timestamp_ms=as_int(item.get("timestamp_ms")),
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
        created_timestamp=as_int(item.get("created_timestamp")),
    )


def _tweet_create(item: JSONObject, env: _Envelope) -> Event:
    tweet_id = as_id(item.get("id_str")) or as_id(item.get("id"))
    if not tweet_id:
        raise _UnparseableError("tweet_create event without an id")
    full_text = as_obj(item.get("extended_tweet")).get("full_text")
    user = item.get("user")
    blocked = env.body.get("user_has_blocked", env.body.get("is_blocked_by"))
    return TweetCreate(
        for_user_id=env.for_user_id,
        raw=item,
        id=tweet_id,
        text=as_str(full_text) or as_str(item.get("full_text")) or as_str(item.get("text")),
        user=User.from_payload(user) if isinstance(user, dict) else None,
        user_has_blocked=as_bool(blocked),
        timestamp_ms=as_int(item.get("timestamp_ms")),
    )


def _tweet_delete(item: JSONObject, env: _Envelope) -> Event:
    status = as_obj(item.get("status"))
    tweet_id = as_id(status.get("id_str")) or as_id(status.get("id"))
    if not tweet_id:
        raise _UnparseableError("tweet_delete event without status.id")
    return TweetDelete(
        for_user_id=env.for_user_id,
        raw=item,
        tweet_id=tweet_id,
        user_id=as_id(status.get("user_id_str")) or as_id(status.get("user_id")),
        timestamp_ms=as_int(item.get("timestamp_ms")),
    )


def _revoke(item: JSONObject, env: _Envelope) -> Event:
    return Revoke(
        for_user_id=env.for_user_id,
        raw=item,
        app_id=as_id(as_obj(item.get("target")).get("app_id")),
        user_id=as_id(as_obj(item.get("source")).get("user_id")),
        date_time=as_str(item.get("date_time")),
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


def _unknown(
    kind: str, value: Any, env: _Envelope, reason: str, *, malformed: bool = True
) -> UnknownEvent:
    data = value if isinstance(value, dict) else {"value": value}
    return UnknownEvent(
        kind=kind,
        for_user_id=env.for_user_id,
        raw=data,
        data=data,
        reason=reason,
        malformed=malformed,
    )


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
            reason = f"user_event {name!r}"
            events.append(_unknown("user_event", {name: inner}, env, reason, malformed=False))
        else:
            events.append(_parse_item("user_event", parser, inner, env))
    return events


def parse_delivery(obj: JSONObject) -> Delivery:
    """Parse one delivery, Account Activity or X Activity API. Never raises.

    Args:
        obj: the decoded JSON body of the POST (or a line of the activity stream).

    Returns:
        The delivery; events X did not describe, or that are malformed, are
        :class:`UnknownEvent` objects in their place.
    """
    if isinstance(obj, dict) and is_activity(obj):
        return parse_activity(obj, _parse_aaa)
    return _parse_aaa(obj)


def _parse_aaa(obj: JSONObject) -> Delivery:
    if not isinstance(obj, dict):
        unknown = UnknownEvent(raw={"value": obj}, data={"value": obj}, reason="not a JSON object")
        return Delivery("", (unknown,))
    users = {key: User.from_payload(v, key) for key, v in as_obj(obj.get("users")).items()}
    apps = {key: App.from_payload(v, key) for key, v in as_obj(obj.get("apps")).items()}
    env = _Envelope(obj, as_id(obj.get("for_user_id")), users, apps)
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
            reason = f"unknown key {key!r}"
            events.extend(_unknown(key, item, env, reason, malformed=False) for item in value)
        else:
            reason = f"{key} has an unexpected shape" if known else f"unknown key {key!r}"
            events.append(_unknown(key, value, env, reason, malformed=known))
    return Delivery(env.for_user_id, tuple(events), users, apps)
