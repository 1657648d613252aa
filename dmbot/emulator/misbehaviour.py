"""How the emulated X misbehaves on request: realism switches, held deliveries, stream trouble.

:class:`Misbehaviour` is a part of :class:`~dmbot.emulator.Emulator` (its
methods are the emulator's): the delivery realism switches, the deliveries
``out_of_order`` holds back, and the activity stream's drops, refusals and
silences with which a test checks that a consumer reconnects, backs off and
notices a dead connection. Injected API faults are ``emu.faults``
(:mod:`dmbot.emulator.faults`).

::

    emu.drop_streams()                          # the consumer's connection ends
    await emu.wait_for_stream_connections(1)    # ... and it has connected again
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dmbot.emulator.delivery import Deliverer, HeldDelivery
from dmbot.emulator.realism import Realism
from dmbot.emulator.stream import ActivityStream


class Misbehaviour:
    """The emulator's controls of X's bad habits (mixed into :class:`~dmbot.emulator.Emulator`)."""

    _realism: Realism
    _deliverer: Deliverer
    stream: ActivityStream

    @property
    def realism(self) -> Realism:
        """The delivery realism switches (mutable, read at each delivery)."""
        return self._realism

    @realism.setter
    def realism(self, value: Realism) -> None:
        self._realism = value
        self._deliverer.realism = value
        self.stream.poke()
        if not value.out_of_order:
            self._deliverer.release_held()

    def set_realism(self, values: Mapping[str, Any]) -> Realism:
        """Change realism switches from a JSON object; switching ``out_of_order`` off
        sends what it held back at once.

        Raises:
            ValueError: an unknown switch or a value of the wrong type.
        """
        self._realism.update(values)
        self.stream.poke()
        if not self._realism.out_of_order:
            self._deliverer.release_held()
        return self._realism

    @property
    def held(self) -> list[HeldDelivery]:
        """Deliveries the ``out_of_order`` switch holds back now (at most ``realism.hold`` s)."""
        return self._deliverer.held

    # the activity stream (its rules: :class:`~dmbot.emulator.stream.ActivityStream`)

    @property
    def stream_connections(self) -> int:
        """How many activity stream connections are open now."""
        return self.stream.open_count

    async def wait_for_stream_connections(self, n: int = 1, timeout: float = 5.0) -> int:  # noqa: ASYNC109
        """Wait until at least ``n`` stream connections are open (a consumer reconnected).

        Raises:
            TimeoutError: fewer were open in time; the message says how many.
        """
        return await self.stream.wait_for_connections(n, timeout)

    def drop_streams(self, *, notice: bool = False) -> int:
        """End every open stream connection now; how many. ``notice`` sends X's
        operational-disconnect line (``{"errors": [...]}``) first."""
        return self.stream.drop(notice=notice)

    def refuse_streams(self, seconds: float, *, status: int = 503) -> None:
        """Answer new stream connections ``status`` (503, or 429 with ``x-rate-limit-reset``)
        for ``seconds``; 0 stops refusing.

        Raises:
            ValueError: another status, or negative seconds.
        """
        self.stream.refuse(seconds, status=status)

    def silence_streams(self, seconds: float) -> int:
        """Send nothing, not even keep-alives, on the open stream connections for ``seconds``
        (what happens meanwhile is lost on them); how many were silenced.

        Raises:
            ValueError: negative seconds.
        """
        return self.stream.silence(seconds)

    def close_streams(self) -> None:
        """End every stream connection: call it as a server starts shutting down
        (uvicorn waits for open responses)."""
        self.stream.close()
