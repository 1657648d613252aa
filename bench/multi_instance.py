"""Throughput of dmbot serve instances sharing one Redis, against one SQLite instance.

End to end on loopback: signed deliveries are POSTed to the instances (round
robin, as a load balancer would), an echo bot answers each one, and the
`dmbot emulator` records each reply as X would. Throughput is events divided
by the time from the first POST to the last reply the emulator recorded;
"lone" latency times single events spaced out so the instances go idle
between them (a delivery whose partition another instance reads waits for
that instance's worker to look).

    python bench/multi_instance.py [--events 2000] [--conversations 100] [--repo DIR]

``--repo`` runs the `dmbot serve` of another checkout (a what-if of a change).

Every process it starts is stopped by its PID when the run ends, whatever
happens; each configuration has a deadline. Needs a Redis at
redis://127.0.0.1:6379/15 (``--redis`` to change); the keys it writes are
deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from dmbot.edge import signature

REPO = Path(__file__).resolve().parents[1]
CONSUMER_KEY = "bench-consumer-key"
CONSUMER_SECRET = "bench-consumer-secret"
PATH = "/webhooks/twitter"
ACCOUNTS = [str(1_000_000_000_001 + n) for n in range(4)]
"""Bot accounts: X allows 1000 DM sends a day per account, so the load is spread."""
PEERS_FROM = 5_000_000_000_000
ECHO_BOT = """from dmbot import Bot, Context

bot = Bot("echo")


@bot.on_message()
async def echo(ctx: Context) -> None:
    await ctx.reply(ctx.text)
"""


@dataclass(frozen=True)
class Result:
    store: str
    instances: int
    events: int
    seconds: float
    ack_p50_ms: float
    ack_p99_ms: float
    cpu_ms: float
    """CPU time of the dmbot processes per event: steady on a busy machine."""
    idle_p50_ms: float
    idle_max_ms: float
    """One event at a time, each to a random instance: POST to reply recorded."""
    redis_cpu_ms: float | None = None
    """CPU time of the Redis server per event (the whole server: other clients count too)."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def redis_cpu(url: str) -> float:
    """CPU seconds the Redis server used so far."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        info = await client.info("cpu")
    finally:
        await client.aclose()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    """Processes started by this run; ``stop_all`` ends each one by its PID."""

    def __init__(self, folder: Path, repo: Path = REPO) -> None:
        self.folder = folder
        self.repo = repo
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "dmbot.cli", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.repo,  # `python -m` imports dmbot from here
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        with contextlib.suppress(ValueError):
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.running):
            self.stop(proc)


def write_config(folder: Path, *, api_url: str, store: str, extra: dict[str, Any]) -> Path:
    main, *others = ACCOUNTS
    config: dict[str, Any] = {
        "twitter": {
            "consumer_key": CONSUMER_KEY,
            "consumer_secret": CONSUMER_SECRET,
            "access_token": f"{main}-bench-token",
            "access_token_secret": "bench-token-secret",
            "api_url": api_url,
        },
        "accounts": [
            {
                "user_id": other,
                "access_token": f"{other}-bench-token",
                "access_token_secret": "bench-token-secret",
            }
            for other in others
        ],
        "webhook": {"url": f"https://bot.example.com{PATH}"},
        "bot": str(folder.parent / "echo_bot.py"),
        "store": store,
        "logging": {"level": "warning"},
        **extra,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def wait_http(client: httpx.AsyncClient, url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited early; see its log")
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get(url)).status_code == 200:
                return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within 30 s")


async def balanced(redis_url: str, prefix: str, instances: int, partitions: int = 16) -> None:
    """Wait until every instance leases its share of the inbox partitions."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            keys = [f"{prefix}:lease:{p}" for p in range(partitions)]
            holders: list[bytes | str | None] = await client.mget(keys)
            counts = Counter(holder for holder in holders if holder is not None)
            share = -(-partitions // instances)
            spread = len(counts) == instances and max(counts.values(), default=0) <= share
            if spread and sum(counts.values()) == partitions:
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"partitions not shared by {instances} instances within 30 s")
    finally:
        await client.aclose()


def deliveries(events: int, conversations: int, tag: str) -> list[list[bytes]]:
    """Per conversation, its signed-ready delivery bodies in DM id order."""
    next_id = int(time.time() * 1000) << 22
    bodies: list[list[bytes]] = [[] for _ in range(conversations)]
    for n in range(events):
        c = n % conversations
        peer = str(PEERS_FROM + c)
        account = ACCOUNTS[c % len(ACCOUNTS)]
        next_id += 1 << 22
        event = {
            "type": "message_create",
            "id": str(next_id),
            "created_timestamp": str(next_id >> 22),
            "message_create": {
                "target": {"recipient_id": account},
                "sender_id": peer,
                "message_data": {"text": f"{tag} {c} {n}", "entities": {}},
            },
        }
        payload = {
            "for_user_id": account,
            "direct_message_events": [event],
            "users": {
                peer: {"id": peer, "name": f"Peer {c}", "screen_name": f"peer{c}"},
                account: {"id": account, "name": "Bot", "screen_name": f"bot{account[-1]}"},
            },
        }
        bodies[c].append(json.dumps(payload).encode())
    return bodies


