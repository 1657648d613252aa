"""``dmbot replay --from WHEN --to WHEN``: have X deliver a past window again.

Dedupe makes it safe: dmbot drops the events it has handled already. How
people write the times is :mod:`dmbot.cli.when`'s.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from dmbot.cli.client import Transport, acting, x_command
from dmbot.cli.command import Commands
from dmbot.cli.when import REPLAY_FORMAT, REPLAY_REACH, parse_when
from dmbot.config.settings import Settings
from dmbot.errors import ConfigError

__all__ = ["register", "replay"]


@x_command
async def replay(args: argparse.Namespace, settings: Settings, transport: Transport) -> int:
    """Ask X for the window ``--from`` to ``--to`` again, within the reach of ``twitter.api``."""
    now = datetime.now(UTC)
    start, end = parse_when(args.from_, now, "--from"), parse_when(args.to, now, "--to")
    reach = REPLAY_REACH.get(settings.twitter.api)
    if reach is not None and start < now - reach:
        days = reach.total_seconds() / 86400
        span = f"{days:g} days" if days >= 1 else f"{reach.total_seconds() / 3600:g} hours"
        raise ConfigError(
            f"--from {start:%Y-%m-%d %H:%M} UTC is too far back: X replays the last {span} "
            f"on twitter.api {settings.twitter.api}"
        )
    if not start < end:
        raise ConfigError(
            f"--from ({start:%Y-%m-%d %H:%M}) must come before --to ({end:%Y-%m-%d %H:%M})"
        )
    async with acting(settings, transport) as client:
        job = await client.replay(
            start.strftime(REPLAY_FORMAT), end.strftime(REPLAY_FORMAT), args.webhook_id
        )
    print(
        f"X accepted replay job {job.job_id}: the events of {start:%Y-%m-%d %H:%M} to "
        f"{end:%Y-%m-%d %H:%M} UTC come through the webhook again, and dmbot drops "
        "those it has handled already."
    )
    return 0


def register(commands: Commands) -> None:
    """Add ``replay``."""
    p = commands.add(
        "replay",
        replay,
        help="have X deliver a past window again (dedupe drops what was handled)",
        description=(
            "Ask X to deliver the events of a past window again through the webhook: "
            "v2 and activity webhooks reach back 24 hours, enterprise 5 days. Times are "
            "UTC: 2026-12-06T10:00, 202612061000, or a duration ago such as 2h or 30m."
        ),
    )
    p.add_argument("--from", dest="from_", required=True, metavar="WHEN", help="window start")
    p.add_argument("--to", default="now", metavar="WHEN", help="window end (default: now)")
    p.add_argument("--webhook-id", help="the webhook (default: the only one)")
