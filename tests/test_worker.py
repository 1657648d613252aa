"""The engine's semantics (DESIGN.md §2), through the store, without X."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from conftest import make_store
from faults import Flaky, Reads
from payloads import APP_ID, RECIPIENT, SENDER, delivery, dm, dm_event, example, follow

from dmbot import Bot, Context
from dmbot.config.settings import EngineSettings
from dmbot.engine.worker import Worker
from dmbot.store import OutboxStatus, Store

BOT = RECIPIENT
ALICE = SENDER
BOB = "2000000000002"


class Engine:
    def __init__(self, store: Store, worker: Worker) -> None:
        self.store = store
        self.worker = worker

    async def deliver(self, *payloads: dict[str, Any]) -> None:
        for payload in payloads:
            await self.store.append(json.dumps(payload).encode(), time.time())
            self.worker.notify()
        await asyncio.wait_for(self.worker.caught_up(), 10)

    async def texts(self, peer: str | None = None) -> list[str]:
        items = await self.store.outbox((BOT, peer) if peer else None)
        return [item.payload["text"] for item in items if item.kind == "dm"]


@pytest.fixture(params=["memory", "sqlite"])
def make_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Any]:
    async def build(bot: Bot, **options: Any) -> AsyncIterator[Engine]:
        """The worker over a fresh store; ``options``: its arguments or engine settings."""
        store = await make_store(request.param, tmp_path)
        worker = Worker(
            store,
            bot,
            accounts=options.pop("accounts", {BOT}),
            app_id=options.pop("app_id", APP_ID),
            clock=options.pop("clock", time.time),
            options=EngineSettings(**{"reorder_window": 0.0, **options}),
        )
        task = asyncio.create_task(worker.run())
        try:
            yield Engine(store, worker)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await store.close()

    return build


@pytest.fixture
def echo_bot() -> Bot:
    bot = Bot("echo")

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        await ctx.reply(ctx.text)

    return bot


async def run(make_engine: Callable[..., Any], bot: Bot, **options: Any) -> Any:
    return make_engine(bot, **options)


async def test_one_reply_per_event_id_under_many_deliveries(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    async for engine in make_engine(echo_bot):
        event = dm_event("hello", sender=ALICE, recipient=BOT)
        copies = [delivery(event, for_user=BOT) for _ in range(10)]
        # The copy for the sender's own subscription first: it must not use up the claim.
        copies.insert(0, delivery(event, for_user=ALICE))
        copies.append(delivery(event, for_user=BOT))
        await engine.deliver(*copies)
        assert await engine.texts() == ["hello"]


async def test_concurrent_duplicates_are_handled_once(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    async for engine in make_engine(echo_bot):
        event = dm_event("once", sender=ALICE, recipient=BOT)
        body = json.dumps(delivery(event, for_user=BOT)).encode()
        await asyncio.gather(*(engine.store.append(body, time.time()) for _ in range(12)))
        engine.worker.notify()
        await asyncio.wait_for(engine.worker.caught_up(), 10)
        assert await engine.texts() == ["once"]


async def test_echo_of_our_send_is_not_answered(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    async for engine in make_engine(echo_bot):
        await engine.deliver(
            dm("Hi!", sender=BOT, recipient=ALICE, for_user=BOT, source_app_id=APP_ID)
        )
        assert await engine.texts() == []
        await engine.deliver(dm("are you there?", sender=ALICE, recipient=BOT))
        assert await engine.texts() == ["are you there?"]


async def test_an_echo_is_recognised_by_its_id_alone(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    async for engine in make_engine(echo_bot):
        await engine.deliver(dm("hello", sender=ALICE, recipient=BOT))
        [reply] = await engine.store.due(time.time() + 1)
        await engine.store.sent(reply.id, "1800000000000000077")  # X's id for the reply
        # Its echo names another app and another text: only the id says it is ours.
        await engine.deliver(
            dm(
                "not the text we sent",
                id="1800000000000000077",
                sender=BOT,
                recipient=ALICE,
                for_user=BOT,
                source_app_id="268278",
            )
        )
        await engine.deliver(dm("are you there?", sender=ALICE, recipient=BOT))
        assert await engine.texts() == ["hello", "are you there?"]  # no handoff
        [echoed, _] = await engine.store.outbox()
        assert echoed.status == OutboxStatus.DELIVERED


async def test_echo_is_recognised_by_text_when_app_id_is_unknown(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    async for engine in make_engine(echo_bot, app_id=""):
        await engine.deliver(dm("ping", sender=ALICE, recipient=BOT))
        await engine.deliver(
            dm("ping", sender=BOT, recipient=ALICE, for_user=BOT, source_app_id="555")
        )
        await engine.deliver(dm("pong", sender=ALICE, recipient=BOT))
        assert await engine.texts() == ["ping", "pong"]
        assert await engine.store.get_fact("app_id") == "555"


async def test_owner_writing_from_another_client_hands_off(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    async for engine in make_engine(echo_bot, handoff=3600.0):
        await engine.deliver(
            dm("A human here!", sender=BOT, recipient=ALICE, for_user=BOT, source_app_id="268278")
        )
        await engine.deliver(dm("my order is late", sender=ALICE, recipient=BOT))
        assert await engine.texts() == []
        # Other conversations are not affected.
        await engine.deliver(dm("hello", sender=BOB, recipient=BOT))
        assert await engine.texts(BOB) == ["hello"]


async def test_handoff_lasts_30_minutes_by_default(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    clock = Clock(ahead=60)  # where deliveries are stamped: no reorder window waited out
    async for engine in make_engine(echo_bot, clock=clock):  # engine.handoff left at its default
        await engine.deliver(
            dm("human", sender=BOT, recipient=ALICE, for_user=BOT, source_app_id="268278")
        )
        clock.now += 29 * 60
        await engine.deliver(dm("still the human?", sender=ALICE, recipient=BOT))
        assert await engine.texts() == []
        clock.now += 2 * 60
        await engine.deliver(dm("back to the bot", sender=ALICE, recipient=BOT))
        assert await engine.texts() == ["back to the bot"]


async def test_handoff_ends_after_the_configured_time(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    clock = Clock(ahead=60)  # where deliveries are stamped: no reorder window waited out
    async for engine in make_engine(echo_bot, clock=clock, handoff=120.0):
        await engine.deliver(
            dm("human", sender=BOT, recipient=ALICE, for_user=BOT, source_app_id="268278")
        )
        clock.now += 119
        await engine.deliver(dm("hello?", sender=ALICE, recipient=BOT))
        assert await engine.texts() == []
        clock.now += 2
        await engine.deliver(dm("back to the bot", sender=ALICE, recipient=BOT))
        assert await engine.texts() == ["back to the bot"]


async def test_handoff_zero_never_goes_quiet(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    async for engine in make_engine(echo_bot, handoff=0.0):
        await engine.deliver(
            dm("human", sender=BOT, recipient=ALICE, for_user=BOT, source_app_id="268278")
        )
        await engine.deliver(dm("back to the bot", sender=ALICE, recipient=BOT))
        assert await engine.texts() == ["back to the bot"]


async def test_messages_between_managed_accounts_are_never_answered(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    async for engine in make_engine(echo_bot, accounts={BOT, BOB}):
        await engine.deliver(dm("loop?", sender=BOB, recipient=BOT))
        await engine.deliver(dm("loop?", sender=BOB, recipient=BOT, for_user=BOB))
        assert await engine.texts() == []
        # Someone else writing to either account is answered as usual.
        await engine.deliver(dm("hello", sender=ALICE, recipient=BOT))
        assert await engine.texts() == ["hello"]


async def test_burst_of_one_user_is_handled_in_id_order_never_concurrently(
    make_engine: Callable[..., Any],
) -> None:
    bot = Bot()
    running = 0
    overlaps = 0

    @bot.on_message()
    async def slow_echo(ctx: Context) -> None:
        nonlocal running, overlaps
        running += 1
        overlaps += running > 1
        await asyncio.sleep(0)  # yield, so a concurrent handler would interleave
        await ctx.reply(ctx.text)
        running -= 1

    # The reorder window lets DMs stored a moment late still go first.
    async for engine in make_engine(bot, reorder_window=0.5):
        events = [dm_event(f"m{i}", sender=ALICE, recipient=BOT) for i in range(10)]
        shuffled = events[:]
        random.Random(7).shuffle(shuffled)
        for event in shuffled:
            await engine.store.append(
                json.dumps(delivery(event, for_user=BOT)).encode(), time.time()
            )
        engine.worker.notify()
        await asyncio.wait_for(engine.worker.caught_up(), 10)
        assert await engine.texts() == [f"m{i}" for i in range(10)]
        assert overlaps == 0


async def test_batch_delivery_is_answered_per_event(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    async for engine in make_engine(echo_bot):
        events = [dm_event(t, sender=ALICE, recipient=BOT) for t in ("one", "two", "three")]
        await engine.deliver(delivery(*events, for_user=BOT))
        assert await engine.texts() == ["one", "two", "three"]
        assert await engine.store.inbox_size() == 0


async def test_unknown_event_kinds_are_acknowledged_and_ignored(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    async for engine in make_engine(echo_bot):
        await engine.deliver({"for_user_id": BOT, "brand_new_events": [{"x": 1}]})
        await engine.deliver(dm("still here", sender=ALICE, recipient=BOT))
        assert await engine.texts() == ["still here"]
        assert await engine.store.inbox_size() == 0


async def test_raising_handler_does_not_stop_the_next_event(
    make_engine: Callable[..., Any],
) -> None:
    bot = Bot()
    errors: list[str] = []

    @bot.on_message("boom")
    async def boom(ctx: Context) -> None:
        await ctx.reply("never sent")
        raise RuntimeError("kaboom")

    @bot.on_message()
    async def echo(ctx: Context) -> None:
        await ctx.reply(ctx.text)

    @bot.on_error
    async def sorry(ctx: Context, exc: Exception) -> None:
        errors.append(str(exc))
        await ctx.reply("Sorry, something broke.")

    async for engine in make_engine(bot):
        await engine.deliver(dm("boom", sender=ALICE, recipient=BOT))
        await engine.deliver(dm("next", sender=ALICE, recipient=BOT))
        assert await engine.texts() == ["Sorry, something broke.", "next"]
        assert errors == ["kaboom"]


async def test_state_persists_per_conversation(make_engine: Callable[..., Any]) -> None:
    bot = Bot()

    @bot.on_message()
    def count(ctx: Context) -> None:  # a sync handler, run in a thread
        ctx.state["n"] = ctx.state.get("n", 0) + 1
        ctx.reply(f"#{ctx.state['n']}")

    async for engine in make_engine(bot):
        await engine.deliver(dm("a", sender=ALICE, recipient=BOT))
        await engine.deliver(dm("b", sender=ALICE, recipient=BOT))
        await engine.deliver(dm("c", sender=BOB, recipient=BOT))
        assert await engine.texts(ALICE) == ["#1", "#2"]
        assert await engine.texts(BOB) == ["#1"]


async def test_on_event_handlers_get_other_kinds(make_engine: Callable[..., Any]) -> None:
    bot = Bot()

    @bot.on_event("follow")
    async def followed(ctx: Context) -> None:
        await ctx.reply(f"Thanks for the follow, {ctx.user.id}!")

    async for engine in make_engine(bot):
        payload = follow(ALICE, BOT, BOT)
        await engine.deliver(payload, payload)
        assert await engine.texts(ALICE) == [f"Thanks for the follow, {ALICE}!"]


async def test_documented_examples_go_through_without_error(
    make_engine: Callable[..., Any], echo_bot: Bot
) -> None:
    from payloads import STRICT_EXAMPLES

    async for engine in make_engine(echo_bot):
        for name in STRICT_EXAMPLES:
            await engine.deliver(example(name))
        assert await engine.store.inbox_size() == 0
        # direct_message_events.json is a DM from 3001969357 to the bot 4337869213.
        assert "Hello World!" in await engine.texts()


async def test_a_backlog_stays_in_the_store_not_in_memory(tmp_path: Path) -> None:
    bot = Bot()
    release = asyncio.Event()
    eight_started = asyncio.Event()
    started: list[str] = []
    handled = 0

    @bot.on_message()
    async def slow(ctx: Context) -> None:
        nonlocal handled
        started.append(ctx.text)
        if len(started) == 8:
            eight_started.set()
        await release.wait()
        await ctx.reply(ctx.text)
        handled += 1

    store = Reads(await make_store("memory", tmp_path), lambda: handled)
    worker = Worker(
        store, bot, accounts={BOT}, options=EngineSettings(max_queued=8, reorder_window=0.0)
    )
    for i in range(40):
        payload = dm(f"m{i}", sender=f"30000000{i:02d}", recipient=BOT)
        await store.append(json.dumps(payload).encode(), time.time())
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(eight_started.wait(), 10)
        release.set()
        worker.notify()
        await asyncio.wait_for(worker.caught_up(), 10)
        assert len(await Engine(store, worker).texts()) == 40
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # 40 conversations were waiting, but never more than 8 events out of the store at once.
    assert store.taken == 40
    assert store.most_out == 8


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    """Poll the coroutine function ``check`` until it returns something truthy."""
    async with asyncio.timeout(within):
        while not (found := await check()):  # noqa: ASYNC110 - the store has no event to await
            await asyncio.sleep(0.01)
    return found


async def test_other_conversations_go_on_while_one_is_busy(
    make_engine: Callable[..., Any],
) -> None:
    bot = Bot()
    release = asyncio.Event()

    @bot.on_message()
    async def answer(ctx: Context) -> None:
        if ctx.text == "slow":
            await release.wait()
        await ctx.reply(ctx.text)

    async for engine in make_engine(bot):
        for payload in (
            dm("slow", sender=ALICE, recipient=BOT),
            dm("quick", sender=BOB, recipient=BOT),
        ):
            await engine.store.append(json.dumps(payload).encode(), time.time())
        engine.worker.notify()

        async def bob_answered(engine: Engine = engine) -> bool:
            return await engine.texts(BOB) == ["quick"]

        await eventually(bob_answered)  # while Alice's handler is still running
        assert await engine.texts(ALICE) == []
        release.set()
        await asyncio.wait_for(engine.worker.caught_up(), 10)
        assert await engine.texts(ALICE) == ["slow"]


async def test_an_event_the_store_could_not_commit_is_retried_not_lost(
    store: Store, echo_bot: Bot
) -> None:
    flaky = Flaky(store, failures=1)
    worker = Worker(flaky, echo_bot, accounts={BOT}, options=EngineSettings(reorder_window=0.0))
    task = asyncio.create_task(worker.run())
    try:
        engine = Engine(flaky, worker)
        await engine.deliver(dm("persist", sender=ALICE, recipient=BOT))
        assert await engine.texts() == ["persist"]
        assert flaky.failures == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
