"""One contract for every store backend: memory, SQLite and Redis."""

from __future__ import annotations

import asyncio
import time

from dmbot.store import Commit, NewAction, OutboxStatus, Store


async def test_appended_deliveries_are_read_in_order_once(store: Store) -> None:
    ids = [await store.append(f'{{"n":{n}}}'.encode(), time.time()) for n in range(3)]
    items = await store.read(10)
    assert [item.id for item in items] == ids
    assert [item.body for item in items] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert await store.read(10) == []
    assert await store.inbox_size() == 3


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
