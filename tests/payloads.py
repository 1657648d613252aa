"""Builders of Account Activity API payloads for tests, shaped like X's examples.

Import from any test module: ``from payloads import dm, delivery, follow``.
Every builder returns plain JSON-ready dicts, fresh on each call.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent / "fixtures" / "x-api-examples"
"""X's documented examples, kept as published (tests/fixtures/x-api-examples/README.md)."""

STRICT_EXAMPLES: list[str] = [
    "direct_message_event_ctas_read.json",
    "direct_message_event_quick_reply_response.json",
    "direct_message_events.json",
    "direct_message_indicate_typing_events.json",
    "direct_message_mark_read_events.json",
    "request_send_dm_ctas_buttons.json",
    "request_send_dm_quick_reply_options.json",
    "request_send_dm_text.json",
    "request_v2_dm_with_media_attachment.json",
    "request_welcome_message_new.json",
    "request_welcome_message_rule_new.json",
    "response_v2_dm_conversations_with_participant_messages.json",
    "response_welcome_message_rule_new.json",
    "tweet_delete_events.json",
    "user_event_revoke.json",
    "management/crc_get_response_template.json",
    "management/v1.1_enterprise_error_401_code32.json",
    "management/v1.1_enterprise_get_subscriptions_count_response_200.json",
    "management/v1.1_enterprise_get_subscriptions_list_response_200.json",
    "management/v1.1_enterprise_post_webhooks_error_403.json",
    "management/v1.1_enterprise_post_webhooks_response_200.json",
    "management/v1.1_replay_job_status_incomplete.json",
    "management/v1.1_replay_response_202.json",
    "management/v2_aaa_replay_job_status_complete.json",
    "management/v2_aaa_replay_job_status_incomplete.json",
    "management/v2_aaa_replay_response_200.json",
    "management/v2_delete_subscription_response_200.json",
    "management/v2_delete_webhook_response_200.json",
    "management/v2_get_subscription_check_response_200.json",
    "management/v2_get_subscriptions_count_response_200.json",
    "management/v2_get_subscriptions_list_response_200.json",
    "management/v2_get_webhooks_empty_response_200.json",
    "management/v2_get_webhooks_response_200.json",
    "management/v2_post_subscription_response_200.json",
    "management/v2_post_webhooks_response_200.json",
    "management/v2_put_webhook_validate_response_200.json",
    "legacy/direct_message_events.json",
    "legacy/direct_message_indicate_typing_events.json",
    "legacy/direct_message_mark_read_events.json",
    "legacy/tweet_delete_events.json",
    "legacy/user_event_revoke.json",
    "xaa/chat.received.json",
    "xaa/dm.received.json",
    "xaa/dm.sent.json",
    "xaa/event_envelope.json",
    "xaa/post.mention.create.json",
]
"""Every example that is strict JSON (the table in x-api-examples/README.md)."""

SENDER = "3001969357"
RECIPIENT = "4337869213"
APP_ID = "13090192"

# Names from X's examples, so payloads read like the documented ones.
_KNOWN_USERS = {
    "3001969357": ("Jordan Brinks", "furiouscamper"),
    "4337869213": ("Harrison Test", "Harris_0ff"),
}
_KNOWN_APPS = {
    "13090192": ("FuriousCamperTestApp1", "https://x.com/furiouscamper"),
    "268278": ("Twitter Web Client", "http://twitter.com"),
}

# Snowflake ids: (ms since 2010-11-04) << 22. One ms apart, so they sort by time too.
_TWITTER_EPOCH_MS = 1288834974657
_ids = itertools.count(1_800_000_000_000_000_000, 1 << 22)


def next_id() -> str:
    """A fresh snowflake-like id, greater than every id returned before."""
    return str(next(_ids))


def snowflake_ms(event_id: str) -> int:
    """The creation time (ms since the epoch) encoded in a snowflake id."""
    return (int(event_id) >> 22) + _TWITTER_EPOCH_MS


def example(name: str) -> dict[str, Any]:
    """Load one of X's strict-JSON examples, e.g. ``example("direct_message_events.json")``."""
    with (EXAMPLES_DIR / name).open(encoding="utf-8") as file:
        data: dict[str, Any] = json.load(file)
    return data


