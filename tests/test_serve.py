"""`dmbot serve` as X meets it: real processes, signed deliveries, kill -9.

The recording fake of X is `dmbot emulator` on loopback: it checks every
OAuth signature of the bot's sends and records them.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from payloads import delivery, dm, dm_event
from procs import (
    APP_ID,
    BOT_ID,
    CONSUMER_SECRET,
    PATH,
    REPO,
    Process,
    bot_messages,
    emulator,
    free_port,
    open_to_replies,
    post,
    serve,
    texts,
    wait_http,
    wait_until,
    write_config,
)

ALICE = "2000000000001"
BOB = "2000000000002"
ECHO = str(REPO / "bots" / "echo.py")


def all_messages(emulator_url: str) -> list[dict[str, object]]:
    return list(httpx.get(f"{emulator_url}/_emulator/messages").json()["messages"])


@contextmanager
def emulator_for(folder: Path, extra: dict[str, object]) -> Iterator[str]:
    """The emulator, knowing the accounts of ``extra`` too."""
    port = free_port()
    config = write_config(folder, api_url="http://unused", extra=extra)
    proc = Process(["emulator", "--config", str(config), "--port", str(port)], folder / "emu.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/_emulator/state", proc)
        open_to_replies(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def inbox_size(folder: Path) -> int:
    with sqlite3.connect(folder / "dmbot.db") as db:
        return int(db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])


def test_crc_signature_and_rejections_over_http(tmp_path: Path) -> None:
    config = write_config(tmp_path, api_url="http://127.0.0.1:9")
    with serve(config, tmp_path) as (url, proc):
        crc = httpx.get(url, params={"crc_token": "dGVzdC10b2tlbi0xMjM0", "nonce": "n"})
        assert crc.status_code == 200
        assert crc.json()["response_token"].startswith("sha256=")
        assert httpx.get(url, params={"crc_token": "<script>"}).status_code == 400
        assert post(url, dm("hi", sender=ALICE, recipient=BOT_ID)) == 200
        assert post(url, dm("hi", sender=ALICE, recipient=BOT_ID), secret="wrong") == 401
        assert post(url, b"[1,2]") == 400
        assert post(url, json.dumps({"pad": "x" * (1024 * 1024 + 1)}).encode()) == 413
        health = httpx.get(url.replace(PATH, "/healthz"))
        assert health.status_code == 200
    # SIGTERM (sent when the block ends) is a clean shutdown.
    assert proc.popen.returncode == 0
    assert "no bot loaded" in proc.output()
    assert CONSUMER_SECRET not in proc.output()


def test_acknowledged_event_survives_kill_9(tmp_path: Path) -> None:
    stuck = tmp_path / "stuck.py"
    stuck.write_text(
        "import asyncio\nfrom dmbot import Bot\nbot = Bot()\n\n"
        "@bot.on_message()\nasync def stuck(ctx):\n    await asyncio.Event().wait()\n"
    )
    with emulator(tmp_path) as x:
        config = write_config(tmp_path, api_url=x, bot=str(stuck))
        with serve(config, tmp_path, name="first") as (url, proc):
            assert post(url, dm("survive", sender=ALICE, recipient=BOT_ID)) == 200
            proc.kill9()
        # The event is still in the inbox of the SQLite file.
        with sqlite3.connect(tmp_path / "dmbot.db") as db:
            bodies = [row[0] for row in db.execute("SELECT body FROM inbox")]
        assert any(b"survive" in body for body in bodies)
        config = write_config(tmp_path, api_url=x, bot=ECHO)
        with serve(config, tmp_path, name="second"):
            wait_until(lambda: bot_messages(x), what="the reply after restart")
            assert texts(bot_messages(x)) == ["survive"]


def test_one_reply_per_event_under_12_deliveries_sequential_and_concurrent(
    tmp_path: Path,
) -> None:
    with emulator(tmp_path) as x:
        config = write_config(tmp_path, api_url=x, bot=ECHO)
        with serve(config, tmp_path) as (url, _):
            event = dm_event("only once", sender=ALICE, recipient=BOT_ID)
            # The sender's own copy first: it must not use up the claim.
            assert post(url, delivery(event, for_user=ALICE)) == 200
            for _ in range(5):
                assert post(url, delivery(event, for_user=BOT_ID)) == 200
            with ThreadPoolExecutor(6) as pool:
                codes = list(
                    pool.map(lambda _: post(url, delivery(event, for_user=BOT_ID)), range(6))
                )
            assert codes == [200] * 6
            wait_until(lambda: bot_messages(x), what="the reply")
            second = dm_event("marker", sender=ALICE, recipient=BOT_ID)
            post(url, delivery(second, for_user=BOT_ID))
            wait_until(lambda: len(bot_messages(x)) >= 2, what="the marker reply")
            assert texts(bot_messages(x)) == ["only once", "marker"]


def test_echoes_and_the_owner_typing_elsewhere_get_no_reply(tmp_path: Path) -> None:
    with emulator(tmp_path) as x:
        config = write_config(tmp_path, api_url=x, bot=ECHO, extra={"twitter": {"app_id": APP_ID}})
        with serve(config, tmp_path) as (url, _):
            post(url, dm("ping", sender=ALICE, recipient=BOT_ID))
            wait_until(lambda: bot_messages(x), what="the first reply")
            [sent] = bot_messages(x)
            # X echoes our own send back to the webhook.
            echo = dm(
                "ping",
                sender=BOT_ID,
                recipient=ALICE,
                id=sent["id"],
                for_user=BOT_ID,
                source_app_id=APP_ID,
            )
            assert post(url, echo) == 200
            # The owner answers Bob from the X app: a human takes over that conversation.
            post(
                url,
                dm(
                    "Human here",
                    sender=BOT_ID,
                    recipient=BOB,
                    for_user=BOT_ID,
                    source_app_id="268278",
                ),
            )
            post(url, dm("thanks human", sender=BOB, recipient=BOT_ID))
            post(url, dm("pong", sender=ALICE, recipient=BOT_ID))
            wait_until(lambda: len(bot_messages(x)) >= 2, what="the second reply")
            wait_until(lambda: inbox_size(tmp_path) == 0, what="every delivery handled")
            assert texts(bot_messages(x)) == ["ping", "pong"]


def test_burst_of_ten_is_answered_in_order(tmp_path: Path) -> None:
    with emulator(tmp_path) as x:
        config = write_config(tmp_path, api_url=x, bot=ECHO)
        with serve(config, tmp_path) as (url, _):
            events = [dm_event(f"m{i}", sender=ALICE, recipient=BOT_ID) for i in range(10)]
            for event in events:
                assert post(url, delivery(event, for_user=BOT_ID)) == 200
            wait_until(lambda: len(bot_messages(x)) >= 10, what="ten replies")
            assert texts(bot_messages(x)) == [f"m{i}" for i in range(10)]


def test_batch_and_unknown_kinds(tmp_path: Path) -> None:
    with emulator(tmp_path) as x:
        config = write_config(tmp_path, api_url=x, bot=ECHO)
        with serve(config, tmp_path) as (url, _):
            assert post(url, {"for_user_id": BOT_ID, "shiny_new_events": [{"a": 1}]}) == 200
            batch = [dm_event(t, sender=ALICE, recipient=BOT_ID) for t in ("a", "b", "c")]
            assert post(url, delivery(*batch, for_user=BOT_ID)) == 200
            wait_until(lambda: len(bot_messages(x)) >= 3, what="three replies")
            assert texts(bot_messages(x)) == ["a", "b", "c"]


def test_replies_committed_while_x_is_down_are_sent_once_after_kill_9(tmp_path: Path) -> None:
    with emulator(tmp_path) as x:
        httpx.post(
            f"{x}/_emulator/faults", json={"endpoint": "dm_send", "status": 503, "count": 1000}
        )
        config = write_config(tmp_path, api_url=x, bot=ECHO)
        with serve(config, tmp_path, name="first") as (url, proc):
            for i in range(5):
                post(url, dm(f"r{i}", sender=ALICE if i % 2 else BOB, recipient=BOT_ID))

            def committed() -> bool:
                with sqlite3.connect(tmp_path / "dmbot.db") as db:
                    return db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 5

            wait_until(committed, what="five committed replies")
            proc.kill9()
        assert bot_messages(x) == []
        httpx.delete(f"{x}/_emulator/faults")
        with serve(config, tmp_path, name="second"):
            wait_until(lambda: len(bot_messages(x)) >= 5, what="five replies")
        assert sorted(texts(bot_messages(x))) == ["r0", "r1", "r2", "r3", "r4"]


def test_missing_config_and_port_in_use_are_one_line_errors(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dmbot.cli", "serve", "--config", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert result.returncode == 1
    assert "nope.yaml" in result.stderr and "Traceback" not in result.stderr
    config = write_config(tmp_path, api_url="http://127.0.0.1:9")
    port = free_port()
    first = Process(["serve", "--config", str(config), "--port", str(port)], tmp_path / "a.log")
    try:
        wait_until(lambda: "serving" in first.output(), what="the first server")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "dmbot.cli",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=30,
        )
        assert result.returncode == 1
        assert f"port {port}" in result.stderr and "in use" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        first.stop()


def test_ack_does_not_wait_for_a_slow_x(tmp_path: Path) -> None:
    with emulator(tmp_path) as x:
        # X answers sends after 3 s from now on.
        httpx.post(
            f"{x}/_emulator/faults",
            json={"endpoint": "dm_send", "status": 200, "delay": 3.0, "count": 10},
        )
        config = write_config(tmp_path, api_url=x, bot=ECHO)
        with serve(config, tmp_path) as (url, _):
            assert post(url, dm("slow", sender=ALICE, recipient=BOT_ID)) == 200
            # Acknowledged while the reply is still on its way to X.
            assert bot_messages(x) == []
            wait_until(lambda: bot_messages(x), timeout=20, what="the slow reply")
            assert texts(bot_messages(x)) == ["slow"]


def test_each_account_answers_with_its_own_tokens(tmp_path: Path) -> None:
    support = "1000000000002"
    extra = {
        "accounts": [
            {
                "user_id": support,
                "access_token": f"{support}-support-token",
                "access_token_secret": "support-secret",
            }
        ]
    }
    with emulator_for(tmp_path, extra) as x:
        config = write_config(tmp_path, api_url=x, bot=ECHO, extra=extra)
        with serve(config, tmp_path) as (url, _):
            post(url, dm("to the bot", sender=ALICE, recipient=BOT_ID))
            post(url, dm("to support", sender=ALICE, recipient=support))
            wait_until(lambda: len(all_messages(x)) >= 2, what="two replies")
            senders = {m["message_data"]["text"]: m["sender_id"] for m in all_messages(x)}
            assert senders == {"to the bot": BOT_ID, "to support": support}


def test_webhooks_register_does_a_real_crc_against_serve(tmp_path: Path) -> None:
    with emulator(tmp_path) as x:
        config = write_config(tmp_path, api_url=x, bot=ECHO)
        with serve(config, tmp_path) as (url, _):
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dmbot.cli",
                    "webhooks",
                    "register",
                    "--config",
                    str(config),
                    "--url",
                    url,
                    "--allow-insecure",
                ],
                capture_output=True,
                text=True,
                cwd=REPO,
                timeout=60,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            assert "valid" in result.stdout.lower()
            state = httpx.get(f"{x}/_emulator/state").json()
            assert [hook["valid"] for hook in state["webhooks"]] == [True]
            refused = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dmbot.cli",
                    "webhooks",
                    "register",
                    "--config",
                    str(config),
                    "--url",
                    url,
                ],
                capture_output=True,
                text=True,
                cwd=REPO,
                timeout=60,
            )
            assert refused.returncode == 1
            assert "https" in (refused.stdout + refused.stderr)


def test_documented_examples_through_serve(tmp_path: Path) -> None:
    from payloads import STRICT_EXAMPLES, example

    with emulator(tmp_path) as x:
        config = write_config(tmp_path, api_url=x, bot=ECHO)
        with serve(config, tmp_path) as (url, proc):
            for name in STRICT_EXAMPLES:
                assert post(url, example(name)) == 200, name
            wait_until(lambda: inbox_size(tmp_path) == 0, what="every example handled")
        assert "Traceback" not in proc.output()
