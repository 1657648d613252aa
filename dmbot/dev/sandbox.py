"""The bot's service and an emulated X, wired to each other in-process.

::

    async with Sandbox("bots/pizza.py", people=[("2000000000001", "alice", "Alice")]) as box:
        await box.emulator.send("alice", box.bot_id, "pizza")
        await box.settle()
        print(box.emulator.messages[-1].text)      # "What size would you like?"

Both directions are real HTTP carried by httpx's ASGI transport, with no
socket: the emulator signs each delivery and POSTs it to the service's
webhook; the service calls the emulated X API with OAuth 1.0a. Starting a
sandbox registers the webhook with the emulator (a real CRC check) and
subscribes the bot account, as an author would on X. Every exchange both ways
is kept in :attr:`Sandbox.traffic`, which the chat page of ``dmbot dev`` shows.
:class:`dmbot.testing.ChatTest` and ``dmbot dev`` are both built on this.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from dmbot.config.settings import Settings, settings_from_mapping
from dmbot.emulator import Emulator, Realism, Webhook
from dmbot.emulator.traffic import Exchange, Recorder, Traffic
from dmbot.engine.bot import Bot
from dmbot.engine.script import load_bot
from dmbot.service import Service
from dmbot.x.subscriptions import BOT_EVENT_TYPES

__all__ = ["Exchange", "Sandbox", "Traffic"]  # the traffic types live in dmbot.emulator.traffic

BOT_ID = "1000000000001"
"""The bot account's user id in every sandbox."""
APP_ID = "13090192"
WEBHOOK_URL = "https://bot.test/webhooks/twitter"
QUIET_TIMEOUT = 1.0
"""Seconds :meth:`Sandbox.stop` waits for work in flight before cancelling it."""


