"""What ``GET /metrics`` says: Prometheus metrics of one ``dmbot serve`` instance.

Counters and histograms are this instance's own (each instance behind a load
balancer reports what it did); the gauges of what waits in the store (inbox,
outbox) are store-wide and read from the store when Prometheus scrapes, as
are the rate windows and DM budgets the instance's X clients know. The
exposition is prometheus-client's, on a registry of
this instance's own, so several services in one process never mix.

Every metric is named ``dmbot_*``; README "Deploy" lists them with their meaning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from dmbot.store import StoreDepth

__all__ = ["CONTENT_TYPE", "EVENT_OUTCOMES", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The ``content-type`` of the exposition."""

EVENT_OUTCOMES = ("handled", "duplicate", "echo", "ignored", "refused", "failed")
"""What can become of an event (``dmbot_events_total{outcome}``)."""

log = logging.getLogger("dmbot.metrics")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _Limits(Protocol):
    """What the metrics read of an X client's rate limiter (``dmbot.x.ratelimit``)."""

    def windows(self) -> Mapping[tuple[str, str], tuple[int, int | None]]: ...

    def budgets(self) -> Mapping[str, int]: ...


class Metrics:
    """The metrics of one instance, and the scrape that reads the store's gauges.

    Components hold it and count what they do; :meth:`scrape` renders it.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.deliveries = Counter(
            "dmbot_deliveries",
            "Webhook POSTs by the HTTP status dmbot answered (200 stored, 401 bad signature, "
            "400 not a JSON object, 413 too large, 503 the store was unavailable)",
            ["status"],
            registry=r,
        )
        # The webhook counts on its hot path: children bound once, a dict lookup each.
        self.delivery_status = {
            status: self.deliveries.labels(status=str(status))
            for status in (200, 400, 401, 413, 503)
        }
        self.stream_events = Counter(
            "dmbot_stream_events",
            "Envelopes the X Activity API stream brought and dmbot stored",
            registry=r,
        )
        self.events = Counter(
            "dmbot_events",
            "Events handled by the worker, by kind and outcome (handled, duplicate, echo, "
            "ignored, refused, failed)",
            ["kind", "outcome"],
            registry=r,
        )
        self._event_children: dict[tuple[str, str], Counter] = {}
        self.handler_seconds = Histogram(
            "dmbot_handler_seconds",
            "Time the bot's handlers and flows took per event",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.event_to_send_seconds = Histogram(
            "dmbot_event_to_send_seconds",
            "From a reply's commit (its event handled) to X accepting it",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.sends = Counter(
            "dmbot_sends",
            "Actions sent to X by outcome (sent, failed, retry, settled) and X's error code "
            '("" when X gave none)',
            ["outcome", "code"],
            registry=r,
        )
        self.inbox = Gauge(
            "dmbot_inbox_deliveries",
            "Deliveries stored and not yet handled (store-wide)",
            registry=r,
        )
        self.inbox_age = Gauge(
            "dmbot_inbox_oldest_age_seconds",
            "Age of the oldest delivery not yet handled (0 when none; store-wide)",
            registry=r,
        )
        self.store_up = Gauge(
            "dmbot_store_up",
            "1 when the store answered this scrape; 0 when it did not (the store gauges then "
            "keep their last values)",
            registry=r,
        )
        self.outbox = Gauge(
            "dmbot_outbox_pending", "Replies committed and not yet sent (store-wide)", registry=r
        )
        self.rate_remaining = Gauge(
            "dmbot_x_rate_limit_remaining",
            "Calls X said are left in the current window, by endpoint and account",
            ["endpoint", "account"],
            registry=r,
        )
        self.budget_used = Gauge(
            "dmbot_dm_budget_used",
            'DMs counted against the 24-hour budget, by account ("app": all of them)',
            ["account"],
            registry=r,
        )
        self.stream_connected = Gauge(
            "dmbot_stream_connected",
            "1 while this instance holds a connection to the activity stream",
            registry=r,
        )
        self.stream_last_event_age = Gauge(
            "dmbot_stream_last_event_age_seconds",
            "Seconds since the stream last brought an event (delivery: stream)",
            registry=r,
        )
        self.stream_reconnects = Counter(
            "dmbot_stream_reconnects",
            "Times the activity stream dropped and was connected again",
            registry=r,
        )

    # -- what components count -------------------------------------------------------
    def event(self, kind: str, outcome: str) -> None:
        """Count one event the worker finished with."""
        child = self._event_children.get((kind, outcome))
        if child is None:  # labels() takes a lock and builds a key: once per pair
            child = self._event_children[kind, outcome] = self.events.labels(kind, outcome)
        child.inc()

    def handled(self, kind: str, outcome: str) -> None:
        """Count one event by what the worker's outcome line says of it."""
        if outcome.startswith(("handled", "duplicate", "echo", "failed")):
            self.event(kind, outcome.split(" ", 1)[0])
        else:
            self.event(kind, "ignored")  # no handler, the owner's handoff, loops, other accounts

    def send(self, outcome: str, code: int | None = None) -> None:
        """Count one send outcome."""
        self.sends.labels(outcome=outcome, code="" if code is None else str(code)).inc()

    # -- the scrape --------------------------------------------------------------------
    async def scrape(
        self,
        depth: Callable[[], Awaitable[StoreDepth]],
        limits: Mapping[str, _Limits],
        stream: Callable[[], tuple[bool, float | None]] | None = None,
        now: Callable[[], float] = time.time,
    ) -> bytes:
        """Read the gauges (the store's depth, X's windows, the stream) and render everything.

        Args:
            depth: reads what waits in the store.
            limits: each account's rate limiter.
            stream: (connected, when the last event came) of the activity stream, if used.
            now: the time source.
        """
        try:
            found = await depth()
        except Exception as exc:
            # A scrape must still answer: the counters matter most while the store is down.
            log.warning("/metrics: the store did not say what waits in it (%s)", exc)
            self.store_up.set(0)
        else:
            self.store_up.set(1)
            self.inbox.set(found.inbox)
            oldest = found.oldest_received_at
            self.inbox_age.set(max(0.0, now() - oldest) if oldest is not None else 0.0)
            self.outbox.set(found.outbox)
        seen: set[int] = set()
        for limiter in limits.values():
            if id(limiter) in seen:
                continue  # one limiter is shared by every account of the app
            seen.add(id(limiter))
            for (account, endpoint), (remaining, _) in limiter.windows().items():
                self.rate_remaining.labels(endpoint=endpoint, account=account or "app").set(
                    remaining
                )
            for account, used in limiter.budgets().items():
                self.budget_used.labels(account=account).set(used)
        if stream is not None:
            connected, last = stream()
            self.stream_connected.set(1 if connected else 0)
            self.stream_last_event_age.set(max(0.0, now() - last) if last is not None else 0.0)
        return generate_latest(self.registry)