async def measure(
    client: httpx.AsyncClient, emulator: str, urls: list[str], bodies: list[list[bytes]]
) -> tuple[float, list[float]]:
    """POST every delivery (round robin over ``urls``); seconds until the last reply."""
    total = sum(len(b) for b in bodies)
    before = (await client.get(f"{emulator}/_emulator/messages")).json()["messages"]
    after = str(before[-1]["id"]) if before else "0"
    acks: list[float] = []
    turn = 0

    async def converse(own: list[bytes]) -> None:
        nonlocal turn
        for body in own:
            url = urls[turn % len(urls)]
            turn += 1
            headers = {signature.HEADER: signature.sign(CONSUMER_SECRET, body)}
            sent = time.perf_counter()
            for attempt in range(3):
                try:
                    response = await client.post(url, content=body, headers=headers)
                    break
                except httpx.TransportError:
                    if attempt == 2:
                        raise  # X would retry too, but three refusals are a failed run
            acks.append(time.perf_counter() - sent)
            response.raise_for_status()

    started = time.time()
    await asyncio.gather(*(converse(own) for own in bodies))
    # Only the bots' replies go through the emulator; read them as they come.
    deadline = time.monotonic() + 120
    replies, last = 0, 0
    while replies < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {replies} of {total} replies within 120 s")
        await asyncio.sleep(0.1)
        found = (
            await client.get(f"{emulator}/_emulator/messages", params={"after": after})
        ).json()["messages"]
        if found:
            after = found[-1]["id"]
            replies += len(found)
            last = max(last, *(m["created_ms"] for m in found))
    return last / 1000 - started, acks


async def idle_latency(
    client: httpx.AsyncClient, emulator: str, urls: list[str], samples: int
) -> list[float]:
    """End-to-end latency of lone events, spaced out so the instances go idle between them."""
    rng = random.Random(7)
    peer, account = str(PEERS_FROM), ACCOUNTS[0]
    found = (await client.get(f"{emulator}/_emulator/messages")).json()["messages"]
    after = str(found[-1]["id"]) if found else "0"
    latencies: list[float] = []
    for n in range(samples):
        await asyncio.sleep(rng.uniform(0.2, 1.2))
        [[body]] = deliveries(1, 1, f"idle {n}")
        headers = {signature.HEADER: signature.sign(CONSUMER_SECRET, body)}
        started = time.perf_counter()
        response = await client.post(rng.choice(urls), content=body, headers=headers)
        response.raise_for_status()
        deadline = started + 30
        while True:
            found = (
                await client.get(f"{emulator}/_emulator/messages", params={"after": after})
            ).json()["messages"]
            if any(m["recipient_id"] == peer and m["sender_id"] == account for m in found):
                break
            if time.perf_counter() > deadline:
                raise RuntimeError("a lone event got no reply within 30 s")
            await asyncio.sleep(0.005)
        latencies.append(time.perf_counter() - started)
        after = str(found[-1]["id"])
    return latencies


async def run_config(
    store: str, instances: int, args: argparse.Namespace, work: Path, emulator: str
) -> Result:
    folder = Path(tempfile.mkdtemp(prefix=f"{store}-{instances}-", dir=work))
    prefix = f"dmbot-bench-{uuid.uuid4().hex[:8]}"
    if store == "redis":
        url = args.redis
        extra = {"redis": {"prefix": prefix, "lock_ttl": "3s"}}
    else:
        url = f"sqlite:///{folder / 'bench.db'}"
        extra = {}
    config = write_config(folder, api_url=emulator, store=url, extra=extra)
    procs = Processes(folder, Path(args.repo))
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    try:
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            await client.post(f"{emulator}/_emulator/reset")  # fresh DM budgets
            ports = [free_port() for _ in range(instances)]
            for i, port in enumerate(ports):
                proc = procs.start(
                    f"serve{i}", "serve", "--config", str(config), "--port", str(port)
                )
                await wait_http(client, f"http://127.0.0.1:{port}/healthz", proc)
            if store == "redis":
                await balanced(args.redis, prefix, instances)
            urls = [f"http://127.0.0.1:{port}{PATH}" for port in ports]
            # Warm up: imports, connections, the first send of each account.
            await measure(client, emulator, urls, deliveries(40, 20, "warm"))
            bodies = deliveries(args.events, args.conversations, "bench")
            pids = [proc.pid for proc in procs.running]
            cpu_before = cpu_seconds(pids)
            redis_before = await redis_cpu(args.redis) if store == "redis" else 0.0
            seconds, acks = await measure(client, emulator, urls, bodies)
            cpu = cpu_seconds(pids) - cpu_before
            redis_used = await redis_cpu(args.redis) - redis_before if store == "redis" else None
            lone = await idle_latency(client, emulator, urls, args.idle_samples)
    finally:
        procs.stop_all()
        if store == "redis":
            from dmbot.store.redis import RedisStore

            cleaner = RedisStore(args.redis, prefix=prefix)
            await cleaner.drop()
            await cleaner.client.aclose()
    acks.sort()
    return Result(
        store,
        instances,
        args.events,
        seconds,
        statistics.median(acks) * 1000,
        acks[int(len(acks) * 0.99) - 1] * 1000,
        cpu / args.events * 1000,
        statistics.median(lone) * 1000,
        max(lone) * 1000,
        None if redis_used is None else redis_used / args.events * 1000,
    )


