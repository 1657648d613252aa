"""What only the shared Redis store does: partitions, leases, locks, send leases, outages.

The contract every store keeps is in test_store_contract.py. Here, several
stores share one Redis as several instances would; "killed" instances are
real processes ended with SIGKILL, and an outage is a real TCP proxy cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from conftest import REDIS_URL, require_redis, require_redis_module

from dmbot.edge import signature
from dmbot.edge.webhook import create_webhook_app
from dmbot.errors import StorageError
from dmbot.store import Commit, NewAction, OutboxStatus, Store, open_store

require_redis_module()
import redis.asyncio as redis_asyncio  # noqa: E402

from dmbot.store.redis import RedisStore  # noqa: E402

T = TypeVar("T")


@pytest.fixture
def prefix() -> str:
    require_redis()
    return f"dmbot-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def stores(prefix: str) -> AsyncIterator[Callable[..., Awaitable[RedisStore]]]:
    """Open stores sharing ``prefix`` (instances of one deployment); all closed and wiped after."""
    opened: list[RedisStore] = []

    async def open_one(**options: Any) -> RedisStore:
        options.setdefault("lock_ttl", 0.6)
        options.setdefault("reclaim_idle", 0.6)
        options.setdefault("partitions", 4)
        store = RedisStore(REDIS_URL, prefix=prefix, **options)
        await store.open()
        opened.append(store)
        return store

    try:
        yield open_one
    finally:
        for store in opened:
            with contextlib.suppress(StorageError):
                await store.close()
        cleaner = RedisStore(REDIS_URL, prefix=prefix)
        await cleaner.drop()
        await cleaner.client.aclose()


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = 5.0) -> T:
    """Poll ``check`` every 20 ms until it returns a truthy value."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s: {check}")
        await asyncio.sleep(0.02)


async def read_all(store: Store, count: int, within: float = 5.0) -> list[Any]:
    """Read until ``count`` deliveries arrived (or fail)."""
    got: list[Any] = []

    async def more() -> bool:
        got.extend(await store.read(100))
        return len(got) >= count

    await eventually(more, within)
    return got


