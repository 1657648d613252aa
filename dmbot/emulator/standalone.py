"""Running the emulator alone: ``dmbot emulator``, and emulators built from dmbot's settings.

``dmbot emulator`` serves an emulator built from the config's app keys and
account tokens, with two simulated people, alice and bob: X's API, the
``/_emulator/`` controls (:mod:`.admin`) and the chat page (:mod:`.chat`).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from dmbot.emulator.traffic import Recorder, Traffic, recording

if TYPE_CHECKING:
    from dmbot.emulator import Emulator


class _TwitterSettings(Protocol):
    @property
    def consumer_key(self) -> str: ...
    @property
    def consumer_secret(self) -> str: ...
    @property
    def access_token(self) -> str: ...
    @property
    def access_token_secret(self) -> str: ...
    @property
    def app_id(self) -> str: ...


class _AccountSettings(Protocol):
    @property
    def user_id(self) -> str: ...
    @property
    def access_token(self) -> str: ...
    @property
    def access_token_secret(self) -> str: ...


class EmulatorSettings(Protocol):
    """What the emulator reads from dmbot's settings (``dmbot.config.settings``)."""

    @property
    def twitter(self) -> _TwitterSettings: ...
    @property
    def all_accounts(self) -> Sequence[_AccountSettings]: ...


AccountSpec = tuple[str, str, str]
"""(user id, access token, access token secret) of an account the app holds tokens for."""

DEFAULT_PEOPLE = (("2000000000001", "alice", "Alice"), ("2000000000002", "bob", "Bob"))
"""The simulated people every standalone emulator starts with."""


