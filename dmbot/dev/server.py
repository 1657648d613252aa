"""``dmbot dev``'s server: the bot, an emulated X and the chat page in one process, offline.

::

    dmbot dev                      # the config's bot, else the pizza demo
    dmbot dev bots/echo.py --port 8001

One uvicorn server on one port serves three apps, wired in-process by a
:class:`~dmbot.dev.sandbox.Sandbox` (the same wiring as ``ChatTest``):

- ``/``: the chat page (:mod:`dmbot.emulator.chat`);
- the webhook path and ``/healthz``: the bot's service, as ``dmbot serve`` runs it;
- everything else: the emulated X (its v1.1 API and the ``/_emulator/`` endpoints).

No X account, tunnel or public URL: the app keys are dev ones, the bot account
is made up, the webhook is registered with the emulator (a real CRC) and the
account subscribed before the banner is printed. The command itself (its
options, the port, uvicorn) is :mod:`dmbot.cli.dev`'s.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route

from dmbot.config.settings import Settings
from dmbot.demo import PIZZA
from dmbot.dev.sandbox import Sandbox
from dmbot.emulator.admin import DEFAULT_PEOPLE
from dmbot.emulator.chat import ChatFeed, chat_routes
from dmbot.engine.bot import Bot

__all__ = ["banner", "build_sandbox", "dev_app", "dev_store", "resolve_bot"]

DEV_CONSUMER_KEY = "dev-consumer-key"
DEV_CONSUMER_SECRET = "dev-consumer-secret"
WEBHOOK_PATH = "/webhooks/twitter"
STORE_DIR = ".dmbot"


def resolve_bot(bot: str | None, settings: Settings | None) -> tuple[str, str]:
    """The bot to run and where that choice came from.

    The argument wins; then ``bot:`` of the config; then the pizza demo
    installed with dmbot (:mod:`dmbot.demo`), so ``dmbot dev`` runs anywhere.

    Returns:
        (spec for :func:`~dmbot.engine.script.load_bot`, a label for the banner).
    """
    if bot:
        return bot, bot
    if settings is not None and settings.bot:
        path = settings.bot_path
        return (str(path) if path else settings.bot), f"{settings.bot} (from {settings.source})"
    return str(PIZZA), "the pizza demo (installed with dmbot; `dmbot dev BOT` runs yours)"


def dev_store(base: Path) -> tuple[str, str]:
    """A fresh SQLite file for one run: ``.dmbot/dev.db`` under ``base``, else a temp dir.

    ``base`` is the folder ``dmbot dev`` runs in; a read-only one sends the file
    to a new temporary folder, which the banner names.

    The emulated X starts empty on every run, so the bot's store does too:
    a conversation the bot remembered but the page no longer shows would only confuse.

    Returns:
        (store URL, how the banner names it).
    """
    folder = base / STORE_DIR
    try:
        folder.mkdir(exist_ok=True)
        for old in folder.glob("dev.db*"):
            old.unlink()
        label = f"sqlite:///{STORE_DIR}/dev.db"
    except OSError:
        # A read-only directory: the store goes where nobody minds.
        folder = Path(tempfile.mkdtemp(prefix="dmbot-dev-"))
        label = f"sqlite:///{folder / 'dev.db'}"
    return f"sqlite:///{(folder / 'dev.db').resolve()}", label


def _account_names(bot: Bot) -> tuple[str, str]:
    """The bot account's handle and display name, from the bot's name."""
    name = re.sub(r"\W+", "", bot.name) or "bot"
    handle = name if name.lower().endswith("bot") else f"{name}bot"
    display = bot.name.title() if handle == name else f"{bot.name.title()} Bot"
    return handle[:15], display


def build_sandbox(
    bot: Bot,
    *,
    url: str,
    store: str = "memory://",
    settings: Settings | None = None,
    api: str | None = None,
    send_api: str | None = None,
    stream: bool = False,
) -> Sandbox:
    """The sandbox of ``dmbot dev``: dev keys, alice and bob, the webhook at ``url``.

    Args:
        bot: the bot.
        url: the webhook URL registered with the emulator (the page's origin plus
            the webhook path); deliveries reach the service in-process whatever it is.
        store: the store URL.
        settings: the loaded config, whose engine, sender, logging and API
            settings apply; its keys, URLs and store do not.
        api: the X API to rehearse (``twitter.api``), over the config's.
        send_api: how replies go out (``twitter.send_api``), over the config's.
        stream: deliver through the X Activity API stream of the emulator
            (``delivery: stream``), which the service reads over loopback from
            the origin of ``url``, instead of to the webhook.
    """
    extra: dict[str, Any] = {}
    twitter: dict[str, str] = {}
    if settings is not None:
        extra = {
            "engine": settings.engine,
            "sender": settings.sender,
            "logging": settings.logging,
        }
        twitter = {"send_api": settings.twitter.send_api, "api": settings.twitter.api}
    if api:
        twitter["api"] = api
    if send_api:
        twitter["send_api"] = send_api
    if stream:
        # The stream needs a real connection: to this very server, which serves the emulator.
        twitter["api"] = "activity"
        twitter["api_url"] = url.removesuffix(WEBHOOK_PATH)
        extra["delivery"] = "stream"
    if twitter:
        extra["twitter"] = twitter
    handle, display = _account_names(bot)
    return Sandbox(
        bot,
        store=store,
        settings=extra,
        people=DEFAULT_PEOPLE,
        consumer_key=DEV_CONSUMER_KEY,
        consumer_secret=DEV_CONSUMER_SECRET,
        webhook_url=url,
        bot_screen_name=handle,
        bot_display_name=display,
        source="dmbot dev",
    )


def dev_app(sandbox: Sandbox, *, on_ready: Callable[[], None] | None = None) -> Starlette:
    """One ASGI app: the chat page, the bot's webhook and the emulated X.

    Its lifespan starts the sandbox (the webhook's CRC, the subscription),
    then calls ``on_ready``; shutdown stops it. ``app.state.chat_feed`` is the
    page's feed: close it when the server starts shutting down.
    """
    service = sandbox.service.app
    feed = ChatFeed(sandbox.emulator, sandbox.bot_id, sandbox.traffic)
    routes = [
        *chat_routes(feed),
        # An ASGI app as endpoint: every method reaches the service as it would in serve.
        Route(sandbox.settings.webhook.path, service),
        Route("/healthz", service),
        Mount("", app=sandbox.emulator.app),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sandbox.start()
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            await sandbox.stop()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.chat_feed = feed
    return app


def banner(sandbox: Sandbox, origin: str, bot_label: str, store_label: str) -> str:
    """What ``dmbot dev`` prints once the webhook is registered and subscribed."""
    people = ", ".join(
        f"@{u.screen_name}" for u in sandbox.emulator.world.users.values() if not u.is_account
    )
    handle = f"@{sandbox.bot_screen_name}"
    if sandbox.settings.delivery == "stream":
        delivery = (
            f"  stream   {origin}/2/activity/stream (delivery: stream: the bot holds the "
            f"emulator's stream; {handle} subscribed to dm.received and dm.sent)"
        )
    else:
        delivery = (
            f"  webhook  {sandbox.webhook_url} (registered with the emulator: CRC passed, "
            f"{handle} subscribed)"
        )
    return "\n".join(
        [
            f"dmbot dev: chat with your bot on {origin}/",
            f"  bot      {bot_label}",
            delivery,
            f"  X API    {origin}/ (the emulator: twitter.api {sandbox.settings.twitter.api}, "
            f"send_api {sandbox.settings.twitter.send_api}; controls under /_emulator/)",
            f"  store    {store_label} (the bot's state; a fresh file on every start)",
            f"  people   {people or 'none'} (add more on the page)",
            "Press Ctrl+C to stop.",
        ]
    )