DOOMED = """
import asyncio, sys
from dmbot.store.redis import RedisStore

async def main() -> None:
    url, prefix = sys.argv[1], sys.argv[2]
    store = RedisStore(url, prefix=prefix, partitions=4, lock_ttl=0.6, reclaim_idle=0.6,
                       consumer="doomed")
    await store.open()
    for n in range(8):
        await store.append(b'{"n":%d}' % n, 0.0, f"conv-{n}")
    got = []
    while len(got) < 8:
        got += await store.read(100)
    async with store.locked(("1000", "2000")):
        print("ready", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


@contextlib.asynccontextmanager
async def killed_instance(prefix: str, tmp_path: Path) -> AsyncIterator[dict[str, int]]:
    """An instance that appended and read 8 deliveries and holds a lock, then got SIGKILL.

    Yields what Redis had left of each lease and lock it held when it died, in
    milliseconds (PTTL): nobody renews them any more, so they lapse by then.
    """
    script = tmp_path / "doomed.py"
    script.write_text(DOOMED)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), REDIS_URL, prefix, stdout=asyncio.subprocess.PIPE
    )
    observer = redis_asyncio.Redis.from_url(REDIS_URL)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        assert line.strip() == b"ready"
        proc.kill()
        await proc.wait()
        keys = [f"{prefix}:lease:{p}" for p in range(4)] + [f"{prefix}:lock:1000:2000"]
        yield {key: await observer.pttl(key) for key in keys}
    finally:
        await observer.aclose()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def lapse_within(left: dict[str, int], ttl: float) -> None:
    """Every key the dead instance held expires within ``ttl`` (or has already)."""
    for key, ms in left.items():
        assert ms == -2 or 0 < ms <= ttl * 1000, f"{key} has {ms} ms left, more than {ttl} s"


# -- partitions ----------------------------------------------------------------------


async def test_a_conversations_deliveries_share_one_partition(stores: Any) -> None:
    store = await stores(partitions=16)
    same = [await store.append(b"{}", time.time(), "100|200") for _ in range(5)]
    assert len({item_id.partition(":")[0] for item_id in same}) == 1
    spread = [await store.append(b"{}", time.time(), f"100|{n}") for n in range(64)]
    assert len({item_id.partition(":")[0] for item_id in spread}) > 8
    items = await read_all(store, 69)
    assert [item.partition for item in items[:5]] == ["100|200"] * 5


async def test_live_instances_share_the_partitions_and_take_back_a_closed_ones(
    stores: Any,
) -> None:
    first = await stores()
    assert first.inbox.owned == [0, 1, 2, 3]
    second = await stores()

    async def shared() -> bool:
        return len(first.inbox.owned) == 2 and len(second.inbox.owned) == 2

    await eventually(shared)
    assert set(first.inbox.owned).isdisjoint(second.inbox.owned)
    await second.close()

    async def all_back() -> bool:
        return first.inbox.owned == [0, 1, 2, 3]

    await eventually(all_back)


async def test_a_killed_instances_partitions_and_pending_deliveries_pass_on(
    stores: Any, prefix: str, tmp_path: Path
) -> None:
    async with killed_instance(prefix, tmp_path) as left:
        # Its partition leases lapse after lock_ttl (0.6 s), not later...
        lapse_within(left, 0.6)
        heir = await stores()
        # ...and then another instance reads what it had read and not acknowledged.
        items = await read_all(heir, 8, within=10)
    assert sorted(item.body for item in items) == sorted(b'{"n":%d}' % n for n in range(8))
    await heir.ack([item.id for item in items])
    assert await heir.inbox_size() == 0


async def test_deliveries_a_dead_consumer_read_are_reclaimed_after_reclaim_idle(
    stores: Any, prefix: str
) -> None:
    store = await stores(partitions=1, reclaim_idle=0.4)
    assert await store.read(10) == []  # the store owns the partition and has caught up
    item_id = await store.append(b'{"lost":true}', time.time(), "100|200")
    # A consumer that read the delivery and vanished (the lease had just passed on).
    ghost = redis_asyncio.Redis.from_url(REDIS_URL)
    try:
        before_read = time.monotonic()  # the delivery's idle time starts after this
        read = await ghost.xreadgroup("dmbot", "ghost", {f"{prefix}:inbox:0": ">"}, count=10)
        assert len(read[0][1]) == 1
    finally:
        await ghost.aclose()
    [item] = await read_all(store, 1, within=10)
    # Not before it was idle reclaim_idle (a lower bound: a slow machine only adds to it).
    assert time.monotonic() - before_read >= 0.4
    assert item.id == item_id and item.body == b'{"lost":true}'


# -- conversation locks ---------------------------------------------------------------


async def test_the_lock_is_exclusive_across_instances_and_renewed_while_held(
    stores: Any, prefix: str
) -> None:
    # A lock_ttl no loaded machine misses a renewal of (one every lock_ttl / 3).
    first, second = await stores(lock_ttl=3.0), await stores(lock_ttl=3.0)
    key = f"{prefix}:lock:1:2"
    order: list[str] = []
    left: list[int] = []

    async def then_second() -> None:
        async with second.locked(("1", "2")):
            order.append("second in")

    async def renewed() -> bool:
        """Redis shows the lock's expiry pushed back: renewed while held."""
        left.append(await first.client.pttl(key))
        return len(left) > 1 and left[-1] > left[-2]

    async with first.locked(("1", "2")):
        order.append("first in")
        waiting = asyncio.ensure_future(then_second())
        await eventually(renewed, within=10)  # the second has been trying all along
        assert 0 < left[-1] <= 3000
        order.append("first out")
    await asyncio.wait_for(waiting, 10)
    assert order == ["first in", "first out", "second in"]


async def test_a_killed_holder_blocks_the_conversation_for_lock_ttl_at_most(
    stores: Any, prefix: str, tmp_path: Path
) -> None:
    async with killed_instance(prefix, tmp_path) as left:
        lapse_within(left, 0.6)  # its lock lapses within lock_ttl, nobody renewing it
        heir = await stores()
        async with asyncio.timeout(10):
            async with heir.locked(("1000", "2000")):
                pass


# -- outbox ----------------------------------------------------------------------------


async def test_two_instances_never_get_the_same_due_action(stores: Any) -> None:
    first, second = await stores(), await stores()
    for n in range(20):
        actions = [NewAction("dm", {"text": f"{n}-a"}), NewAction("dm", {"text": f"{n}-b"})]
        await first.commit(Commit(f"e{n}", ("1", str(n)), actions=actions))
    now = time.time() + 1
    a, b = await asyncio.gather(first.due(now), second.due(now))
    assert {i.id for i in a}.isdisjoint({i.id for i in b})
    assert sorted(i.payload["text"] for i in a + b) == sorted(f"{n}-a" for n in range(20))
    # Each keeps its conversations while sending; the other is not handed them again.
    assert {i.id for i in await second.due(now)} == {i.id for i in b}
    for item in a:
        await first.sent(item.id, f"x{item.id}")
    after = await second.due(now)
    assert {i.payload["text"] for i in after} >= {i.payload["text"].replace("-a", "-b") for i in a}