@contextlib.contextmanager
def emulator_process(work: Path, people: int) -> Iterator[str]:
    folder = work / "emulator"
    folder.mkdir()
    config = write_config(folder, api_url="http://unused", store="memory://", extra={})
    procs = Processes(folder)
    port = free_port()
    try:
        proc = procs.start("emulator", "emulator", "--config", str(config), "--port", str(port))
        url = f"http://127.0.0.1:{port}"

        async def up() -> None:
            async with httpx.AsyncClient() as client:
                await wait_http(client, f"{url}/_emulator/state", proc)
                for c in range(people):
                    peer = str(PEERS_FROM + c)
                    # Their DMs go straight to dmbot: they accept message requests.
                    person = {"user_id": peer, "screen_name": f"p{c}", "accepts_requests": True}
                    await client.post(f"{url}/_emulator/users", json=person)

        asyncio.run(up())
        yield url
    finally:
        procs.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per configuration")
    parser.add_argument("--conversations", type=int, default=100, help="conversations at once")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15", help="Redis URL")
    parser.add_argument(
        "--configs",
        default="sqlite:1,redis:1,redis:2,redis:3",
        help="store:instances pairs to run, in order",
    )
    parser.add_argument(
        "--repo", default=str(REPO), help="the dmbot checkout whose `dmbot serve` runs"
    )
    parser.add_argument(
        "--idle-samples", type=int, default=20, help="lone events timed per configuration"
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs and configs")
    args = parser.parse_args()
    if args.events > 990 * len(ACCOUNTS):
        parser.error(f"--events is at most {990 * len(ACCOUNTS)} (X's daily DM budget)")
    configs = []
    for pair in args.configs.split(","):
        store, _, count = pair.partition(":")
        if store not in ("sqlite", "redis") or not count.isdigit():
            parser.error(f"--configs: {pair!r} is not sqlite:N or redis:N")
        configs.append((store, int(count)))
    results: list[Result] = []
    work = Path(tempfile.mkdtemp(prefix="dmbot-bench-"))
    try:
        (work / "echo_bot.py").write_text(ECHO_BOT)
        with emulator_process(work, max(args.conversations, 20)) as emulator:
            for store, instances in configs:
                results.append(asyncio.run(run_config(store, instances, args, work, emulator)))
                print(f"  {store} x{instances}: {results[-1].rate:.0f} events/s", flush=True)
    finally:
        if args.keep:
            print(f"logs and configs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    cores = len(os.sched_getaffinity(0))
    print(
        f"\n{args.events} events, {args.conversations} conversations at once, "
        f"{cores} cores, {platform.python_implementation()} {platform.python_version()}, "
        f"{datetime.date.today()}"
    )
    print(
        "| store  | instances | events/s | seconds | ack p50 ms | ack p99 ms | CPU ms/event "
        "| Redis CPU ms/event | lone p50 ms | lone max ms |"
    )
    print(
        "|--------|-----------|----------|---------|------------|------------|--------------"
        "|--------------------|-------------|-------------|"
    )
    for r in results:
        redis_ms = "-" if r.redis_cpu_ms is None else f"{r.redis_cpu_ms:.2f}"
        print(
            f"| {r.store:<6} | {r.instances:>9} | {r.rate:>8.0f} | {r.seconds:>7.2f} "
            f"| {r.ack_p50_ms:>10.1f} | {r.ack_p99_ms:>10.1f} | {r.cpu_ms:>12.2f} "
            f"| {redis_ms:>18} | {r.idle_p50_ms:>11.0f} | {r.idle_max_ms:>11.0f} |"
        )


if __name__ == "__main__":
    main()
