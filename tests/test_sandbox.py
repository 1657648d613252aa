"""The in-process wiring of the bot's service and the emulated X (dmbot dev and ChatTest)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from dmbot import Bot, Context
from dmbot.dev.sandbox import BOT_ID, Sandbox
from dmbot.emulator import Realism
from dmbot.emulator.delivery import SIGNATURE_HEADER, sign
from dmbot.store import OutboxStatus

REPO = Path(__file__).resolve().parents[1]
PIZZA = REPO / "bots" / "pizza.py"
ALICE = ("2000000000001", "alice", "Alice")


async def test_start_registers_the_webhook_by_a_real_crc_and_subscribes_the_bot() -> None:
    async with Sandbox(PIZZA, consumer_secret="s3cret") as box:
        assert box.webhook is not None and box.webhook.valid
        assert (box.webhook.id, BOT_ID) in box.emulator.subscriptions
        [crc] = box.traffic.exchanges
        assert (crc.direction, crc.method, crc.status) == ("to_bot", "GET", 200)
        token = re.search(r"crc_token=([^&]+)", crc.path)
        assert token is not None
        expected = sign("s3cret", unquote(token.group(1)).encode())
        assert json.loads(crc.response) == {"response_token": expected}


async def test_a_dm_is_delivered_signed_answered_and_echoed() -> None:
    async with Sandbox(PIZZA, people=[ALICE], consumer_secret="s3cret") as box:
        await box.emulator.send("alice", box.bot_id, "I want pizza")
        await box.settle()
        [question] = [m for m in box.emulator.messages if m.sender_id == BOT_ID]
        assert question.text == "What size would you like?"

        deliveries = [e for e in box.traffic.exchanges if e.direction == "to_bot"][1:]
        for delivery in deliveries:
            assert delivery.headers[SIGNATURE_HEADER] == sign("s3cret", delivery.body)
            assert delivery.status == 200
        senders = [
            json.loads(d.body)["direct_message_events"][0]["message_create"]["sender_id"]
            for d in deliveries
        ]
        assert senders == [ALICE[0], BOT_ID]  # alice's DM, then the bot's own echo

        [send] = [e for e in box.traffic.exchanges if e.direction == "to_x"]
        assert send.path == "/1.1/direct_messages/events/new.json" and send.status == 200
        sent = send.to_json()["body"]["event"]["message_create"]
        assert sent["target"] == {"recipient_id": ALICE[0]}
        assert sent["message_data"]["text"] == "What size would you like?"


async def test_the_traffic_never_holds_the_bots_tokens() -> None:
    async with Sandbox(PIZZA, people=[ALICE]) as box:
        await box.emulator.send("alice", box.bot_id, "pizza")
        await box.settle()
        recorded = json.dumps([e.to_json() for e in box.traffic.exchanges])
        assert box.settings.twitter.access_token not in recorded
        assert box.settings.twitter.access_token_secret not in recorded
        assert "authorization" not in recorded.lower()


async def test_typing_and_read_receipts_are_api_calls_in_the_traffic() -> None:
    bot = Bot()

    @bot.on_message()
    async def answer(ctx: Context) -> None:
        await ctx.typing()
        await ctx.mark_read()
        await ctx.reply("Noted.")

    async with Sandbox(bot, people=[ALICE]) as box:
        await box.emulator.send("alice", box.bot_id, "hello")
        await box.settle()
        calls = {e.path: e.to_json() for e in box.traffic.exchanges if e.direction == "to_x"}
        assert calls["/1.1/direct_messages/indicate_typing.json"]["body"] == {
            "recipient_id": ALICE[0]
        }
        assert calls["/1.1/direct_messages/mark_read.json"]["status"] == 204
        assert [i.kind for i in box.emulator.indicators] == ["typing", "read"]
        # "typing…" never follows the reply: the conversation's sends wait for it.
        order = [e.path.rsplit("/", 1)[-1] for e in box.traffic.exchanges if e.direction == "to_x"]
        assert order == ["indicate_typing.json", "mark_read.json", "new.json"]


async def test_realism_and_settings_reach_the_emulator_and_the_service() -> None:
    box = Sandbox(
        PIZZA,
        realism=Realism(duplicates=True),
        settings={"engine": {"handoff": 0}, "twitter": {"send_api": "v2"}},
    )
    assert box.emulator.realism.duplicates
    assert box.settings.engine.handoff == 0
    # Merged key by key: the sandbox's own keys stay.
    assert box.settings.twitter.send_api == "v2"
    assert box.settings.twitter.consumer_key == "sandbox-consumer-key"


async def test_a_sqlite_store_keeps_the_conversation_across_a_restart(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'box.db'}"
    async with Sandbox(PIZZA, people=[ALICE], store=store) as box:
        await box.emulator.send("alice", box.bot_id, "pizza")
        await box.settle()
        asked = [m.text for m in box.emulator.messages if m.sender_id == BOT_ID]
    assert asked == ["What size would you like?"]
    # Stopped and started again on the same file: Alice's answer goes on with her order.
    async with Sandbox(PIZZA, people=[ALICE], store=store) as box:
        await box.emulator.send("alice", box.bot_id, "Large")
        await box.settle()
        answered = [m.text for m in box.emulator.messages if m.sender_id == BOT_ID]
    assert answered == ["Which crust for your Large pizza?"]


async def test_settle_before_start_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        await Sandbox(PIZZA).settle()


def readme_tutorial_files() -> dict[str, str]:
    """The files of the README's tutorial: code blocks whose first line names them."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Five-minute tutorial", 1)[1].split("\n## ", 1)[0]
    files: dict[str, str] = {}
    for block in re.findall(r"```(?:python|yaml|ini)\n(.*?)```", section, re.DOTALL):
        first = block.splitlines()[0]
        named = re.fullmatch(r"[#;] ([\w./]+\.(?:py|yaml|ini))", first.strip())
        if named:
            files[named.group(1)] = block
    return files


def test_the_readme_tutorial_passes_as_written(tmp_path: Path) -> None:
    files = readme_tutorial_files()
    assert set(files) == {"coffee.py", "coffee.yaml", "test_coffee.py", "pytest.ini"}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    # As an author runs it: their own folder, no dmbot config, pytest and pytest-asyncio.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b2 passed\b", result.stdout), result.stdout


async def test_the_echo_of_a_reply_is_settled_at_the_webhook_without_the_inbox(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """X's echo of the bot's own reply marks its outbox row delivered (the sandbox's
    memory store at once; SQLite with its next write); it never waits in the inbox,
    and is logged and counted as an echo."""
    bot = Bot()

    @bot.on_message()
    async def answer(ctx: Context) -> None:
        await ctx.reply("Noted.")

    with caplog.at_level("INFO", logger="dmbot"):
        async with Sandbox(bot, people=[ALICE]) as box:
            await box.emulator.send("alice", box.bot_id, "hello")
            await box.settle()
            await box.emulator.deliveries_settled()
            store = box.service.store
            (row,) = await store.outbox()
            assert row.status == OutboxStatus.DELIVERED and row.sent_id
            assert await store.inbox_size() == 0
            transport = httpx.ASGITransport(app=box.service.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
                scrape = (await http.get("/metrics")).text
    settled = [r.getMessage() for r in caplog.records if "settled without the inbox" in r.message]
    echo = f"message {row.sent_id} echo (marked delivered)"
    assert settled == [f"delivery settled without the inbox: {echo}"]
    assert 'dmbot_events_total{kind="message",outcome="echo"} 1.0' in scrape
