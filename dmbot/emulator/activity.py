"""The X Activity API (XAA) on the emulated side: event types and subscriptions, by X's rules.

A subscription asks for one event type about one user (``filter.user_id``,
optionally a ``direction``), once: a second one alike is a conflict. Events
about private messages (``dm.*``, ``chat.*``) and actor-only ones
(``mute.*``, ``block.*``) need the user context of that very user (its
OAuth 1.0a tokens); the others accept the app's bearer token. A subscription
with a ``webhook_id`` is POSTed to that v2 webhook; without one it feeds the
activity stream only. Every event goes to :attr:`Emulator.activity_log
<dmbot.emulator.Emulator.activity_log>` either way, where a stream endpoint
can read it. Errors are the RFC 7807 problems the ``/2/activity/`` endpoints
answer; the fan-out of events is :mod:`dmbot.emulator.fanout`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dmbot.emulator.clock import iso_timestamp_ms
from dmbot.emulator.problems import (
    APP_ONLY,
    UNSUPPORTED_AUTHENTICATION,
    Problem,
    invalid_request,
    not_authorized,
    not_found,
    plain,
)
from dmbot.emulator.state import (
    PRIVATE_EVENT_PREFIXES,
    ActivitySubscription,
    User,
    World,
)
from dmbot.types import JSONObject

EVENT_TYPES = (
    "profile.update.bio", "profile.update.profile_picture", "profile.update.banner_picture",
    "profile.update.screenname", "profile.update.geo", "profile.update.url",
    "profile.update.verified_badge", "profile.update.affiliate_badge", "profile.update.handle",
    "news.new", "follow.follow", "follow.unfollow", "spaces.start", "spaces.end",
    "broadcast.start", "broadcast.end", "broadcast.chat",
    "chat.received", "chat.sent", "chat.conversation.join", "chat.conversation.member_added",
    "chat.conversation.member_removed", "chat.conversation.admin_added",
    "chat.conversation.admin_removed", "chat.update.group_name", "chat.update.restrictions",
    "dm.sent", "dm.received", "dm.indicate_typing", "dm.read",
    "post.create", "post.delete", "post.mention.create", "post.reply.create",
    "post.quote.create", "post.repost.create", "like.create",
    "mute.mute", "mute.unmute", "block.block", "block.unblock",
)  # fmt: skip
"""The event types of X's OpenAPI spec (v2.167), canonical names only."""
DEPRECATED_ALIASES = {"chat.conversation_join": "chat.conversation.join"}
"""Names the spec still accepts; answers always show the canonical one."""
DM_EVENT_TYPES = ("dm.received", "dm.sent", "dm.read", "dm.indicate_typing")
"""The legacy (unencrypted) DM events: the ones the emulator produces."""
ACTOR_ONLY_PREFIXES = ("mute.", "block.")
"""Events only their actor may subscribe to, and without a direction."""
DIRECTIONS = ("inbound", "outbound")
MAX_TAG = 200


@dataclass(frozen=True)
class ActivityEvent:
    """One XAA event, as the activity stream carries it (one envelope per line).

    Attributes:
        at: when it happened (the emulator's clock, seconds since the epoch).
        subscription_id: the subscription it was produced for.
        event_type: ``dm.received``...
        user_id: the subscription's ``filter.user_id``.
        webhook_id: where it was also POSTed; None for a stream-only subscription.
        envelope: the envelope ``{"data": {...}}``, as X sends it.
    """

    at: float
    subscription_id: str
    event_type: str
    user_id: str
    webhook_id: str | None
    envelope: JSONObject

    def to_json(self) -> JSONObject:
        """A plain JSON form for the admin endpoints."""
        return {
            "at": self.at,
            "subscription_id": self.subscription_id,
            "event_type": self.event_type,
            "user_id": self.user_id,
            "webhook_id": self.webhook_id,
            "envelope": self.envelope,
        }


def canonical_event_type(event_type: str) -> str:
    """The canonical name of ``event_type``.

    Raises:
        Problem: 400 for a name the spec does not list.
    """
    name = DEPRECATED_ALIASES.get(event_type, event_type)
    if name not in EVENT_TYPES:
        raise invalid_request(
            f"event_type {event_type!r} is not an X Activity event type; "
            f"DM events are {', '.join(DM_EVENT_TYPES)}.",
            "event_type",
            event_type,
        )
    return name