def user(
    user_id: str, *, screen_name: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """A user object as X puts in ``users`` maps and follow events."""
    known_name, known_screen = _KNOWN_USERS.get(user_id, (f"User {user_id}", f"user{user_id}"))
    return {
        "id": user_id,
        "created_timestamp": "1422556069340",
        "name": known_name if name is None else name,
        "screen_name": known_screen if screen_name is None else screen_name,
        "protected": False,
        "verified": False,
        "followers_count": 22,
        "friends_count": 45,
        "statuses_count": 494,
    }


def app(app_id: str) -> dict[str, Any]:
    """An entry of the ``apps`` map."""
    name, url = _KNOWN_APPS.get(app_id, (f"App {app_id}", f"https://example.com/apps/{app_id}"))
    return {"id": app_id, "name": name, "url": url}


def dm_event(
    text: str,
    *,
    sender: str = SENDER,
    recipient: str = RECIPIENT,
    id: str | None = None,
    source_app_id: str | None = None,
    metadata: str | None = None,
    created_ms: int | None = None,
    media_id: str | None = None,
) -> dict[str, Any]:
    """One ``message_create`` event object (an item of ``direct_message_events``).

    Args:
        text: the message text (for a Quick Reply tap, the option's label).
        sender: the sender's user id.
        recipient: the recipient's user id.
        id: the event id; by default a fresh, increasing snowflake-like id.
        source_app_id: the sending app, as X sets it on DMs the account sent.
        metadata: Quick Reply metadata, as on a tap of an option.
        created_ms: ``created_timestamp``; by default the time in the snowflake id.
        media_id: an attached media id.
    """
    event_id = next_id() if id is None else id
    if created_ms is None:
        created_ms = snowflake_ms(event_id) if event_id.isdigit() else 1516403560557
    message_data: dict[str, Any] = {
        "text": text,
        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
    }
    if metadata is not None:
        message_data["quick_reply_response"] = {"type": "options", "metadata": metadata}
    if media_id is not None:
        media: dict[str, Any] = {"id_str": media_id, "type": "photo"}
        if media_id.isdigit():
            media["id"] = int(media_id)
        message_data["attachment"] = {"type": "media", "media": media}
    message_create: dict[str, Any] = {"target": {"recipient_id": recipient}, "sender_id": sender}
    if source_app_id is not None:
        message_create["source_app_id"] = source_app_id
    message_create["message_data"] = message_data
    return {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": str(created_ms),
        "message_create": message_create,
    }


def delivery(
    *events: dict[str, Any],
    for_user: str,
    users: dict[str, Any] | None = None,
    key: str = "direct_message_events",
) -> dict[str, Any]:
    """A delivery envelope holding ``events`` under ``key``, in order.

    By default the ``users`` map holds every sender and recipient of the
    events, and the ``apps`` map every ``source_app_id``, as X sends them.
    """
    body: dict[str, Any] = {"for_user_id": for_user, key: list(events)}
    if key != "direct_message_events":
        if users is not None:
            body["users"] = users
        return body
    ids: dict[str, None] = {}
    apps: dict[str, Any] = {}
    for event in events:
        create = event.get("message_create", {})
        ids[create.get("sender_id", "")] = None
        ids[create.get("target", {}).get("recipient_id", "")] = None
        if "source_app_id" in create:
            apps[create["source_app_id"]] = app(create["source_app_id"])
    body["apps"] = apps
    body["users"] = users if users is not None else {uid: user(uid) for uid in ids if uid}
    return body


def dm(
    text: str,
    *,
    sender: str = SENDER,
    recipient: str = RECIPIENT,
    id: str | None = None,
    for_user: str | None = None,
    source_app_id: str | None = None,
    metadata: str | None = None,
    created_ms: int | None = None,
    media_id: str | None = None,
) -> dict[str, Any]:
    """A full delivery of one DM, like x-api-examples/direct_message_events.json.

    ``for_user`` defaults to the recipient (an incoming DM); pass the sender
    to build the echo of a DM the account sent. Other arguments: :func:`dm_event`.
    """
    event = dm_event(
        text,
        sender=sender,
        recipient=recipient,
        id=id,
        source_app_id=source_app_id,
        metadata=metadata,
        created_ms=created_ms,
        media_id=media_id,
    )
    return delivery(event, for_user=recipient if for_user is None else for_user)


def follow(source: str, target: str, for_user: str, *, type: str = "follow") -> dict[str, Any]:
    """A delivery of one relationship event, by default ``source`` following ``target``.

    ``type`` may be follow, unfollow, block, unblock, mute or unmute; the
    envelope key (``follow_events``, ``block_events``, ``mute_events``) follows from it.
    """
    key = {"follow": "follow_events", "block": "block_events", "mute": "mute_events"}[
        type.removeprefix("un")
    ]
    event = {
        "type": type,
        "created_timestamp": str(snowflake_ms(next_id())),
        "target": user(target),
        "source": user(source),
    }
    return delivery(event, for_user=for_user, key=key)


def typing(sender: str, recipient: str, for_user: str) -> dict[str, Any]:
    """A delivery of one typing indicator."""
    event = {
        "created_timestamp": str(snowflake_ms(next_id())),
        "sender_id": sender,
        "target": {"recipient_id": recipient},
    }
    users = {sender: user(sender), recipient: user(recipient)}
    return delivery(
        event, for_user=for_user, users=users, key="direct_message_indicate_typing_events"
    )


def read(sender: str, recipient: str, last_read_event_id: str, for_user: str) -> dict[str, Any]:
    """A delivery of one read receipt."""
    event = {
        "created_timestamp": str(snowflake_ms(next_id())),
        "sender_id": sender,
        "target": {"recipient_id": recipient},
        "last_read_event_id": last_read_event_id,
    }
    users = {sender: user(sender), recipient: user(recipient)}
    return delivery(event, for_user=for_user, users=users, key="direct_message_mark_read_events")
