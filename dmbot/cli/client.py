"""The X client as the management commands use it: which account acts, and how a command runs.

Every management command takes ``transport=``, the httpx transport to X (and,
for the doctor, to the webhook), so tests run the commands against the
emulator in process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import httpx

from dmbot.config.settings import AccountSettings, Settings
from dmbot.errors import ConfigError, DmbotError
from dmbot.x.app import client_from_settings
from dmbot.x.client import XClient

__all__ = ["Transport", "XCommand", "acting", "acting_account", "x_command"]

Transport = httpx.AsyncBaseTransport | None
"""The httpx transport to X; None for the network."""


class XCommand(Protocol):
    """A management command: a :class:`~dmbot.cli.command.Run` that also takes ``transport=``."""

    def __call__(
        self, args: argparse.Namespace, settings: Settings, *, transport: Transport = None
    ) -> int: ...


def acting_account(settings: Settings, user_id: str | None) -> AccountSettings:
    """The account ``user_id`` names, or the bot account.

    Raises:
        ConfigError: no account has tokens, or none is ``user_id``.
    """
    accounts = settings.all_accounts
    if not accounts:
        raise ConfigError(
            "No account tokens configured: set twitter.access_token and "
            "twitter.access_token_secret (the bot account's), or run `dmbot accounts authorize`"
        )
    if not user_id:
        return accounts[0]
    for account in accounts:
        if account.user_id == user_id:
            return account
    known = ", ".join(a.user_id for a in accounts)
    raise ConfigError(
        f"Account {user_id} has no tokens in the config (known: {known}); add it under "
        "accounts: with its user_id and tokens (`dmbot accounts authorize` makes them)"
    )


@contextlib.asynccontextmanager
async def acting(
    settings: Settings, transport: Transport, user_id: str | None = None
) -> AsyncIterator[XClient]:
    """A client acting for :func:`acting_account`, closed on leaving."""
    account = acting_account(settings, user_id)
    async with client_from_settings(settings, account, transport=transport) as client:
        yield client


def x_command(fn: Callable[[argparse.Namespace, Settings, Transport], Awaitable[int]]) -> XCommand:
    """Run an async command to completion; a DmbotError becomes one line and status 1."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace, settings: Settings, *, transport: Transport = None) -> int:
        async def main() -> int:
            try:
                return await fn(args, settings, transport)
            except DmbotError as exc:
                print(f"dmbot: {exc}", file=sys.stderr)
                return 1

        return asyncio.run(main())

    return run
