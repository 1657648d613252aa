"""The X Activity API stream on the emulated side: its open connections, and how it misbehaves.

Every XAA envelope the fan-out records goes to every open connection, from
stream-only subscriptions and webhook-bound ones alike (X: "with one, to
both"), as one JSON object per line ending in ``\\r\\n``; an idle connection
gets a bare ``\\r\\n`` keep-alive right after connecting and then every
``realism.stream_keepalive`` seconds. A new connection first gets the
envelopes of its ``backfill_minutes`` from the emulator's record, in order.
The ``duplicates`` and ``delay`` realism switches apply as they do to
webhook deliveries. X allows two connections per app.

Tests drop, refuse and silence it (:class:`ActivityStream`); the HTTP
endpoint is :mod:`dmbot.emulator.v2.stream`'s.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dmbot.emulator.activity import ActivityEvent
from dmbot.emulator.faults import window_of
from dmbot.emulator.problems import PROBLEMS, Problem, plain
from dmbot.types import JSONObject

if TYPE_CHECKING:
    from dmbot.emulator.host import Host

KEEPALIVE = b"\r\n"
"""What an idle stream sends to show it is alive."""
MAX_CONNECTIONS = 2
"""Stream connections one app may hold at once."""
MAX_BACKFILL_MINUTES = 5
"""The longest backfill X serves to a new connection."""
REFUSAL_STATUSES = (503, 429)
STREAMING_CONNECTION = PROBLEMS + "streaming-connection"
OPERATIONAL_DISCONNECT = PROBLEMS + "operational-disconnect"


def line_of(body: JSONObject) -> bytes:
    """One line of the stream: the JSON as a webhook delivery's body has it, then ``\\r\\n``."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + KEEPALIVE


DISCONNECT_NOTICE = (
    b'{"errors":[{"title":"operational-disconnect","disconnect_type":"OperationalDisconnect",'
    b'"detail":"This stream has been disconnected for operational reasons.",'
    b'"type":"' + OPERATIONAL_DISCONNECT.encode() + b'"}]}' + KEEPALIVE
)
"""The line X sends before it ends a stream on purpose (an operational disconnect)."""


@dataclass(frozen=True)
class StreamWindow:
    """What one connection asked for, in the emulator's clock (seconds since the epoch).

    Attributes:
        backfill_minutes: the minutes of the record replayed on connect (0 to 5).
        start_time: nothing earlier is sent; None for no bound.
        end_time: nothing later is sent, and the response ends then; None for no bound.
    """

    backfill_minutes: int = 0
    start_time: float | None = None
    end_time: float | None = None

    def admits(self, at: float) -> bool:
        """Whether an event of time ``at`` may be sent on this connection."""
        after_start = self.start_time is None or at >= self.start_time
        return after_start and (self.end_time is None or at <= self.end_time)

    def replays(self, at: float, now: float) -> bool:
        """Whether a recorded event of time ``at`` belongs to the backfill at ``now``."""
        return at >= now - self.backfill_minutes * 60 and self.admits(at)


