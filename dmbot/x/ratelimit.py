"""X's limits, kept on our side so X rarely has to say 429.

Two kinds of limit:

- **Endpoint windows**: every answer carries ``x-rate-limit-remaining`` and
  ``x-rate-limit-reset`` for the (account, endpoint) pair. When remaining
  reaches 0, or X says 429, further calls wait for the reset, or raise
  :class:`~dmbot.errors.RateLimited` so the sender can reschedule instead.
- **Direct Message budgets**: 1,000 sends per account and 15,000 per app over
  a sliding 24 hours. Up to 5 replies to each received message, within 24
  hours, do not count; the worker reports received messages with
  :meth:`RateLimiter.received`. The budget is only watched and logged (at 80%
  and 100%): X's own count is the one that decides.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from dmbot.errors import RateLimited

__all__ = ["Budget", "RateLimiter", "Window"]

log = logging.getLogger("dmbot.x.ratelimit")

DAY = 86400.0
WARN_AT = 0.8


@dataclass(frozen=True, slots=True)
class Window:
    """What X last said about one (account, endpoint) rate window."""

    remaining: int
    reset_at: float
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Budget:
    """DM sends counted over the last 24 hours."""

    account_sent: int
    account_limit: int
    app_sent: int
    app_limit: int


SWEEP_EVERY = 600.0
"""Seconds between sweeps of expired free-reply grants."""


@dataclass(slots=True)
class _Grant:
    """Replies that do not count, granted by one received message."""

    expires_at: float
    left: int


class RateLimiter:
    """Tracks X's rate windows and DM budgets for every account of one app.

    Share one instance between the clients of an app so the app-wide budget
    adds up.

    Args:
        clock: the time source (Unix seconds); tests pass a fake one.
        sleep: how to wait; tests may pass a fake one that moves the clock.
        account_daily: DM sends per account per 24 h.
        app_daily: DM sends per app per 24 h.
        free_replies: replies per received message that do not count.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        account_daily: int = 1000,
        app_daily: int = 15000,
        free_replies: int = 5,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self.account_daily = account_daily
        self.app_daily = app_daily
        self.free_replies = free_replies
        self._windows: dict[tuple[str, str], Window] = {}
        self._account_sends: dict[str, deque[float]] = {}
        self._app_sends: deque[float] = deque()
        self._grants: dict[tuple[str, str], deque[_Grant]] = {}
        self._swept = self._clock()
        self._warned: dict[str, float] = {}

    # -- endpoint windows ----------------------------------------------------
    def observe(self, account: str, endpoint: str, status: int, headers: Mapping[str, str]) -> None:
        """Record the rate-limit headers (and a 429) of one answer from X."""
        reset_at = _number(headers.get("x-rate-limit-reset"))
        remaining = _number(headers.get("x-rate-limit-remaining"))
        limit = _number(headers.get("x-rate-limit-limit"))
        key = (account, endpoint)
        if status == 429:
            if reset_at is None:
                reset_at = self._clock() + 15 * 60.0
            self._windows[key] = Window(0, reset_at, int(limit) if limit is not None else None)
        elif remaining is not None and reset_at is not None:
            self._windows[key] = Window(
                int(remaining), reset_at, int(limit) if limit is not None else None
            )

    def window(self, account: str, endpoint: str) -> Window | None:
        """The last known window of (account, endpoint), if X sent one."""
        return self._windows.get((account, endpoint))

    def windows(self) -> dict[tuple[str, str], tuple[int, int | None]]:
        """(account, endpoint) -> (calls left, the window's size) as X last said."""
        return {key: (w.remaining, w.limit) for key, w in self._windows.items()}

    def budgets(self) -> dict[str, int]:
        """DMs counted in the last 24 hours, by account, and for the whole app as ``app``."""
        used = {account: self.budget(account).account_sent for account in self._account_sends}
        used["app"] = len(self._app_sends)
        return used

    def blocked_until(self, account: str, endpoint: str) -> float | None:
        """When (account, endpoint) may be called again, or None if it may now."""
        window = self._windows.get((account, endpoint))
        if window is None or window.remaining > 0:
            return None
        if window.reset_at <= self._clock():
            del self._windows[(account, endpoint)]
            return None
        return window.reset_at

    async def acquire(self, account: str, endpoint: str, *, max_wait: float = 0.0) -> None:
        """Return when (account, endpoint) may be called.

        Waits for a reset at most ``max_wait`` seconds away; a later reset
        raises instead, so the caller can reschedule the work.

        Raises:
            RateLimited: the window is used up until ``reset_at``.
        """
        until = self.blocked_until(account, endpoint)
        if until is None:
            return
        delay = until - self._clock()
        if delay <= max_wait:
            await self._sleep(delay)
            return
        when = time.strftime("%H:%M:%S", time.localtime(until))
        raise RateLimited(
            f"The rate limit of {endpoint} for account {account or '(app)'} is used up "
            f"until {when}; dmbot waits for the reset instead of calling X.",
            reset_at=until,
            status=0,
        )

    # -- DM budgets ----------------------------------------------------------
    def received(self, account: str, peer: str) -> None:
        """Note a DM ``peer`` sent to ``account``: the next replies are free."""
        if self.free_replies <= 0:
            return
        now = self._clock()
        grants = self._grants.setdefault((account, peer), deque())
        while grants and grants[0].expires_at <= now:
            grants.popleft()
        grants.append(_Grant(now + DAY, self.free_replies))
        if now - self._swept > SWEEP_EVERY:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Forget grants of conversations quiet for a day: memory follows active ones."""
        self._swept = now
        for key in [k for k, grants in self._grants.items() if grants[-1].expires_at <= now]:
            del self._grants[key]

    def sent_dm(self, account: str, peer: str) -> None:
        """Count one DM X accepted from ``account`` to ``peer``."""
        now = self._clock()
        if self._use_grant(account, peer, now):
            return
        sends = self._account_sends.setdefault(account, deque())
        sends.append(now)
        self._app_sends.append(now)
        budget = self.budget(account)
        self._check(f"account {account}", budget.account_sent, budget.account_limit)
        self._check("the app", budget.app_sent, budget.app_limit)

    def check_budget(self, account: str, peer: str) -> None:
        """Refuse a DM the daily budget has no room for (a free reply always has room).

        The budgets (``sender.account_daily``, ``sender.app_daily``) are a ceiling:
        X's pages disagree on its numbers, and its ``x-rate-limit-*`` headers are
        the other limit, kept per endpoint.

        Raises:
            RateLimited: the budget is used up until the oldest counted send is a day old.
        """
        now = self._clock()
        grants = self._grants.get((account, peer))
        if grants and any(g.expires_at > now and g.left > 0 for g in grants):
            return
        budget = self.budget(account)
        for sends, used, limit, who in (
            (self._account_sends.get(account), budget.account_sent, budget.account_limit, account),
            (self._app_sends, budget.app_sent, budget.app_limit, "the app"),
        ):
            if sends and used >= limit:
                until = sends[0] + DAY
                when = time.strftime("%H:%M:%S", time.localtime(until))
                raise RateLimited(
                    f"{who} has sent its {limit} Direct Messages allowed in 24 hours "
                    f"(sender.{'app' if who == 'the app' else 'account'}_daily); dmbot sends "
                    f"again at {when}, when the oldest send leaves the window",
                    reset_at=until,
                    status=0,
                )

    def budget(self, account: str) -> Budget:
        """The sends counted for ``account`` and for the app in the last 24 hours."""
        since = self._clock() - DAY
        sends = self._account_sends.get(account, deque())
        _prune(sends, since)
        _prune(self._app_sends, since)
        return Budget(len(sends), self.account_daily, len(self._app_sends), self.app_daily)

    def _use_grant(self, account: str, peer: str, now: float) -> bool:
        grants = self._grants.get((account, peer))
        if not grants:
            return False
        while grants and (grants[0].expires_at <= now or grants[0].left <= 0):
            grants.popleft()
        if not grants:
            del self._grants[(account, peer)]
            return False
        grants[0].left -= 1
        return True

    def _check(self, who: str, used: int, limit: int) -> None:
        level = 1.0 if used >= limit else WARN_AT if used >= WARN_AT * limit else 0.0
        # Warn once per threshold crossed; falling back below re-arms the warning.
        previous = self._warned.get(who, 0.0)
        self._warned[who] = level
        if level <= previous:
            return
        if level >= 1.0:
            log.warning(
                "%s has sent %d of its %d Direct Messages allowed in 24 hours: "
                "X will refuse more until older sends leave the window",
                who.capitalize(),
                used,
                limit,
            )
        else:
            log.warning(
                "%s has sent %d of its %d Direct Messages allowed in 24 hours (%d%%)",
                who.capitalize(),
                used,
                limit,
                int(WARN_AT * 100),
            )


def _prune(sends: deque[float], since: float) -> None:
    while sends and sends[0] <= since:
        sends.popleft()


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
