"""An offline X: the v1.1 API, OAuth 1.0a checks, and Account Activity deliveries.

::

    emu = Emulator(consumer_key="ck", consumer_secret="cs", webhook_transport=transport)
    bot = emu.add_account("1000000000001", "pizzabot", token="1000000000001-abc", token_secret="ts")
    alice = emu.add_user("2000000000001", "alice", name="Alice")
    hook = await emu.register_webhook("https://bot.example/webhooks/twitter")
    emu.subscribe(hook.id, bot)
    await emu.send(alice, bot, "hi")              # delivered to the webhook, signed
    [reply] = await emu.wait_for_messages(1, sender=bot)

``emu.app`` is the ASGI app of X's API (and of ``/_emulator/`` admin
endpoints); point dmbot's client at it with ``httpx.ASGITransport`` or serve
it with :func:`run_emulator`.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette

from dmbot.emulator.admin import (
    EmulatorSettings,
    add_command,
    build_emulator,
    emulator_from_settings,
    run_emulator,
)
from dmbot.emulator.delivery import Deliverer as _Deliverer
from dmbot.emulator.delivery import (
    DeliveryRecord,
    Realism,
    indicator_key,
    indicator_payload,
    message_payload,
    revoke_payload,
)
from dmbot.emulator.faults import ApiError, Faults, RateLimits
from dmbot.emulator.state import (
    MAX_TEXT,
    WEB_CLIENT_APP,
    App,
    Clock,
    Indicator,
    Message,
    User,
    Webhook,
    World,
    iso_timestamp,
)

__all__ = [
    "FREE_REPLIES",
    "ApiError",
    "DeliveryRecord",
    "Emulator",
    "EmulatorSettings",
    "Indicator",
    "Message",
    "Realism",
    "User",
    "Webhook",
    "add_command",
    "build_emulator",
    "emulator_from_settings",
    "run_emulator",
]

PREMIUM_WEBHOOKS = 1
"""Webhooks per premium environment (sandbox)."""
ENTERPRISE_WEBHOOKS = 3
PREMIUM_SUBSCRIPTIONS = 15
ENTERPRISE_SUBSCRIPTIONS = 250

FREE_REPLIES = 5
"""Replies to one received DM that do not count against the daily sending limit."""
FREE_REPLY_WINDOW = 24 * 3600.0

UserRef = User | str
"""A user, or its id or screen name."""


class Emulator:
    """One emulated X with one app: users, DMs, webhooks, and their deliveries.

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
        self.delivery_log: list[DeliveryRecord] = []
        self._realism = Realism()
        self._deliverer = _Deliverer(
            consumer_secret, self._realism, webhook_transport, self.delivery_log
        )
        self._changed = asyncio.Condition()
        self._last_read: dict[tuple[str, str], int] = {}
        # (account, person) -> [expires_at, replies left] per message the person sent.
        self._free_replies: dict[tuple[str, str], list[list[float]]] = {}
        self.version = 0
        """Grows on every new message or indicator (for pages that follow the chat)."""
        from dmbot.emulator.api import build_app

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

    @property
    def realism(self) -> Realism:
        """The delivery realism switches (mutable, read at each delivery)."""
        return self._realism

    @realism.setter
    def realism(self, value: Realism) -> None:
        self._realism = value
        self._deliverer.realism = value

    # users

    def add_account(
        self,
        user_id: str,
        screen_name: str,
        *,
        token: str,
        token_secret: str,
        name: str | None = None,
    ) -> User:
        """Add an account the app holds access tokens for (it can call the API)."""
        user = User(
            user_id, screen_name, name or screen_name, self.world.now_ms(), token, token_secret
        )
        return self.world.add_user(user)

    def add_user(self, user_id: str, screen_name: str, *, name: str | None = None) -> User:
        """Add a simulated person, who acts through :meth:`send` and :meth:`tap`."""
        return self.world.add_user(
            User(user_id, screen_name, name or screen_name, self.world.now_ms())
        )

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

    # simulated people acting

    async def send(
        self, from_user: UserRef, to_account: UserRef, text: str, *, metadata: str | None = None
    ) -> Message:
        """``from_user`` writes a DM from X's app; ``metadata`` makes it a Quick Reply tap.

        Raises:
            LookupError: an unknown user.
            ValueError: the text is longer than X allows.
        """
        sender, recipient = self.user(from_user), self.user(to_account)
        if len(text) > MAX_TEXT:
            raise ValueError(f"A DM holds at most {MAX_TEXT} characters; this one has {len(text)}.")
        if self.realism.read_events:
            self._deliver_read(sender.id, recipient.id)
        if self.realism.typing_events:
            self._deliver_indicator("typing", sender.id, recipient.id)
        data: dict[str, object] = {"text": text}
        if metadata is not None:
            data["quick_reply_response"] = {"type": "options", "metadata": metadata}
        self._free_replies.setdefault((recipient.id, sender.id), []).append(
            [self.clock() + FREE_REPLY_WINDOW, float(FREE_REPLIES)]
        )
        welcome: str | None = None
        rule = self.world.rule_for(recipient.id)
        if rule is not None and not self.world.conversation(sender.id, recipient.id):
            welcome = str(rule["welcome_message_id"])
        return await self.post_message(
            sender.id,
            recipient.id,
            data,
            source_app_id=str(WEB_CLIENT_APP["id"]),
            metadata=metadata,
            welcome_message_id=welcome,
        )

    def take_free_reply(self, account_id: str, peer_id: str) -> bool:
        """Use one of the free replies ``peer_id``'s recent DMs granted ``account_id``.

        X lets an account answer each received DM up to 5 times within 24 hours
        without counting against its daily sending limit.
        """
        grants = self._free_replies.get((account_id, peer_id))
        now = self.clock()
        while grants and (grants[0][0] <= now or grants[0][1] <= 0):
            grants.pop(0)
        if not grants:
            return False
        grants[0][1] -= 1
        return True

    async def tap(self, from_user: UserRef, message: Message | str, label: str) -> Message:
        """``from_user`` taps the option ``label`` of a Quick Reply DM it received.

        Raises:
            LookupError: an unknown user or message, or no option with that label.
        """
        user = self.user(from_user)
        prompt = message if isinstance(message, Message) else self.world.message(message)
        if prompt is None:
            raise LookupError(f"No message {message!r} in the emulator to tap an option of.")
        if prompt.recipient_id != user.id:
            raise LookupError(
                f"Message {prompt.id} was sent to user {prompt.recipient_id}, not to "
                f"@{user.screen_name}; only its recipient can tap its options."
            )
        option = next((o for o in prompt.options if o.get("label") == label), None)
        if option is None:
            labels = ", ".join(repr(o.get("label")) for o in prompt.options) or "none"
            raise LookupError(
                f"Message {prompt.id} has no option {label!r}; its options: {labels}."
            )
        metadata = str(option.get("metadata", ""))
        return await self.send(user, prompt.sender_id, label, metadata=metadata)

    async def revoke(self, user: UserRef) -> None:
        """``user`` revokes the app: tokens and subscriptions go, a ``user_event`` is delivered."""
        target = self.user(user)
        payload = revoke_payload(self.world, target.id)
        for hook in self.world.webhooks:
            if hook.valid and (hook.id, target.id) in self.world.subscriptions:
                self._deliverer.deliver(hook, payload, None, kind="user_event")
        self.world.revoke_tokens(target.id)

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
        """Record a DM and deliver it to every subscribed participant (echo included)."""
        world = self.world
        message = Message(
            world.ids.next(),
            sender_id,
            recipient_id,
            dict(message_data),
            world.now_ms(),
            source_app_id,
            metadata,
            welcome_message_id,
        )
        world.messages.append(message)
        await self._notify()
        drop = self.realism.drop_metadata
        self._deliverer.fan_out(
            world,
            (recipient_id, sender_id),
            lambda uid: message_payload(world, message, uid, drop_metadata=drop),
            kind="direct_message_events",
            event_id=message.id,
        )
        return message

    async def indicate(
        self, kind: str, sender_id: str, recipient_id: str, last_read_event_id: str | None = None
    ) -> Indicator:
        """Record a typing indicator (``kind="typing"``) or read receipt (``"read"``)."""
        record = Indicator(kind, sender_id, recipient_id, self.world.now_ms(), last_read_event_id)
        self.world.indicators.append(record)
        await self._notify()
        return record

    def _deliver_indicator(
        self, kind: str, sender_id: str, recipient_id: str, last_read: str | None = None
    ) -> None:
        world = self.world
        self._deliverer.fan_out(
            world,
            (recipient_id, sender_id),
            lambda uid: indicator_payload(
                world, kind, sender_id, recipient_id, uid, last_read_event_id=last_read
            ),
            kind=indicator_key(kind),
        )

    def _deliver_read(self, reader_id: str, author_id: str) -> None:
        """A read receipt for ``author_id``'s messages that ``reader_id`` has not yet read."""
        seen = self._last_read.get((reader_id, author_id), 0)
        unread = [
            m
            for m in self.world.conversation(reader_id, author_id)
            if m.sender_id == author_id and int(m.id) > seen
        ]
        if unread:
            self._last_read[(reader_id, author_id)] = int(unread[-1].id)
            self._deliver_indicator("read", reader_id, author_id, unread[-1].id)

    async def _notify(self) -> None:
        self.version += 1
        async with self._changed:
            self._changed.notify_all()

    # webhooks and subscriptions

    async def register_webhook(self, url: str, *, env_name: str | None = None) -> Webhook:
        """Register ``url`` after a passing CRC check, as X does.

        Args:
            url: the webhook URL.
            env_name: the premium environment, or None for enterprise.

        Raises:
            ApiError: 400/214 (bad URL or failed CRC), 403/214 (too many webhooks).
        """
        self._check_url(url)
        existing = self.world.env_webhooks(env_name)
        limit = ENTERPRISE_WEBHOOKS if env_name is None else PREMIUM_WEBHOOKS
        if len(existing) >= limit:
            raise ApiError(403, 214, "Too many resources already created.")
        if any(hook.url == url for hook in existing):
            raise ApiError(400, 214, "Webhook URL is already registered for this environment.")
        passed, reason = await self._deliverer.crc(url)
        if not passed:
            raise ApiError(400, 214, f"Webhook URL does not meet the requirements: {reason}.")
        hook = Webhook(self.world.ids.next(), url, True, iso_timestamp(self.clock()), env_name)
        self.world.set_webhook(hook)
        return hook

    async def check_webhook(self, webhook_id: str) -> tuple[Webhook, str]:
        """Run the CRC check on a webhook again and update ``valid``.

        Returns:
            The updated webhook and, when the check failed, why.

        Raises:
            ApiError: 404/34 for an unknown webhook.
        """
        hook = self.world.webhook(webhook_id)
        if hook is None:
            raise ApiError(404, 34)
        passed, reason = await self._deliverer.crc(hook.url)
        hook = Webhook(hook.id, hook.url, passed, hook.created_at, hook.env_name)
        self.world.set_webhook(hook)
        return hook, reason

    def subscribe(self, webhook_id: str, user: UserRef) -> None:
        """Subscribe an account (one the app holds tokens for) on a webhook.

        Raises:
            ApiError: 404/34 unknown webhook, 409/355 already subscribed,
                403/214 subscription limit reached.
        """
        hook = self.world.webhook(webhook_id)
        if hook is None:
            raise ApiError(404, 34)
        account = self.user(user)
        if not account.is_account:
            raise ApiError(
                401,
                89,
                f"@{account.screen_name} has not authorized the app, so it cannot be subscribed; "
                "give it tokens with add_account or the OAuth flow first.",
            )
        if (hook.id, account.id) in self.world.subscriptions:
            raise ApiError(409, 355)
        limit = ENTERPRISE_SUBSCRIPTIONS if hook.env_name is None else PREMIUM_SUBSCRIPTIONS
        if len(self.world.subscribers(hook.id)) >= limit:
            raise ApiError(403, 214, "Too many resources already created.")
        self.world.subscriptions.add((hook.id, account.id))

    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(400, 214, "Webhook URL must be an absolute http(s) URL.")
        if self.realism.strict_urls and (
            parts.scheme != "https" or parts.port is not None or len(url) > 200
        ):
            raise ApiError(
                400, 214, "Webhook URL must use https, name no port and be at most 200 characters."
            )

    # waiting and housekeeping

    async def wait_for_messages(
        self,
        n: int,
        *,
        sender: UserRef | None = None,
        after: Message | str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 (the documented test-kit signature)
    ) -> list[Message]:
        """Wait until at least ``n`` messages match, and return all that match.

        Args:
            n: how many messages to wait for.
            sender: only count messages from this user.
            after: only count messages newer than this message (or id).
            timeout: seconds to wait.

        Raises:
            TimeoutError: fewer than ``n`` matched in time; the message lists them.
        """
        sender_id = None if sender is None else self.user(sender).id
        after_id = int(after.id if isinstance(after, Message) else after) if after else 0

        def matching() -> list[Message]:
            return [
                m
                for m in self.world.messages
                if (sender_id is None or m.sender_id == sender_id) and int(m.id) > after_id
            ]

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(matching()) >= n)
        except TimeoutError:
            found = matching()
            texts = ", ".join(repr(m.text) for m in found) or "none"
            who = f" from user {sender_id}" if sender_id else ""
            raise TimeoutError(
                f"Waited {timeout:g} s for {n} message(s){who}, but {len(found)} arrived: {texts}."
            ) from None
        return matching()

    async def wait_changed(self, since: int, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """Wait until :attr:`version` passes ``since`` (or ``timeout``); the new version."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: self.version > since)
        except TimeoutError:
            pass
        return self.version

    async def deliveries_settled(self) -> None:
        """Wait until every scheduled delivery (delays and retries included) was attempted."""
        await self._deliverer.settled()

    def reset(self) -> None:
        """Forget messages, deliveries, indicators, faults and rate windows; realism off.

        Users, accounts, webhooks and subscriptions stay.
        """
        self.world.messages.clear()
        self.world.indicators.clear()
        self.delivery_log.clear()
        self.faults.clear()
        self.limits.clear()
        self._last_read.clear()
        self._free_replies.clear()
        self._deliverer.reset()
        self.realism = Realism()

    async def aclose(self) -> None:
        """Cancel pending deliveries and close outgoing connections."""
        await self._deliverer.aclose()
