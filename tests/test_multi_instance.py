"""Three `dmbot serve` processes on one Redis behave like one bot.

X is `dmbot emulator` on loopback: it checks the OAuth signature of every
send and records it. Deliveries are signed like X's and spread over the
instances at random, each one two or three times, as X's retries and
per-user copies do; a load balancer would spread them the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import REDIS_URL, require_redis, require_redis_module
from payloads import dm, next_id
from procs import BOT_ID, CONSUMER_SECRET, REPO, Process, emulator, free_port, write_config

from dmbot.edge import signature
from dmbot.store import OutboxItem, OutboxStatus

require_redis_module()
from dmbot.store.redis import RedisStore  # noqa: E402

X_LATENCY = 0.1
"""Seconds X takes to answer each send in the kill -9 test."""

ECHO_BOT = """from dmbot import Bot, Context

bot = Bot("echo")


@bot.on_message()
async def echo(ctx: Context) -> None:
    await ctx.reply(ctx.text)
"""


@pytest.fixture(scope="module")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_redis()
    with emulator(tmp_path_factory.mktemp("emulator")) as url:
        yield url


@dataclass
class Cluster:
    """N `dmbot serve` processes sharing one Redis prefix."""

    urls: list[str]
    procs: list[Process]
    prefix: str
    alive: list[bool] = field(default_factory=list)

    def live(self) -> list[int]:
        return [i for i, up in enumerate(self.alive) if up]

    def kill9(self, index: int) -> None:
        self.alive[index] = False
        self.procs[index].kill9()


@contextlib.asynccontextmanager
async def cluster(folder: Path, emulator_url: str, bot: str, n: int = 3) -> AsyncIterator[Cluster]:
    prefix = f"dmbot-test-multi-{uuid.uuid4().hex[:8]}"
    config = write_config(
        folder,
        api_url=emulator_url,
        bot=bot,
        store=REDIS_URL,
        extra={
            "redis": {"prefix": prefix, "lock_ttl": "2s", "reclaim_idle": "2s"},
            "logging": {"level": "warning"},
        },
    )
    ports = [free_port() for _ in range(n)]
    procs = [
        Process(["serve", "--config", str(config), "--port", str(port)], folder / f"serve{i}.log")
        for i, port in enumerate(ports)
    ]
    try:
        async with httpx.AsyncClient(timeout=1) as client:
            for proc, port in zip(procs, ports, strict=True):

                async def healthy(proc: Process = proc, port: int = port) -> bool:
                    if proc.popen.poll() is not None:
                        raise AssertionError(f"dmbot serve exited early:\n{proc.output()}")
                    try:
                        response = await client.get(f"http://127.0.0.1:{port}/healthz")
                    except httpx.HTTPError:
                        return False
                    return response.status_code == 200

                await eventually(healthy, 20)
        urls = [f"http://127.0.0.1:{port}/webhooks/twitter" for port in ports]
        yield Cluster(urls, procs, prefix, [True] * n)
    finally:
        for proc in procs:
            proc.stop()
        observer = RedisStore(REDIS_URL, prefix=prefix)
        await observer.drop()
        await observer.client.aclose()


async def eventually(check: Callable[[], Awaitable[Any]], within: float) -> Any:
    """Poll ``check`` every 20 ms until it returns something truthy."""
    deadline = time.monotonic() + within
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {within} s: {check.__doc__ or check}")
        await asyncio.sleep(0.02)
    return result


async def add_people(client: httpx.AsyncClient, emulator_url: str, ids: list[str]) -> None:
    await client.post(f"{emulator_url}/_emulator/reset")
    # Their DMs are posted straight to dmbot, not written through the emulator: they
    # accept message requests, so the bot's answers reach them.
    for user_id in ids:
        person = {"user_id": user_id, "screen_name": user_id, "accepts_requests": True}
        response = await client.post(f"{emulator_url}/_emulator/users", json=person)
        assert response.status_code in (201, 400), response.text


async def echo_to(client: httpx.AsyncClient, emulator_url: str, swarm: Cluster) -> None:
    """X delivers the echo of each DM the bot sends, as it does: to every instance's webhook."""
    for url in swarm.urls:
        hook = await client.post(f"{emulator_url}/_emulator/webhooks", json={"url": url})
        assert hook.status_code == 201, hook.text
        subscribed = await client.post(
            f"{emulator_url}/_emulator/subscriptions",
            json={"user_id": BOT_ID, "webhook_id": hook.json()["id"]},
        )
        assert subscribed.status_code == 204, subscribed.text


async def bot_messages(client: httpx.AsyncClient, emulator_url: str) -> list[dict[str, Any]]:
    response = await client.get(f"{emulator_url}/_emulator/messages")
    return [m for m in response.json()["messages"] if m["sender_id"] == BOT_ID]


