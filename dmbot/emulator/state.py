"""The emulated world: the app, its users, their messages, webhooks and subscriptions.

Everything here is plain data plus the few rules that keep it consistent (ids
only grow, a token names exactly one user). The HTTP surface lives in
:mod:`dmbot.emulator.api`, what X accepts in a request in
:mod:`dmbot.emulator.validation`, the outgoing webhook traffic in
:mod:`dmbot.emulator.delivery`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace

from dmbot.emulator.clock import Clock, Snowflakes
from dmbot.types import JSONObject

WEB_CLIENT_APP: JSONObject = {
    "id": "268278",
    "name": "Twitter Web Client",
    "url": "http://twitter.com",
}
"""The app X names when a person writes from X's own clients (see X's source-app examples)."""

PRIVATE_EVENT_PREFIXES = ("dm.", "chat.")
"""XAA event types about a user's private messages: only that user's own authorization
subscribes to them, and revoking it ends them."""


@dataclass(frozen=True)
class App:
    """The registered X app the emulator plays the other side of."""

    id: str
    name: str
    consumer_key: str
    consumer_secret: str
    url: str = "https://x.com"

    def to_json(self) -> JSONObject:
        """The app as X hydrates it in a delivery's ``apps`` map."""
        return {"id": self.id, "name": self.name, "url": self.url}


@dataclass(frozen=True)
class User:
    """A user of X: an account the app holds tokens for, or a simulated person.

    Attributes:
        id: the user id (a string, as X sends it).
        screen_name: the handle without ``@``.
        name: the display name.
        created_ms: when the account was made, ms since the epoch.
        token: the access token the app holds for this user, if any.
        token_secret: that token's secret.
        accepts_requests: X's "Allow message requests from everyone": anyone may
            write first (:mod:`dmbot.emulator.permission`).
        follows: the ids of the users this one follows (they may write first).
    """

    id: str
    screen_name: str
    name: str
    created_ms: int
    token: str | None = None
    token_secret: str | None = None
    accepts_requests: bool = False
    follows: frozenset[str] = frozenset()

    @property
    def is_account(self) -> bool:
        """True when the app holds tokens for this user (it can act through the API)."""
        return self.token is not None

    def to_json(self) -> JSONObject:
        """The hydrated user object of a delivery's ``users`` map."""
        return {
            "id": self.id,
            "created_timestamp": str(self.created_ms),
            "name": self.name,
            "screen_name": self.screen_name,
            "location": "",
            "description": "",
            "protected": False,
            "verified": False,
            "followers_count": 0,
            "friends_count": len(self.follows),
            "statuses_count": 0,
            "profile_image_url_https": (
                "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
            ),
        }


@dataclass(frozen=True)
class Message:
    """One Direct Message, as the emulator recorded it.

    Attributes:
        id: a snowflake-like id; later messages have larger ids.
        sender_id: who wrote it.
        recipient_id: who it was for.
        message_data: what the sender posted (text, quick_reply, ctas, attachment,
            quick_reply_response).
        created_ms: when it was sent, ms since the epoch.
        source_app_id: the app it was sent through (ours for API sends, X's web
            client for simulated people).
        quick_reply_metadata: the metadata of the tapped option, for a tap.
        welcome_message_id: the welcome message that opened the conversation, if any.
        shown: ``message_data`` as X shows it to both participants: the text with
            t.co links, ``entities``, the attachment's media object
            (:func:`dmbot.emulator.payloads.shown_data`); None to work it out when shown.
    """

    id: str
    sender_id: str
    recipient_id: str
    message_data: JSONObject
    created_ms: int
    source_app_id: str | None = None
    quick_reply_metadata: str | None = None
    welcome_message_id: str | None = None
    shown: JSONObject | None = None

    @property
    def text(self) -> str:
        """The message text ('' when there is none)."""
        return str(self.message_data.get("text", ""))

    @property
    def options(self) -> list[JSONObject]:
        """The Quick Reply options the message offers (empty when none)."""
        quick_reply = self.message_data.get("quick_reply") or {}
        return list(quick_reply.get("options") or [])

    def to_json(self) -> JSONObject:
        """A plain JSON form for the admin endpoints."""
        return {
            "id": self.id,
            "sender_id": self.sender_id,
            "recipient_id": self.recipient_id,
            "message_data": self.message_data,
            "created_ms": self.created_ms,
            "source_app_id": self.source_app_id,
            "quick_reply_metadata": self.quick_reply_metadata,
            "welcome_message_id": self.welcome_message_id,
            "shown": self.shown,
        }