class Sandbox:
    """A :class:`~dmbot.service.Service` and an :class:`~dmbot.emulator.Emulator`, wired.

    Args:
        bot: a script path (``"bots/pizza.py"``), ``"module:attribute"``, a Bot, or
            None for a service without handlers.
        store: a store URL (``memory://``, ``sqlite:///PATH``, ...).
        realism: the emulator's realism switches (duplicates, delays, ...).
        settings: more config sections, as in config.yaml (``{"engine": {...}}``);
            they are merged over the sandbox's own.
        people: (user id, screen name, display name) of simulated people to add.
        consumer_key: the app's key, shared by the service and the emulator.
        consumer_secret: the app's secret (signs deliveries and CRC answers).
        webhook_url: the URL registered with the emulator; its path is served.
        bot_screen_name: the bot account's handle in the emulator.
        bot_display_name: its display name (the handle when None).
        source: names the settings in error messages.
    """

    def __init__(
        self,
        bot: str | Path | Bot | None,
        *,
        store: str = "memory://",
        realism: Realism | None = None,
        settings: Mapping[str, Any] | None = None,
        people: Iterable[tuple[str, str, str]] = (),
        consumer_key: str = "sandbox-consumer-key",
        consumer_secret: str = "sandbox-consumer-secret",
        webhook_url: str = WEBHOOK_URL,
        bot_screen_name: str = "bot",
        bot_display_name: str | None = None,
        source: str = "Sandbox",
    ) -> None:
        self.bot = bot if bot is None or isinstance(bot, Bot) else load_bot(str(bot))
        self.bot_id = BOT_ID
        self.bot_screen_name = bot_screen_name
        self.bot_display_name = bot_display_name
        self.webhook_url = webhook_url
        self.settings = _settings(
            consumer_key, consumer_secret, webhook_url, store, settings, source
        )
        self.traffic = Traffic()
        to_bot, to_x = Recorder(self.traffic, "to_bot"), Recorder(self.traffic, "to_x")
        self.emulator = Emulator(consumer_key, consumer_secret, APP_ID, webhook_transport=to_bot)
        if realism is not None:
            self.emulator.realism = realism
        for user_id, screen_name, name in people:
            self.emulator.add_user(user_id, screen_name, name=name)
        to_x.connect(self.emulator.app)
        self.service = Service(self.settings, bot=self.bot, transport=to_x)
        to_bot.connect(self.service.app)
        self.webhook: Webhook | None = None
        """The registered webhook, once started."""

    async def start(self) -> None:
        """Start the service, register the webhook (CRC) and subscribe the bot account.

        Raises:
            ApiError: the emulator refused the webhook (its CRC check failed).
        """
        await self.service.start()
        twitter = self.settings.twitter
        self.emulator.add_account(
            self.bot_id,
            self.bot_screen_name,
            token=twitter.access_token,
            token_secret=twitter.access_token_secret,
            name=self.bot_display_name,
        )
        self.webhook = await self._subscribe(twitter.api)

    async def _subscribe(self, api: str) -> Webhook | None:
        """Register the webhook and subscribe the bot account the way ``api`` does it on X.

        With ``delivery: stream`` there is no webhook: the X Activity API
        subscriptions deliver to the activity stream only.
        """
        emu = self.emulator
        if self.settings.delivery == "stream":
            for event_type in BOT_EVENT_TYPES:
                emu.subscribe_activity(self.bot_id, event_type, tag="dmbot")
            return None
        if api in ("premium", "enterprise"):
            hook = await emu.register_webhook(self.webhook_url)
            emu.subscribe(hook.id, self.bot_id)
            return hook
        hook = await emu.register_webhook_v2(self.webhook_url)
        if api == "v2":
            emu.subscribe(hook.id, self.bot_id)
        else:
            for event_type in BOT_EVENT_TYPES:
                emu.subscribe_activity(self.bot_id, event_type, webhook_id=hook.id, tag="dmbot")
        return hook

    async def stop(self) -> None:
        """Let work in flight finish (for a second at most), then stop both sides."""
        try:
            if self.service.worker is not None:
                # Let replies in flight arrive, so a test's last answer is not cut off.
                with contextlib.suppress(TimeoutError):
                    await self.settle(QUIET_TIMEOUT)
        finally:
            await self.emulator.aclose()
            await self.service.stop()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def settle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until deliveries, handlers, sends and echoes have all run their course.

        Raises:
            TimeoutError: the bot kept busy for longer than ``timeout`` seconds.
        """
        worker, sender = self.service.worker, self.service.sender
        if worker is None or sender is None:
            raise RuntimeError("The sandbox is not started; use `async with Sandbox(...)`.")
        async with asyncio.timeout(timeout):
            while True:
                version = self.emulator.version
                await self.emulator.deliveries_settled()
                await worker.caught_up()
                await sender.drain(timeout)
                await self.emulator.deliveries_settled()
                await worker.caught_up()
                if self.emulator.version == version:
                    return


def _settings(
    consumer_key: str,
    consumer_secret: str,
    webhook_url: str,
    store: str,
    extra: Mapping[str, Any] | None,
    source: str,
) -> Settings:
    base: dict[str, Any] = {
        "twitter": {
            "consumer_key": consumer_key,
            "consumer_secret": consumer_secret,
            "access_token": f"{BOT_ID}-sandbox-access-token",
            "access_token_secret": "sandbox-access-token-secret",
            # Never dialled: the transport carries the calls to the emulator's app.
            "api_url": "http://x.test",
            "app_id": APP_ID,
        },
        "webhook": {"url": webhook_url},
        "store": store,
    }
    return settings_from_mapping(merged(base, extra or {}), source=source)


def merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with the sections of ``extra`` merged in, key by key."""
    result = dict(base)
    for section, values in extra.items():
        if dataclasses.is_dataclass(values) and not isinstance(values, type):
            values = {f.name: getattr(values, f.name) for f in dataclasses.fields(values)}
        current = result.get(section)
        if isinstance(values, Mapping) and isinstance(current, Mapping):
            result[section] = {**current, **values}
        else:
            result[section] = values
    return result
