"""`dmbot serve` with `delivery: stream`: no public URL, X's activity stream instead.

Real processes on loopback: `dmbot emulator` as X, serving the activity stream
with its controls to drop, refuse and silence it, and `dmbot serve` holding
the stream. The bot is the echo bot; a DM reaches it only through the stream
(the subscriptions have no webhook).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import REDIS_URL, require_redis
from procs import BOT_ID, REPO, Process, emulator, free_port, wait_http, wait_until, write_config

from dmbot.cli import main

ECHO = str(REPO / "bots" / "echo.py")
ALICE = "2000000000001"


def stream_config(folder: Path, x: str, **extra: Any) -> Path:
    settings: dict[str, Any] = {
        "twitter": {"api": "activity"},
        "delivery": "stream",
        # Short waits, so a test sees several reconnects in seconds.
        "stream": {"silence": "1s", "backoff_base": "100ms", "backoff_max": "500ms"},
    }
    for key, value in extra.items():
        settings[key] = {**settings.get(key, {}), **value} if isinstance(value, dict) else value
    return write_config(folder, api_url=x, bot=ECHO, extra=settings)


@contextmanager
def serving(config: Path, folder: Path, name: str = "serve") -> Iterator[tuple[str, Process]]:
    port = free_port()
    proc = Process(["serve", "--config", str(config), "--port", str(port)], folder / f"{name}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", proc)
        yield url, proc
    finally:
        proc.stop()


def say(x: str, text: str) -> None:
    sent = httpx.post(f"{x}/_emulator/send", json={"from": "alice", "to": BOT_ID, "text": text})
    assert sent.status_code == 201, sent.text


def replies(x: str) -> list[str]:
    messages = httpx.get(f"{x}/_emulator/messages").json()["messages"]
    return [m["message_data"]["text"] for m in messages if m["sender_id"] == BOT_ID]


def stream_state(x: str) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{x}/_emulator/stream").json()
    return state


def health(url: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{url}/healthz").json()
    return answer


def all_recorded(prefix: str) -> bool:
    """Every outbox row is past pending, read straight from Redis (no instance of ours)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        ids = client.zrange(f"{prefix}:ob:all", 0, -1)
        statuses = [client.hget(f"{prefix}:ob:{i.decode()}", "status") for i in ids]
    finally:
        client.close()
    return bool(ids) and all(status not in (None, b"0") for status in statuses)


def subscribe(config: Path) -> None:
    assert main(["subscriptions", "add", "--config", str(config)]) == 0


def test_dms_arrive_on_the_stream_and_are_answered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with emulator(tmp_path) as x:
        config = stream_config(tmp_path, x)
        subscribe(config)
        assert "on the activity stream" in capsys.readouterr().out
        subs = httpx.get(f"{x}/_emulator/state").json()["activity_subscriptions"]
        assert {(s["event_type"], s.get("webhook_id")) for s in subs} == {
            ("dm.received", None),
            ("dm.sent", None),
        }
        with serving(config, tmp_path) as (url, _):
            wait_until(lambda: health(url)["stream"]["connected"], what="the stream")
            assert health(url)["stream"]["role"] == "holder"
            say(x, "hello, stream")
            wait_until(lambda: replies(x) == ["hello, stream"], what="the echo")
            assert health(url)["stream"]["last_event"] is not None
            # The bot's own reply came back as dm.sent on the stream: an echo, no answer.
            say(x, "again")
            wait_until(lambda: replies(x) == ["hello, stream", "again"], what="the second echo")


def test_dms_sent_while_the_stream_was_dropped_and_refused_are_answered_once(
    tmp_path: Path,
) -> None:
    with emulator(tmp_path) as x:
        config = stream_config(tmp_path, x)
        subscribe(config)
        with serving(config, tmp_path) as (url, proc):
            wait_until(lambda: health(url)["stream"]["connected"], what="the stream")
            say(x, "before")
            wait_until(lambda: replies(x) == ["before"], what="the first echo")
            connects = stream_state(x)["connects"]
            # X refuses the stream for a while, and drops the open connection.
            httpx.post(f"{x}/_emulator/stream/refuse", json={"seconds": 2, "status": 503})
            httpx.post(f"{x}/_emulator/stream/drop", json={})
            say(x, "during one")
            say(x, "during two")
            assert replies(x) == ["before"]
            # It reconnects once X lets it, and the backfill brings what it missed.
            wait_until(lambda: stream_state(x)["connects"] > connects, what="a reconnect")
            wait_until(
                lambda: replies(x) == ["before", "during one", "during two"],
                timeout=20,
                what="the missed DMs answered",
            )
            httpx.post(f"{x}/_emulator/settle")
            assert replies(x) == ["before", "during one", "during two"]  # once each
        log = proc.output()
        assert "activity stream dropped" in log and "backfill" in log


