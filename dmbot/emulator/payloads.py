"""What X POSTs to a webhook: Account Activity payloads and X Activity API envelopes.

A DM's ``message_create`` event (as its sender or its recipient sees it),
typing and read-receipt events, and the ``user_event`` of a revoked app,
each with the ``users`` and ``apps`` maps X hydrates. The API's DM
endpoints answer with the same event objects. The X Activity API (XAA)
wraps the same events in an envelope (:func:`activity_envelope`) whose
``users`` are v2 user objects and which carries no ``apps`` map.
"""

from __future__ import annotations

import secrets
import time

from dmbot.emulator.entities import processed, tco
from dmbot.emulator.media import Media, dm_media
from dmbot.emulator.state import WEB_CLIENT_APP, ActivitySubscription, Message, User, World
from dmbot.types import JSONObject


def shown_data(
    world: World | None, message_id: str, sent: JSONObject, media: Media | None
) -> JSONObject:
    """``message_data`` as X shows it once sent (:mod:`dmbot.emulator.entities`).

    Args:
        world: where mentioned users are looked up (None: no mention is found).
        message_id: the DM's id (its t.co links are made from it).
        sent: the ``message_data`` the sender posted.
        media: the upload the attachment names, if the emulator has it.
    """

    def mention(name: str) -> JSONObject | None:
        user = world.user_by_name(name) if world is not None else None
        if user is None:
            return None
        return {
            "screen_name": user.screen_name,
            "name": user.name,
            "id": int(user.id),
            "id_str": user.id,
        }

    attachment = sent.get("attachment")
    link = tco(f"{message_id}:media") if attachment else None
    text, entities, indices = processed(
        str(sent.get("text", "")), message_id, mention, media_url=link
    )
    data: JSONObject = {"text": text, "entities": entities}
    for key in ("quick_reply", "ctas"):
        if key in sent:
            data[key] = sent[key]
    if isinstance(attachment, dict) and link is not None:
        media_id = str(attachment["media"]["id"])
        shown = (
            dm_media(media, message_id, link, indices)
            if media is not None
            else {"id": int(media_id), "id_str": media_id, "indices": indices, "type": "photo"}
        )
        data["attachment"] = {"type": "media", "media": shown}
    return data


def message_event(
    message: Message, for_user_id: str | None, *, drop_metadata: bool = False
) -> JSONObject:
    """The ``message_create`` event of ``message`` as ``for_user_id`` sees it.

    ``source_app_id`` appears only in the sender's own view, as on X.
    """
    data = dict(message.shown or shown_data(None, message.id, message.message_data, None))
    if message.quick_reply_metadata is not None and not drop_metadata:
        data["quick_reply_response"] = {"type": "options", "metadata": message.quick_reply_metadata}
    create: JSONObject = {"target": {"recipient_id": message.recipient_id}}
    create["sender_id"] = message.sender_id
    if message.source_app_id is not None and for_user_id == message.sender_id:
        create["source_app_id"] = message.source_app_id
    create["message_data"] = data
    event: JSONObject = {
        "type": "message_create",
        "id": message.id,
        "created_timestamp": str(message.created_ms),
    }
    if message.welcome_message_id is not None:
        event["initiated_via"] = {"welcome_message_id": message.welcome_message_id}
    event["message_create"] = create
    return event


def message_payload(
    world: World, message: Message, for_user_id: str, *, drop_metadata: bool = False
) -> JSONObject:
    """A ``direct_message_events`` delivery of ``message`` for one subscribed user."""
    event = message_event(message, for_user_id, drop_metadata=drop_metadata)
    payload: JSONObject = {"for_user_id": for_user_id, "direct_message_events": [event]}
    app_id = event["message_create"].get("source_app_id")
    if app_id is not None:
        payload["apps"] = {app_id: app_json(world, app_id)}
    payload["users"] = _users(world, message.sender_id, message.recipient_id)
    return payload


