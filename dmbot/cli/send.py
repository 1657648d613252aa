"""``dmbot send USER_ID TEXT``: one Direct Message, now, as the bot account or another."""

from __future__ import annotations

import argparse
import sys

from dmbot.cli.client import Transport, acting, x_command
from dmbot.cli.command import Commands
from dmbot.config.settings import Settings

__all__ = ["register", "send"]


@x_command
async def send(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
    """Send ``TEXT`` to ``USER_ID`` through ``twitter.send_api``; 2 for an id that is no id."""
    if not (args.user_id.isascii() and args.user_id.isdigit()):
        print(
            f"dmbot: USER_ID must be the numeric id of an X user, not {args.user_id!r}; "
            "a screen name's id is on its profile (or in the users map of any event "
            "it sent), as in `dmbot send 2244994945 'hi'`",
            file=sys.stderr,
        )
        return 2
    async with acting(settings, transport, args.account) as client:
        if settings.twitter.send_api == "v2":
            sent = await client.send_dm_v2(args.user_id, args.text)
        else:
            sent = await client.send_dm(args.user_id, {"text": args.text})
    print(f"Sent DM {sent.id} from {client.account_id} to {args.user_id}.")
    return 0


def register(commands: Commands) -> None:
    """Add ``send``."""
    p = commands.add("send", send, help="send one Direct Message now")
    p.add_argument("user_id", metavar="USER_ID")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--account", metavar="USER_ID", help="send as (default: the bot account)")
