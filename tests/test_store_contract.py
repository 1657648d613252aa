"""One contract for every store backend: memory, SQLite and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator

import pytest
from conftest import REDIS_URL

from dmbot.errors import StorageError
from dmbot.store import Commit, InboxItem, NewAction, OutboxStatus, Store
from dmbot.store.memory import MemoryStore
from dmbot.store.sqlite import SqliteStore
from dmbot.types import ConversationKey


async def test_appended_deliveries_are_read_in_order_once(store: Store) -> None:
    ids = [await store.append(f'{{"n":{n}}}'.encode(), time.time()) for n in range(3)]
    items = await store.read(10)
    assert [item.id for item in items] == ids
    assert [item.body for item in items] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert await store.read(10) == []
    assert await store.inbox_size() == 3


async def test_a_delivery_taken_as_read_is_never_read_again_and_a_skipped_one_is(
    store: Store,
) -> None:
    """The worker handles a delivery this process just stored without reading it back,
    only when it is the next row a read would give; otherwise the read gives it."""
    first = await store.append(b'{"n":0}', time.time())
    assert [item.id for item in await store.read(10)] == [first]
    second = InboxItem(await store.append(b'{"n":1}', time.time()), b'{"n":1}', time.time())
    if store.shared:
        assert not store.take(second)  # another instance may own its partition
        assert [item.id for item in await store.read(10)] == [second.id]
        return
    assert store.take(second)
    assert await store.read(10) == []
    third = await store.append(b'{"n":2}', time.time())
    fourth = InboxItem(await store.append(b'{"n":3}', time.time()), b'{"n":3}', time.time())
    assert not store.take(fourth)  # the third was never read: the read gives both, in order
    assert [item.id for item in await store.read(10)] == [third, fourth.id]
    assert await store.inbox_size() == 4  # taken is not acknowledged


async def test_acknowledged_deliveries_are_gone(store: Store) -> None:
    first = await store.append(b"{}", time.time())
    await store.append(b"{}", time.time())
    await store.read(10)
    await store.ack([first])
    assert await store.inbox_size() == 1


async def test_concurrent_appends_all_land(store: Store) -> None:
    bodies = [f'{{"n":{n}}}'.encode() for n in range(200)]
    await asyncio.gather(*(store.append(body, time.time()) for body in bodies))
    items = await store.read(1000)
    assert sorted(item.body for item in items) == sorted(bodies)


async def test_commit_claims_once_and_writes_state_and_outbox_together(store: Store) -> None:
    conv = ("100", "200")
    first = Commit(
        event_id="e1",
        conversation=conv,
        state={"state": {"n": 1}},
        actions=[NewAction("dm", {"text": "one"}), NewAction("dm", {"text": "two"})],
    )
    assert await store.commit(first)
    assert await store.claimed("e1")
    again = Commit(
        event_id="e1",
        conversation=conv,
        state={"state": {"n": 2}},
        actions=[NewAction("dm", {"text": "three"})],
    )
    assert not await store.commit(again)
    assert await store.load(conv) == {"state": {"n": 1}}
    assert [item.payload["text"] for item in await store.outbox(conv)] == ["one", "two"]


async def test_unknown_conversation_is_empty(store: Store) -> None:
    assert await store.load(("1", "2")) == {}
    assert not await store.claimed("nope")


async def test_due_gives_the_first_pending_action_per_conversation(store: Store) -> None:
    a, b = ("1", "a"), ("1", "b")
    await store.commit(
        Commit("e1", a, actions=[NewAction("dm", {"text": "a1"}), NewAction("dm", {"text": "a2"})])
    )
    await store.commit(Commit("e2", b, actions=[NewAction("dm", {"text": "b1"})]))
    due = await store.due(time.time() + 1)
    assert [item.payload["text"] for item in due] == ["a1", "b1"]
    await store.sent(due[0].id, "900")
    due = await store.due(time.time() + 1)
    assert [item.payload["text"] for item in due] == ["a2", "b1"]


async def test_retry_later_holds_back_the_conversation(store: Store) -> None:
    conv = ("1", "a")
    await store.commit(
        Commit("e1", conv, actions=[NewAction("dm", {"text": "1"}), NewAction("dm", {"text": "2"})])
    )
    [first] = await store.due(time.time() + 1)
    later = time.time() + 60
    await store.retry_later(first.id, later, "503 from X")
    assert await store.due(time.time() + 1) == []
    [again] = await store.due(later + 1)
    assert again.id == first.id and again.attempts == 1 and again.error == "503 from X"


async def test_failed_is_recorded_with_code_and_unblocks_the_next(store: Store) -> None:
    conv = ("1", "a")
    await store.commit(
        Commit("e1", conv, actions=[NewAction("dm", {"text": "1"}), NewAction("dm", {"text": "2"})])
    )
    [first] = await store.due(time.time() + 1)
    await store.failed(first.id, "You cannot send messages to this user.", 349)
    [second] = await store.due(time.time() + 1)
    assert second.payload["text"] == "2"
    items = {item.id: item for item in await store.outbox(conv)}
    assert items[first.id].status == OutboxStatus.FAILED
    assert items[first.id].error_code == 349


async def test_delivered_marks_the_echoed_send(store: Store) -> None:
    conv = ("1", "a")
    await store.commit(Commit("e1", conv, actions=[NewAction("dm", {"text": "1"})]))
    [item] = await store.due(time.time() + 1)
    await store.sent(item.id, "12345")
    assert await store.delivered("12345")
    assert not await store.delivered("999")
    [after] = await store.outbox(conv)
    assert after.status == OutboxStatus.DELIVERED and after.sent_id == "12345"


async def test_an_echo_mark_nobody_waits_for_is_written_with_the_next_write(
    store: Store,
) -> None:
    conv = ("1", "a")
    await store.commit(Commit("e1", conv, actions=[NewAction("dm", {"text": "hi"})]))
    [row] = await store.due(time.time() + 1)
    await store.sent(row.id, "900")
    await store.delivered_soon("900")
    await store.append(b"{}", time.time())  # any write: the mark rides in its transaction
    [row] = await store.outbox(conv)
    assert (row.status, row.sent_id) == (OutboxStatus.DELIVERED, "900")


async def test_claims_expire(store: Store) -> None:
    await store.commit(Commit("old", ("1", "a")))
    removed = await store.expire_claims(time.time() + 10)
    assert removed >= 1
    assert not await store.claimed("old")


async def test_facts(store: Store) -> None:
    assert await store.get_fact("app_id") is None
    await store.set_fact("app_id", "13090192")
    assert await store.get_fact("app_id") == "13090192"


async def test_ping(store: Store) -> None:
    assert await store.ping()


async def test_load_unclaimed_says_duplicate_or_gives_the_document(store: Store) -> None:
    conv = ("1", "a")
    assert await store.load_unclaimed(conv, "e1") == {}
    await store.commit(Commit("e1", conv, state={"state": {"n": 1}}))
    assert await store.load_unclaimed(conv, "e1") is None
    assert await store.load_unclaimed(conv, "e2") == {"state": {"n": 1}}


class Uncopyable:
    """A value a handler put in a reply that cannot be copied (a handler's bug)."""

    def __deepcopy__(self, memo: object) -> object:
        raise TypeError("Uncopyable cannot be copied")


@contextlib.asynccontextmanager
async def failing_mid_commit(
    store: Store, conversation: ConversationKey
) -> AsyncIterator[list[NewAction]]:
    """Commits to ``conversation`` fail after the claim and the state are written, before
    the first outbox row; yields the replies to commit meanwhile.

    Each backend fails in its own real way: the memory store on a reply it cannot
    copy; SQLite on a trigger refusing outbox rows (as a full disk would); Redis on
    the conversation's outbox queue holding a value of another type, so the
    script's first write there errors.
    """
    replies = [NewAction("dm", {"text": "one"}), NewAction("dm", {"text": "two"})]
    if isinstance(store, MemoryStore):
        yield [NewAction("dm", {"text": "one", "extra": Uncopyable()}), *replies[1:]]
    elif isinstance(store, SqliteStore):
        with contextlib.closing(sqlite3.connect(store.path, timeout=5)) as db:
            db.execute(
                "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox"
                " BEGIN SELECT RAISE(ABORT, 'injected'); END"
            )
            db.commit()
            try:
                yield replies
            finally:
                db.execute("DROP TRIGGER refuse_outbox")
                db.commit()
    else:
        import redis.asyncio

        prefix = store.prefix  # type: ignore[attr-defined]
        queue = f"{prefix}:obq:{conversation[0]}:{conversation[1]}"
        client = redis.asyncio.Redis.from_url(REDIS_URL)
        try:
            assert await client.set(queue, "not a list", nx=True)  # the queue was empty
            yield replies
        finally:
            await client.delete(queue)
            await client.aclose()


async def test_a_commit_that_fails_midway_leaves_nothing_and_a_retry_commits_it_once(
    store: Store,
) -> None:
    conv = ("100", "200")
    assert await store.commit(Commit("e0", conv, state={"state": {"n": 0}}))
    delivery = await store.append(b'{"n":1}', time.time())
    assert [item.id for item in await store.read(10)] == [delivery]

    def commit(actions: list[NewAction]) -> Commit:
        return Commit("e1", conv, state={"state": {"n": 1}}, actions=actions, ack=[delivery])

    async with failing_mid_commit(store, conv) as replies:
        with pytest.raises((StorageError, TypeError)):
            await store.commit(commit(replies))
        # Nothing of it is visible: no claim, the old state, no reply, not acknowledged.
        assert not await store.claimed("e1")
        assert await store.load_unclaimed(conv, "e1") == {"state": {"n": 0}}
        assert await store.load(conv) == {"state": {"n": 0}}
        assert await store.outbox(conv) == []
        assert await store.due(time.time() + 1) == []
        assert await store.inbox_size() == 1
    replies = [NewAction("dm", {"text": "one"}), NewAction("dm", {"text": "two"})]
    assert await store.commit(commit(replies))  # the retry, once the fault is gone
    assert not await store.commit(commit(replies))
    assert await store.claimed("e1")
    assert await store.load(conv) == {"state": {"n": 1}}
    assert [item.payload["text"] for item in await store.outbox(conv)] == ["one", "two"]
    [due] = await store.due(time.time() + 1)
    assert due.payload["text"] == "one"
    assert await store.inbox_size() == 0
