"""Acknowledgements first: the worker gives way while the webhook is storing deliveries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Generator
from typing import Any

import pytest

from dmbot.pressure import TIMER_GRAIN, Pressure


def test_idle_webhook_costs_nothing() -> None:
    step = Pressure(interval=10.0).give_way()
    with pytest.raises(StopIteration):
        step.send(None)  # done at its first step: it never waited for anything


async def test_busy_webhook_holds_background_work_until_it_is_quiet() -> None:
    pressure = Pressure(interval=10.0)
    pressure.enter()
    began = asyncio.Event()

    async def background_work() -> None:
        began.set()  # no wait from here into give_way: it runs on until it waits
        await pressure.give_way()

    waiting = asyncio.create_task(background_work())
    await began.wait()  # it is inside give_way now; idle, it would have returned
    assert not waiting.done()
    pressure.leave()
    await asyncio.wait_for(waiting, 5.0)  # not the 10 s interval


async def test_under_sustained_load_one_event_per_interval_gets_through() -> None:
    pressure = Pressure(interval=0.02)
    pressure.enter()  # the webhook never goes quiet
    started = time.monotonic()
    await asyncio.gather(*(pressure.give_way() for _ in range(5)))
    elapsed = time.monotonic() - started
    # One at a time: five turns take at least five intervals, but they do all pass.
    assert elapsed >= 4 * 0.02


async def test_leave_never_goes_below_zero() -> None:
    pressure = Pressure()
    pressure.leave()
    assert not pressure.busy
    pressure.enter()
    assert pressure.busy


class Counted:
    """Awaits a coroutine and counts how often it gave the loop back (its wake-ups)."""

    def __init__(self, coro: Coroutine[Any, Any, None]) -> None:
        self.coro = coro
        self.yields = 0

    def __await__(self) -> Generator[Any, Any, None]:
        steps = self.coro.__await__()
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                future = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration:
                return
            self.yields += 1
            try:
                value, error = (yield future), None
            except BaseException as exc:  # cancellation, passed on to the coroutine
                value, error = None, exc


def test_waiting_for_quiet_sleeps_on_a_timer_instead_of_spinning_the_loop() -> None:
    """uvloop's timers round a delay down to the millisecond: sleeping exactly until
    the webhook is quiet wakes too early, then spun through zero-delay timers (about
    40 wake-ups per event at 200 events/s, a fifth of the CPU)."""
    uvloop = pytest.importorskip("uvloop")

    async def wake_ups() -> int:
        pressure = Pressure(interval=1.0, quiet=0.0045)
        arrived = time.monotonic()
        pressure.enter()
        pressure.leave()  # a delivery answered just now: quiet in 4.5 ms
        counted = Counted(pressure.give_way())
        await counted
        assert time.monotonic() - arrived >= 0.0045 - TIMER_GRAIN  # it did wait
        return counted.yields

    assert uvloop.run(wake_ups()) <= 3
