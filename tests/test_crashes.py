"""`kill -9` at random moments: no reply lost, none sent twice (README "What dmbot guarantees").

Real processes on loopback: `dmbot emulator` as X (it records every DM the
bot sends) and `dmbot serve` with the echo bot, killed with SIGKILL at random
moments while conversations are in full swing and restarted on the same
port. X's habits that make this survivable are switched on in the emulator,
as X has them: a delivery not answered 200 is retried, and every send takes
a while (so replies are in flight when the process dies). Each incoming DM
has a text of its own; the echo bot answers with the same text, so counting
the bot's DMs per text counts lost and doubled replies.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import REDIS_URL, require_redis
from procs import BOT_ID, REPO, Process, emulator, free_port, wait_http, wait_until, write_config

ECHO = str(REPO / "bots" / "echo.py")
PEOPLE = 12
X_LATENCY = 0.15
"""Seconds X takes for each send: a kill often lands while a reply is in flight."""


@dataclass
class Instance:
    """One `dmbot serve` on a fixed port, killed and restarted at will."""

    config: Path
    folder: Path
    name: str
    port: int = field(default_factory=free_port)
    proc: Process | None = None
    kills: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.folder / f"{self.name}-{self.kills}.log"
        args = ["serve", "--config", str(self.config), "--port", str(self.port)]
        self.proc = Process(args, log)
        wait_http(f"{self.url}/healthz", self.proc, timeout=30)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill9()
        self.proc.stop()  # already dead: this closes its log
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


def x_like(x: str, urls: list[str]) -> None:
    """Register each instance's webhook, subscribe the bot, and switch on X's habits."""
    for url in urls:
        hook = httpx.post(f"{x}/_emulator/webhooks", json={"url": f"{url}/webhooks/twitter"})
        assert hook.status_code == 201, hook.text
        sub = httpx.post(
            f"{x}/_emulator/subscriptions",
            json={"user_id": BOT_ID, "webhook_id": hook.json()["id"]},
        )
        assert sub.status_code == 204, sub.text
    # A delivery that got no 200 (the process was down) is retried for 15 s.
    realism = {"retries": True, "retry_schedule": [0.25] * 60, "timeout": 2.0}
    assert httpx.post(f"{x}/_emulator/realism", json=realism).status_code == 200
    fault = {"endpoint": "dm_send", "status": 200, "delay": X_LATENCY, "count": 100_000}
    assert httpx.post(f"{x}/_emulator/faults", json=fault).status_code == 200
    # Their DMs are posted straight to dmbot: they accept message requests, so the
    # bot's answers reach them.
    for n in range(PEOPLE):
        person = {
            "user_id": f"30000000000{n:02d}",
            "screen_name": f"p{n}",
            "accepts_requests": True,
        }
        httpx.post(f"{x}/_emulator/users", json=person)


def sent_by_bot(x: str) -> Counter[str]:
    messages = httpx.get(f"{x}/_emulator/messages", timeout=10).json()["messages"]
    return Counter(m["message_data"]["text"] for m in messages if m["sender_id"] == BOT_ID)


def burst(x: str, texts: list[str], rng: random.Random) -> threading.Thread:
    """People write ``texts`` over about a second, in the background."""

    def write() -> None:
        with httpx.Client(timeout=10) as http:
            for text in texts:
                person = f"30000000000{rng.randrange(PEOPLE):02d}"
                answer = http.post(
                    f"{x}/_emulator/send", json={"from": person, "to": BOT_ID, "text": text}
                )
                assert answer.status_code == 201, answer.text
                time.sleep(rng.uniform(0.0, 0.08))

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def outbox_done(store: str) -> bool:
    """No outbox row is pending (none waits to be sent or settled), read from the store itself."""
    if store.startswith("redis://"):
        import redis

        prefix = store.partition("#")[2]
        client = redis.Redis.from_url(store.partition("#")[0])
        try:
            ids = client.zrange(f"{prefix}:ob:all", 0, -1)
            statuses = [client.hget(f"{prefix}:ob:{i.decode()}", "status") for i in ids]
        finally:
            client.close()
        return all(status not in (None, b"0") for status in statuses)
    import sqlite3

    with sqlite3.connect(store) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox WHERE status = 0").fetchone()[0]) == 0


def run_crashes(
    x: str, instances: list[Instance], store: str, seed: int, rounds: int
) -> tuple[int, int, int]:
    """Bursts of DMs with random kill -9s; (DMs written, lost replies, doubled replies)."""
    rng = random.Random(seed)
    written: list[str] = []
    for round_ in range(rounds):
        texts = [f"r{round_}-m{i}-{uuid.uuid4().hex[:6]}" for i in range(20)]
        written += texts
        writer = burst(x, texts, rng)
        for _ in range(2):
            time.sleep(rng.uniform(0.2, 0.7))
            victim = rng.choice(instances)
            victim.kill9()
            victim.start()
        writer.join()
    # Everything written gets its one reply in the end.
    wait_until(lambda: set(sent_by_bot(x)) >= set(written), timeout=60, what="a reply to every DM")
    # A send left uncertain by the last kill settles (its echo, or X's list) or goes out
    # again: only once every row is past pending are the counts final.
    wait_until(lambda: outbox_done(store), timeout=60, what="every reply settled")
    httpx.post(f"{x}/_emulator/settle", timeout=30)
    counts = sent_by_bot(x)
    lost = sum(1 for text in written if counts[text] == 0)
    doubled = sum(1 for text in written if counts[text] > 1)
    return len(written), lost, doubled


@contextmanager
def started(instances: list[Instance]) -> Iterator[None]:
    with ExitStack() as stack:
        for instance in instances:
            instance.start()
            stack.callback(instance.stop)
        yield


SETTINGS: dict[str, Any] = {
    "sender": {"backoff_base": "50ms", "backoff_max": "500ms", "settle_grace": "500ms"},
    "engine": {"reorder_window": "0s"},
    "logging": {"level": "info"},
}


def test_kill_9_at_random_moments_loses_and_doubles_nothing_on_sqlite(tmp_path: Path) -> None:
    with emulator(tmp_path) as x:
        config = write_config(tmp_path, api_url=x, bot=ECHO, extra=SETTINGS)
        instance = Instance(config, tmp_path, "serve")
        with started([instance]):
            x_like(x, [instance.url])
            db = str(tmp_path / "dmbot.db")
            written, lost, doubled = run_crashes(x, [instance], db, seed=7, rounds=4)
    assert instance.kills == 8
    assert (written, lost, doubled) == (80, 0, 0)


def test_kill_9_at_random_moments_loses_and_doubles_nothing_on_redis_with_two_instances(
    tmp_path: Path,
) -> None:
    require_redis()
    prefix = f"dmbot-test-crash-{uuid.uuid4().hex[:8]}"
    extra = {
        **SETTINGS,
        # Two instances leave twice the uncertain sends: with 0.5 s, lookups raced the
        # echoes X was still retrying and used up X's 15 events/list calls per 15
        # minutes (8 to 17 calls a run); past them, a row waits 15 minutes for its
        # answer. 2 s lets the echoes settle most rows, as X's would.
        "sender": {**SETTINGS["sender"], "settle_grace": "2s"},
        "redis": {"prefix": prefix, "lock_ttl": "1s", "reclaim_idle": "1s"},
    }
    with emulator(tmp_path) as x:
        config = write_config(tmp_path, api_url=x, bot=ECHO, store=REDIS_URL, extra=extra)
        instances = [Instance(config, tmp_path, "one"), Instance(config, tmp_path, "two")]
        with started(instances):
            x_like(x, [i.url for i in instances])
            store = f"{REDIS_URL}#{prefix}"
            written, lost, doubled = run_crashes(x, instances, store, seed=11, rounds=4)
    assert sum(i.kills for i in instances) == 8
    assert (written, lost, doubled) == (80, 0, 0)


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_a_reply_in_flight_at_kill_9_reaches_x_exactly_once(tmp_path: Path, store: str) -> None:
    extra: dict[str, Any] = dict(SETTINGS)
    url = None
    if store == "redis":
        require_redis()
        url = REDIS_URL
        extra["redis"] = {"prefix": f"dmbot-test-inflight-{uuid.uuid4().hex[:8]}"}
    with emulator(tmp_path) as x:
        config = write_config(tmp_path, api_url=x, bot=ECHO, store=url, extra=extra)
        instance = Instance(config, tmp_path, "serve")
        # X holds this one send for 2 s: the bot is killed while it waits for the answer.
        fault = {"endpoint": "dm_send", "status": 200, "delay": 2.0, "count": 1}
        with started([instance]):
            x_like(x, [instance.url])
            httpx.delete(f"{x}/_emulator/faults")  # not the steady latency of x_like
            httpx.post(f"{x}/_emulator/faults", json=fault)
            httpx.post(
                f"{x}/_emulator/send", json={"from": "3000000000000", "to": BOT_ID, "text": "once"}
            )
            # The fault is taken when the send reaches X, which then holds it for 2 s.
            wait_until(
                lambda: httpx.get(f"{x}/_emulator/state").json()["faults"] == [],
                what="the send under way at X",
            )
            instance.kill9()
            assert sent_by_bot(x) == Counter()
            instance.start()  # X completes the send meanwhile; its echo is retried
            wait_until(lambda: sent_by_bot(x) == Counter({"once": 1}), what="the one reply")
            httpx.post(f"{x}/_emulator/settle", timeout=30)
            assert sent_by_bot(x) == Counter({"once": 1})
