"""``dmbot emulator [--host H] [--port P]``: the X emulator alone, for the config's app.

The emulator is :mod:`dmbot.emulator`'s; this module is the command: its
options, and what it prints once the port is bound.
"""

from __future__ import annotations

import argparse

import httpx
from starlette.applications import Starlette

from dmbot.cli.command import Commands
from dmbot.cli.serving import bind_socket, run_uvicorn
from dmbot.config.settings import Settings
from dmbot.emulator.standalone import emulator_from_settings, standalone_app
from dmbot.emulator.traffic import Recorder, Traffic

__all__ = ["register", "serve_emulator"]


def serve_emulator(args: argparse.Namespace, settings: Settings) -> int:
    """Serve an emulator of the config's app and accounts until interrupted."""
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

    sock = bind_socket(args.host, args.port)
    app = standalone_app(emu, traffic)
    banner(app)
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
    return 0


def register(commands: Commands) -> None:
    """Add ``emulator``."""
    p = commands.add(
        "emulator",
        serve_emulator,
        help="run the X emulator alone (X's API and webhook deliveries, offline)",
        description=(
            "Serve an offline X: the v1.1 and v2 APIs with OAuth 1.0a and bearer checks, "
            "Account Activity and X Activity API webhooks with signed deliveries, a chat "
            "page at / and control endpoints under /_emulator/ (listed with curl examples "
            "at /_emulator/). It accepts the config's consumer key and account tokens; "
            "the simulated people alice and bob write to the accounts."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    p.add_argument("--port", type=int, default=8081, help="port to bind (default: %(default)s)")
