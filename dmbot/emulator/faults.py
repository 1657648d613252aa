"""What makes the emulated X say no: error answers, injected faults, rate-limit windows.

Tests inject faults (``emu.faults.add("dm_send", status=429, reset_in=5)``)
to see a bot survive X's bad days; the rate limiter counts every
authenticated call per (endpoint, token) the way X's ``x-rate-limit-*``
headers describe.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from starlette.responses import JSONResponse

from dmbot.emulator.clock import Clock

ENDPOINTS = (
    "dm_send",
    "dm_send_v2",
    "typing",
    "read",
    "dm_list",
    "dm_delete",
    "dm_media",
    "media_upload",
    "welcome_messages",
    "verify_credentials",
    "webhooks",
    "subscriptions",
    "webhooks_v2",
    "subscriptions_v2",
    "activity_subscriptions",
    "replay",
    "activity_stream",
    "users_me",
    "dm_events",
    "oauth",
)
"""Endpoint names for faults and rate limits ("*" in a fault matches any of them)."""

LIMITS: dict[str, tuple[int, float]] = {
    "dm_send": (1000, 24 * 3600.0),
    "typing": (1000, 900.0),
    "read": (1000, 900.0),
    "dm_list": (15, 900.0),
    # X gives no figure for deleting a DM or fetching its media: assumed, generous.
    "dm_delete": (300, 900.0),
    "dm_media": (900, 900.0),
    # X's media upload pages give none either (each INIT, APPEND, FINALIZE, STATUS counts).
    "media_upload": (500, 900.0),
    "welcome_messages": (1500, 900.0),
    "verify_credentials": (75, 900.0),
    "webhooks": (15, 900.0),
    "subscriptions": (500, 900.0),
    # X gives no separate figures for v2 management: v1.1 enterprise's apply.
    "webhooks_v2": (15, 900.0),
    "subscriptions_v2": (500, 900.0),
    "activity_subscriptions": (500, 900.0),
    "replay": (15, 900.0),
    # X gives no figure for the activity stream: its filtered stream's connects per app.
    "activity_stream": (50, 900.0),
    "users_me": (75, 900.0),
    # One window for X's three DM lookups (300 per 15 min per user, shared).
    "dm_events": (300, 900.0),
    "oauth": (1000, 900.0),
}
"""(calls, window in seconds) per endpoint and token, from X's documented limits."""

SHARED_WINDOWS: dict[str, str] = {"dm_send_v2": "dm_send"}
"""Endpoints counted in another's window: a DM sent through v2 spends the same daily
budget (1,000 per user per 24 h) as one sent through v1.1."""


def window_of(endpoint: str) -> tuple[int, float]:
    """(calls, window in seconds) that ``endpoint`` is counted in."""
    return LIMITS[SHARED_WINDOWS.get(endpoint, endpoint)]


MESSAGES: dict[int, str] = {
    32: "Could not authenticate you.",
    34: "Sorry, that page does not exist.",
    88: "Rate limit exceeded.",
    99: "Unable to verify your credentials.",
    89: "Invalid or expired token.",
    93: "This application is not allowed to access or delete your direct messages.",
    108: "Cannot find specified user.",
    130: "Over capacity.",
    131: "Internal error.",
    135: "Timestamp out of bounds.",
    170: "Missing required parameter: grant_type",
    150: "You cannot send messages to users who are not following you.",
    151: "There was an error sending your message.",
    200: "Forbidden.",
    214: "Bad request.",
    220: "Your credentials do not allow access to this resource.",
    226: "This request looks like it might be automated.",
    261: "Application cannot perform write actions.",
    324: "The validation of media ids failed.",
    326: "This account is temporarily locked.",
    348: "Client application is not permitted to access this user's webhook subscriptions.",
    349: "You cannot send messages to this user.",
    354: "The text of your direct message is over the max character limit.",
    355: "Subscription already exists.",
}
"""X's wording for the error codes the emulator answers with."""


def default_code(status: int) -> int | None:
    """The code X usually pairs with ``status`` (None when there is no usual one)."""
    if status == 429:
        return 88
    if status == 401:
        return 32
    if status >= 500:
        return 131
    return None


class ApiError(Exception):
    """An error answer of the X API: ``{"errors":[{"code","message"}]}`` with a status."""

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        text = message or MESSAGES.get(code or 0, "The request failed.")
        super().__init__(text)
        self.status = status
        self.code = code
        self.message = text
        self.headers = headers or {}

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        """The HTTP answer X would give; the error's own headers win over ``headers``."""
        error: dict[str, object] = {"message": self.message}
        if self.code is not None:
            error = {"code": self.code, "message": self.message}
        merged = {**(headers or {}), **self.headers}
        return JSONResponse({"errors": [error]}, status_code=self.status, headers=merged)


