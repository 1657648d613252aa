"""One conversation on every X API generation and both send APIs, in-process.

The sandbox registers the webhook and subscribes the bot account the way
each generation does it on X (v1.1 webhooks, v2 webhooks with AAA v2
subscriptions, v2 webhooks with X Activity API subscriptions), so the
deliveries the bot gets are each generation's own shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmbot.dev.sandbox import BOT_ID, Sandbox

REPO = Path(__file__).resolve().parents[1]
ECHO = REPO / "bots" / "echo.py"
PIZZA = REPO / "bots" / "pizza.py"
ALICE = ("2000000000001", "alice", "Alice")
GENERATIONS = ["premium", "enterprise", "v2", "activity"]


def delivery_shapes(box: Sandbox) -> set[str]:
    shapes = set()
    for exchange in box.traffic.exchanges:
        if exchange.direction == "to_bot" and exchange.method == "POST":
            body = json.loads(exchange.body)
            shapes.add("xaa" if "data" in body else "aaa")
    return shapes


def bot_texts(box: Sandbox) -> list[str]:
    return [m.text for m in box.emulator.messages if m.sender_id == BOT_ID]


@pytest.mark.parametrize("send_api", ["v1.1", "v2"])
@pytest.mark.parametrize("api", GENERATIONS)
async def test_the_echo_bot_answers_once_on_every_generation(api: str, send_api: str) -> None:
    settings = {"twitter": {"api": api, "send_api": send_api}}
    async with Sandbox(ECHO, people=[ALICE], settings=settings) as box:
        for text in ("hello", "how are you?"):
            await box.emulator.send("alice", BOT_ID, text)
            await box.settle()
        assert bot_texts(box) == ["hello", "how are you?"]
        assert delivery_shapes(box) == ({"xaa"} if api == "activity" else {"aaa"})
        sends = [e.path for e in box.traffic.exchanges if e.direction == "to_x"]
        expected = "/messages" if send_api == "v2" else "/1.1/direct_messages/events/new.json"
        assert sends and all(path.endswith(expected) for path in sends), sends


@pytest.mark.parametrize("api", GENERATIONS)
async def test_the_pizza_flow_with_quick_replies(api: str) -> None:
    settings = {"twitter": {"api": api}}
    async with Sandbox(PIZZA, people=[ALICE], settings=settings) as box:
        await box.emulator.send("alice", BOT_ID, "pizza")
        await box.settle()
        for label in ("Large", "Thin", "Yes"):
            question = [m for m in box.emulator.messages if m.sender_id == BOT_ID][-1]
            await box.emulator.tap("alice", question, label)
            await box.settle()
        texts = bot_texts(box)
    assert texts[0] == "What size would you like?"
    assert "Large" in texts[-1] and "Thin" in texts[-1] and "cancel" not in texts[-1].lower()
    assert len(texts) == 4


@pytest.mark.parametrize("api", GENERATIONS)
async def test_the_pizza_flow_with_numbered_options_on_v2_sends(api: str) -> None:
    settings = {"twitter": {"api": api, "send_api": "v2"}}
    async with Sandbox(PIZZA, people=[ALICE], settings=settings) as box:
        for text in ("pizza", "3", "thin", "1"):  # a number or the label, typed
            await box.emulator.send("alice", BOT_ID, text)
            await box.settle()
        texts = bot_texts(box)
    assert texts[0].startswith("What size would you like?\n\n1. Small\n2. Medium\n3. Large")
    assert "Large" in texts[-1] and "Thin" in texts[-1]
    assert len(texts) == 4