@dataclass(frozen=True)
class Webhook:
    """A registered webhook URL.

    Attributes:
        id: X's id for it.
        url: where deliveries and CRC checks go.
        valid: whether the last CRC check passed; invalid webhooks get no deliveries.
        created_at: ``2016-06-02T23:54:02Z`` style, as X writes it.
        env_name: the premium environment label, or None for an enterprise or v2 webhook.
        v2: registered through ``POST /2/webhooks`` (AAA v2 and XAA subscriptions use it).
    """

    id: str
    url: str
    valid: bool
    created_at: str
    env_name: str | None = None
    v2: bool = False

    @property
    def api(self) -> str:
        """Which API registered it: ``premium``, ``enterprise`` or ``v2``."""
        if self.v2:
            return "v2"
        return "enterprise" if self.env_name is None else "premium"

    def to_json(self) -> JSONObject:
        """X's webhook object (the same members in v1.1 and v2)."""
        return {"id": self.id, "url": self.url, "valid": self.valid, "created_at": self.created_at}


@dataclass(frozen=True)
class ActivitySubscription:
    """An X Activity API (XAA) subscription: one event type about one user.

    Attributes:
        id: X's ``subscription_id``.
        event_type: the canonical event type (``dm.received``...).
        user_id: ``filter.user_id``, the user the events are about.
        created_at: ``2025-01-15T12:00:00.000Z`` style.
        updated_at: when ``tag`` or ``webhook_id`` last changed.
        direction: ``filter.direction`` (``inbound`` or ``outbound``), if given.
        keyword: ``filter.keyword``, if given.
        tag: the caller's label, repeated in every event.
        webhook_id: the v2 webhook the events are POSTed to; None for the stream only.
    """

    id: str
    event_type: str
    user_id: str
    created_at: str
    updated_at: str
    direction: str | None = None
    keyword: str | None = None
    tag: str | None = None
    webhook_id: str | None = None

    @property
    def filter(self) -> JSONObject:
        """The subscription's ``filter`` object, as X shows it."""
        shown: JSONObject = {"user_id": self.user_id}
        if self.direction is not None:
            shown["direction"] = self.direction
        if self.keyword is not None:
            shown["keyword"] = self.keyword
        return shown

    def to_json(self) -> JSONObject:
        """X's subscription object (members without a value are left out)."""
        data: JSONObject = {"subscription_id": self.id, "event_type": self.event_type}
        data["filter"] = self.filter
        data.update(created_at=self.created_at, updated_at=self.updated_at)
        if self.tag is not None:
            data["tag"] = self.tag
        if self.webhook_id is not None:
            data["webhook_id"] = self.webhook_id
        return data


@dataclass(frozen=True)
class Indicator:
    """A typing indicator or read receipt sent through the API by an account."""

    kind: str
    sender_id: str
    recipient_id: str
    created_ms: int
    last_read_event_id: str | None = None


@dataclass(frozen=True)
class RequestToken:
    """A temporary credential of the 3-legged OAuth flow."""

    token: str
    secret: str
    callback: str
    verifier: str | None = None
    user_id: str | None = None


