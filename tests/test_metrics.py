"""GET /metrics after a scripted conversation: the counters say what happened."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from payloads import dm
from prometheus_client.parser import text_string_to_metric_families

from dmbot.dev.sandbox import BOT_ID, Sandbox
from dmbot.edge.signature import HEADER, sign

REPO = Path(__file__).resolve().parents[1]
ECHO = REPO / "bots" / "echo.py"
ALICE = ("2000000000001", "alice", "Alice")
SECRET = "metrics-secret"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_the_counters_tell_the_story_of_a_conversation() -> None:
    async with (
        Sandbox(ECHO, people=[ALICE], consumer_secret=SECRET) as box,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=box.service.app), base_url="https://bot.test"
        ) as client,
    ):
        await box.emulator.send("alice", BOT_ID, "hello")
        await box.settle()
        # X delivers the same DM again: a duplicate.
        again = dm("hello again", sender=ALICE[0], recipient=BOT_ID)
        body = json.dumps(again).encode()
        for _ in range(2):
            headers = {HEADER: sign(SECRET, body)}
            assert (
                await client.post("/webhooks/twitter", content=body, headers=headers)
            ).status_code == 200
        # A forged one.
        assert (
            await client.post("/webhooks/twitter", content=b"{}", headers={HEADER: "sha256=x"})
        ).status_code == 401
        await box.settle()
        # X refuses the next reply for good (the user does not accept DMs).
        box.emulator.faults.add("dm_send", status=403, code=349)
        await box.emulator.send("alice", BOT_ID, "refused reply")
        await box.settle()
        answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)

    def value(name: str, **labels: str) -> float:
        return found.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("dmbot_deliveries_total", status="401") == 1
    # alice's 3 DMs, the duplicate, and the echoes of the 2 replies X took.
    assert value("dmbot_deliveries_total", status="200") == 6
    assert value("dmbot_events_total", kind="message", outcome="handled") == 3
    assert value("dmbot_events_total", kind="message", outcome="duplicate") == 1
    assert value("dmbot_events_total", kind="message", outcome="echo") == 2
    assert value("dmbot_sends_total", outcome="sent", code="") == 2
    assert value("dmbot_sends_total", outcome="failed", code="349") == 1
    assert value("dmbot_handler_seconds_count") == 3
    assert value("dmbot_event_to_send_seconds_count") == 2
    assert value("dmbot_inbox_deliveries") == 0 and value("dmbot_outbox_pending") == 0
    assert value("dmbot_store_up") == 1
    assert value("dmbot_dm_budget_used", account="app") == 0  # replies to a DM are free
    assert any(
        name == "dmbot_x_rate_limit_remaining" and dict(labels)["account"] == BOT_ID
        for name, labels in found
    )


async def test_a_scrape_answers_while_the_store_is_down(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'dmbot.db'}"
    async with Sandbox(ECHO, people=[ALICE], store=store) as box:
        await box.emulator.send("alice", BOT_ID, "hello")
        await box.settle()
        await box.service.store.close()  # the database is gone from under the instance
        transport = httpx.ASGITransport(app=box.service.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://bot.test") as client:
            answer = await client.get("/metrics")
        await box.service.store.open()  # back, for the sandbox to stop cleanly
    assert answer.status_code == 200
    found = samples(answer.text)
    assert found[("dmbot_store_up", ())] == 0
    # What the instance counted before is still there to see.
    assert found[("dmbot_deliveries_total", (("status", "200"),))] == 2
