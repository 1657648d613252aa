"""Acknowledgements first: background work gives way while the webhook is busy.

The webhook, the worker and the sender share one event loop, and so one
core. Under a burst (X's replay delivers up to 2,500 events per second), a
worker running flat out would slow every acknowledgement, and X stops
delivering to a webhook that answers slowly. So the webhook counts the
deliveries it is storing, and the worker and the sender, before each event
or send, wait until none is in flight and none arrived for ``quiet``
seconds. Under sustained load they still get one turn per ``interval``, so
replies never stop; the rest of the backlog waits in the durable inbox until
the burst is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

TIMER_GRAIN = 0.001
"""The finest wait a timer gives. uvloop's timers (libuv's) count whole
milliseconds and round a delay down: a task that sleeps exactly until a deadline
wakes up to this much before it, and sleeping the rest spins through zero-delay
timers until it passes (40 wake-ups per event at 200 events/s under cProfile)."""


class Pressure:
    """How busy the webhook is right now.

    Args:
        interval: under sustained load, background work still gets one turn
            this often.
        quiet: how long after the last delivery arrived the webhook counts as idle.
    """

    def __init__(self, interval: float = 0.01, quiet: float = 0.002) -> None:
        self.interval = interval
        self.quiet = quiet
        self._in_flight = 0
        self._last_arrival = 0.0
        self._idle = asyncio.Event()
        self._idle.set()
        self._turn = asyncio.Lock()

    @property
    def busy(self) -> bool:
        return self._in_flight > 0 or time.monotonic() - self._last_arrival < self.quiet

    def enter(self) -> None:
        """A delivery arrived (called by the webhook)."""
        self._in_flight += 1
        self._last_arrival = time.monotonic()
        self._idle.clear()

    def leave(self) -> None:
        """A delivery was answered (called by the webhook)."""
        self._in_flight -= 1
        if self._in_flight <= 0:
            self._in_flight = 0
            self._idle.set()

    async def give_way(self) -> None:
        """Return when the webhook is idle, or after at most ``interval`` (one caller at a time)."""
        if not self.busy:
            return
        async with self._turn:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    while self.busy:
                        if self._in_flight:
                            await self._idle.wait()
                        else:
                            left = self.quiet - (time.monotonic() - self._last_arrival)
                            if left < TIMER_GRAIN:
                                return  # as quiet as a timer can tell
                            await asyncio.sleep(left)
