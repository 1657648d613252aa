"""The sender delivers the outbox to the emulated X: in order, with retries, never twice for 4xx."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from clock import Clock
from conftest import restart
from faults import Forgetful, Gated

from dmbot.config.settings import SenderSettings
from dmbot.emulator import Emulator
from dmbot.store.base import Commit, NewAction, OutboxItem, OutboxStatus, Store
from dmbot.store.memory import MemoryStore
from dmbot.store.sqlite import SqliteStore
from dmbot.x.client import XClient
from dmbot.x.ratelimit import RateLimiter
from dmbot.x.sender import Sender

BOT, ALICE, BOB = "1000000000001", "2000000000001", "2000000000002"


@pytest.fixture
def clock() -> Clock:
    """Shared by the emulator, the client and the sender; ahead of where the store
    stamps new rows, so they are due at once."""
    return Clock(ahead=5)


@pytest.fixture
async def emu(clock: Clock) -> AsyncIterator[Emulator]:
    emulator = Emulator(consumer_key="ck", consumer_secret="cs", app_id="13090192", clock=clock)
    emulator.add_account(BOT, "pizzabot", token=f"{BOT}-abc", token_secret="ts")
    # The sender writes to them first here: they accept message requests.
    emulator.add_user(ALICE, "alice", accepts_requests=True)
    emulator.add_user(BOB, "bob", accepts_requests=True)
    yield emulator
    await emulator.aclose()


@pytest.fixture
async def client(emu: Emulator, clock: Clock) -> AsyncIterator[XClient]:
    async with XClient(
        consumer_key="ck",
        consumer_secret="cs",
        token=f"{BOT}-abc",
        token_secret="ts",
        api_url="http://x.test",
        transport=httpx.ASGITransport(app=emu.app),
        limiter=RateLimiter(clock=clock),
        clock=clock,
    ) as c:
        yield c


def sender(store: Any, client: XClient, clock: Clock, **options: Any) -> Sender:
    """A sender; ``options`` are its arguments or fields of its SenderSettings."""
    keys = {f.name for f in dataclasses.fields(SenderSettings)}
    settings = {"backoff_base": 10.0} | {k: v for k, v in options.items() if k in keys}
    rest = {k: v for k, v in options.items() if k not in keys}
    defaults: dict[str, Any] = {"clock": clock, "rng": lambda: 0.5}
    return Sender(store, {BOT: client}, options=SenderSettings(**settings), **(defaults | rest))


async def drained(out: Sender, within: float = 10.0) -> None:
    """Every action due at the fake clock's now sent, however long X takes to answer.

    ``drain(timeout)`` also waits, in real time, for retries falling due within
    ``timeout``, which a fake clock never reaches; and it raises TimeoutError when a
    send is still in flight at the end. So: drain in short slices until none is.
    """
    async with asyncio.timeout(within):
        while True:
            try:
                await out.drain(0.05)
            except TimeoutError:  # a send still waits for X's answer
                continue
            return


@contextlib.asynccontextmanager
async def running(out: Sender) -> AsyncIterator[None]:
    """``out.run()`` as a task for the block; cancelled after it, and it must end so."""
    task = asyncio.create_task(out.run())
    try:
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def say(store: Any, peer: str, *texts: str, event: str = "") -> None:
    actions = [NewAction("dm", {"text": text}) for text in texts]
    await store.commit(Commit(event_id=event, conversation=(BOT, peer), actions=actions))


async def rows(store: Any) -> list[OutboxItem]:
    return list(await store.outbox())


async def test_a_dm_is_sent_and_recorded(emu: Emulator, client: XClient, clock: Clock) -> None:
    store = MemoryStore()
    await say(store, ALICE, "hi", event="e1")
    await sender(store, client, clock).drain(5)
    (message,) = emu.messages
    assert (message.recipient_id, message.text) == (ALICE, "hi")
    (row,) = await rows(store)
    assert (row.status, row.sent_id) == (OutboxStatus.SENT, message.id)


async def test_one_conversation_waits_in_order_while_another_proceeds(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    store = MemoryStore()
    await say(store, ALICE, "a1", "a2", "a3")
    emu.faults.add("dm_send", status=503, code=131, count=1)
    out = sender(store, client, clock)
    await drained(out)
    assert emu.messages == []  # a1 failed for now, so a2 and a3 must wait behind it

    await say(store, BOB, "b1")
    out.notify()
    await drained(out)
    assert [m.text for m in emu.messages] == ["b1"]

    clock.now += 60  # past a1's backoff
    await out.drain(5)
    assert [m.text for m in emu.messages] == ["b1", "a1", "a2", "a3"]
    assert all(row.status == OutboxStatus.SENT for row in await rows(store))


async def test_server_errors_are_retried_with_backoff_until_sent(
    emu: Emulator, client: XClient
) -> None:
    store = MemoryStore()
    await say(store, ALICE, "hello")
    emu.faults.add("dm_send", status=503, code=131, count=2)
    emu.faults.add("dm_send", status=500, code=131, count=1)
    # Real time here: drain waits out the short backoffs itself.
    quick = SenderSettings(backoff_base=0.01, backoff_max=0.05)
    await Sender(store, {BOT: client}, options=quick).drain(5)
    assert [m.text for m in emu.messages] == ["hello"]
    (row,) = await rows(store)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 3)


async def test_backoff_doubles_with_jitter(emu: Emulator, client: XClient, clock: Clock) -> None:
    store = MemoryStore()
    await say(store, ALICE, "hello")
    emu.faults.add("dm_send", status=503, code=131, count=3)
    out = sender(store, client, clock, backoff_base=2.0, rng=lambda: 1.0)
    waits = []
    for _ in range(3):
        before = clock.now
        await drained(out)
        (row,) = await rows(store)
        waits.append(row.next_at - before)
        clock.now = row.next_at
    assert waits == pytest.approx([2.0, 4.0, 8.0])
    await drained(out)
    assert [m.text for m in emu.messages] == ["hello"]


async def test_429_is_honoured_until_the_reset(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    store = MemoryStore()
    await say(store, ALICE, "hi")
    emu.faults.add("dm_send", status=429, code=88, count=1, reset_in=30.0)
    out = sender(store, client, clock)
    await drained(out)
    (row,) = await rows(store)
    assert row.status == OutboxStatus.PENDING
    assert row.next_at == pytest.approx(clock.now + 30, abs=1)
    assert "Rate limit" in row.error

    clock.now += 10  # before the reset: the fault is used up, so any call would succeed
    await drained(out)
    assert emu.messages == []

    clock.now = row.next_at + 1
    await out.drain(5)
    assert [m.text for m in emu.messages] == ["hi"]


async def test_a_permanent_error_is_tried_once_and_recorded(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    store = MemoryStore()
    await say(store, ALICE, "first", "second")
    emu.faults.add("dm_send", status=403, code=349, count=1)
    out = sender(store, client, clock)
    await out.drain(5)
    clock.now += 3600
    await out.drain(5)
    first, second = await rows(store)
    assert (first.status, first.error_code, first.attempts) == (OutboxStatus.FAILED, 349, 1)
    assert "does not accept Direct Messages" in first.error
    # The failed one is not sent later; the next one of the conversation goes on.
    assert [m.text for m in emu.messages] == ["second"]
    assert second.status == OutboxStatus.SENT


async def test_a_media_x_does_not_know_fails_with_what_to_do(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    store = MemoryStore()
    never_uploaded = {"type": "media", "media": {"id": "710511363345354753"}}
    payload = {"text": "your receipt", "attachment": never_uploaded}
    await store.commit(
        Commit(event_id="", conversation=(BOT, ALICE), actions=[NewAction("dm", payload)])
    )
    await sender(store, client, clock).drain(5)
    (row,) = await rows(store)
    assert (row.status, row.error_code) == (OutboxStatus.FAILED, 324)
    assert "upload it again with a dm_image" in row.error
    assert emu.messages == []


async def test_transient_errors_give_up_at_the_deadline(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    store = MemoryStore()
    await say(store, ALICE, "hi")
    emu.faults.add("dm_send", status=503, code=131, count=100)
    out = sender(store, client, clock, deadline=60.0, backoff_base=10.0)
    for _ in range(10):
        await drained(out)
        (row,) = await rows(store)
        if row.status != OutboxStatus.PENDING:
            break
        clock.now = row.next_at
    assert row.status == OutboxStatus.FAILED
    assert row.error.startswith("Gave up after")
    assert row.error_code == 131
    assert emu.messages == []


async def test_an_account_without_a_client_fails_clearly(client: XClient, clock: Clock) -> None:
    store = MemoryStore()
    await store.commit(
        Commit(event_id="", conversation=("999", ALICE), actions=[NewAction("dm", {"text": "x"})])
    )
    await sender(store, client, clock).drain(5)
    (row,) = await rows(store)
    assert row.status == OutboxStatus.FAILED
    assert "No X client for account 999" in row.error and "accounts:" in row.error


async def test_read_receipts_are_sent(emu: Emulator, client: XClient, clock: Clock) -> None:
    store = MemoryStore()
    action = NewAction("read", {"last_read_event_id": "12345"})
    await store.commit(Commit(event_id="", conversation=(BOT, ALICE), actions=[action]))
    await sender(store, client, clock).drain(5)
    (receipt,) = emu.indicators
    assert (receipt.kind, receipt.recipient_id, receipt.last_read_event_id) == (
        "read",
        ALICE,
        "12345",
    )
    assert (await rows(store))[0].status == OutboxStatus.SENT


async def test_typing_is_immediate_and_never_raises(
    emu: Emulator, client: XClient, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    out = sender(MemoryStore(), client, clock)
    await out.typing(BOT, ALICE)
    assert [(i.kind, i.recipient_id) for i in emu.indicators] == [("typing", ALICE)]
    emu.faults.add("typing", status=500)
    with caplog.at_level(logging.WARNING, logger="dmbot.x.sender"):
        await out.typing(BOT, ALICE)
        await out.typing("999", ALICE)
    assert "Typing indicator to 2000000000001 failed" in caplog.text
    assert "No X client for account 999" in caplog.text


async def test_run_sends_what_is_committed_after_notify(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    store = MemoryStore()
    out = sender(store, client, clock, poll_interval=60.0)
    async with running(out):
        await say(store, ALICE, "one", "two")
        out.notify()
        messages = await emu.wait_for_messages(2, timeout=5)
    assert [m.text for m in messages] == ["one", "two"]


async def test_run_sends_each_next_action_it_was_told_of_without_waiting_for_the_poll(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    """After a finished send the outbox is read again only when that conversation has
    more (the worker says how many actions it committed): none of them waits 60 s."""
    store = MemoryStore()
    out = sender(store, client, clock, poll_interval=60.0)
    async with running(out):
        await asyncio.sleep(0)  # the first read finds the outbox empty
        assert out.followups.idle((BOT, ALICE))  # so nothing but the counts says "read again"
        await say(store, ALICE, "one", "two", "three")
        out.notify((BOT, ALICE), 3)
        await say(store, BOB, "b1")
        out.notify((BOT, BOB), 1)
        messages = await emu.wait_for_messages(4, timeout=5)
    assert [m.text for m in messages if m.recipient_id == ALICE] == ["one", "two", "three"]


async def test_run_sends_every_row_an_earlier_run_left_without_waiting_for_the_poll(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    """Nobody told this sender of rows committed before it started: it keeps reading
    after each send until the outbox has nothing due."""
    store = MemoryStore()
    await say(store, ALICE, "left 1", "left 2", "left 3")
    out = sender(store, client, clock, poll_interval=60.0)
    async with running(out):
        messages = await emu.wait_for_messages(3, timeout=5)
    assert [m.text for m in messages] == ["left 1", "left 2", "left 3"]


async def test_a_committed_action_starts_at_once_and_never_overtakes_an_earlier_one(
    emu: Emulator, client: XClient, clock: Clock, tmp_path: Path
) -> None:
    """The worker hands over the rows a commit became: the first starts without an
    outbox read when nothing of its conversation is pending; a commit behind a send
    in flight waits its turn."""
    store = SqliteStore(tmp_path / "dmbot.db")
    await store.open()
    out = sender(store, client, clock, poll_interval=60.0)
    try:
        async with running(out):
            await asyncio.sleep(0)  # the first read finds the outbox empty
            assert out.followups.idle((BOT, ALICE))  # so nothing but the counts says "read again"
            for texts in (("a1", "a2"), ("a3",)):
                commit = Commit(
                    "", (BOT, ALICE), actions=[NewAction("dm", {"text": t}) for t in texts]
                )
                assert await store.commit(commit)
                assert [row.payload["text"] for row in commit.created] == list(texts)
                out.committed(commit)
            messages = await emu.wait_for_messages(3, timeout=5)
    finally:
        await store.close()
    assert [m.text for m in messages] == ["a1", "a2", "a3"]


async def test_an_action_behind_one_waiting_for_a_retry_is_never_started_ahead_of_it(
    emu: Emulator, client: XClient, clock: Clock, tmp_path: Path
) -> None:
    """A conversation whose row waits for a retry is busy: the next commit of it goes
    through the outbox read, behind that row, never straight out (nor twice)."""
    store = SqliteStore(tmp_path / "dmbot.db")
    await store.open()
    out = sender(store, client, clock, poll_interval=60.0)
    emu.faults.add("dm_send", status=503, code=131, count=1)
    try:
        async with running(out):
            await asyncio.sleep(0)  # the first read finds the outbox empty
            assert out.followups.idle((BOT, ALICE))
            first = Commit("", (BOT, ALICE), actions=[NewAction("dm", {"text": "a1"})])
            assert await store.commit(first)
            out.committed(first)

            async def retry_scheduled() -> bool:  # X said 503
                return (await rows(store))[0].attempts == 1

            await until(retry_scheduled)
            assert not out.followups.idle((BOT, ALICE))
            second = Commit("", (BOT, ALICE), actions=[NewAction("dm", {"text": "a2"})])
            assert await store.commit(second)
            out.committed(second)
            clock.now += 60  # past a1's backoff
            out.notify()
            messages = await emu.wait_for_messages(2, timeout=5)
            await drained(out)
    finally:
        await store.close()
    assert [m.text for m in messages] == ["a1", "a2"]
    assert len(emu.messages) == 2


async def test_a_row_an_earlier_run_scheduled_for_later_keeps_its_conversation_busy(
    emu: Emulator, client: XClient, clock: Clock, tmp_path: Path
) -> None:
    """Nothing due is not nothing pending: a row rescheduled before a restart still
    goes first in its conversation."""
    store = SqliteStore(tmp_path / "dmbot.db")
    await store.open()
    await say(store, ALICE, "later")
    (row,) = await rows(store)
    await store.retry_later(row.id, clock.now + 30, "X was down")
    out = sender(store, client, clock, poll_interval=60.0)
    try:
        async with running(out):
            await asyncio.sleep(0)  # the first read finds nothing due, one row pending
            assert not out.followups.idle((BOT, ALICE))
            after = Commit("", (BOT, ALICE), actions=[NewAction("dm", {"text": "after"})])
            assert await store.commit(after)
            out.committed(after)
            clock.now += 60
            out.notify()
            messages = await emu.wait_for_messages(2, timeout=5)
    finally:
        await store.close()
    assert [m.text for m in messages] == ["later", "after"]


async def test_a_reply_waits_for_the_typing_indicator_shown_before_it(
    emu: Emulator, client: XClient, clock: Clock, tmp_path: Path
) -> None:
    """ "typing…" shown after the reply would linger under it for seconds."""
    store = SqliteStore(tmp_path / "dmbot.db")
    await store.open()
    out = sender(store, client, clock, poll_interval=60.0)
    emu.faults.add("typing", status=204, delay=0.3)  # X is slow to take the indicator
    try:
        async with running(out):
            await asyncio.sleep(0)  # the first read finds the outbox empty
            assert out.followups.idle((BOT, ALICE))  # so the reply starts without a read
            typing = asyncio.create_task(out.typing(BOT, ALICE))
            await asyncio.sleep(0)  # the indicator is on its way
            commit = Commit("", (BOT, ALICE), actions=[NewAction("dm", {"text": "done"})])
            assert await store.commit(commit)
            out.committed(commit)
            await emu.wait_for_messages(1, timeout=5)
            assert typing.done()
    finally:
        await store.close()
    assert [i.kind for i in emu.indicators] == ["typing"]


async def test_v2_sends_text_and_the_first_media_only(clock: Clock) -> None:
    bodies: list[Any] = []

    def x(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(201, json={"data": {"dm_conversation_id": "c", "dm_event_id": "7"}})

    store = MemoryStore()
    payload = {
        "text": "Pick one: 1. Small 2. Large",
        "quick_reply": {"type": "options", "options": [{"label": "Small"}]},
        "attachment": {"type": "media", "media": {"id": "42"}},
    }
    await store.commit(
        Commit(event_id="", conversation=(BOT, ALICE), actions=[NewAction("dm", payload)])
    )
    async with XClient(
        consumer_key="ck", consumer_secret="cs", token=f"{BOT}-abc", token_secret="ts",
        transport=httpx.MockTransport(x),
    ) as v2:  # fmt: skip
        await Sender(store, {BOT: v2}, send_api="v2").drain(5)
    assert bodies == [{"text": "Pick one: 1. Small 2. Large", "attachments": [{"media_id": "42"}]}]
    assert (await rows(store))[0].sent_id == "7"


async def test_budget_warnings_are_logged_while_sending(
    emu: Emulator, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    await say(store, ALICE, "1", "2", "3", "4", "5")
    async with XClient(
        consumer_key="ck", consumer_secret="cs", token=f"{BOT}-abc", token_secret="ts",
        api_url="http://x.test", transport=httpx.ASGITransport(app=emu.app), clock=clock,
        limiter=RateLimiter(clock=clock, account_daily=5),
    ) as small:  # fmt: skip
        with caplog.at_level(logging.WARNING, logger="dmbot.x.ratelimit"):
            await sender(store, small, clock).drain(5)
    assert len(emu.messages) == 5
    warnings = [r.getMessage() for r in caplog.records if r.name == "dmbot.x.ratelimit"]
    assert [w.split(" Direct")[0] for w in warnings] == [
        f"Account {BOT} has sent 4 of its 5",
        f"Account {BOT} has sent 5 of its 5",
    ]


async def test_replies_to_a_received_message_do_not_use_the_budget(
    client: XClient, clock: Clock
) -> None:
    store = MemoryStore()
    out = sender(store, client, clock)
    out.received(BOT, ALICE)
    await say(store, ALICE, "1", "2", "3", "4", "5", "6")
    await out.drain(5)
    assert client.limiter.budget(BOT).account_sent == 1  # five replies were free


async def test_a_send_the_store_could_not_record_is_recorded_not_resent(
    store: Store, emu: Emulator, client: XClient, clock: Clock
) -> None:
    forgetful = Forgetful(store)
    await say(forgetful, ALICE, "hi")
    out = sender(forgetful, client, clock, poll_interval=1.0)
    await drained(out)
    (row,) = await rows(forgetful)
    assert row.status == OutboxStatus.PENDING and len(emu.messages) == 1
    forgetful.down = False
    clock.now += 2
    await drained(out)
    (row,) = await rows(forgetful)
    assert (row.status, row.sent_id) == (OutboxStatus.SENT, emu.messages[0].id)
    assert len(emu.messages) == 1


async def test_after_a_crash_between_200_and_sent_x_is_asked_before_any_resend(
    store: Store, store_kind: str, tmp_path: Path, emu: Emulator, client: XClient, clock: Clock
) -> None:
    forgetful = Forgetful(store)
    await say(forgetful, ALICE, "hi")
    await drained(sender(forgetful, client, clock))
    # A new process knows nothing of the first send but its recorded start: the row
    # is uncertain. Within the grace it waits for the echo...
    again = await restart(store_kind, store, tmp_path)
    try:
        restarted = sender(again, client, clock)
        await drained(restarted)
        (row,) = await rows(again)
        assert row.status == OutboxStatus.PENDING and row.attempted_at > 0
        # ...then asks X, which lists the DM: recorded as sent, never sent twice.
        clock.now += SenderSettings().settle_grace + 1
        await drained(restarted)
        assert [m.text for m in emu.messages] == ["hi"]
        (row,) = await rows(again)
        assert (row.status, row.sent_id) == (OutboxStatus.SENT, emu.messages[0].id)
    finally:
        if again is not store:
            await again.close()


def reply_commit(peer: str, *texts: str) -> Commit:
    actions = [NewAction("dm", {"text": text}) for text in texts]
    return Commit(event_id=f"e-{peer}-{texts[0]}", conversation=(BOT, peer), actions=actions)


async def test_a_reply_started_from_its_commit_has_its_start_written_by_the_commit(
    store: Store, emu: Emulator, client: XClient, clock: Clock
) -> None:
    """One write less per reply: the commit records the start of the send the sender
    begins straight from it; the row is not uncertain, so it goes out at once."""
    out = sender(store, client, clock)
    await drained(out)  # the outbox is read once: nothing of an earlier run waits
    # Not uncertain, so X's list of sent DMs is never asked (15 calls in 15 minutes).
    emu.faults.add("dm_list", status=503, code=131, count=100)
    commit = reply_commit(ALICE, "hi", "and more")
    out.planned(commit)
    await store.commit(commit)
    first, second = await rows(store)
    if store.shared:  # Redis hands rows out through due(): no commit starts a send
        assert commit.attempting == 0 and first.attempted_at == 0
    else:
        assert first.attempted_at == commit.attempting > 0  # on disk before X is called
        assert second.attempted_at == 0
    out.committed(commit)
    await drained(out)
    assert [m.text for m in emu.messages] == ["hi", "and more"]
    assert [r.status for r in await rows(store)] == [OutboxStatus.SENT] * 2


async def test_a_crash_between_a_commit_and_its_send_is_settled_then_sent_once(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    store = MemoryStore()
    first = sender(store, client, clock)
    await drained(first)
    commit = reply_commit(ALICE, "lost before X")
    first.planned(commit)
    assert commit.attempting > 0
    await store.commit(commit)  # ...and the process dies before the send starts
    restarted = sender(store, client, clock)
    await drained(restarted)
    assert emu.messages == []  # its start is on record: uncertain, it waits for its echo
    clock.now += SenderSettings().settle_grace + 1
    await drained(restarted)
    assert [m.text for m in emu.messages] == ["lost before X"]  # X had no trace of it


@pytest.mark.parametrize(("grace", "late"), [(5.0, 30.0), (0.5, 0.1)])
async def test_a_send_that_starts_late_after_its_commit_records_its_start_again(
    emu: Emulator, client: XClient, clock: Clock, grace: float, late: float
) -> None:
    """A crash's settlement asks X ``settle_grace`` after a send's recorded start: a row
    that waited (for a slot, for the webhook) for a fair part of the grace must not
    keep its commit's time, or X could be asked before the send landed."""
    store = MemoryStore()
    out = sender(store, client, clock, settle_grace=grace)
    await drained(out)
    commit = reply_commit(ALICE, "late")
    out.planned(commit)
    await store.commit(commit)
    clock.now += late
    out.committed(commit)
    await drained(out)
    (row,) = await rows(store)
    assert row.status == OutboxStatus.SENT and row.attempted_at == clock.now
    assert row.attempted_at > commit.attempting