class ActivityRegistry:
    """The XAA subscriptions of one emulator, by X's rules.

    Args:
        world: the emulator's world, which holds the subscriptions.
    """

    def __init__(self, world: World) -> None:
        self.world = world

    def subscribe(
        self,
        event_type: str,
        user_id: str,
        *,
        acting: User | None,
        direction: str | None = None,
        keyword: str | None = None,
        tag: str | None = None,
        webhook_id: str | None = None,
    ) -> ActivitySubscription:
        """Create a subscription, as ``POST /2/activity/subscriptions`` does.

        Args:
            event_type: an event type of the spec (or its deprecated alias).
            user_id: ``filter.user_id``.
            acting: the account whose user context makes the call; None for
                the app's bearer token.
            direction: ``filter.direction``.
            keyword: ``filter.keyword``.
            tag: the caller's label (1 to 200 characters).
            webhook_id: a v2 webhook to POST the events to; None for the stream only.

        Raises:
            Problem: 400 (bad value, unknown user or webhook), 403 (private
                events without that user's own context), 409 (a like subscription exists).
        """
        name = canonical_event_type(event_type)
        if self.world.user(user_id) is None:
            raise invalid_request(
                f"filter.user_id: no user {user_id} exists.", "filter.user_id", user_id
            )
        self._check_direction(name, direction)
        self._check_tag(tag)
        self._check_webhook(webhook_id)
        self._check_authorized(name, user_id, acting)
        for sub in self.world.activity_subscriptions.values():
            if (sub.event_type, sub.user_id, sub.direction, sub.keyword) == (
                name, user_id, direction, keyword,
            ):  # fmt: skip
                raise plain(
                    409,
                    f"Subscription {sub.id} already delivers {name} for user {user_id}; "
                    "change it with PUT /2/activity/subscriptions/:id or delete it first.",
                )
        now = iso_timestamp_ms(self.world.clock())
        sub = ActivitySubscription(
            self.world.ids.next(), name, user_id, now, now, direction, keyword, tag, webhook_id
        )
        self.world.activity_subscriptions[sub.id] = sub
        return sub

    def update(
        self, subscription_id: str, *, tag: str | None = None, webhook_id: str | None = None
    ) -> ActivitySubscription:
        """Change a subscription's ``tag`` or ``webhook_id`` (nothing else can change).

        Raises:
            Problem: 404 unknown subscription, 400 bad tag or unknown webhook.
        """
        sub = self.get(subscription_id)
        self._check_tag(tag)
        self._check_webhook(webhook_id)
        sub = replace(
            sub,
            tag=sub.tag if tag is None else tag,
            webhook_id=sub.webhook_id if webhook_id is None else webhook_id,
            updated_at=iso_timestamp_ms(self.world.clock()),
        )
        self.world.activity_subscriptions[sub.id] = sub
        return sub

    def unsubscribe(self, subscription_id: str) -> None:
        """Delete a subscription.

        Raises:
            Problem: 404 unknown subscription.
        """
        del self.world.activity_subscriptions[self.get(subscription_id).id]

    def get(self, subscription_id: str) -> ActivitySubscription:
        """The subscription with ``subscription_id``.

        Raises:
            Problem: 404 when there is none.
        """
        sub = self.world.activity_subscriptions.get(subscription_id)
        if sub is None:
            raise not_found(
                "subscription",
                subscription_id,
                "subscription_id",
                f"No activity subscription {subscription_id}; "
                "GET /2/activity/subscriptions lists them.",
            )
        return sub

    def all(self) -> list[ActivitySubscription]:
        """Every subscription, oldest first."""
        return sorted(self.world.activity_subscriptions.values(), key=lambda s: int(s.id))

    @staticmethod
    def _check_direction(event_type: str, direction: str | None) -> None:
        if direction is None:
            return
        if direction not in DIRECTIONS:
            raise invalid_request(
                f"filter.direction must be inbound or outbound, not {direction!r}.",
                "filter.direction",
                direction,
            )
        if event_type.startswith(ACTOR_ONLY_PREFIXES):
            raise invalid_request(
                f"filter.direction is not supported for {event_type}; leave it out.",
                "filter.direction",
                direction,
            )

    @staticmethod
    def _check_tag(tag: str | None) -> None:
        if tag is not None and not 1 <= len(tag) <= MAX_TAG:
            raise invalid_request(
                f"tag must be 1 to {MAX_TAG} characters; this one has {len(tag)}.", "tag", tag
            )

    def _check_webhook(self, webhook_id: str | None) -> None:
        if webhook_id is None:
            return
        hook = self.world.webhook(webhook_id)
        if hook is None or not hook.v2:
            raise invalid_request(
                f"webhook_id: no v2 webhook {webhook_id} is registered; register one with "
                "POST /2/webhooks, or leave webhook_id out to use the activity stream.",
                "webhook_id",
                webhook_id,
            )

    def _check_authorized(self, event_type: str, user_id: str, acting: User | None) -> None:
        private = event_type.startswith(PRIVATE_EVENT_PREFIXES + ACTOR_ONLY_PREFIXES)
        if not private:
            return
        if acting is None:
            raise Problem(
                403,
                "Unsupported Authentication",
                f"Authenticating with {APP_ONLY} is forbidden for {event_type}: its events "
                f"are private to user {user_id}. Create the subscription with that "
                "account's user context (OAuth 1.0a with its access token).",
                type=UNSUPPORTED_AUTHENTICATION,
            )
        if acting.id != user_id:
            raise not_authorized(
                "user",
                user_id,
                "filter.user_id",
                f"@{acting.screen_name} may not subscribe to {event_type} of user {user_id}; "
                "only that account's own access token can.",
            )