class StreamConnection:
    """One open connection: the lines waiting to go out, and whether it is silenced or ended.

    Args:
        stream: the stream it belongs to (its keep-alive interval).
        window: what the connection asked for.
    """

    def __init__(self, stream: ActivityStream, window: StreamWindow) -> None:
        self._stream = stream
        self.window = window
        self._pending: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._silent_until = 0.0
        self._ended = False
        self._deadline: asyncio.TimerHandle | None = None

    def push(self, line: bytes) -> None:
        """Queue ``line``; lost if the connection is silenced (as on a dead one) or ended."""
        if self._ended or self._silenced():
            return
        self._pending.append(line)
        self._wake.set()

    def silence(self, until: float) -> None:
        """Send nothing until ``until`` (:func:`time.monotonic`); what is queued is lost."""
        self._silent_until = max(self._silent_until, until)
        self._pending.clear()
        self._wake.set()

    def resume(self) -> None:
        """End a silence now."""
        self._silent_until = 0.0
        self._wake.set()

    def end(self, last: bytes | None = None) -> None:
        """End the response once ``last`` (if any) and what is queued are sent."""
        if self._ended:
            return
        self._ended = True
        self._silent_until = 0.0
        if last is not None:
            self._pending.append(last)
        if self._deadline is not None:
            self._deadline.cancel()
        self._wake.set()

    def end_at(self, delay: float) -> None:
        """End the response ``delay`` seconds from now (its ``end_time``)."""
        self._deadline = asyncio.get_running_loop().call_later(max(delay, 0.0), self.end)

    def poke(self) -> None:
        """Look at the keep-alive interval again (it changed)."""
        self._wake.set()

    async def lines(self) -> AsyncIterator[bytes]:
        """What to send, as it comes: a keep-alive at once, queued lines, keep-alives when idle."""
        yield KEEPALIVE
        last = time.monotonic()
        while True:
            if self._pending:
                yield self._pending.popleft()
                last = time.monotonic()
                continue
            if self._ended:
                return
            now = time.monotonic()
            if self._silenced():
                await self._sleep(self._silent_until - now)
                continue
            # A keep-alive overdue when a silence ends goes out at once: the stream is back.
            due = last + self._stream.keepalive() - now
            if due <= 0:
                yield KEEPALIVE
                last = time.monotonic()
                continue
            await self._sleep(due)

    def _silenced(self) -> bool:
        return self._silent_until > time.monotonic()

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when something is pushed, ended or changed."""
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass
        # Cleared after waking: the caller looks at the state again before waiting more.
        self._wake.clear()


class ActivityStream:
    """The activity stream of one emulator: its connections, X's limit, and the controls.

    Durations are real time passing (:func:`time.monotonic`); event times and the
    ``start_time``/``end_time`` bounds are the emulator's clock, as the record's.

    Args:
        emu: the emulator (its clock, realism switches and rate-limit windows).
        log: the record of every XAA event (``emu.activity_log``), which backfill reads.
    """

    def __init__(self, emu: Host, log: list[ActivityEvent]) -> None:
        self._emu = emu
        self._log = log
        self._open: list[StreamConnection] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._refusing_until = 0.0
        self._refusal_status = 503
        self._changed = asyncio.Event()
        self.connects = 0
        """Connections accepted so far (a test waits for it to grow to see a reconnect)."""

    @property
    def open_count(self) -> int:
        """How many connections are open now."""
        return len(self._open)

    def keepalive(self) -> float:
        """Seconds between keep-alives on an idle connection (``realism.stream_keepalive``)."""
        # A floor: 0 would send keep-alives as fast as the loop turns.
        return max(self._emu.realism.stream_keepalive, 0.01)

    # connecting

    def connect(self, window: StreamWindow) -> StreamConnection:
        """Open a connection: its backfill queued, then every live event.

        The backfill is read and the connection registered in one step, so no
        event falls between them or comes twice.

        Raises:
            Problem: 503 or 429 while :meth:`refuse` holds; 429 when
                :data:`MAX_CONNECTIONS` are open.
        """
        self._admit()
        connection = StreamConnection(self, window)
        now = self._emu.clock()
        if window.backfill_minutes:
            for event in self._log:
                if window.replays(event.at, now):
                    connection.push(line_of(event.envelope))
        if window.end_time is not None:
            connection.end_at(window.end_time - now)
        self._open.append(connection)
        self.connects += 1
        self._signal()
        return connection

    def release(self, connection: StreamConnection) -> None:
        """Forget a connection whose response is over (ended, or the client went away)."""
        connection.end()
        if connection in self._open:
            self._open.remove(connection)
            self._signal()

    def _admit(self) -> None:
        left = self._refusing_until - time.monotonic()
        if left > 0:
            raise self._refusal(left)
        if len(self._open) >= MAX_CONNECTIONS:
            raise Problem(
                429,
                "ConnectionException",
                f"This stream is currently at the maximum allowed connection limit: "
                f"{MAX_CONNECTIONS} per app are open. Close one (or wait until X notices "
                "it is gone) before connecting again.",
                type=STREAMING_CONNECTION,
                fields={"connection_issue": "TooManyConnections"},
            )

    def _refusal(self, left: float) -> Problem:
        wait = math.ceil(left)
        detail = (
            f"The stream refuses new connections for another {wait} s (the emulator's "
            "refuse control); connect again after that, backing off between attempts."
        )
        if self._refusal_status == 429:
            limit, _ = window_of("activity_stream")
            headers = {
                "x-rate-limit-limit": str(limit),
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(math.ceil(self._emu.clock() + left)),
            }
            return plain(429, detail, headers=headers)
        return plain(503, detail, headers={"retry-after": str(wait)})

    # events

    def publish(self, event: ActivityEvent) -> None:
        """Send a recorded event to every open connection that admits it.

        ``realism.delay`` holds it back as it holds webhook deliveries;
        ``realism.duplicates`` sends the same line twice.
        """
        realism = self._emu.realism
        line = line_of(event.envelope)
        copies = 2 if realism.duplicates else 1
        if realism.delay <= 0:
            self._broadcast(event.at, line, copies)
            return
        handle: asyncio.TimerHandle

        def send() -> None:
            self._timers.discard(handle)
            self._broadcast(event.at, line, copies)

        handle = asyncio.get_running_loop().call_later(realism.delay, send)
        self._timers.add(handle)

    def _broadcast(self, at: float, line: bytes, copies: int) -> None:
        for connection in self._open:
            if connection.window.admits(at):
                for _ in range(copies):
                    connection.push(line)

    # misbehaving

    def drop(self, *, notice: bool = False) -> int:
        """End every open connection now; how many there were.

        Args:
            notice: send X's operational-disconnect line (``{"errors": [...]}``) first.
        """
        dropped = list(self._open)
        for connection in dropped:
            connection.end(DISCONNECT_NOTICE if notice else None)
        self._open.clear()
        if dropped:
            self._signal()
        return len(dropped)

    def refuse(self, seconds: float, *, status: int = 503) -> None:
        """Answer new connections ``status`` (503 or 429) for ``seconds``; 0 stops refusing.

        Raises:
            ValueError: another status, or negative seconds.
        """
        if status not in REFUSAL_STATUSES:
            raise ValueError(f"A refused stream answers 503 or 429, not {status}.")
        if seconds < 0:
            raise ValueError(f"Refuse for 0 seconds or more, not {seconds:g}.")
        self._refusal_status = status
        self._refusing_until = time.monotonic() + seconds

    def silence(self, seconds: float) -> int:
        """Send nothing on the open connections for ``seconds``, not even keep-alives.

        What happens meanwhile is lost on them, as on a dead connection; a new
        connection is served normally (with backfill, it gets what was lost).

        Returns:
            How many connections were silenced.

        Raises:
            ValueError: negative seconds.
        """
        if seconds < 0:
            raise ValueError(f"Silence the stream for 0 seconds or more, not {seconds:g}.")
        until = time.monotonic() + seconds
        for connection in self._open:
            connection.silence(until)
        return len(self._open)

    def state(self) -> JSONObject:
        """The stream as the admin endpoint shows it."""
        return {
            "connections": len(self._open),
            "connects": self.connects,
            "max_connections": MAX_CONNECTIONS,
            "keepalive": self.keepalive(),
            "refusing_for": round(max(self._refusing_until - time.monotonic(), 0.0), 3),
            "refusal_status": self._refusal_status,
        }

    # waiting and housekeeping

    async def wait_for_connections(self, n: int, timeout: float) -> int:  # noqa: ASYNC109
        """Wait until at least ``n`` connections are open; how many are.

        Raises:
            TimeoutError: fewer were open after ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                while len(self._open) < n:
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"Waited {timeout:g} s for {n} activity stream connection(s), "
                f"but {len(self._open)} are open ({self.connects} accepted in all)."
            ) from None
        return len(self._open)

    def poke(self) -> None:
        """Make every connection look at the keep-alive interval again."""
        for connection in self._open:
            connection.poke()

    def reset(self) -> None:
        """Stop refusing, end silences, forget delayed events; connections stay open."""
        self._refusing_until = 0.0
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for connection in self._open:
            connection.resume()

    def close(self) -> None:
        """End every connection and forget delayed events (the server is shutting down)."""
        self.drop()
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    def _signal(self) -> None:
        # A fresh event per change: waiters hold the one that was current.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
