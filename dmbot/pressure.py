"""Acknowledgements first: background work gives way while the webhook is busy.

The webhook, the worker and the sender share one event loop, and so one
core. Under a burst (X's replay delivers up to 2,500 events per second), a
worker running flat out would slow every acknowledgement, and X stops
delivering to a webhook that answers slowly. So the webhook counts the
deliveries it is storing, and the worker, before each event, waits for a
moment with none in flight. Under sustained load it still handles one event
per ``interval``, so replies never stop; the rest of the backlog waits in
the durable inbox until the burst is over.
"""

from __future__ import annotations

import asyncio
import contextlib


class Pressure:
    """How many deliveries the webhook is acknowledging right now."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self._in_flight = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._turn = asyncio.Lock()

    @property
    def busy(self) -> bool:
        return self._in_flight > 0

    def enter(self) -> None:
        """A delivery arrived (called by the webhook)."""
        self._in_flight += 1
        self._quiet.clear()

    def leave(self) -> None:
        """A delivery was answered (called by the webhook)."""
        self._in_flight -= 1
        if self._in_flight <= 0:
            self._in_flight = 0
            self._quiet.set()

    async def give_way(self) -> None:
        """Return when the webhook is idle, or after at most ``interval`` (one caller at a time)."""
        if not self.busy:
            return
        async with self._turn:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._quiet.wait()
