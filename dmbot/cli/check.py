"""``dmbot check [FLOWS.yaml ...]``: load config, bot and flows; report every problem."""

from __future__ import annotations

import argparse
import sys

from dmbot.cli.command import Commands
from dmbot.config.settings import Settings, webhook_url_problem
from dmbot.errors import DmbotError

__all__ = ["check", "register"]


def check(args: argparse.Namespace, settings: Settings) -> int:
    """Load config, bot and flows; print every problem with file and line; 1 on any."""
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


def register(commands: Commands) -> None:
    """Add ``check``."""
    p = commands.add("check", check, help="check config, bot and flows")
    p.add_argument(
        "flow_files", nargs="*", metavar="FLOWS.yaml", help="also check these flow files"
    )