async def test_a_send_x_has_no_trace_of_goes_out_again(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    store = MemoryStore()
    await say(store, ALICE, "lost on the way")
    (row,) = await rows(store)
    # A send started (recorded) and died before X got it: X lists nothing.
    await store.attempting(row.id, clock.now)
    clock.now += SenderSettings().settle_grace + 1
    await drained(sender(store, client, clock))
    assert [m.text for m in emu.messages] == ["lost on the way"]
    (row,) = await rows(store)
    assert row.status == OutboxStatus.SENT and row.attempted_at > 0


async def test_a_list_of_x_read_before_a_send_landed_does_not_vouch_for_it(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    """A send settled from X's list, then another whose DM landed after that list was read."""
    store = MemoryStore()
    await say(store, ALICE, "never reached X")
    (first,) = await rows(store)
    out = sender(store, client, clock, settle_grace=1.0)
    await store.attempting(first.id, clock.now)
    clock.now += 1.1  # the first is settled: X lists nothing, it goes out
    await drained(out)
    assert [m.text for m in emu.messages] == ["never reached X"]
    # A send of a second row started (and its process died) just now; X has it...
    await say(store, BOB, "reached X late")
    _, second = await rows(store)
    await store.attempting(second.id, clock.now)
    await client.send_dm(BOB, {"text": "reached X late"})
    # ...and the list X gave a second ago (still cached) knows nothing of it.
    clock.now += 1.1
    await drained(out)
    assert sorted(m.text for m in emu.messages) == ["never reached X", "reached X late"]
    first, second = await rows(store)
    assert second.status == OutboxStatus.SENT and second.sent_id == emu.messages[1].id


async def test_the_sends_one_crash_left_uncertain_are_settled_with_one_list_of_x(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    store = MemoryStore()
    peers = [f"20000000001{n:02d}" for n in range(12)]
    for peer in peers:
        emu.add_user(peer, f"p{peer[-2:]}", accepts_requests=True)
        await say(store, peer, f"to {peer}")
    started = clock.now
    for n, row in enumerate(await rows(store)):
        await store.attempting(row.id, started + n * 0.05)  # in flight when it died
    clock.now = started + SenderSettings().settle_grace + 1
    await drained(sender(store, client, clock))
    assert sorted(m.text for m in emu.messages) == sorted(f"to {peer}" for peer in peers)
    # One call of events/list: X allows 15 per 15 minutes.
    assert emu.limits.headers("dm_list", f"{BOT}-abc")["x-rate-limit-remaining"] == "14"


async def test_a_send_under_way_does_not_hold_back_the_settling_of_a_crashed_one(
    emu: Emulator, client: XClient, clock: Clock
) -> None:
    store = MemoryStore()
    grace = SenderSettings().settle_grace
    await say(store, ALICE, "left by a crash")
    (crashed,) = await rows(store)
    await store.attempting(crashed.id, clock.now)
    # It comes due again a moment after its grace is over.
    await store.retry_later(crashed.id, clock.now + grace + 0.5, "no answer", uncertain=True)
    clock.now += grace + 0.1
    emu.faults.add("dm_send", status=200, delay=5.0)  # X holds the next send a while
    await say(store, BOB, "under way")
    out = sender(store, client, clock)
    async with running(out):
        await until(lambda: not emu.faults.pending)  # Bob's reply is at X, held there
        clock.now += 0.5
        out.notify()
        # Alice's is settled (X has no trace) and sent while Bob's is still under way.
        (first,) = await emu.wait_for_messages(1, timeout=4.0)
        assert first.text == "left by a crash"


async def test_sqlite_outbox_survives_a_restart(
    tmp_path: Path, emu: Emulator, client: XClient, clock: Clock
) -> None:
    path = tmp_path / "dmbot.db"
    store = SqliteStore(path)
    await store.open()
    await say(store, ALICE, "one", "two", event="e1")
    await store.close()  # the process stops before the sender ran

    store = SqliteStore(path)
    await store.open()
    try:
        await sender(store, client, clock).drain(5)
        assert [m.text for m in emu.messages] == ["one", "two"]
        sent = await rows(store)
    finally:
        await store.close()
    assert [(r.status, r.sent_id) for r in sent] == [
        (OutboxStatus.SENT, emu.messages[0].id),
        (OutboxStatus.SENT, emu.messages[1].id),
    ]


async def test_a_due_list_read_while_the_send_finished_does_not_send_it_again(
    store: Store, emu: Emulator, client: XClient, clock: Clock
) -> None:
    gated = Gated(store)
    # X holds the send for a moment, so it is in flight when the next read starts.
    emu.faults.add("dm_send", status=200, delay=0.3)
    await say(gated, ALICE, "only once")
    out = sender(gated, client, clock)
    gate = asyncio.Event()

    async def recorded() -> bool:
        (row,) = await rows(gated)
        return row.status != OutboxStatus.PENDING

    async with running(out):
        await until(lambda: not emu.faults.pending)  # the send has reached X
        gated.gate = gate
        out.notify()
        await asyncio.wait_for(gated.read_held.wait(), 5)  # this read saw the row pending
        await emu.wait_for_messages(1, timeout=5)
        await until(recorded)
        gate.set()  # the stale read comes back after the send has finished
        await drained(out)
    assert [m.text for m in emu.messages] == ["only once"]


async def until(condition: Callable[[], Any]) -> None:
    """Wait (at most 5 s) for a state another component reaches, which has no event to await.

    ``condition``: a function, or a coroutine function, returning a truthy value once reached.
    """
    async with asyncio.timeout(5.0):
        while True:
            reached = condition()
            if inspect.isawaitable(reached):
                reached = await reached
            if reached:
                return
            await asyncio.sleep(0.005)
