"""Running the emulator alone: ``dmbot emulator``, and emulators built from dmbot's settings.

``dmbot emulator`` serves an emulator built from the config's app keys and
account tokens, with two simulated people, alice and bob: X's API, the
``/_emulator/`` controls (:mod:`.admin`) and the chat page (:mod:`.chat`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Protocol

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from dmbot.emulator.chat import ChatFeed, chat_routes
from dmbot.emulator.facade import Emulator
from dmbot.emulator.people import DEFAULT_PEOPLE as DEFAULT_PEOPLE  # still importable from here
from dmbot.emulator.traffic import Traffic, recording


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
