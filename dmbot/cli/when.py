"""Points in time as people write them on the command line, for ``dmbot replay``.

``2026-12-06T10:00`` (UTC unless an offset is given), X's own ``202612061000``,
``now``, or a duration ago: ``2h``, ``30m``, ``1h30m``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from dmbot.config.rules import parse_duration
from dmbot.errors import ConfigError

__all__ = ["REPLAY_FORMAT", "REPLAY_REACH", "parse_when"]

REPLAY_FORMAT = "%Y%m%d%H%M"
"""How X's replay endpoints write a time (UTC, to the minute)."""

REPLAY_REACH = {
    "enterprise": timedelta(days=5),
    "v2": timedelta(hours=24),
    "activity": timedelta(hours=24),
}
"""How far back X replays, by ``twitter.api`` (premium has no replay)."""

_EXAMPLES = "2026-12-06T10:00 (UTC), 202612061000, now, or a duration ago such as 2h"


def parse_when(text: str, now: datetime, option: str) -> datetime:
    """The UTC time ``text`` names.

    Raises:
        ConfigError: ``text`` is none of the accepted forms, or in the future.
    """
    try:
        when = _read(text.strip(), now, option)
    except OverflowError as exc:  # a duration or an offset past the calendar's reach
        raise ConfigError(
            f"{option} {text!r} is too far from now to be a time X replays; write {_EXAMPLES}"
        ) from exc
    if when is None:
        raise ConfigError(f"{option} {text!r} is not a time; write {_EXAMPLES}")
    if when > now + timedelta(minutes=1):
        raise ConfigError(f"{option} {when:%Y-%m-%d %H:%M} UTC is in the future")
    return min(when, now)


def _read(written: str, now: datetime, option: str) -> datetime | None:
    """The UTC time ``written`` names, or None when it is none of the forms."""
    when: datetime
    if written.lower() == "now":
        return now
    if re.fullmatch(r"\d{12}", written):
        try:
            when = datetime.strptime(written, REPLAY_FORMAT).replace(tzinfo=UTC)
        except ValueError:  # twelve digits, but no date: month 13, day 32, ...
            return None
    elif re.fullmatch(r"[\d.]+\s*(ms|s|m|h|d)([\d.\s]*(ms|s|m|h|d))*", written.lower()):
        when = now - timedelta(seconds=parse_duration(written, where=option))
    else:
        try:
            parsed = datetime.fromisoformat(written.replace("Z", "+00:00"))
        except ValueError:
            return None
        when = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return when.astimezone(UTC)