def build_emulator(
    *,
    consumer_key: str,
    consumer_secret: str,
    accounts: Iterable[AccountSpec] = (),
    people: Iterable[tuple[str, str, str]] = DEFAULT_PEOPLE,
    app_id: str = "13090192",
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> Emulator:
    """An emulator holding ``accounts`` (named bot, bot2, ...) and simulated ``people``."""
    from dmbot.emulator import Emulator

    emu = Emulator(consumer_key, consumer_secret, app_id, webhook_transport=webhook_transport)
    for index, (user_id, token, token_secret) in enumerate(accounts, start=1):
        screen_name = "bot" if index == 1 else f"bot{index}"
        emu.add_account(user_id, screen_name, token=token, token_secret=token_secret)
    for user_id, screen_name, name in people:
        emu.add_user(user_id, screen_name, name=name)
    return emu


def emulator_from_settings(
    settings: EmulatorSettings, *, webhook_transport: httpx.AsyncBaseTransport | None = None
) -> Emulator:
    """An emulator that accepts the config's app keys and account tokens, with alice and bob."""
    twitter = settings.twitter
    specs: dict[str, AccountSpec] = {}
    # all_accounts starts with the twitter: account itself, when it has tokens.
    for account in settings.all_accounts:
        if account.access_token not in {spec[1] for spec in specs.values()}:
            specs.setdefault(
                account.user_id,
                (account.user_id, account.access_token, account.access_token_secret),
            )
    return build_emulator(
        consumer_key=twitter.consumer_key,
        consumer_secret=twitter.consumer_secret,
        accounts=specs.values(),
        app_id=twitter.app_id or "13090192",
        webhook_transport=webhook_transport,
    )


def standalone_app(emu: Emulator, traffic: Traffic) -> Starlette:
    """The emulator as ``dmbot emulator`` serves it: X's API, the controls and the chat page.

    The chat page talks to the first account; ``traffic`` records the API calls
    the emulator receives (its deliveries are recorded by the transport it was
    built with), so the page's panel shows both directions.
    """
    from dmbot.emulator.chat import ChatFeed, chat_routes

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await emu.aclose()

    accounts = [u for u in emu.world.users.values() if u.is_account]
    api = recording(emu.app, traffic, direction="to_x", skip=("/_emulator", "/_chat"))
    routes: list[BaseRoute] = []
    if accounts:
        feed = ChatFeed(emu, accounts[0].id, traffic)
        routes += chat_routes(feed)
    app = Starlette(routes=[*routes, Mount("", app=api)], lifespan=lifespan)
    app.state.chat_feed = feed if accounts else None
    return app


def run_emulator(
    host: str,
    port: int,
    *,
    consumer_key: str,
    consumer_secret: str,
    accounts: Iterable[AccountSpec] = (),
    emulator: Emulator | None = None,
    traffic: Traffic | None = None,
    on_ready: Callable[[Starlette], None] | None = None,
) -> None:
    """Serve an emulator with uvicorn until interrupted (alice and bob included).

    Args:
        host: the interface to bind.
        port: the port to bind.
        consumer_key: the app's key, when no ``emulator`` is given.
        consumer_secret: the app's secret, when no ``emulator`` is given.
        accounts: the accounts, when no ``emulator`` is given.
        emulator: the emulator to serve (its deliveries recorded into ``traffic``).
        traffic: where the chat page's panel reads from.
        on_ready: called with the app once the port is bound.

    Raises:
        ConfigError: the port is taken, or cannot be bound.
    """
    from dmbot.cli.main import bind_socket, run_uvicorn

    traffic = traffic if traffic is not None else Traffic()
    emu = emulator or build_emulator(
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        accounts=accounts,
        webhook_transport=Recorder(traffic, "to_bot", httpx.AsyncHTTPTransport()),
    )
    sock = bind_socket(host, port)
    app = standalone_app(emu, traffic)
    if on_ready is not None:
        on_ready(app)
    feed = app.state.chat_feed
    try:
        run_uvicorn(
            app,
            sock,
            access_log=True,
            level="info",
            # uvicorn waits for open responses: long polls and streams must end first.
            before_shutdown=feed.stop if feed is not None else emu.close_streams,
        )
    finally:
        sock.close()


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dmbot emulator [--host H] [--port 8081] [--config PATH]``."""
    parser = subparsers.add_parser(
        "emulator",
        help="run the X emulator alone (X's API and webhook deliveries, offline)",
        description=(
            "Serve an offline X: the v1.1 and v2 APIs with OAuth 1.0a and bearer checks, "
            "Account Activity and X Activity API webhooks with signed deliveries, a chat "
            "page at / and control endpoints under /_emulator/ (listed with curl examples "
            "at /_emulator/). It accepts the config's consumer key and account tokens; "
            "the simulated people alice and bob write to the accounts."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8081, help="port to bind (default: %(default)s)"
    )
    # SUPPRESS: a --config given before the subcommand must not be overwritten here.
    parser.add_argument(
        "--config", default=argparse.SUPPRESS, help="config file (default: config.yaml)"
    )
    parser.set_defaults(func=_emulator_command)


def _emulator_command(args: argparse.Namespace, settings: EmulatorSettings) -> int:
    traffic = Traffic()
    emu = emulator_from_settings(
        settings, webhook_transport=Recorder(traffic, "to_bot", httpx.AsyncHTTPTransport())
    )
    accounts = [u for u in emu.world.users.values() if u.is_account]
    base = f"http://{args.host}:{args.port}"

    def banner(app: Starlette) -> None:
        names = ", ".join(f"@{u.screen_name} ({u.id})" for u in accounts)
        print(f"X emulator on {base}  accounts: {names or 'none'}")
        if accounts:
            print(f"  chat page  {base}/  (write to @{accounts[0].screen_name} as alice or bob)")
        else:
            print("  chat page  off: the config names no account with tokens to talk to")
        print(f"  controls   {base}/_emulator/  (each with a curl example)")
        print(f"  X's API    {base}/1.1/... and {base}/2/...  (twitter.api_url: {base})")

    run_emulator(
        args.host,
        args.port,
        consumer_key="",
        consumer_secret="",
        emulator=emu,
        traffic=traffic,
        on_ready=banner,
    )
    return 0