def by_peer(messages: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in messages:
        found.setdefault(message["recipient_id"], []).append(message["message_data"]["text"])
    return found


async def deliver(client: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> int:
    """POST one signed delivery, as X does; the status code."""
    body = json.dumps(payload).encode()
    headers = {signature.HEADER: signature.sign(CONSUMER_SECRET, body)}
    return (await client.post(url, content=body, headers=headers)).status_code


async def post_copies(
    client: httpx.AsyncClient, swarm: Cluster, payload: dict[str, Any], copies: int
) -> None:
    """Deliver ``payload`` to ``copies`` different instances; a dead one is replaced, as X retries.

    The first copy is stored before this returns, so a conversation's next
    event cannot overtake it.
    """
    tried: set[int] = set()

    async def one() -> None:
        while True:
            choices = [i for i in swarm.live() if i not in tried] or swarm.live()
            index = random.choice(choices)
            tried.add(index)
            try:
                if await deliver(client, swarm.urls[index], payload) == 200:
                    return
            except httpx.TransportError:
                pass  # the instance died: X tries again, reaching another one

    await one()
    await asyncio.gather(*(one() for _ in range(copies - 1)))


async def settled(swarm: Cluster) -> bool:
    """Every stored delivery handled and every committed reply sent."""
    observer = RedisStore(REDIS_URL, prefix=swarm.prefix)
    try:
        if await observer.inbox_size():
            return False
        rows = await observer.outbox()
        return bool(rows) and all(row.status != OutboxStatus.PENDING for row in rows)
    finally:
        await observer.client.aclose()


async def in_flight(swarm: Cluster) -> tuple[int, int] | None:
    """(instance, how many) of a live instance with replies sent to X and no answer yet."""
    tokens = {
        f"{socket.gethostname()}-{swarm.procs[i].popen.pid}-".encode(): i for i in swarm.live()
    }
    observer = RedisStore(REDIS_URL, prefix=swarm.prefix)
    try:
        rows = await observer.outbox()
        uncertain = [r for r in rows if r.status == OutboxStatus.PENDING and r.attempted_at > 0]
        leases = [
            await observer.client.get(f"{swarm.prefix}:send:{row.account}:{row.peer}")
            for row in uncertain
        ]
    finally:
        await observer.client.aclose()
    holders = Counter(
        index
        for lease in leases
        if lease
        for token, index in tokens.items()
        if lease.startswith(token)
    )
    return holders.most_common(1)[0] if holders else None


async def outbox_rows(swarm: Cluster) -> list[OutboxItem]:
    """Every reply the instances committed, read from Redis."""
    observer = RedisStore(REDIS_URL, prefix=swarm.prefix)
    try:
        return await observer.outbox()
    finally:
        await observer.client.aclose()


async def test_each_event_is_answered_once_and_in_order_whichever_instance_gets_it(
    tmp_path: Path, emulator_url: str
) -> None:
    script = tmp_path / "echo_bot.py"
    script.write_text(ECHO_BOT)
    peers = [str(3_000_000_000_000 + n) for n in range(12)]
    per_peer = 6
    async with (
        httpx.AsyncClient(timeout=10) as client,
        cluster(tmp_path, emulator_url, str(script)) as swarm,
    ):
        await add_people(client, emulator_url, peers)
        late: list[tuple[dict[str, Any], int]] = []

        async def converse(peer: str) -> None:
            for k in range(per_peer):
                payload = dm(f"{peer}:{k}", sender=peer, recipient=BOT_ID, id=next_id())
                await post_copies(client, swarm, payload, random.choice((2, 3)))
                if random.random() < 0.3:
                    late.append((payload, 1))  # X retries it once more, much later

        await asyncio.gather(*(converse(peer) for peer in peers))
        for payload, copies in late:
            await post_copies(client, swarm, payload, copies)

        async def all_answered() -> bool:
            """every event answered"""
            return len(await bot_messages(client, emulator_url)) >= len(peers) * per_peer

        await eventually(all_answered, 20)
        await eventually(lambda: settled(swarm), 10)
        replies = by_peer(await bot_messages(client, emulator_url))
    for peer in peers:
        assert replies[peer] == [f"{peer}:{k}" for k in range(per_peer)]


async def test_the_pizza_flow_completes_when_each_tap_lands_on_another_instance(
    tmp_path: Path, emulator_url: str
) -> None:
    peers = {str(3_100_000_000_000 + n): size for n, size in enumerate(["Small", "Large"] * 3)}
    async with (
        httpx.AsyncClient(timeout=10) as client,
        cluster(tmp_path, emulator_url, str(REPO / "bots" / "pizza.py")) as swarm,
    ):
        await add_people(client, emulator_url, list(peers))

        async def latest(peer: str, count: int) -> dict[str, Any]:
            async def arrived() -> dict[str, Any] | None:
                mine = [
                    m for m in await bot_messages(client, emulator_url) if m["recipient_id"] == peer
                ]
                return mine[-1] if len(mine) >= count else None

            result: dict[str, Any] = await eventually(arrived, 15)
            return result

        async def tap(peer: str, prompt: dict[str, Any], label: str, instance: int) -> None:
            options = prompt["message_data"]["quick_reply"]["options"]
            [option] = [o for o in options if o["label"] == label]
            payload = dm(
                label, sender=peer, recipient=BOT_ID, id=next_id(), metadata=option["metadata"]
            )
            # The tap reaches another instance than the step before; its copy, a third.
            assert await deliver(client, swarm.urls[instance], payload) == 200
            assert await deliver(client, swarm.urls[(instance + 1) % 3], payload) == 200

        async def order(peer: str, size: str) -> None:
            first = random.randrange(3)
            payload = dm("I want pizza", sender=peer, recipient=BOT_ID, id=next_id())
            assert await deliver(client, swarm.urls[first], payload) == 200
            prompt = await latest(peer, 1)
            await tap(peer, prompt, size, (first + 1) % 3)
            prompt = await latest(peer, 2)
            await tap(peer, prompt, "Thin", (first + 2) % 3)
            prompt = await latest(peer, 3)
            await tap(peer, prompt, "Yes", first)
            await latest(peer, 4)

        await asyncio.gather(*(order(peer, size) for peer, size in peers.items()))
        await eventually(lambda: settled(swarm), 10)
        replies = by_peer(await bot_messages(client, emulator_url))
    for peer, size in peers.items():
        assert replies[peer] == [
            "What size would you like?",
            f"Which crust for your {size} pizza?",
            f"A {size} pizza with Thin crust?",
            f"Your {size} pizza with Thin crust is on its way!",
        ]


async def test_kill_9_of_an_instance_mid_stream_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    require_redis()
    # An X of its own: the echoes it delivers go to this cluster's webhooks only.
    (tmp_path / "x").mkdir()
    with emulator(tmp_path / "x") as x:
        await kill_9_mid_stream(tmp_path, x)


async def kill_9_mid_stream(tmp_path: Path, emulator_url: str) -> None:
    script = tmp_path / "echo_bot.py"
    script.write_text(ECHO_BOT)
    peers = [str(3_200_000_000_000 + n) for n in range(20)]
    per_peer = 8
    total = len(peers) * per_peer
    async with (
        httpx.AsyncClient(timeout=10) as client,
        cluster(tmp_path, emulator_url, str(script)) as swarm,
    ):
        await add_people(client, emulator_url, peers)
        await echo_to(client, emulator_url, swarm)
        # X takes a while for each send, so replies are in flight when the instance dies.
        slow = {"endpoint": "dm_send", "status": 200, "delay": X_LATENCY, "count": 100_000}
        assert (await client.post(f"{emulator_url}/_emulator/faults", json=slow)).status_code == 200
        posted = 0
        midway = asyncio.Event()
        in_flight_at_kill = 0

        async def converse(peer: str) -> None:
            nonlocal posted
            for k in range(per_peer):
                payload = dm(f"{peer}:{k}", sender=peer, recipient=BOT_ID, id=next_id())
                await post_copies(client, swarm, payload, 2)
                posted += 1
                if posted == total * 2 // 5:
                    midway.set()

        async def kill_while_sending() -> float:
            """Mid-stream, once an instance has replies in flight at X: kill -9 it."""
            nonlocal in_flight_at_kill
            await midway.wait()
            victim, in_flight_at_kill = await eventually(lambda: in_flight(swarm), 15)
            swarm.kill9(victim)
            return time.monotonic()

        killer = asyncio.create_task(kill_while_sending())
        await asyncio.gather(*(converse(peer) for peer in peers))
        killed_at = await killer

        async def all_answered() -> bool:
            """every event answered at least once"""
            texts = {m["message_data"]["text"] for m in await bot_messages(client, emulator_url)}
            return len(texts) >= total

        await eventually(all_answered, 30)
        recovered = time.monotonic() - killed_at
        await eventually(lambda: settled(swarm), 15)
        messages = await bot_messages(client, emulator_url)
        rows = await outbox_rows(swarm)
    replies = by_peer(messages)
    # An event handled twice commits its reply twice: two outbox rows from one event.
    handled = Counter(row.source_event_id for row in rows)
    handled_twice = sum(n - 1 for n in handled.values())
    # A reply sent twice is one row, and two DMs at X.
    sent = Counter(m["message_data"]["text"] for m in messages)
    sent_twice = sum(n - 1 for n in sent.values())
    print(
        f"\nkill -9 mid-stream with {in_flight_at_kill} repl(ies) in flight: "
        f"{total} events, {len(rows)} replies committed, "
        f"{len(messages)} sent; handled twice {handled_twice}, sent twice {sent_twice}; "
        f"all answered {recovered:.1f} s after the kill"
    )
    assert (len(handled), handled_twice) == (total, 0)
    assert sent_twice == 0  # a send in flight at the kill is settled, not sent again
    assert sorted(row.sent_id for row in rows) == sorted(m["id"] for m in messages)
    for peer in peers:
        assert replies[peer] == [f"{peer}:{k}" for k in range(per_peer)]
