"""The catalogue of the emulator's controls: every ``/_emulator/`` endpoint with a curl example.

``GET /_emulator/`` shows it (as text, or JSON with ``?format=json``); the
handlers are :mod:`dmbot.emulator.admin`'s, which checks that both list the
same endpoints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dmbot.types import JSONObject


@dataclass(frozen=True, slots=True)
class Control:
    """One admin endpoint, as ``GET /_emulator/`` lists it."""

    name: str
    method: str
    what: str
    body: JSONObject | None = None
    query: str = ""

    def curl(self, base: str) -> str:
        url = f"{base}/_emulator/{self.name}{'?' + self.query if self.query else ''}"
        if self.method == "GET":
            return f"curl -s '{url}'"
        if self.name == "media":
            return f"curl -s -X POST '{url}' --data-binary @picture.png"
        data = f" -H 'content-type: application/json' -d '{json.dumps(self.body)}'"
        return f"curl -s -X {self.method} '{url}'{data if self.body is not None else ''}"

    def to_json(self, base: str) -> JSONObject:
        return {
            "method": self.method,
            "path": f"/_emulator/{self.name}",
            "what": self.what,
            "curl": self.curl(base),
        }


CONTROLS: tuple[Control, ...] = (
    Control("state", "GET", "the app, accounts, people, webhooks, subscriptions and switches"),
    Control(
        "send",
        "POST",
        "a person writes a DM to an account (delivered to the webhook, signed); media_id "
        "attaches what they uploaded (media)",
        {"from": "alice", "to": "bot", "text": "hi"},
    ),
    Control(
        "messages",
        "GET",
        "every DM; ?user= one person's, ?after=ID newer ones, ?wait=N&sender=bot waits for N",
        query="user=alice",
    ),
    Control(
        "tap",
        "POST",
        "a person taps a Quick Reply option of a DM they received (message_id from messages)",
        {"from": "alice", "message_id": "ID", "label": "Small"},
    ),
    Control(
        "users",
        "POST",
        "add a simulated person; accepts_requests (default false, as on X) lets accounts "
        "write to them first, follows lists whom they follow",
        {"screen_name": "carol", "accepts_requests": False},
    ),
    Control(
        "dm_settings",
        "POST",
        "who may write to whom: a user's accepts_requests (message requests from everyone), "
        "follows (the whole list), or follow/unfollow (lists to add or remove); without them "
        "a DM to a user who never wrote first gets 403, code 349; GET lists every user's",
        {"user": "alice", "accepts_requests": True, "follow": ["bot"]},
    ),
    Control(
        "media",
        "POST",
        "upload a file as a user (?user=alice&media_category=dm_image, the file as the body); "
        "send attaches it with media_id; GET /_emulator/media/ID gives the file back",
        None,
        "user=alice&media_category=dm_image",
    ),
    Control("media/{media_id}", "GET", "an uploaded file, as the chat page shows it"),
    Control(
        "accounts", "POST", "add an account the app holds tokens for", {"screen_name": "helpbot"}
    ),
    Control(
        "realism",
        "POST",
        "X's habits: duplicates, out_of_order, delay, retries, drop_metadata, typing_events, "
        "read_events, timeout, strict_urls, stream_keepalive (GET shows them)",
        {"duplicates": True},
    ),
    Control(
        "faults",
        "POST",
        "make an endpoint fail: status, code, count, reset_in, delay (DELETE clears)",
        {"endpoint": "dm_send", "status": 503, "count": 1},
    ),
    Control("deliveries", "GET", "every webhook delivery and CRC check, with its answer"),
    Control("settle", "POST", "wait until every scheduled delivery was attempted", {}),
    Control(
        "webhooks",
        "POST",
        'register a webhook (a real CRC against it); "api": "v2" registers it as '
        "POST /2/webhooks does",
        {"url": "http://127.0.0.1:8000/webhooks/twitter"},
    ),
    Control(
        "subscriptions",
        "POST",
        "subscribe an account to a webhook (default: the first), AAA v1.1 or v2 by the webhook",
        {"user_id": "1000000000001"},
    ),
    Control(
        "activity",
        "POST",
        "an XAA subscription as the account itself: event_type (dm.received, dm.sent, "
        "dm.read, dm.indicate_typing), webhook_id (none: stream only), tag; GET lists them "
        "and every XAA event since ?after=N",
        {"user_id": "1000000000001", "event_type": "dm.received", "webhook_id": "ID"},
    ),
    Control(
        "replay",
        "POST",
        "replay a v2 webhook's DMs: from_date, to_date as yyyymmddhhmm UTC "
        "(default: the last 24 hours)",
        {"webhook_id": "ID"},
    ),
    Control(
        "authorize",
        "POST",
        "approve a PIN-flow request token as a user; answers the oauth_verifier",
        {"oauth_token": "TOKEN", "screen_name": "alice"},
    ),
    Control("revoke", "POST", "a user revokes the app (user_event delivered)", {"user_id": "ID"}),
    Control("stream", "GET", "the activity stream: open connections, refusal, keep-alive interval"),
    Control(
        "stream/drop",
        "POST",
        "end every open stream connection now; notice: X's operational-disconnect line first",
        {"notice": False},
    ),
    Control(
        "stream/refuse",
        "POST",
        "answer new stream connections 503 (or status 429) for seconds; 0 stops refusing",
        {"seconds": 30, "status": 503},
    ),
    Control(
        "stream/silence",
        "POST",
        "send nothing, not even keep-alives, on the open stream connections for seconds",
        {"seconds": 60},
    ),
    Control("reset", "POST", "forget messages, deliveries, faults; switches off", {}),
)
"""The admin endpoints, in the order a newcomer needs them."""


def controls_text(base: str) -> str:
    """``GET /_emulator/`` as plain text: every control endpoint with a curl example."""
    lines = [
        "dmbot's X emulator: control endpoints (not part of X; no credentials checked)",
        "",
        "X's own API is served beside them: /1.1/direct_messages/..., /1.1/media/upload.json, "
        "/1.1/account_activity/..., /2/webhooks, /2/account_activity/..., "
        "/2/activity/subscriptions, /2/activity/stream, /2/dm_conversations/..., /2/dm_events, "
        "/2/media/upload, /2/users/me",
        "People are named by screen name or id (alice, bob; the config's accounts are bot, "
        "bot2, ...).",
        "As on X, an account may not write first to a person who never wrote to it (403, code "
        "349) unless they accept message requests or follow it: see dm_settings.",
        "",
    ]
    for control in CONTROLS:
        lines.append(f"{control.method:6} /_emulator/{control.name}")
        lines.append(f"       {control.what}")
        lines.append(f"       {control.curl(base)}")
        lines.append("")
    return "\n".join(lines)
