"""`dmbot serve` set up on each X API generation with the management commands, as a user does.

Real processes on loopback: `dmbot emulator` as X and `dmbot serve` with the
echo bot. The management commands (`webhooks register`, `subscriptions add`,
`doctor`, `replay`) run as the command line runs them, against the emulator.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from procs import BOT_ID, REPO, emulator, serve, wait_until, write_config

from dmbot.cli.main import main

ECHO = str(REPO / "bots" / "echo.py")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status = main(list(argv))
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    return out.out


@pytest.mark.parametrize(
    ("api", "send_api"),
    [
        ("premium", "v1.1"),
        ("enterprise", "v2"),
        ("v2", "v1.1"),
        ("activity", "v1.1"),
        ("activity", "v2"),
    ],
)
def test_set_up_and_answer_on_each_generation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], api: str, send_api: str
) -> None:
    with emulator(tmp_path) as x:
        twitter = {"api": api, "send_api": send_api}
        config = write_config(tmp_path, api_url=x, bot=ECHO, extra={"twitter": twitter})
        with serve(config, tmp_path) as (url, _):
            write_config(
                tmp_path, api_url=x, bot=ECHO, extra={"twitter": twitter, "webhook": {"url": url}}
            )
            c = str(config)
            assert "(valid: yes)" in run(
                capsys, "webhooks", "register", "--config", c, "--allow-insecure"
            )
            added = run(capsys, "subscriptions", "add", "--config", c)
            assert f"Subscribed account {BOT_ID}" in added
            listed = run(capsys, "subscriptions", "list", "--config", c)
            if api == "activity":
                assert f"{BOT_ID}  dm.received" in listed and f"{BOT_ID}  dm.sent" in listed
            else:
                assert listed.split() == [BOT_ID]
            doctor = run(capsys, "doctor", "--config", c, "--allow-insecure", "--wait", "0")
            assert "All checks passed." in doctor

            sent = httpx.post(
                f"{x}/_emulator/send", json={"from": "alice", "to": BOT_ID, "text": "hi there"}
            )
            assert sent.status_code == 201, sent.text
            replies = wait_until(
                lambda: [
                    m
                    for m in httpx.get(f"{x}/_emulator/messages").json()["messages"]
                    if m["sender_id"] == BOT_ID
                ],
                what="the echo",
            )
            assert [m["message_data"]["text"] for m in replies] == ["hi there"]
            state = httpx.get(f"{x}/_emulator/state").json()
            assert [h["api"] for h in state["webhooks"]] == (
                [api] if api in ("premium", "enterprise") else ["v2"]
            )

            if api != "premium":  # X's premium Account Activity API has no replay
                deliveries = len(httpx.get(f"{x}/_emulator/deliveries").json()["deliveries"])
                replayed = run(capsys, "replay", "--config", c, "--from", "10m")
                assert "X accepted replay job" in replayed
                wait_until(
                    lambda: (
                        len(httpx.get(f"{x}/_emulator/deliveries").json()["deliveries"])
                        > deliveries
                    ),
                    what="the replayed deliveries",
                )
                httpx.post(f"{x}/_emulator/settle")
                # The replayed DM was handled already: no second answer.
                again = httpx.get(f"{x}/_emulator/messages").json()["messages"]
                assert [m["message_data"]["text"] for m in again if m["sender_id"] == BOT_ID] == [
                    "hi there"
                ]
