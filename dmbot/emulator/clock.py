"""The emulated X's time: its clock, ids that grow with it, and X's timestamp formats.

An emulator's time is its :data:`Clock` (a test may pass one it moves by
hand): timestamps, OAuth's window, rate-limit windows and the snowflake ids,
which carry their time in the high bits, all read it. Real durations
(delivery delays, retries, stream silences) do not.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
"""Seconds since the epoch, like :func:`time.time`."""

TWITTER_EPOCH_MS = 1288834974657
"""Snowflake ids count milliseconds from this instant (X's own epoch)."""


class Snowflakes:
    """Ids shaped like X's snowflakes (time in the high bits), strictly increasing."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> str:
        """A new id, larger than every earlier one."""
        ms = int(self._clock() * 1000)
        candidate = max(ms - TWITTER_EPOCH_MS, 0) << 22
        self._last = max(candidate, self._last + 1)
        return str(self._last)


def iso_timestamp(seconds: float) -> str:
    """``2016-06-02T23:54:02Z``: the format of a v1.1 webhook's ``created_at``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def iso_timestamp_ms(seconds: float) -> str:
    """``2025-01-15T12:00:00.000Z``: v2's format (webhooks, subscriptions, replay jobs)."""
    millis = int(seconds * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