async def test_a_closed_instances_unsent_actions_go_to_another(stores: Any) -> None:
    first, second = await stores(), await stores()
    await first.commit(Commit("e1", ("1", "2"), actions=[NewAction("dm", {"text": "hi"})]))
    [item] = await first.due(time.time() + 1)
    assert await second.due(time.time() + 1) == []
    await first.close()
    [again] = await second.due(time.time() + 1)
    assert again.id == item.id
    await second.sent(again.id, "555")
    [row] = await second.outbox(("1", "2"))
    assert row.status == OutboxStatus.SENT and row.sent_id == "555"


async def test_an_instance_that_stalled_past_its_send_lease_does_not_send(
    stores: Any, prefix: str
) -> None:
    """The lease lapsed while the instance was stalled, and another took the row over."""
    first, second = await stores(lock_ttl=30), await stores(lock_ttl=30)
    await first.commit(Commit("e1", ("1", "2"), actions=[NewAction("dm", {"text": "hi"})]))
    [item] = await first.due(time.time() + 1)
    observer = redis_asyncio.Redis.from_url(REDIS_URL)
    try:
        await observer.delete(f"{prefix}:send:1:2")  # as if its 30 s had run out
        [taken] = await second.due(time.time() + 1)
    finally:
        await observer.aclose()
    assert taken.id == item.id
    # The stalled instance wakes up and is about to call X: it must not.
    assert await first.attempting(item.id, time.time()) is False
    [row] = await second.outbox(("1", "2"))
    assert row.attempted_at == 0  # nothing recorded in the new holder's way
    assert await second.attempting(item.id, time.time()) is True


async def test_claims_and_finished_rows_are_forgotten_after_claim_ttl(stores: Any) -> None:
    store = await stores(claim_ttl=0.2)
    await store.commit(Commit("old", ("1", "2"), actions=[NewAction("dm", {"text": "x"})]))
    [item] = await store.due(time.time() + 1)
    await store.sent(item.id, "777")
    await asyncio.sleep(0.25)
    await store.commit(Commit("new", ("1", "3")))
    assert not await store.claimed("old")
    assert await store.claimed("new")
    assert await store.outbox(("1", "2")) == []
    assert not await store.delivered("777")


# -- configuration and outages ---------------------------------------------------------


async def test_open_store_passes_the_redis_options(prefix: str) -> None:
    store = open_store(
        REDIS_URL, prefix=prefix, partitions=3, lock_ttl=5, consumer="web-1", synchronous="x"
    )
    assert isinstance(store, RedisStore) and store.shared
    assert (store.prefix, store.partitions, store.consumer) == (prefix, 3, "web-1")
    await store.client.aclose()


async def test_unreachable_redis_is_a_storage_error_that_names_the_url_not_the_password() -> None:
    store = RedisStore("redis://:hunter2@127.0.0.1:1/15")
    with pytest.raises(StorageError) as caught:
        await store.open()
    message = str(caught.value)
    assert "127.0.0.1:1" in message and "config.yaml" in message
    assert "hunter2" not in message
    with pytest.raises(StorageError):
        await store.append(b"{}", time.time(), "1|2")
    assert not await store.ping()
    await store.close()


