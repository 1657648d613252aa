"""``dmbot serve [--host H] [--port P]``: the webhook server and the workers."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import TYPE_CHECKING

from dmbot import __version__
from dmbot.cli.command import Commands
from dmbot.cli.serving import bind_socket, run_uvicorn
from dmbot.config.settings import Settings, webhook_url_problem

if TYPE_CHECKING:
    from dmbot.service import Service

__all__ = ["register", "serve"]

log = logging.getLogger("dmbot")


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the webhook and run the workers until SIGTERM or SIGINT."""
    # Imported when serving: building the parser for another command need not load them.
    from dmbot.config.placeholders import placeholder_warnings
    from dmbot.service import Service

    settings = settings.with_overrides(host=args.host, port=args.port)
    if settings.webhook.url:
        problem = webhook_url_problem(settings.webhook.url)
        if problem:
            log.warning("webhook.url: %s (fine for local tests; X will refuse it)", problem)
    for warning in placeholder_warnings(settings):
        log.warning("%s", warning)
    service = Service(settings)
    if service.bot is None:
        log.warning("no bot loaded (set `bot:` in config.yaml): CRCs are answered, events stored")
    asyncio.run(_preflight(service))
    sock = bind_socket(settings.server.host, settings.server.port)
    log.info(
        "dmbot %s serving http://%s:%d%s",
        __version__,
        settings.server.host,
        settings.server.port,
        settings.webhook.path,
    )
    run_uvicorn(
        service.app, sock, access_log=settings.server.access_log, level=settings.logging.level
    )
    return 0


async def _preflight(service: Service) -> None:
    """Open and close the store once, so a bad store URL fails before serving."""
    await service.store.open()
    await service.store.close()


def register(commands: Commands) -> None:
    """Add ``serve``."""
    p = commands.add("serve", serve, help="run the webhook server and workers")
    p.add_argument("--host", help="listen address (default: server.host)")
    p.add_argument("--port", type=int, help="listen port (default: server.port)")