def indicator_payload(
    world: World,
    kind: str,
    sender_id: str,
    recipient_id: str,
    for_user_id: str,
    *,
    last_read_event_id: str | None = None,
) -> JSONObject:
    """A typing (``kind="typing"``) or read-receipt (``kind="read"``) delivery."""
    event = indicator_event(world, kind, sender_id, recipient_id, last_read_event_id)
    users = _users(world, sender_id, recipient_id)
    return {"for_user_id": for_user_id, indicator_key(kind): [event], "users": users}


def indicator_event(
    world: World, kind: str, sender_id: str, recipient_id: str, last_read_event_id: str | None
) -> JSONObject:
    """The event object of a typing indicator or read receipt."""
    event: JSONObject = {
        "created_timestamp": str(world.now_ms()),
        "sender_id": sender_id,
        "target": {"recipient_id": recipient_id},
    }
    if kind == "read":
        event["last_read_event_id"] = last_read_event_id
    return event


def indicator_key(kind: str) -> str:
    """The event key of a typing or read delivery."""
    if kind == "typing":
        return "direct_message_indicate_typing_events"
    return "direct_message_mark_read_events"


def revoke_payload(world: World, user_id: str) -> JSONObject:
    """The ``user_event`` X sends when a user revokes the app (no ``for_user_id``)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(world.clock()))
    return {
        "user_event": {
            "revoke": {
                "date_time": stamp,
                "target": {"app_id": world.app.id},
                "source": {"user_id": user_id},
            }
        }
    }


def _users(world: World, *user_ids: str) -> JSONObject:
    users: JSONObject = {}
    for user_id in user_ids:
        user = world.user(user_id) or _stranger(user_id)
        users[user_id] = user.to_json()
    return users


def app_json(world: World, app_id: str) -> JSONObject:
    """The ``apps`` entry for ``app_id`` (ours, X's web client, or an unknown app)."""
    if app_id == world.app.id:
        return world.app.to_json()
    if app_id == WEB_CLIENT_APP["id"]:
        return dict(WEB_CLIENT_APP)
    return {"id": app_id, "name": "", "url": ""}


def activity_envelope(
    world: World, subscription: ActivitySubscription, key: str, event: JSONObject
) -> JSONObject:
    """The XAA envelope of one event for one subscription, as X POSTs it.

    Args:
        world: where the users are looked up.
        subscription: whose ``filter`` and ``tag`` the envelope repeats.
        key: the v1.1 event key the event sits under (``direct_message_events``...).
        event: the v1.1 event object (for a DM: no ``source_app_id``, as XAA sends it).
    """
    create = event.get("message_create") or {}
    target = create.get("target") or event.get("target") or {}
    sender = str(create.get("sender_id") or event.get("sender_id"))
    user_ids = (sender, str(target.get("recipient_id")))
    users = {uid: {"data": v2_user(world.user(uid) or _stranger(uid))} for uid in user_ids}
    data: JSONObject = {
        # event_uuid names the delivery, not the DM: X's are signed 64-bit numbers.
        "event_uuid": str(secrets.randbits(64) - 2**63),
        "filter": {"user_id": subscription.user_id},
        "event_type": subscription.event_type,
    }
    if subscription.tag is not None:
        data["tag"] = subscription.tag
    data["payload"] = {key: [event], "users": users}
    return {"data": data}


def v2_user(user: User) -> JSONObject:
    """A v2 user object, as XAA hydrates the ``users`` of an envelope."""
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(user.created_ms / 1000))
    metrics: JSONObject = {}
    for name in ("followers", "following", "tweet", "listed", "like", "media"):
        metrics[f"{name}_count"] = 0
        metrics[f"{name}_count_str"] = "0"
    return {
        "id": user.id,
        "name": user.name,
        "username": user.screen_name,
        "created_at": created,
        "description": "",
        "url": "",
        "profile_banner_url": "",
        "profile_image_url": (
            "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
        ),
        "protected": False,
        "verified": False,
        "verified_type": "none",
        "is_identity_verified": False,
        "public_metrics": metrics,
    }


def _stranger(user_id: str) -> User:
    return User(user_id, f"user{user_id}", f"user{user_id}", 0)
