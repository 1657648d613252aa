"""The ``dmbot`` command.

Every subcommand takes ``--config PATH`` (default ``config.yaml``) and
``--debug``. Exit status: 0 success, 1 a reported problem, 2 a usage error.
Errors are one readable line with the fix; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import socket
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dmbot import __version__
from dmbot.config.settings import Settings, load_settings, webhook_url_problem
from dmbot.errors import ConfigError, DmbotError

log = logging.getLogger("dmbot")

Command = Callable[[argparse.Namespace, Settings], int]


def configure_logging(level: str, *, debug: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # httpx logs every request at INFO: a second line per reply, and 5% of the CPU.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the server socket up front, so a port in use is one clear line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another dmbot?); stop that process "
                "or pick another port with --port"
            ) from exc
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


# Young-generation threshold of the cyclic GC while serving (CPython's default: 700).
GC_YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Tune the cyclic garbage collector for a long-running server, once it has started.

    Everything alive after start-up (modules, the bot, its flows) lives as long
    as the process: ``gc.freeze`` takes it out of every later collection. And
    with CPython's default threshold, objects held by the requests in flight
    survive a young collection every few hundred allocations, get promoted,
    and make full collections frequent: under a burst of deliveries they took
    a fifth of the CPU and stalled acknowledgements for tens of milliseconds
    (bench/README.md). A larger young generation lets those objects die young.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def run_uvicorn(
    app: Any,
    sock: socket.socket,
    *,
    access_log: bool,
    level: str,
    before_shutdown: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down cleanly and return.

    ``before_shutdown`` runs first on shutdown (e.g. to answer open long polls).
    """
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            # uvicorn re-raises the signal after shutting down; a requested stop
            # that completed cleanly is a success, so exit 0 instead.
            self._captured_signals.clear()

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            settle_heap()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if before_shutdown is not None:
                before_shutdown()
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        log_level=level,
        access_log=access_log,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    Server(config).run(sockets=[sock])


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
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


async def _preflight(service: Any) -> None:
    """Open and close the store once, so a bad store URL fails before serving."""
    await service.store.open()
    await service.store.close()


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Load config, bot and flows; print every problem with file and line."""
    from dmbot.config.placeholders import placeholder_warnings
    from dmbot.engine.script import bot_from_settings
    from dmbot.flows.file import check_flow_file

    problems: list[str] = []
    if settings.webhook.url:
        problem = webhook_url_problem(settings.webhook.url)
        if problem:
            print(f"warning: webhook.url: {problem}")
    for warning in placeholder_warnings(settings):
        print(f"warning: {warning}")
    for path in args.flow_files:
        problems.extend(str(problem) for problem in check_flow_file(path))
    if settings.bot:
        try:
            bot = bot_from_settings(settings)
        except DmbotError as exc:
            problems.append(str(exc))
        else:
            assert bot is not None
            flows = ", ".join(sorted(bot.flows)) or "none"
            print(f"bot {settings.bot}: ok (flows: {flows})")
    else:
        print("no bot configured: set `bot:` in config.yaml")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print(f"{settings.source}: ok")
    return 0


def build_parser() -> argparse.ArgumentParser:
    # SUPPRESS: an option given before the subcommand is not reset by the subcommand's default.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="config file (default: config.yaml)"
    )
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="tracebacks, debug logs"
    )
    parser = argparse.ArgumentParser(prog="dmbot", description="Direct Message bots on X.")
    parser.add_argument(
        "--config", default="config.yaml", help="config file (default: config.yaml)"
    )
    parser.add_argument("--debug", action="store_true", help="tracebacks, debug logs")
    parser.add_argument("--version", action="version", version=f"dmbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[common], help="run the webhook server and workers")
    serve.add_argument("--host", help="listen address (default: server.host)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port)")
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check", parents=[common], help="check config, bot and flows")
    check.add_argument(
        "flow_files", nargs="*", metavar="FLOWS.yaml", help="also check these flow files"
    )
    check.set_defaults(func=cmd_check)

    _add_optional_commands(sub, common)
    return parser


def _add_optional_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """The commands other modules own: X management, the emulator, dev mode."""
    import importlib
    import inspect

    for name in ("dmbot.cli.admin", "dmbot.emulator", "dmbot.dev.server"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        adder = getattr(module, "add_commands", None) or getattr(module, "add_command", None)
        if adder is None:
            continue
        before = set(sub.choices)
        if len(inspect.signature(adder).parameters) >= 2:
            adder(sub, common)
        else:
            adder(sub)
        for command in set(sub.choices) - before:
            _ensure_common(sub.choices[command])


def _ensure_common(parser: argparse.ArgumentParser) -> None:
    """Give a parser (and its subcommands) --config and --debug if it lacks them."""
    options = {option for action in parser._actions for option in action.option_strings}
    if "--config" not in options:
        parser.add_argument(
            "--config", default=argparse.SUPPRESS, help="config file (default: config.yaml)"
        )
    if "--debug" not in options:
        parser.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="tracebacks"
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _ensure_common(child)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        # A bare `dmbot`: the commands, not an error about a missing argument.
        parser.print_help()
        return 2
    debug = bool(getattr(args, "debug", False))
    try:
        settings: Settings | None
        if getattr(args, "config_optional", False) and not Path(args.config).exists():
            # `dmbot dev` runs anywhere: without config.yaml it uses its defaults.
            settings = None
        else:
            settings = load_settings(args.config)
        configure_logging(settings.logging.level if settings else "info", debug=debug)
        result: int = args.func(args, settings)
        return result
    except DmbotError as exc:
        if debug:
            traceback.print_exc()
        print(f"dmbot: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
