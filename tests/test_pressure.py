"""Acknowledgements first: the worker gives way while the webhook is storing deliveries."""

from __future__ import annotations

import asyncio
import time

import pytest

from dmbot.pressure import Pressure


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
