"""The X Activity API stream: deliveries without a public URL (``delivery: stream``).

``GET /2/activity/stream`` (the app's bearer token) is a response that never
ends: one XAA envelope per line, blank keep-alive lines between them. A bot
holding it needs no public https URL, TLS certificate, tunnel or CRC, so it
runs on a laptop, behind NAT, in a container without ingress.

:class:`ActivityStream` holds the connection and appends every envelope to
the same durable inbox a webhook delivery goes to: after the inbox nothing
differs (claims, order, outbox). Around that:

- **Reconnects** with backoff and jitter when the stream drops, when X
  answers 429 or 5xx, or when no byte arrived for ``silence`` seconds (a
  connection that silent is dead, even if its socket does not know it yet).
- **Backfill**: each connection asks for ``backfill_minutes`` covering the
  time since the stream was last heard (an event or a keep-alive, by this
  instance or, kept in the store, by the previous holder), at most X's 5, so
  a gap of up to five minutes loses nothing; what comes twice is dropped by
  the claims. A longer gap is logged as a warning naming the window and how
  to recover it.
- **One holder**: X allows 2 connections per app. With several instances on
  one shared store, exactly one holds the stream (a lease, renewed while
  held); the others work the inbox and take over when the holder dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx

from dmbot.config.sections import StreamSettings
from dmbot.edge.partition import conversation_hint
from dmbot.edge.payload import json_object
from dmbot.errors import RateLimited, StorageError, XApiError
from dmbot.metrics import Metrics
from dmbot.store import InboxItem, Store
from dmbot.types import JSONObject
from dmbot.x.errors import error_from_response

__all__ = ["STREAM_PATH", "ActivityStream"]

log = logging.getLogger("dmbot.edge.stream")

STREAM_PATH = "/2/activity/stream"
LEASE = "activity-stream"
HEARD_FACT = "stream_heard"
"""The store fact holding when the stream last brought a byte (shared by instances)."""
HEARD_SAVE_EVERY = 5.0
"""Seconds between writes of that fact while the stream is quiet."""
MAX_BACKFILL_MINUTES = 5
"""X replays at most the last 5 minutes to a new connection."""


class _Refused(Exception):
    """X answered the connection with an error; ``wait`` is how long to back off at least."""

    def __init__(self, error: XApiError, wait: float) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ActivityStream:
    """Holds the activity stream and stores what it brings.

    Args:
        store: where envelopes are appended (the inbox).
        api_url: X's base URL.
        token: obtains the app's bearer token.
        holder: this instance's id (the lease holder's name).
        on_stored: called with the inbox row and the parsed envelope of each one stored.
        options: the ``stream:`` section of config.yaml (timings); its defaults when None.
        transport: the httpx transport to X (a real socket: streaming needs one).
        clock: the time source.
        rng: a source of floats in [0, 1) for the jitter.
        metrics: counts stored envelopes and reconnects.
    """

    def __init__(
        self,
        store: Store,
        *,
        api_url: str,
        token: Callable[[], Awaitable[str]],
        holder: str,
        on_stored: Callable[[InboxItem, JSONObject], None] | None = None,
        options: StreamSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.holder = holder
        self.on_stored = on_stored
        self.options = options or StreamSettings()
        self._transport = transport
        self._clock = clock
        self._rng = rng
        self.metrics = metrics
        self.connected_since: float | None = None
        self.last_event: float | None = None
        """When the last envelope was stored by this process."""
        self.heard: float | None = None
        """When the stream last brought anything, events and keep-alives alike: where a
        reconnect's backfill starts (this process's, or the last holder's, from the store)."""
        self.last_error = ""
        self.holding = False
        self._saved = 0.0
        self._lost = False

    def status(self) -> dict[str, object]:
        """What ``/healthz`` reports about the stream."""
        role = "holder" if self.holding else "standby (another instance holds the stream)"
        return {
            "connected": self.connected_since is not None,
            "since": _iso(self.connected_since),
            "last_event": _iso(self.last_event),
            "role": role if self.store.shared else "holder",
            "last_error": self.last_error or None,
        }

    async def run(self) -> None:
        """Hold the stream until cancelled: take the lease, connect, reconnect."""
        if self.heard is None:
            self.heard = await self._fact()
        delay = 0.0
        timeout = httpx.Timeout(10.0, read=self.options.silence)
        async with httpx.AsyncClient(
            base_url=self.api_url, transport=self._transport, timeout=timeout
        ) as http:
            try:
                while True:
                    if not await self._hold_lease():
                        await asyncio.sleep(self.options.lease_ttl / 3)
                        continue
                    if delay:
                        await self._sleep_holding(delay)
                    connection = asyncio.create_task(self._connection(http, delay))
                    keeper = asyncio.create_task(self._keep_lease(connection))
                    try:
                        delay = await connection
                    except _Refused as refused:
                        self.last_error = str(refused)
                        delay = max(refused.wait, self._next(delay, 5.0))
                        log.warning("%s; connecting again in %.0f s", refused, delay)
                    except asyncio.CancelledError:
                        if not self._lost:
                            raise  # this task is being stopped
                        self._lost = False
                        delay = 0.0
                    finally:
                        keeper.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await keeper
            finally:
                self.connected_since = None
                if self.holding:
                    with contextlib.suppress(StorageError):
                        await self.store.release(LEASE, self.holder)
                    self.holding = False

    # -- one connection -----------------------------------------------------------------
    async def _connection(self, http: httpx.AsyncClient, delay: float) -> float:
        """Connect, store lines until the stream ends; the delay before the next attempt."""
        params = {}
        backfill = self._backfill_minutes()
        if backfill:
            params["backfill_minutes"] = str(backfill)
        headers = {"Authorization": f"Bearer {await self.token()}"}
        received = False
        try:
            async with http.stream("GET", STREAM_PATH, params=params, headers=headers) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise self._refusal(response)
                self.connected_since = self._clock()
                self.last_error = ""
                log.info(
                    "activity stream connected%s",
                    f" (backfill {backfill} min)" if backfill else "",
                )
                async for line in response.aiter_lines():
                    await self._heard()
                    if line.strip():
                        await self._store(line.encode("utf-8", "surrogatepass"))
                        received = True
            self.last_error = "X ended the stream"
        except httpx.ReadTimeout:
            self.last_error = f"no byte for {self.options.silence:g} s: the connection is dead"
        except httpx.HTTPError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        finally:
            up = self.connected_since
            self.connected_since = None
        lasted = self._clock() - up if up is not None else 0.0
        # A connection that worked a while starts the backoff over.
        base = 0.0 if received or lasted >= 30.0 else delay
        wait = self._next(base, self.options.backoff_base)
        log.warning(
            "activity stream dropped (%s); connecting again in %.1f s", self.last_error, wait
        )
        if self.metrics is not None:
            self.metrics.stream_reconnects.inc()
        return wait

    def _refusal(self, response: httpx.Response) -> _Refused:
        error = error_from_response(response, endpoint=f"GET {STREAM_PATH}", clock=self._clock)
        if response.status_code == 429:
            reset = error.reset_at if isinstance(error, RateLimited) else 0.0
            wait = max(60.0, reset - self._clock())
            return _Refused(error, min(wait, 15 * 60.0))
        return _Refused(error, 5.0)

    async def _store(self, body: bytes) -> None:
        decoded = json_object(body)
        if decoded is None:
            log.warning("activity stream sent a line that is not a JSON object; skipped")
            return
        if "data" not in decoded and "errors" in decoded:
            # X's notice before it closes the stream (an operational disconnect): not an event.
            log.warning("X says about the activity stream: %s", json.dumps(decoded["errors"])[:500])
            return
        partition = conversation_hint(decoded) if self.store.shared else ""
        now = self._clock()
        while True:
            try:
                inbox_id = await self.store.append(body, now, partition)
                break
            except StorageError as exc:
                # Hold the line, and with it the stream: X keeps what we do not read.
                log.error("cannot store a stream event, retrying in 1 s: %s", exc)
                await asyncio.sleep(1.0)
        self.last_event = now
        if self.metrics is not None:
            self.metrics.stream_events.inc()
        if self.on_stored is not None:
            self.on_stored(InboxItem(inbox_id, body, now, partition), decoded)

    async def _heard(self) -> None:
        """Note that the stream is alive now; tell the store every few seconds."""
        now = self._clock()
        self.heard = now
        if now - self._saved >= HEARD_SAVE_EVERY:
            self._saved = now
            with contextlib.suppress(StorageError):
                await self.store.set_fact(HEARD_FACT, repr(now))

    # -- backfill, backoff, lease -------------------------------------------------------
    def _backfill_minutes(self) -> int:
        if self.heard is None:
            return 0  # never held before: nothing was missed
        gap = self._clock() - self.heard
        minutes = max(1, math.ceil(gap / 60.0))
        if minutes > MAX_BACKFILL_MINUTES:
            start = _iso(self.heard)
            lost_until = _iso(self._clock() - MAX_BACKFILL_MINUTES * 60)
            log.warning(
                "the activity stream was not held for %.0f minutes; X backfills %d, so events "
                "from %s to %s may be missing. Subscriptions bound to a webhook can be "
                "recovered with `dmbot replay --from %s --to %s`; stream-only ones cannot",
                gap / 60,
                MAX_BACKFILL_MINUTES,
                start,
                lost_until,
                start,
                lost_until,
            )
        return min(minutes, MAX_BACKFILL_MINUTES)

    def _next(self, delay: float, floor: float) -> float:
        """Double ``delay`` (at least ``floor``), capped, with jitter so instances spread out."""
        grown = min(self.options.backoff_max, max(floor, delay * 2))
        return grown * (0.5 + 0.5 * self._rng())

    async def _hold_lease(self) -> bool:
        try:
            holding = await self.store.lease(LEASE, self.holder, self.options.lease_ttl)
        except StorageError as exc:
            log.error("cannot reach the store for the stream's lease: %s", exc)
            holding = False
        if holding and not self.holding:
            log.info("this instance holds the activity stream")
            # Taking over from another instance: its last word on the stream is in the store.
            shared = await self._fact()
            if shared is not None and (self.heard is None or shared > self.heard):
                self.heard = shared
        self.holding = holding
        return holding

    async def _keep_lease(self, connection: asyncio.Task[float]) -> None:
        """Renew the lease while ``connection`` runs; drop the connection if it is lost."""
        while not connection.done():
            await asyncio.sleep(self.options.lease_ttl / 3)
            if not await self._hold_lease():
                log.warning("lost the activity stream's lease: another instance holds it now")
                self._lost = True
                connection.cancel()
                return

    async def _sleep_holding(self, delay: float) -> None:
        """Wait ``delay`` seconds without letting the lease lapse."""
        end = self._clock() + delay
        while (left := end - self._clock()) > 0:
            await asyncio.sleep(min(left, self.options.lease_ttl / 3))
            await self._hold_lease()

    async def _fact(self) -> float | None:
        try:
            value = await self.store.get_fact(HEARD_FACT)
        except StorageError:
            return None
        try:
            return float(value) if value else None
        except ValueError:
            return None