@dataclass
class World:
    """The mutable state of one emulated X: users, tokens, messages, webhooks.

    Methods that look things up return None for unknown ids; the API layer
    turns that into X's error answers.
    """

    app: App
    clock: Clock = time.time
    users: dict[str, User] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    webhooks: list[Webhook] = field(default_factory=list)
    subscriptions: set[tuple[str, str]] = field(default_factory=set)
    activity_subscriptions: dict[str, ActivitySubscription] = field(default_factory=dict)
    indicators: list[Indicator] = field(default_factory=list)
    welcome_messages: dict[str, JSONObject] = field(default_factory=dict)
    welcome_rules: dict[str, JSONObject] = field(default_factory=dict)
    request_tokens: dict[str, RequestToken] = field(default_factory=dict)
    bearer_token: str = field(default_factory=lambda: "AAAA" + secrets.token_urlsafe(32))
    wrote: set[tuple[str, str]] = field(default_factory=set)
    """(sender, recipient) of every DM recorded: who has written to whom."""
    deleted: set[tuple[str, str]] = field(default_factory=set)
    """(user id, message id): DMs a participant deleted, for that participant only."""

    def __post_init__(self) -> None:
        self.ids = Snowflakes(self.clock)

    def now_ms(self) -> int:
        """The emulator clock in milliseconds."""
        return int(self.clock() * 1000)

    # users and tokens

    def add_user(self, user: User) -> User:
        """Add or replace ``user``; a token already held by another user is refused."""
        if user.token is not None:
            holder = self.user_for_token(user.token)
            if holder is not None and holder.id != user.id:
                raise ValueError(
                    f"Token of user {user.id} is already held by user {holder.id}; "
                    "give every account its own access token."
                )
        self.users[user.id] = user
        return user

    def user(self, user_id: str) -> User | None:
        """The user with ``user_id``, if known."""
        return self.users.get(user_id)

    def user_by_name(self, screen_name: str) -> User | None:
        """The user with ``screen_name`` (case ignored, leading @ allowed)."""
        wanted = screen_name.lstrip("@").lower()
        return next((u for u in self.users.values() if u.screen_name.lower() == wanted), None)

    def user_for_token(self, token: str) -> User | None:
        """The account that ``token`` belongs to, if any."""
        return next((u for u in self.users.values() if u.token == token), None)

    def issue_tokens(self, user_id: str) -> User:
        """Give ``user_id`` access tokens (keeping any it already has) and return it."""
        user = self.users[user_id]
        if user.token is None:
            token = f"{user.id}-{secrets.token_urlsafe(24)}"
            user = replace(user, token=token, token_secret=secrets.token_urlsafe(32))
            self.users[user.id] = user
        return user

    def revoke_tokens(self, user_id: str) -> None:
        """Forget the tokens of ``user_id`` and its subscriptions."""
        user = self.users.get(user_id)
        if user is not None:
            self.users[user_id] = replace(user, token=None, token_secret=None)
        self.subscriptions = {s for s in self.subscriptions if s[1] != user_id}
        # Private events (DMs, chats) were allowed by the user's own authorization.
        for sub in list(self.activity_subscriptions.values()):
            if sub.user_id == user_id and sub.event_type.startswith(PRIVATE_EVENT_PREFIXES):
                del self.activity_subscriptions[sub.id]

    # webhooks and subscriptions

    def webhook(self, webhook_id: str, env_name: str | None = None) -> Webhook | None:
        """The webhook with ``webhook_id`` (in ``env_name``, when given)."""
        for hook in self.webhooks:
            if hook.id == webhook_id and (env_name is None or hook.env_name == env_name):
                return hook
        return None

    def env_webhooks(self, env_name: str | None) -> list[Webhook]:
        """Webhooks of a premium environment, or the v1.1 enterprise ones for None."""
        return [hook for hook in self.webhooks if hook.env_name == env_name and not hook.v2]

    def v2_webhooks(self) -> list[Webhook]:
        """Webhooks registered through ``POST /2/webhooks``."""
        return [hook for hook in self.webhooks if hook.v2]

    def set_webhook(self, hook: Webhook) -> None:
        """Add ``hook``, or replace the webhook with the same id."""
        self.webhooks = [h for h in self.webhooks if h.id != hook.id] + [hook]
        self.webhooks.sort(key=lambda h: int(h.id))

    def remove_webhook(self, webhook_id: str) -> None:
        """Delete a webhook and every subscription on it (AAA and XAA)."""
        self.webhooks = [h for h in self.webhooks if h.id != webhook_id]
        self.subscriptions = {s for s in self.subscriptions if s[0] != webhook_id}
        self.activity_subscriptions = {
            k: s for k, s in self.activity_subscriptions.items() if s.webhook_id != webhook_id
        }

    def subscribers(self, webhook_id: str) -> list[str]:
        """User ids subscribed on a webhook, in id order."""
        return sorted((u for w, u in self.subscriptions if w == webhook_id), key=int)

    # messages

    def add_message(self, message: Message) -> None:
        """Record a DM, and that its sender has written to its recipient."""
        self.messages.append(message)
        self.wrote.add((message.sender_id, message.recipient_id))

    def clear_messages(self) -> None:
        """Forget every DM, who wrote to whom, and what was deleted."""
        self.messages.clear()
        self.wrote.clear()
        self.deleted.clear()

    def visible(self, message: Message, user_id: str) -> bool:
        """True when ``user_id`` took part in ``message`` and has not deleted it."""
        return user_id in (message.sender_id, message.recipient_id) and (
            (user_id, message.id) not in self.deleted
        )

    def message(self, message_id: str) -> Message | None:
        """The message with ``message_id``, if recorded."""
        return next((m for m in reversed(self.messages) if m.id == message_id), None)

    def conversation(self, a: str, b: str) -> list[Message]:
        """Messages between ``a`` and ``b``, oldest first."""
        pair = {a, b}
        return [m for m in self.messages if {m.sender_id, m.recipient_id} == pair]

    def rule_for(self, account_id: str) -> JSONObject | None:
        """The welcome message rule of ``account_id``, if it set one."""
        return next(
            (r for r in self.welcome_rules.values() if r["_account_id"] == account_id), None
        )
