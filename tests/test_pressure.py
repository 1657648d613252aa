"""Acknowledgements first: the worker gives way while the webhook is storing deliveries."""

from __future__ import annotations

import asyncio
import time

from dmbot.pressure import Pressure


async def test_idle_webhook_costs_nothing() -> None:
    pressure = Pressure(interval=10.0)
    started = time.monotonic()
    await pressure.give_way()
    assert time.monotonic() - started < 1.0


async def test_busy_webhook_holds_background_work_until_it_is_quiet() -> None:
    pressure = Pressure(interval=10.0)
    pressure.enter()
    waiting = asyncio.create_task(pressure.give_way())
    await asyncio.sleep(0)
    assert not waiting.done()
    pressure.leave()
    await asyncio.wait_for(waiting, 1.0)


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
