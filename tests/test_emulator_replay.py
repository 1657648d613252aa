"""v2 replay in the emulator: ``POST /2/webhooks/replay`` and the deliveries it makes again."""

from __future__ import annotations

import time

import httpx
from test_emulator_api import ALICE_ID, BOT_ID, CK, CS, Receiver, example, same_shape
from v2api import (
    BOT_SECRET,
    BOT_TOKEN,
    INVALID_REQUEST,
    NOT_FOUND,
    app,
    conforms,
    problem,
    v2_hook,
)

from dmbot.emulator import Emulator


async def test_replay_delivers_the_windows_dms_in_every_shape_then_the_job_status(
    receiver: Receiver,
) -> None:
    now = [1_760_000_000.0]
    emu = Emulator(
        CK, CS, webhook_transport=httpx.ASGITransport(app=receiver.app), clock=lambda: now[0]
    )
    emu.add_account(BOT_ID, "pizzabot", token=BOT_TOKEN, token_secret=BOT_SECRET)
    emu.add_user(ALICE_ID, "alice")
    old = await emu.send(ALICE_ID, BOT_ID, "before the webhook")  # 2 h before the window
    now[0] += 2 * 3600
    hook_id = await v2_hook(emu)
    emu.subscribe(hook_id, BOT_ID)
    emu.subscribe_activity(BOT_ID, "dm.received", webhook_id=hook_id, tag="inbound")
    recent = await emu.send(ALICE_ID, BOT_ID, "missed it")
    now[0] += 120
    await emu.deliveries_settled()
    live = len(receiver.posts)
    minute = time.strftime("%Y%m%d%H%M", time.gmtime(now[0] - 600))
    until = time.strftime("%Y%m%d%H%M", time.gmtime(now[0]))
    async with app(emu) as api:
        answer = await api.post(
            "/2/webhooks/replay",
            json={"webhook_id": hook_id, "from_date": minute, "to_date": until},
        )
    job = conforms(answer, "CreateWebhookReplayJobResponse")["data"]
    assert time.strptime(job["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    await emu.deliveries_settled()
    aaa, xaa, status = receiver.payloads()[live:]
    assert aaa["for_user_id"] == BOT_ID and aaa["direct_message_events"][0]["id"] == recent.id
    assert xaa["data"]["event_type"] == "dm.received"
    assert xaa["data"]["payload"]["direct_message_events"][0]["id"] == recent.id
    assert same_shape(status, example("management/v2_aaa_replay_job_status_complete.json"))
    assert status["replay_job_status"] == {
        "webhook_id": hook_id,
        "job_state": "Complete",
        "job_state_description": "Job completed successfully",
        "job_id": job["job_id"],
    }
    assert old.id not in str(receiver.payloads()[live:])
    assert emu.delivery_log[-1].kind == "replay_job_status"
    assert len(emu.activity_log) == 1  # replays do not reach the stream again
    await emu.aclose()


async def test_replay_refuses_windows_x_would_refuse(emu: Emulator, receiver: Receiver) -> None:
    hook_id = await v2_hook(emu)
    now = time.time()

    def minute(seconds_ago: float) -> str:
        return time.strftime("%Y%m%d%H%M", time.gmtime(now - seconds_ago))

    windows = {
        "older than 24 h": (minute(25 * 3600), minute(0), "from_date"),
        "in the future": (minute(60), minute(-3600), "to_date"),
        "backwards": (minute(60), minute(600), "from_date"),
        "not yyyymmddhhmm": ("2026-01-01", minute(0), "from_date"),
        "not a date": ("202613011200", minute(0), "from_date"),
    }
    async with app(emu) as api:
        for name, (start, end, parameter) in windows.items():
            answer = await api.post(
                "/2/webhooks/replay",
                json={"webhook_id": hook_id, "from_date": start, "to_date": end},
            )
            refused = problem(answer, 400, INVALID_REQUEST)
            assert parameter in refused["errors"][0]["parameters"], name
        unknown = await api.post(
            "/2/webhooks/replay",
            json={"webhook_id": "42", "from_date": minute(60), "to_date": minute(0)},
        )
        missing = await api.post("/2/webhooks/replay", json={"webhook_id": hook_id})
        receiver.crc = "wrong"
        await api.put(f"/2/webhooks/{hook_id}")
        invalid = await api.post(
            "/2/webhooks/replay",
            json={"webhook_id": hook_id, "from_date": minute(60), "to_date": minute(0)},
        )
    problem(unknown, 404, NOT_FOUND)
    problem(missing, 400, INVALID_REQUEST)
    assert f"PUT /2/webhooks/{hook_id}" in problem(invalid, 400, INVALID_REQUEST)["detail"]