def test_a_duplicated_event_is_answered_once(tmp_path: Path) -> None:
    with emulator(tmp_path) as x:
        config = stream_config(tmp_path, x)
        subscribe(config)
        httpx.post(f"{x}/_emulator/realism", json={"duplicates": True})
        with serving(config, tmp_path) as (url, _):
            wait_until(lambda: health(url)["stream"]["connected"], what="the stream")
            for text in ("one", "two"):
                say(x, text)
            wait_until(lambda: replies(x) == ["one", "two"], what="the echoes")
            httpx.post(f"{x}/_emulator/settle")
            assert replies(x) == ["one", "two"]


def test_a_silent_connection_is_detected_and_replaced(tmp_path: Path) -> None:
    with emulator(tmp_path) as x:
        config = stream_config(tmp_path, x)
        subscribe(config)
        httpx.post(f"{x}/_emulator/realism", json={"stream_keepalive": 0.2})
        with serving(config, tmp_path) as (url, proc):
            wait_until(lambda: health(url)["stream"]["connected"], what="the stream")
            connects = stream_state(x)["connects"]
            # The open connection goes quiet: not even keep-alives (stream.silence is 1 s).
            httpx.post(f"{x}/_emulator/stream/silence", json={"seconds": 30})
            say(x, "into the silence")
            wait_until(lambda: stream_state(x)["connects"] > connects, what="a new connection")
            wait_until(lambda: replies(x) == ["into the silence"], what="the backfilled DM")
        assert "no byte for 1 s" in proc.output()


def test_kill_9_of_the_instance_holding_the_stream_hands_it_over(tmp_path: Path) -> None:
    require_redis()
    with emulator(tmp_path) as x:
        prefix = f"dmbot-test-stream-{uuid.uuid4().hex[:8]}"
        config = stream_config(
            tmp_path,
            x,
            store=REDIS_URL,
            redis={"prefix": prefix, "lock_ttl": "2s", "reclaim_idle": "2s"},
            stream={"lease_ttl": "1500ms"},
        )
        subscribe(config)
        with (
            serving(config, tmp_path, "one") as (one, first),
            serving(config, tmp_path, "two") as (two, _),
        ):
            wait_until(
                lambda: sum(health(u)["stream"]["connected"] for u in (one, two)) == 1,
                what="one holder",
            )
            # X allows 2; dmbot takes 1 (X counts it once the response has started).
            wait_until(lambda: stream_state(x)["connections"] == 1, what="X's count")
            # Who holds is the lease's business; a connection may drop and come back
            # meanwhile (connected is then briefly false), the lease does not move.
            roles = {url: health(url)["stream"]["role"] for url in (one, two)}
            holder, standby = (one, two) if roles[one] == "holder" else (two, one)
            assert roles[holder] == "holder" and roles[standby].startswith("standby"), roles
            say(x, "first")
            wait_until(lambda: replies(x) == ["first"], what="the first echo")
            # Kill it once its reply is recorded as sent: a reply still in flight at the
            # kill is the sender's business (tests/test_exactly_once.py), not the stream's.
            wait_until(lambda: all_recorded(prefix), what="the send recorded")
            if holder == one:
                first.kill9()
            else:
                _.kill9()
            say(x, "while nobody holds it")
            wait_until(lambda: health(standby)["stream"]["connected"], what="the takeover")
            wait_until(
                lambda: replies(x) == ["first", "while nobody holds it"],
                timeout=20,
                what="the DM sent during the takeover",
            )
            httpx.post(f"{x}/_emulator/settle")
            assert replies(x) == ["first", "while nobody holds it"]
