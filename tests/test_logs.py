"""`logging.format: json`: one JSON object per line, with the event's fields, and no secret."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from payloads import dm
from procs import (
    BOT_ID,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    REPO,
    TOKEN,
    TOKEN_SECRET,
    emulator,
    post,
    serve,
    wait_until,
    write_config,
)

ECHO = str(REPO / "bots" / "echo.py")
ALICE = "2000000000001"


def test_json_lines_carry_the_event_and_never_a_secret(tmp_path: Path) -> None:
    with emulator(tmp_path) as x:
        config = write_config(tmp_path, api_url=x, bot=ECHO, extra={"logging": {"format": "json"}})
        with serve(config, tmp_path) as (url, proc):
            event = dm("hello json", sender=ALICE, recipient=BOT_ID)
            assert post(url, event) == 200
            wait_until(
                lambda: any(
                    m["sender_id"] == BOT_ID
                    for m in httpx.get(f"{x}/_emulator/messages").json()["messages"]
                ),
                what="the echo",
            )
            wait_until(lambda: '"delivery"' in proc.output(), what="the delivery line")
        output = proc.output()
    lines = [line for line in output.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert records and all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    event_id = event["direct_message_events"][0]["id"]
    [handled] = [r for r in records if r.get("event_id") == event_id]
    assert handled["account"] == BOT_ID and handled["peer"] == ALICE
    assert handled["outcome"].startswith("handled") and handled["kind"] == "message"
    assert handled["logger"] == "dmbot.engine.worker" and "delivery" in handled
    for secret in (CONSUMER_SECRET, TOKEN_SECRET, TOKEN, CONSUMER_KEY):
        assert secret not in output
