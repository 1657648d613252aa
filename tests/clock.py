"""A fake Unix time that tests move by hand, shared by the emulator, clients and engines."""

from __future__ import annotations

import time


class Clock:
    """Starts at the real time plus ``ahead`` seconds and moves only when told.

    ``ahead``: where the store stamps rows with the real clock, starting a little
    ahead makes them due (or out of a reorder window) at once; OAuth accepts a few
    seconds of skew, so a clock shared with the emulator stays near the real time.
    """

    def __init__(self, ahead: float = 0.0) -> None:
        self.now = time.time() + ahead

    def __call__(self) -> float:
        return self.now
