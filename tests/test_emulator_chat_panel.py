"""The chat page's traffic panel names XAA envelopes as it names AAA payloads.

Real exchanges (recorded both ways while the emulator delivers AAA and XAA
shapes and the bot sends through v1.1 and v2) go through the page's own
``describe()`` in ``static/chat.js``, run by Node.js with a stub document.
Without Node.js the test skips.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_emulator_api import ALICE_ID, API, BOT_ID, CK, CS, HOOK_URL, OAuth1, Receiver
from v2api import BOT_SECRET, BOT_TOKEN

from dmbot.emulator import Emulator
from dmbot.emulator.traffic import Recorder, Traffic, recording

CHAT_JS = Path(__file__).resolve().parents[1] / "dmbot" / "emulator" / "static" / "chat.js"
NODE = shutil.which("node")

# Loads chat.js into a context with a stub document, then describes each exchange as
# addExchange() does (which first sets ex.raw, the key of duplicate detection).
RUNNER = """
const fs = require("fs");
const vm = require("vm");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const context = vm.createContext({ document: { addEventListener() {} } });
vm.runInContext(fs.readFileSync(process.argv[1], "utf8"), context);
context.input = input;
const described = vm.runInContext(`
  state.account = input.account;
  state.people = input.people;
  input.exchanges.map((ex) => {
    ex.raw = JSON.stringify(ex.body);
    const info = describe(ex);
    return { what: info.what, tags: info.tags || [], gist: info.gist };
  });
`, context);
process.stdout.write(JSON.stringify(described));
"""


async def describe(exchanges: list[dict[str, Any]], emu: Emulator) -> list[dict[str, Any]]:
    assert NODE is not None
    people = [{"id": u.id, "screen_name": u.screen_name} for u in emu.world.users.values()]
    account = {"id": BOT_ID, "screen_name": "pizzabot"}
    payload = json.dumps({"account": account, "people": people, "exchanges": exchanges})
    node = await asyncio.create_subprocess_exec(
        NODE, "-e", RUNNER, str(CHAT_JS),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(node.communicate(payload.encode()), timeout=30)
    assert node.returncode == 0, err.decode()
    result: list[dict[str, Any]] = json.loads(out)
    return result


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed (apt-get install nodejs)")
async def test_the_panel_describes_xaa_envelopes_like_aaa_payloads() -> None:
    traffic, receiver = Traffic(), Receiver()
    deliveries = Recorder(traffic, "to_bot", httpx.ASGITransport(app=receiver.app))
    emu = Emulator(CK, CS, webhook_transport=deliveries)
    emu.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    emu.add_user(ALICE_ID, "alice", name="Alice")
    hook = await emu.register_webhook_v2(HOOK_URL)
    emu.subscribe(hook.id, BOT_ID)
    for event_type in ("dm.received", "dm.sent", "dm.indicate_typing"):
        emu.subscribe_activity(BOT_ID, event_type, webhook_id=hook.id)
    emu.realism.typing_events = True
    await emu.send(ALICE_ID, BOT_ID, "Medium", metadata="size:medium")
    await emu.deliveries_settled()
    emu.realism.typing_events = False
    api = recording(emu.app, traffic, direction="to_x")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url=API, auth=OAuth1(BOT_TOKEN, BOT_SECRET)
    ) as bot:
        await bot.post(f"/2/dm_conversations/with/{ALICE_ID}/messages", json={"text": "A medium!"})
    await emu.deliveries_settled()
    emu.replay(hook.id, _minute(emu.clock() - 60), _minute(emu.clock()))
    await emu.deliveries_settled()
    described = await describe([e.to_json() for e in traffic.exchanges], emu)
    await emu.aclose()
    shown = [(d["what"], tuple(d["tags"]), d["gist"]) for d in described]
    assert shown[:6] == [
        ("CRC check", (), "answered with sha256=HMAC(consumer secret, crc_token)"),
        ("typing", ("signed",), "@alice is typing"),
        ("dm.indicate_typing", ("XAA", "signed"), "@alice is typing"),
        ("message_create", ("tap", "signed"), "@alice: Medium"),
        ("dm.received", ("tap", "XAA", "signed"), "@alice: Medium"),
        ("send DM (v2)", (), "to @alice: A medium!"),
    ]
    assert ("message_create", ("echo", "signed"), "@pizzabot: A medium!") in shown
    assert ("dm.sent", ("echo", "XAA", "signed"), "@pizzabot: A medium!") in shown
    assert shown[-1] == ("replay job", ("signed",), "Complete: Job completed successfully")


def _minute(seconds: float) -> str:
    return time.strftime("%Y%m%d%H%M", time.gmtime(seconds))