class Proxy:
    """A TCP proxy to Redis that can be cut and restored, like a network partition."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


async def test_the_store_recovers_by_itself_when_redis_is_back(prefix: str) -> None:
    proxy = Proxy(0)
    await proxy.up()
    url = f"redis://127.0.0.1:{proxy.port}/15"
    store = RedisStore(url, prefix=prefix, partitions=2, lock_ttl=0.3, reclaim_idle=0.3)
    try:
        await store.open()
        await store.append(b'{"n":1}', time.time(), "1|2")
        await proxy.down()
        with pytest.raises(StorageError, match=f"127.0.0.1:{proxy.port}"):
            await store.append(b'{"n":2}', time.time(), "1|2")
        assert not await store.ping()
        await asyncio.sleep(0.5)  # longer than lock_ttl: every lease lapsed meanwhile
        await proxy.up()
        assert await eventually(store.ping)
        await store.append(b'{"n":3}', time.time(), "1|2")
        items = await read_all(store, 2)
        assert [item.body for item in items] == [b'{"n":1}', b'{"n":3}']
    finally:
        await proxy.up()
        await store.drop()
        await store.close()
        await proxy.down()


async def test_the_webhook_answers_503_while_redis_is_unreachable_and_healthz_says_so(
    prefix: str,
) -> None:
    proxy = Proxy(0)
    await proxy.up()
    store = RedisStore(f"redis://127.0.0.1:{proxy.port}/15", prefix=prefix, partitions=2)
    app = create_webhook_app(consumer_secret="s3cret", store=store, path="/webhooks/twitter")
    body = json.dumps({"for_user_id": "1", "follow_events": []}).encode()
    headers = {signature.HEADER: signature.sign("s3cret", body)}
    try:
        await store.open()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bot.test"
        ) as x:
            await proxy.down()
            assert (
                await x.post("/webhooks/twitter", content=body, headers=headers)
            ).status_code == 503
            health = await x.get("/healthz")
            assert (health.status_code, health.json()["store"]) == (503, False)
            await proxy.up()
            assert await eventually(store.ping)
            assert (
                await x.post("/webhooks/twitter", content=body, headers=headers)
            ).status_code == 200
            health = await x.get("/healthz")
            assert (health.status_code, health.json()["store"]) == (200, True)
        [item] = await read_all(store, 1)
        assert item.body == body
    finally:
        await proxy.up()
        await store.drop()
        await store.close()
        await proxy.down()


async def test_the_store_starts_over_when_redis_lost_its_data(stores: Any, prefix: str) -> None:
    store = await stores()
    await store.append(b"{}", time.time(), "1|2")
    await store.drop()  # what a Redis restart without persistence leaves
    await store.append(b'{"after":1}', time.time(), "1|2")
    [item] = await read_all(store, 1)
    assert item.body == b'{"after":1}'


async def test_consumers_that_left_with_nothing_pending_are_forgotten(
    stores: Any, prefix: str
) -> None:
    store = await stores(partitions=1)
    assert await store.read(10) == []
    ghost = redis_asyncio.Redis.from_url(REDIS_URL)
    try:
        stream = f"{prefix}:inbox:0"
        # Two instances of the past: one finished its work, one left some behind.
        await store.append(b"{}", time.time(), "1|2")
        [[_, [(done, _)]]] = await ghost.xreadgroup("dmbot", "left-done", {stream: ">"}, count=1)
        await ghost.xack(stream, "dmbot", done)
        await store.append(b"{}", time.time(), "1|2")
        await ghost.xreadgroup("dmbot", "left-with-work", {stream: ">"}, count=1)
        await asyncio.sleep(0.05)
        store.inbox.forget_consumers_after = 0.01
        assert await store.inbox.sweep() == 1
        names = {info["name"] for info in await ghost.xinfo_consumers(stream, "dmbot")}
    finally:
        await ghost.aclose()
    assert b"left-done" not in names and b"left-with-work" in names


async def test_a_delivery_the_worker_still_holds_is_not_handed_out_twice(stores: Any) -> None:
    store = await stores(partitions=1, reclaim_idle=0.2)
    await store.append(b'{"slow":1}', time.time(), "1|2")
    [item] = await read_all(store, 1)
    await asyncio.sleep(0.5)  # a handler, or a backlog, keeps it past reclaim_idle
    assert await store.read(10) == []
    await store.ack([item.id])
    assert await store.inbox_size() == 0


async def test_an_acknowledgement_redis_missed_is_sent_again(prefix: str) -> None:
    proxy = Proxy(0)
    await proxy.up()
    store = RedisStore(
        f"redis://127.0.0.1:{proxy.port}/15", prefix=prefix, partitions=1, lock_ttl=0.3
    )
    try:
        await store.open()
        await store.append(b"{}", time.time(), "1|2")
        [item] = await read_all(store, 1)
        await proxy.down()
        with pytest.raises(StorageError):
            await store.ack([item.id])
        await proxy.up()

        async def acknowledged() -> bool:
            return await store.inbox_size() == 0

        await eventually(acknowledged)
    finally:
        await proxy.up()
        await store.drop()
        await store.close()
        await proxy.down()
