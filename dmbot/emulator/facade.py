"""The :class:`Emulator`: one emulated X with one app, and everything tests do with it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx
from starlette.applications import Starlette

from dmbot.emulator.activity import ActivityEvent, ActivityRegistry
from dmbot.emulator.api import build_app
from dmbot.emulator.clock import Clock
from dmbot.emulator.delivery import Deliverer, DeliveryRecord
from dmbot.emulator.fanout import FanOut
from dmbot.emulator.faults import Faults, RateLimits
from dmbot.emulator.host import UserRef
from dmbot.emulator.media import Media, MediaStore
from dmbot.emulator.misbehaviour import Misbehaviour
from dmbot.emulator.payloads import shown_data
from dmbot.emulator.people import People
from dmbot.emulator.permission import DmSettings
from dmbot.emulator.realism import Realism
from dmbot.emulator.replay import Replayer, ReplayJob
from dmbot.emulator.state import (
    ActivitySubscription,
    App,
    Indicator,
    Message,
    User,
    Webhook,
    World,
)
from dmbot.emulator.stream import ActivityStream
from dmbot.emulator.waiting import Waiting
from dmbot.emulator.webhooks import WebhookRegistry


class Emulator(DmSettings, Misbehaviour, Waiting):
    """One emulated X with one app: users, DMs, webhooks, and their deliveries.

    Its controls of X's bad habits (realism switches, the activity stream's
    drops, refusals and silences) are :class:`~dmbot.emulator.misbehaviour.Misbehaviour`'s;
    who may write to whom (``set_dm_settings``, ``follow``) is
    :class:`~dmbot.emulator.permission.DmSettings`', and waiting for messages
    (``wait_for_messages``) :class:`~dmbot.emulator.waiting.Waiting`'s.

    Args:
        consumer_key: the app's API key, checked on every request.
        consumer_secret: the app's secret; signs deliveries and CRC answers.
        app_id: the app's id (``source_app_id`` of the bot's own messages).
        app_name: the app's name in deliveries' ``apps`` map.
        webhook_transport: where webhook traffic goes (e.g. ``httpx.ASGITransport``
            of the bot's app); None sends it over the network.
        clock: the emulator's time (timestamps, OAuth window, rate windows).
    """

    def __init__(
        self,
        consumer_key: str = "ck",
        consumer_secret: str = "cs",
        app_id: str = "13090192",
        app_name: str = "dmbot dev",
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.world = World(App(app_id, app_name, consumer_key, consumer_secret), clock)
        self.faults = Faults()
        self.limits = RateLimits(clock)
        self.media = MediaStore(clock, self.world.ids)
        """Uploaded media (``media/upload``), and what a DM may attach."""
        self.delivery_log: list[DeliveryRecord] = []
        self._realism = Realism()
        self._deliverer = Deliverer(
            consumer_secret,
            self._realism,
            webhook_transport,
            self.delivery_log,
            on_held=self._held_changed,
        )
        self.activity_log: list[ActivityEvent] = []
        """Every XAA event, webhook or stream-only, in order (what the stream serves)."""
        self.activity = ActivityRegistry(self.world)
        """The XAA subscriptions and their rules."""
        self.stream = ActivityStream(self, self.activity_log)
        """The activity stream's connections and controls (``GET /2/activity/stream``)."""
        self._fanout = FanOut(self, self._deliverer, self.activity_log, self.stream)
        self._people = People(self, self._fanout)
        self._webhook_registry = WebhookRegistry(self, self._deliverer)
        self._replayer = Replayer(self.world, self._fanout, self._deliverer)
        Waiting.__init__(self)
        self.app: Starlette = build_app(self)

    # the world, read-only views

    @property
    def clock(self) -> Clock:
        """The emulator's clock."""
        return self.world.clock

    @property
    def messages(self) -> list[Message]:
        """Every DM in the order it was sent."""
        return self.world.messages

    @property
    def webhooks(self) -> list[Webhook]:
        """Registered webhooks, oldest first."""
        return self.world.webhooks

    @property
    def subscriptions(self) -> set[tuple[str, str]]:
        """(webhook id, user id) pairs."""
        return self.world.subscriptions

    @property
    def indicators(self) -> list[Indicator]:
        """Typing indicators and read receipts sent through the API."""
        return self.world.indicators

    def _held_changed(self) -> None:
        # Called from the deliverer's timers too: wake the chat page's long polls.
        asyncio.get_running_loop().create_task(self._notify())

    # users

    def add_account(
        self,
        user_id: str,
        screen_name: str,
        *,
        token: str,
        token_secret: str,
        name: str | None = None,
        accepts_requests: bool = True,
    ) -> User:
        """Add an account the app holds access tokens for (it can call the API).

        It accepts message requests from everyone unless told otherwise: a DM
        bot's account must, for people to write to it first.
        """
        now = self.world.now_ms()
        user = User(user_id, screen_name, name or screen_name, now, token, token_secret)
        return self.world.add_user(replace(user, accepts_requests=accepts_requests))

    def add_user(
        self,
        user_id: str,
        screen_name: str,
        *,
        name: str | None = None,
        accepts_requests: bool = False,
    ) -> User:
        """Add a simulated person, who acts through :meth:`send` and :meth:`tap`.

        Like most of X, they do not accept message requests from everyone: an
        account may write to them once they wrote to it, or follow it
        (:mod:`dmbot.emulator.permission`).
        """
        now = self.world.now_ms()
        user = User(user_id, screen_name, name or screen_name, now)
        return self.world.add_user(replace(user, accepts_requests=accepts_requests))

    def user(self, ref: UserRef) -> User:
        """The user named by ``ref`` (a User, an id or a screen name).

        Raises:
            LookupError: nobody of that id or name exists.
        """
        key = ref.id if isinstance(ref, User) else ref
        found = self.world.user(key) or self.world.user_by_name(key)
        if found is None:
            known = ", ".join(f"@{u.screen_name} ({u.id})" for u in self.world.users.values())
            raise LookupError(f"No user {key!r} in the emulator; known users: {known or 'none'}.")
        return found

    # simulated people acting (done by :class:`~dmbot.emulator.people.People`)

    async def send(
        self,
        from_user: UserRef,
        to_account: UserRef,
        text: str,
        *,
        metadata: str | None = None,
        media_id: str | None = None,
    ) -> Message:
        """``from_user`` writes a DM from X's app; ``metadata`` makes it a Quick Reply tap,
        ``media_id`` attaches media the person uploaded (``emu.media.upload``).

        Raises:
            LookupError: an unknown user.
            ValueError: the text is longer than X allows, or the media cannot be attached.
            ApiError: 403, code 349 (or 150): the recipient does not let ``from_user``
                write first (:mod:`dmbot.emulator.permission`).
        """
        return await self._people.send(
            from_user, to_account, text, metadata=metadata, media_id=media_id
        )

    def take_free_reply(self, account_id: str, peer_id: str) -> bool:
        """Use one of the free replies ``peer_id``'s recent DMs granted ``account_id``.

        X lets an account answer each received DM up to 5 times within 24 hours
        without counting against its daily sending limit.
        """
        return self._people.take_free_reply(account_id, peer_id)

    async def tap(self, from_user: UserRef, message: Message | str, label: str) -> Message:
        """``from_user`` taps the option ``label`` of a Quick Reply DM it received.

        Raises:
            LookupError: an unknown user or message, or no option with that label.
        """
        return await self._people.tap(from_user, message, label)

    async def revoke(self, user: UserRef) -> None:
        """``user`` revokes the app: tokens and subscriptions go, a ``user_event`` is delivered."""
        await self._people.revoke(user)

    # what the API layer calls

    async def post_message(
        self,
        sender_id: str,
        recipient_id: str,
        message_data: dict[str, object],
        *,
        source_app_id: str | None,
        metadata: str | None = None,
        welcome_message_id: str | None = None,
    ) -> Message:
        """Record a DM and deliver it, in every subscribed shape, to each subscribed
        participant (echo included)."""
        world = self.world
        message_id = world.ids.next()
        media = self._attached(message_data)
        message = Message(
            message_id,
            sender_id,
            recipient_id,
            dict(message_data),
            world.now_ms(),
            source_app_id,
            metadata,
            welcome_message_id,
            shown_data(world, message_id, dict(message_data), media),
        )
        world.add_message(message)
        if media is not None:
            media.used_in.append(message.id)
        await self._notify()
        self._fanout.message(message)
        return message

    def _attached(self, message_data: dict[str, object]) -> Media | None:
        attachment = message_data.get("attachment")
        media = attachment.get("media") if isinstance(attachment, dict) else None
        return self.media.uploads.get(str(media.get("id"))) if isinstance(media, dict) else None

    async def indicate(
        self, kind: str, sender_id: str, recipient_id: str, last_read_event_id: str | None = None
    ) -> Indicator:
        """Record a typing indicator (``kind="typing"``) or read receipt (``"read"``)."""
        record = Indicator(kind, sender_id, recipient_id, self.world.now_ms(), last_read_event_id)
        self.world.indicators.append(record)
        await self._notify()
        return record

    # webhooks and subscriptions (X's rules: :class:`~dmbot.emulator.webhooks.WebhookRegistry`)

    async def register_webhook(self, url: str, *, env_name: str | None = None) -> Webhook:
        """Register ``url`` after a passing CRC check, as X does.

        Args:
            url: the webhook URL.
            env_name: the premium environment, or None for enterprise.

        Raises:
            ApiError: 400/214 (bad URL or failed CRC), 403/214 (too many webhooks).
        """
        return await self._webhook_registry.register(url, env_name=env_name)

    async def check_webhook(self, webhook_id: str) -> tuple[Webhook, str]:
        """Run the CRC check on a webhook again and update ``valid``.

        Returns:
            The updated webhook and, when the check failed, why.

        Raises:
            ApiError: 404/34 for an unknown webhook.
        """
        return await self._webhook_registry.check(webhook_id)

    def subscribe(self, webhook_id: str, user: UserRef) -> None:
        """Subscribe an account (one the app holds tokens for) on a webhook (AAA, any API).

        Raises:
            ApiError: 404/34 unknown webhook, 409/355 already subscribed,
                403/214 subscription limit reached (a :class:`Problem` on a v2 webhook).
        """
        self._webhook_registry.subscribe(webhook_id, user)

    async def register_webhook_v2(self, url: str) -> Webhook:
        """Register ``url`` as ``POST /2/webhooks`` does, after a passing CRC check.

        Raises:
            Problem: 400 (bad URL or failed CRC), 403 (too many v2 webhooks).
        """
        return await self._webhook_registry.register(url, v2=True)

    def delete_webhook(self, webhook_id: str) -> None:
        """Delete a webhook with its AAA and XAA subscriptions."""
        self.world.remove_webhook(webhook_id)

    def subscribe_activity(
        self,
        user: UserRef,
        event_type: str,
        *,
        webhook_id: str | None = None,
        tag: str | None = None,
        direction: str | None = None,
    ) -> ActivitySubscription:
        """Subscribe to XAA events about ``user``, as that account would (its own tokens).

        Without ``webhook_id`` the events go to :attr:`activity_log` only (the stream).

        Raises:
            Problem: as ``POST /2/activity/subscriptions`` answers: 400, 403, 409.
        """
        who = self.user(user)
        return self.activity.subscribe(
            event_type,
            who.id,
            acting=who if who.is_account else None,
            direction=direction,
            tag=tag,
            webhook_id=webhook_id,
        )

    @property
    def activity_subscriptions(self) -> list[ActivitySubscription]:
        """XAA subscriptions, oldest first."""
        return self.activity.all()

    def replay(
        self, webhook_id: str, from_date: str, to_date: str, *, enterprise: bool = False
    ) -> ReplayJob:
        """Deliver the DMs of a window (``yyyymmddhhmm`` UTC) to a v2 webhook again
        (``enterprise``: to a v1.1 enterprise webhook, up to 5 days back).

        Raises:
            Problem: as ``POST /2/webhooks/replay`` answers: 400, 404.
        """
        return self._replayer.start(webhook_id, from_date, to_date, enterprise=enterprise)

    # waiting and housekeeping

    async def deliveries_settled(self) -> None:
        """Wait until every scheduled delivery (delays and retries included) was attempted."""
        await self._deliverer.settled()

    def reset(self) -> None:
        """Forget messages, deliveries, indicators, uploads, faults and rate windows;
        realism off, the stream neither refused nor silent.

        Users, accounts, webhooks, subscriptions and open stream connections stay.
        """
        self.world.clear_messages()
        self.world.indicators.clear()
        self.media.clear()
        self.delivery_log.clear()
        self.activity_log.clear()
        self.faults.clear()
        self.limits.clear()
        self._people.clear()
        self._deliverer.reset()
        self.stream.reset()
        self.realism = Realism()

    async def aclose(self) -> None:
        """End stream connections, cancel pending deliveries, close outgoing connections."""
        self.stream.close()
        await self._deliverer.aclose()
