"""The rate limiter stops calls before X says 429, and watches the DM budgets."""

from __future__ import annotations

import logging

import pytest

from dmbot.errors import RateLimited
from dmbot.x.ratelimit import RateLimiter

SEND = "POST /1.1/direct_messages/events/new.json"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def headers(remaining: int, reset: float, limit: int = 15) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(int(reset)),
    }


async def test_calls_pass_while_the_window_has_room() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe("1", SEND, 200, headers(3, clock.now + 600))
    await limiter.acquire("1", SEND)
    assert clock.slept == []
    window = limiter.window("1", SEND)
    assert window is not None and window.remaining == 3 and window.limit == 15


async def test_remaining_zero_raises_until_the_reset() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe("1", SEND, 200, headers(0, clock.now + 600))
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire("1", SEND)
    assert caught.value.reset_at == int(clock.now + 600)
    assert "waits for the reset" in str(caught.value)
    # Other accounts and endpoints have their own windows.
    await limiter.acquire("2", SEND)
    await limiter.acquire("1", "POST /1.1/direct_messages/indicate_typing.json")
    clock.now += 601
    await limiter.acquire("1", SEND)
    assert limiter.blocked_until("1", SEND) is None


async def test_a_short_wait_is_waited_instead_of_raised() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe("1", SEND, 200, headers(0, clock.now + 5))
    await limiter.acquire("1", SEND, max_wait=10)
    assert clock.slept == [5.0]


async def test_429_blocks_until_the_reset_even_without_remaining() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe("1", SEND, 429, {"x-rate-limit-reset": str(int(clock.now + 30))})
    assert limiter.blocked_until("1", SEND) == int(clock.now + 30)
    limiter.observe("1", "GET x", 429, {})
    assert limiter.blocked_until("1", "GET x") == clock.now + 900


def test_sends_count_per_account_and_per_app() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(3):
        limiter.sent_dm("1", "9")
    limiter.sent_dm("2", "9")
    budget = limiter.budget("1")
    assert (budget.account_sent, budget.account_limit) == (3, 1000)
    assert (budget.app_sent, budget.app_limit) == (4, 15000)
    clock.now += 86400.5  # the sliding window forgets day-old sends
    assert limiter.budget("1").account_sent == 0


def test_five_replies_per_received_message_are_free() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.received("1", "9")
    for _ in range(6):
        limiter.sent_dm("1", "9")
    assert limiter.budget("1").account_sent == 1
    limiter.received("1", "9")
    clock.now += 86401  # the free replies of a message last 24 hours
    limiter.sent_dm("1", "9")
    assert limiter.budget("1").account_sent == 1  # the first send aged out, this one counts


def test_budget_warnings_at_80_and_100_percent(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, account_daily=10, app_daily=1000)
    with caplog.at_level(logging.WARNING, logger="dmbot.x.ratelimit"):
        for _ in range(7):
            limiter.sent_dm("1", "9")
        assert caplog.records == []
        limiter.sent_dm("1", "9")
        limiter.sent_dm("1", "9")
        assert [r.getMessage() for r in caplog.records] == [
            "Account 1 has sent 8 of its 10 Direct Messages allowed in 24 hours (80%)"
        ]
        limiter.sent_dm("1", "9")
        limiter.sent_dm("1", "9")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[1].startswith("Account 1 has sent 10 of its 10 Direct Messages")
    assert "X will refuse more" in messages[1]


def test_app_budget_warning(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(clock=FakeClock(), account_daily=100, app_daily=5)
    with caplog.at_level(logging.WARNING, logger="dmbot.x.ratelimit"):
        for account in "12345":
            limiter.sent_dm(account, "9")
    assert [r.getMessage()[:26] for r in caplog.records] == [
        "The app has sent 4 of its ",
        "The app has sent 5 of its ",
    ]


def test_free_reply_grants_of_quiet_conversations_are_forgotten() -> None:
    from dmbot.x.ratelimit import DAY, SWEEP_EVERY, RateLimiter

    now = [1_000_000.0]
    limiter = RateLimiter(clock=lambda: now[0])
    for peer in range(1000):
        limiter.received("bot", str(peer))
    assert len(limiter._grants) == 1000
    now[0] += DAY + SWEEP_EVERY + 1
    limiter.received("bot", "new")
    # Only the conversation active in the last 24 hours keeps memory.
    assert list(limiter._grants) == [("bot", "new")]


def test_the_daily_budgets_are_a_ceiling_that_free_replies_pass() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, account_daily=2, app_daily=3)
    for peer in ("p1", "p2"):
        limiter.check_budget("a", peer)
        limiter.sent_dm("a", peer)
    with pytest.raises(RateLimited, match=r"sender\.account_daily") as raised:
        limiter.check_budget("a", "p3")
    assert raised.value.reset_at == pytest.approx(clock.now + 86400.0)
    limiter.received("a", "p3")  # p3 wrote: up to 5 replies do not count
    limiter.check_budget("a", "p3")
    limiter.check_budget("b", "p1")
    limiter.sent_dm("b", "p1")
    with pytest.raises(RateLimited, match=r"sender\.app_daily"):
        limiter.check_budget("c", "p1")
    clock.now += 86400.0 + 1
    limiter.check_budget("a", "p4")  # the oldest sends left the window
