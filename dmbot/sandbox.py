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
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx

from dmbot.bot import Bot
from dmbot.config import Settings, settings_from_mapping
from dmbot.emulator import Emulator, Realism, Webhook
from dmbot.emulator.delivery import SIGNATURE_HEADER
from dmbot.script import load_bot
from dmbot.service import Service

__all__ = ["Exchange", "Sandbox", "Traffic"]

BOT_ID = "1000000000001"
"""The bot account's user id in every sandbox."""
APP_ID = "13090192"
WEBHOOK_URL = "https://bot.test/webhooks/twitter"
QUIET_TIMEOUT = 1.0
"""Seconds :meth:`Sandbox.stop` waits for work in flight before cancelling it."""

Direction = Literal["to_bot", "to_x"]
"""``to_bot``: X calling the webhook (CRC, deliveries); ``to_x``: the bot calling X's API."""

# Only these request headers are kept: the OAuth header holds the access token.
_KEPT_HEADERS = ("content-type", SIGNATURE_HEADER)


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One HTTP request between the bot and X, and its answer.

    Attributes:
        seq: its place in the traffic, from 1.
        at: when the request was made (seconds since the epoch).
        direction: ``to_bot`` (a CRC check or delivery) or ``to_x`` (an API call).
        method: the HTTP method.
        path: the path, with the query string when there is one.
        headers: the content type and the delivery signature, when present.
        body: the exact request body.
        status: the HTTP status of the answer; None when there was none.
        response: the answer's body.
        error: why no answer came (a timeout, a crash), if so.
    """

    seq: int
    at: float
    direction: Direction
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    status: int | None
    response: bytes
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON form: bodies decoded as JSON, a form, or text."""
        return {
            "seq": self.seq,
            "at": self.at,
            "direction": self.direction,
            "method": self.method,
            "path": self.path,
            "headers": dict(self.headers),
            "body": _decoded(self.body, self.headers.get("content-type", "")),
            "status": self.status,
            "response": _decoded(self.response, "application/json"),
            "error": self.error,
        }


def _decoded(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        return json.loads(text)
    except ValueError:
        return text


class Traffic:
    """Every exchange between the bot and the emulated X, both ways, in order."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self._changed = asyncio.Event()

    def add(self, exchange: Exchange) -> None:
        """Record an exchange and wake whoever waits for one."""
        self.exchanges.append(exchange)
        # A fresh event per change: waiters hold the one that was current.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_beyond(self, count: int, timeout: float) -> None:  # noqa: ASYNC109
        """Return once more than ``count`` exchanges are recorded, or after ``timeout``."""
        while len(self.exchanges) <= count:
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait()
            except TimeoutError:
                return

    def clear(self) -> None:
        """Forget every exchange."""
        self.exchanges.clear()


class _Wire(httpx.AsyncBaseTransport):
    """An ASGI transport to an app set after construction, recording each exchange.

    The two apps call each other, so one of them cannot exist yet when the
    other's transport is made.
    """

    def __init__(self, traffic: Traffic, direction: Direction) -> None:
        self.traffic = traffic
        self.direction = direction
        self._inner: httpx.ASGITransport | None = None

    def connect(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert self._inner is not None, "the sandbox connects both apps before any request"
        at = time.time()
        body = await request.aread()
        status: int | None = None
        answer = b""
        error: str | None = None
        try:
            response = await self._inner.handle_async_request(request)
            answer = await response.aread()
            status = response.status_code
            return httpx.Response(status, headers=response.headers, content=answer)
        except asyncio.CancelledError:
            # X gave up waiting (its delivery timeout): the request had no answer.
            error = "X stopped waiting for an answer"
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            url = urlsplit(str(request.url))
            self.traffic.add(
                Exchange(
                    len(self.traffic.exchanges) + 1,
                    at,
                    self.direction,
                    request.method,
                    f"{url.path}?{url.query}" if url.query else url.path,
                    {k: request.headers[k] for k in _KEPT_HEADERS if k in request.headers},
                    body,
                    status,
                    answer,
                    error,
                )
            )


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
        to_bot, to_x = _Wire(self.traffic, "to_bot"), _Wire(self.traffic, "to_x")
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
        self.webhook = await self.emulator.register_webhook(self.webhook_url)
        self.emulator.subscribe(self.webhook.id, self.bot_id)

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
