"""How a command group joins the ``dmbot`` command: one registration call, one signature.

Each group module (:mod:`.serve`, :mod:`.webhooks`, ...) offers
``register(commands: Commands) -> None`` and adds its commands there with
:meth:`Commands.add`, or a command with subcommands with :meth:`Commands.group`;
:mod:`.main` lists the groups. Every parser made through :class:`Commands`
takes ``--config`` and ``--debug``, so they work before the command name and
after it, at every level.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Literal, Protocol, overload

from dmbot.config.settings import Settings

__all__ = ["Commands", "Register", "Run", "RunAnywhere", "add_common_options"]


class Run(Protocol):
    """A command: runs with the parsed arguments and the loaded config; returns the exit status.

    0 is success and 1 a problem the command reported; a
    :class:`~dmbot.errors.DmbotError` it raises becomes one line and status 1.
    """

    def __call__(self, args: argparse.Namespace, settings: Settings, /) -> int: ...


class RunAnywhere(Protocol):
    """A command that also runs without a config file: it gets None for the settings."""

    def __call__(self, args: argparse.Namespace, settings: Settings | None, /) -> int: ...


Register = Callable[["Commands"], None]
"""A command group's registration function."""


def add_common_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """Add ``--config`` and ``--debug`` to ``parser``.

    Args:
        parser: the parser of ``dmbot`` itself, or the parent of its commands.
        top: ``parser`` is ``dmbot`` itself, where the defaults are set. Below
            it they are left unset (SUPPRESS), so a command's parser does not
            reset an option given before the command name.
    """
    parser.add_argument(
        "--config",
        default="config.yaml" if top else argparse.SUPPRESS,
        help="config file (default: config.yaml)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="tracebacks, debug logs",
    )


class Commands:
    """Where command groups add their commands.

    Args:
        parser: ``dmbot`` itself, or a command with subcommands.
        dest: the attribute that names the command given.
        required: a command must be given (a bare ``dmbot`` lists them instead).
        metavar: how the help shows the command's place.
    """

    def __init__(
        self,
        parser: argparse.ArgumentParser,
        *,
        dest: str = "command",
        required: bool = False,
        metavar: str = "COMMAND",
    ) -> None:
        self._parsers = parser.add_subparsers(dest=dest, required=required, metavar=metavar)
        self._common = argparse.ArgumentParser(add_help=False)
        add_common_options(self._common)

    @overload
    def add(
        self, name: str, run: Run, *, help: str, description: str | None = None
    ) -> argparse.ArgumentParser: ...

    @overload
    def add(
        self,
        name: str,
        run: RunAnywhere,
        *,
        help: str,
        description: str | None = None,
        config_optional: Literal[True],
    ) -> argparse.ArgumentParser: ...

    def add(
        self,
        name: str,
        run: Run | RunAnywhere,
        *,
        help: str,
        description: str | None = None,
        config_optional: bool = False,
    ) -> argparse.ArgumentParser:
        """Add the command ``name``; the caller adds its arguments to the parser returned.

        Args:
            name: the command's name on the command line.
            run: what the command does.
            help: one line for the list of commands.
            description: the paragraph of the command's own ``--help``.
            config_optional: the command runs without a config file too
                (``dmbot dev``); ``run`` then gets None for the settings.
        """
        parser = self._parser(name, help, description)
        parser.set_defaults(func=run)
        if config_optional:
            parser.set_defaults(config_optional=True)
        return parser

    def group(self, name: str, *, help: str, description: str | None = None) -> Commands:
        """Add the command ``name``, whose subcommands the caller adds to the Commands returned."""
        parser = self._parser(name, help, description)
        return Commands(parser, dest=f"{name}_command", required=True, metavar="ACTION")

    def _parser(self, name: str, help: str, description: str | None) -> argparse.ArgumentParser:
        return self._parsers.add_parser(
            name, parents=[self._common], help=help, description=description
        )
