"""A test kit for bot authors: chat with your bot in pytest, offline.

::

    from dmbot.testing import ChatTest

    async def test_order():
        async with ChatTest("bots/pizza.py") as chat:
            alice = chat.user("alice")
            reply = await alice.send("I want pizza")
            assert reply.options == ["Small", "Medium", "Large"]
            reply = await alice.tap("Large")
            assert "crust" in reply.text.lower()

``ChatTest`` runs the real path in-process (a :class:`~dmbot.dev.sandbox.Sandbox`,
as ``dmbot dev`` does): the X emulator signs each delivery and POSTs it to
dmbot's webhook through httpx's ASGI transport; the webhook stores it, the
worker runs your handlers, the sender calls the emulated X API with OAuth
1.0a, and the emulator echoes the bot's messages back, as X does. Each call
waits for the bot to go quiet, by events (no sleeps), and returns what the
bot answered.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from types import TracebackType
from typing import Any

from dmbot.config.settings import Settings
from dmbot.dev.sandbox import Sandbox, merged
from dmbot.emulator import Emulator, Message, Realism
from dmbot.engine.bot import Bot
from dmbot.service import Service

__all__ = ["ChatTest", "ChatUser", "Realism", "Reply"]

CONSUMER_KEY = "test-consumer-key"
CONSUMER_SECRET = "test-consumer-secret"
WEBHOOK_URL = "https://bot.test/webhooks/twitter"


@dataclasses.dataclass(frozen=True)
class Reply:
    """What the bot sent in answer to one action of a user.

    Attributes:
        messages: every DM the bot sent to that user, in order.
    """

    messages: tuple[Message, ...]

    @property
    def text(self) -> str:
        """The text of the last message ('' when the bot said nothing)."""
        return self.messages[-1].text if self.messages else ""

    @property
    def texts(self) -> list[str]:
        return [message.text for message in self.messages]

    @property
    def last(self) -> Message | None:
        return self.messages[-1] if self.messages else None

    @property
    def options(self) -> list[str]:
        """The Quick Reply labels of the last message that offered some."""
        for message in reversed(self.messages):
            if message.options:
                return [str(option["label"]) for option in message.options]
        return []

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, url) of the last message's buttons."""
        if not self.messages:
            return []
        ctas = self.messages[-1].message_data.get("ctas") or []
        return [(str(c.get("label")), str(c.get("url"))) for c in ctas]

    def __bool__(self) -> bool:
        return bool(self.messages)


class ChatUser:
    """A simulated person writing to the bot."""

    def __init__(self, chat: ChatTest, user_id: str, screen_name: str) -> None:
        self.chat = chat
        self.id = user_id
        self.screen_name = screen_name

    @property
    def replies(self) -> list[Message]:
        """Every DM the bot sent this user so far."""
        return [
            m
            for m in self.chat.emulator.messages
            if m.recipient_id == self.id and m.sender_id == self.chat.bot_id
        ]

    @property
    def options(self) -> list[str]:
        """The Quick Reply labels of the latest bot message that offered some."""
        return Reply(tuple(self.replies)).options

    async def send(self, text: str) -> Reply:
        """Write ``text`` to the bot and return what it answered."""
        return await self.chat.act(
            self, lambda: self.chat.emulator.send(self.id, self.chat.bot_id, text)
        )

    async def tap(self, label: str, *, of: Reply | Message | None = None) -> Reply:
        """Tap the option ``label`` of the latest question (or of ``of``: a late tap)."""
        message = self._prompt(label, of)
        return await self.chat.act(self, lambda: self.chat.emulator.tap(self.id, message, label))

    def _prompt(self, label: str, of: Reply | Message | None) -> Message:
        if isinstance(of, Message):
            return of
        candidates = list(of.messages) if isinstance(of, Reply) else self.replies
        for message in reversed(candidates):
            if any(option.get("label") == label for option in message.options):
                return message
        offered = [o.get("label") for m in candidates for o in m.options]
        raise LookupError(
            f"no message offers the option {label!r} to {self.screen_name}; "
            f"options offered: {offered or 'none'}"
        )


class ChatTest:
    """The bot, dmbot's whole pipeline and an emulated X, in-process.

    Args:
        bot: a script path (``"bots/pizza.py"``), ``"module:attribute"``, or a Bot.
        store: a store URL; in-memory by default (``sqlite:///...`` works too).
        realism: the emulator's realism switches (duplicates, echo delays, ...).
        settings: extra config keys, as in config.yaml (e.g. ``{"engine": {...}}``).
        timeout: how long one action may take before the test fails.
    """

    def __init__(
        self,
        bot: str | Path | Bot,
        *,
        store: str = "memory://",
        realism: Realism | None = None,
        settings: dict[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.sandbox = Sandbox(
            bot,
            store=store,
            realism=realism,
            # Tests want each DM handled at once and failed sends retried quickly.
            settings=merged(
                {
                    "engine": {"reorder_window": 0},
                    "sender": {"backoff_base": 0.01, "backoff_max": 0.05},
                },
                settings or {},
            ),
            consumer_key=CONSUMER_KEY,
            consumer_secret=CONSUMER_SECRET,
            webhook_url=WEBHOOK_URL,
            source="ChatTest",
        )
        assert self.sandbox.bot is not None
        self.bot: Bot = self.sandbox.bot
        self.bot_id = self.sandbox.bot_id
        self.timeout = timeout
        self.settings: Settings = self.sandbox.settings
        self.emulator: Emulator = self.sandbox.emulator
        self.service: Service = self.sandbox.service
        self._ids = itertools.count(2_000_000_000_001)
        self._users: dict[str, ChatUser] = {}

    @property
    def realism(self) -> Realism:
        """The emulator's realism switches; assign a new Realism to change them."""
        return self.emulator.realism

    @realism.setter
    def realism(self, value: Realism) -> None:
        self.emulator.realism = value

    async def __aenter__(self) -> ChatTest:
        await self.sandbox.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.sandbox.stop()

    def user(self, screen_name: str, *, user_id: str | None = None) -> ChatUser:
        """A simulated person (created on first use)."""
        found = self._users.get(screen_name)
        if found is None:
            uid = user_id or str(next(self._ids))
            self.emulator.add_user(uid, screen_name, name=screen_name.title())
            found = self._users[screen_name] = ChatUser(self, uid, screen_name)
        return found

    async def act(self, user: ChatUser, action: Any) -> Reply:
        """Run a user's action, wait until the bot is quiet, return its new messages."""
        before = {m.id for m in user.replies}
        await action()
        await self.settle()
        return Reply(tuple(m for m in user.replies if m.id not in before))

    async def settle(self) -> None:
        """Wait until deliveries, handlers, sends and echoes have all run their course."""
        await self.sandbox.settle(self.timeout)
