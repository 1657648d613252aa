"""``dmbot accounts authorize``: an account's tokens, with X's PIN flow."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from dmbot.cli.client import Transport, x_command
from dmbot.cli.command import Commands
from dmbot.config.settings import Settings
from dmbot.x.app import client_from_settings

__all__ = ["Prompt", "authorize", "register"]

Prompt = Callable[[str], str]
"""Asks the person at the terminal (default: :func:`input`)."""


def authorize(
    args: argparse.Namespace,
    settings: Settings,
    *,
    transport: Transport = None,
    prompt: Prompt = input,
) -> int:
    """The PIN flow: print the authorize URL, read the PIN, print the new tokens."""

    @x_command
    async def flow(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
        async with client_from_settings(settings, None, transport=transport) as client:
            pin_flow = client.authorization
            request = await pin_flow.request_token("oob")
            print("Open this page, signed in as the account to add, and authorize the app:")
            print(f"  {pin_flow.authorize_url(request.token)}")
            pin = args.pin or prompt("Then enter the PIN X shows: ").strip()
            if not pin:
                print("dmbot: no PIN given; run the command again.", file=sys.stderr)
                return 1
            token = await pin_flow.access_token(request.token, request.secret, pin)
        var = f"DMBOT_{token.screen_name.upper() or token.user_id}"
        print(f"\nAuthorized @{token.screen_name} (user id {token.user_id}).")
        print(f"access_token: {token.token}\naccess_token_secret: {token.secret}")
        print("\nKeep the tokens out of config.yaml: export them,")
        print(f"  export {var}_ACCESS_TOKEN='{token.token}'")
        print(f"  export {var}_ACCESS_TOKEN_SECRET='{token.secret}'")
        print("and add the account to config.yaml:")
        print("accounts:")
        print(f'  - user_id: "{token.user_id}"')
        print(f"    access_token: ${{{var}_ACCESS_TOKEN}}")
        print(f"    access_token_secret: ${{{var}_ACCESS_TOKEN_SECRET}}")
        print(f"Then subscribe it: dmbot subscriptions add --account {token.user_id}")
        return 0

    return flow(args, settings, transport=transport)


def register(commands: Commands) -> None:
    """Add ``accounts`` and its action."""
    actions = commands.group("accounts", help="add accounts the bot answers for")
    p = actions.add("authorize", authorize, help="get an account's tokens with the PIN flow")
    p.add_argument("--pin", help="the PIN X showed (default: ask)")
