"""``dmbot dev [BOT]``: chat with the bot in the browser, against an emulated X, offline.

The server is :mod:`dmbot.dev.server`'s; this module is the command: its
options, the port, and uvicorn.
"""

from __future__ import annotations

import argparse
import logging
import socket
from pathlib import Path

from starlette.applications import Starlette

from dmbot.cli.command import Commands
from dmbot.cli.serving import bind_socket, run_uvicorn
from dmbot.config.settings import Settings
from dmbot.dev.server import WEBHOOK_PATH, banner, build_sandbox, dev_app, dev_store, resolve_bot
from dmbot.engine.script import load_bot
from dmbot.errors import ConfigError
from dmbot.x.paths import GENERATIONS

__all__ = ["dev", "register"]


def dev(args: argparse.Namespace, settings: Settings | None) -> int:
    """Run ``dmbot dev``: load the bot, bind the port, serve until interrupted."""
    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be an integer from 1 to 65535 (got {args.port})")
    spec, bot_label = resolve_bot(args.bot, settings)
    bot = load_bot(spec)
    sock = bind_socket(args.host, args.port)
    try:
        store, store_label = dev_store(Path.cwd())
        origin = _origin(args.host, args.port)
        sandbox = build_sandbox(
            bot,
            url=f"{origin}{WEBHOOK_PATH}",
            store=store,
            settings=settings,
            api=args.api,
            send_api=args.send_api,
            stream=args.delivery == "stream",
        )
        app = dev_app(
            sandbox,
            on_ready=lambda: print(banner(sandbox, origin, bot_label, store_label), flush=True),
        )
        level = settings.logging.level if settings is not None else "info"
        # One log line per delivery and API call would bury the banner; the page shows them.
        if not getattr(args, "debug", False):
            logging.getLogger("httpx").setLevel(logging.WARNING)
        _serve(app, sock, level)
    finally:
        sock.close()
    return 0


def _origin(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _serve(app: Starlette, sock: socket.socket, level: str) -> None:
    # The page holds a long poll open, and the stream of delivery: stream a response:
    # end both, or Ctrl+C would wait for them.
    run_uvicorn(app, sock, access_log=False, level=level, before_shutdown=app.state.chat_feed.stop)


def register(commands: Commands) -> None:
    """Add ``dev``; it runs without a config file too."""
    p = commands.add(
        "dev",
        dev,
        help="chat with the bot in your browser: bot, X emulator and chat page, offline",
        description=(
            "Run the bot, an emulated X and a chat page in one process, with nothing to "
            "configure: no X account, tunnel or public URL. Open the printed URL and "
            "write to the bot as alice or bob; the side panel shows every delivery and "
            "API call, and switches for X's duplicates, delays and other habits."
        ),
        config_optional=True,
    )
    p.add_argument(
        "bot",
        nargs="?",
        metavar="BOT",
        help="bot script or module:attribute (default: bot: of the config, else the pizza demo)",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument(
        "--api",
        choices=GENERATIONS,
        help="the X API to rehearse: premium, enterprise, v2 or activity "
        "(default: twitter.api of the config, else premium)",
    )
    p.add_argument(
        "--delivery",
        choices=("webhook", "stream"),
        default="webhook",
        help="stream: the bot reads the emulator's X Activity API stream, as "
        "`delivery: stream` does on X (implies --api activity)",
    )
    p.add_argument(
        "--send-api",
        choices=("v1.1", "v2"),
        help="send replies through v1.1 (Quick Replies) or v2 (numbered options)",
    )
