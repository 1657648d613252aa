"""The ``dmbot`` command: the parser, the command groups, and how a command's end is reported.

Every command takes ``--config PATH`` (default ``config.yaml``) and ``--debug``.
Exit status: 0 success, 1 a reported problem, 2 a usage error. Errors are one
readable line with the fix; ``--debug`` adds the traceback.

Each command group is a module with ``register(commands)``
(:mod:`dmbot.cli.command`); :data:`GROUPS` lists them, in the order ``dmbot``
lists its commands.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from dmbot import __version__
from dmbot.cli import (
    accounts,
    check,
    dev,
    doctor,
    emulator,
    replay,
    send,
    serve,
    subscriptions,
    webhooks,
)
from dmbot.cli.command import Commands, Register, add_common_options
from dmbot.cli.logs import configure_logging
from dmbot.cli.serving import bind_socket, run_uvicorn
from dmbot.config.settings import Settings, load_settings
from dmbot.errors import DmbotError

# bind_socket and run_uvicorn moved to dmbot.cli.serving; dmbot.emulator.standalone
# still imports them from here.
__all__ = ["GROUPS", "bind_socket", "build_parser", "configure_logging", "main", "run_uvicorn"]

GROUPS: tuple[Register, ...] = (
    serve.register,
    check.register,
    webhooks.register,
    subscriptions.register,
    replay.register,
    accounts.register,
    send.register,
    doctor.register,
    emulator.register,
    dev.register,
)
"""Every command group of ``dmbot``."""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``dmbot``, with every command of :data:`GROUPS`."""
    parser = argparse.ArgumentParser(prog="dmbot", description="Direct Message bots on X.")
    add_common_options(parser, top=True)
    parser.add_argument("--version", action="version", version=f"dmbot {__version__}")
    commands = Commands(parser)
    for register in GROUPS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dmbot`` with ``argv`` (default: the process's) and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        # A bare `dmbot`: the commands, not an error about a missing argument.
        parser.print_help()
        return 2
    debug = bool(args.debug)
    try:
        settings: Settings | None
        if getattr(args, "config_optional", False) and not Path(args.config).exists():
            # `dmbot dev` runs anywhere: without config.yaml it uses its defaults.
            settings = None
        else:
            settings = load_settings(args.config)
        configure_logging(
            settings.logging.level if settings else "info",
            debug=debug,
            form=settings.logging.format if settings else "text",
        )
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