@dataclass
class Fault:
    """One injected failure, used up after ``count`` matching calls.

    Attributes:
        endpoint: an endpoint name from :data:`ENDPOINTS`, or "*".
        status: the HTTP status to answer; below 400 the call goes through,
            only slowed by ``delay``.
        code: X's error code (default: 88 for 429, 32 for 401, 131 for 5xx).
        count: how many calls it affects.
        reset_in: for 429, seconds until ``x-rate-limit-reset``.
        delay: seconds the answer is held back (simulated latency).
    """

    endpoint: str
    status: int
    code: int | None = None
    count: int = 1
    reset_in: float | None = None
    delay: float = 0.0

    def to_json(self) -> dict[str, object]:
        """A plain JSON form for the admin endpoints."""
        return {
            "endpoint": self.endpoint,
            "status": self.status,
            "code": self.code,
            "count": self.count,
            "reset_in": self.reset_in,
            "delay": self.delay,
        }


@dataclass
class Faults:
    """The queue of injected faults, consulted by every X API call."""

    pending: list[Fault] = field(default_factory=list)

    def add(
        self,
        endpoint: str,
        *,
        status: int,
        code: int | None = None,
        count: int = 1,
        reset_in: float | None = None,
        delay: float = 0.0,
    ) -> Fault:
        """Make the next ``count`` calls of ``endpoint`` fail with ``status`` (and ``code``).

        Raises:
            ValueError: an unknown endpoint name, or a count below 1.
        """
        if endpoint != "*" and endpoint not in ENDPOINTS:
            names = ", ".join(ENDPOINTS)
            raise ValueError(f"Unknown endpoint {endpoint!r} for a fault; use one of {names}, *.")
        if count < 1:
            raise ValueError(f"A fault needs count >= 1, got {count}.")
        fault = Fault(endpoint, status, code or default_code(status), count, reset_in, delay)
        self.pending.append(fault)
        return fault

    def take(self, endpoint: str) -> Fault | None:
        """The first fault matching ``endpoint``, with one use consumed."""
        for fault in self.pending:
            if fault.endpoint in (endpoint, "*"):
                fault.count -= 1
                if fault.count <= 0:
                    self.pending.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        """Drop every pending fault."""
        self.pending.clear()

    @staticmethod
    async def apply(fault: Fault, clock: Clock, limit: int) -> ApiError | None:
        """Wait out the fault's delay; the error to answer with, or None to go on."""
        if fault.delay > 0:
            # The emulator's own simulated latency, not a wait on another task.
            await asyncio.sleep(fault.delay)
        if fault.status < 400:
            return None
        if fault.status != 429:
            return ApiError(fault.status, fault.code)
        reset = clock() + (fault.reset_in if fault.reset_in is not None else 900.0)
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(math.ceil(reset)),
        }
        return ApiError(429, fault.code, headers=headers)


@dataclass
class _Window:
    start: float
    used: int = 0


class RateLimits:
    """Per (endpoint, token) call counters over X's fixed windows."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}

    def _window(self, endpoint: str, key: str) -> _Window:
        endpoint = SHARED_WINDOWS.get(endpoint, endpoint)
        _, length = window_of(endpoint)
        now = self._clock()
        window = self._windows.get((endpoint, key))
        if window is None or now >= window.start + length:
            window = self._windows[(endpoint, key)] = _Window(start=now)
        return window

    def headers(self, endpoint: str, key: str) -> dict[str, str]:
        """The ``x-rate-limit-*`` headers for the current window, without using a call."""
        limit, length = window_of(endpoint)
        window = self._window(endpoint, key)
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(limit - window.used, 0)),
            "x-rate-limit-reset": str(math.ceil(window.start + length)),
        }

    def use(self, endpoint: str, key: str) -> dict[str, str]:
        """Count one call; its headers, or raise 429 (code 88) when the window is spent.

        Raises:
            ApiError: the window has no calls left.
        """
        limit, _ = window_of(endpoint)
        window = self._window(endpoint, key)
        if window.used >= limit:
            raise ApiError(429, 88, headers=self.headers(endpoint, key))
        window.used += 1
        return self.headers(endpoint, key)

    def clear(self) -> None:
        """Start every window afresh."""
        self._windows.clear()
